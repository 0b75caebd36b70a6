"""Rigorous bounds: exact or interval-bounded maxima of the loss on segments, point losses,
and certified enclosures on boxes of parameter space."""
