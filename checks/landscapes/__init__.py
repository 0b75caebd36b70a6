"""Loss-landscape pictures for any ``torch.nn.Module`` (Li, Xu, Taylor, Studer & Goldstein,
"Visualizing the Loss Landscape of Neural Nets", NeurIPS 2018, arXiv:1712.09913).

One topic per module: :mod:`~checks.landscapes.directions` (filter-normalised directions),
:mod:`~checks.landscapes.evaluation` (batched evaluation over many points of a slice),
:mod:`~checks.landscapes.surfaces` (1-D / 2-D grids saved as resumable .npz),
:mod:`~checks.landscapes.interpolation` (1-D interpolation between two models),
:mod:`~checks.landscapes.hessian` (|lambda_min / lambda_max| maps by Lanczos),
:mod:`~checks.landscapes.trajectories` (PCA directions of a training trajectory),
:mod:`~checks.landscapes.quantify` (sublevel components of a slice on its grid),
:mod:`~checks.landscapes.models` and :mod:`~checks.landscapes.experiments` (the small-scale
reproduction of the paper's figures).
"""
