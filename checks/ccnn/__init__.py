"""Convexified convolutional neural networks (Zhang, Liang & Wainwright 2017, arXiv:1609.01000).

One topic per module: :mod:`~checks.ccnn.patches` (patches, whitening, pooling),
:mod:`~checks.ccnn.features` (kernel feature maps, batched features), :mod:`~checks.ccnn.nuclear`
(the convex program, nuclear-ball projection, FISTA / projected SGD / cvxpy),
:mod:`~checks.ccnn.layer` (one layer), :mod:`~checks.ccnn.estimator` (scikit-learn classifier),
:mod:`~checks.ccnn.cnn_baselines` (ReLU CNNs), :mod:`~checks.ccnn.agreement` (solver vs cvxpy)
and :mod:`~checks.ccnn.table` (the MNIST-variations comparison).
"""
from checks.ccnn.estimator import CCNNClassifier
from checks.ccnn.nuclear import NuclearProblem, project_nuclear_ball, solve_fista, solve_sgd

__all__ = ["CCNNClassifier", "NuclearProblem", "project_nuclear_ball", "solve_fista", "solve_sgd"]
