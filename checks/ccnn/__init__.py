"""Convexified convolutional neural networks (Zhang, Liang & Wainwright 2017, arXiv:1609.01000).

One topic per module: :mod:`~sublevel.checks.ccnn.patches` (patches, whitening, pooling),
:mod:`~sublevel.checks.ccnn.features` (kernel feature maps, batched features), :mod:`~sublevel.checks.ccnn.nuclear`
(the convex program, nuclear-ball projection, FISTA / projected SGD / cvxpy),
:mod:`~sublevel.checks.ccnn.layer` (one layer), :mod:`~sublevel.checks.ccnn.estimator` (scikit-learn classifier),
:mod:`~sublevel.checks.ccnn.cnn_baselines` (ReLU CNNs), :mod:`~sublevel.checks.ccnn.agreement` (solver vs cvxpy)
and :mod:`~sublevel.checks.experiments.ccnn_table` (the MNIST-variations comparison).
"""
from sublevel.checks.ccnn.estimator import CCNNClassifier
from sublevel.checks.ccnn.nuclear import NuclearProblem, project_nuclear_ball, solve_fista, solve_sgd

__all__ = ["CCNNClassifier", "NuclearProblem", "project_nuclear_ball", "solve_fista", "solve_sgd"]
