"""Verdicts on the registered claims: the runners behind ``sublevel verify`` and the tests they
use (spurious minima, the kernel inequality)."""
