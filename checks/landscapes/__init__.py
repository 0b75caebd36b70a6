"""Loss-landscape pictures for any ``torch.nn.Module`` (Li, Xu, Taylor, Studer & Goldstein,
"Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018, arXiv:1712.09913).

One topic per module: :mod:`~sublevel.checks.landscapes.directions` (filter-normalised directions),
:mod:`~sublevel.checks.landscapes.evaluation` (batched evaluation over many points of a slice),
:mod:`~sublevel.checks.landscapes.surfaces` (1-D / 2-D grids saved as resumable .npz),
:mod:`~sublevel.checks.landscapes.interpolation` (1-D interpolation between two models),
:mod:`~sublevel.checks.landscapes.hessian` (|lambda_min / lambda_max| maps by Lanczos),
:mod:`~sublevel.checks.landscapes.trajectories` (PCA directions of a training trajectory),
:mod:`~sublevel.checks.landscapes.quantify` (sublevel components of a slice on its grid),
:mod:`~sublevel.checks.landscapes.models` and :mod:`~sublevel.checks.experiments.landscapes` (the small-scale
reproduction of the paper's figures).
"""
