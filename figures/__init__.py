"""Plotting code for the figures the README shows (rendered files live beside it)."""
