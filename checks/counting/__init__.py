"""Components of sublevel sets: sampling, the certified graph, proven lower and upper bounds
(separators, whole-space proofs for scalar chains and ridge problems), merge trees, symmetries."""
