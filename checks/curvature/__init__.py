"""Curvature of a loss at a point: Hessian-vector products, extreme eigenvalues with residual
error bounds, the trace and the spectral density. One implementation, used by the landscape
maps and by the spurious-minimum checks."""
