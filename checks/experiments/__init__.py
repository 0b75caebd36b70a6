"""Experiments behind verdicts: energy gap vs width (ReLU), spurious minima vs width (quadratic)."""
