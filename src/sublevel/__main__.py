"""``python -m sublevel``: the command line (same as the ``sublevel`` script)."""
from sublevel.cli import console

console()
