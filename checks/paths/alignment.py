"""Permutation alignment of two trained models (weight matching).

Hidden units (channels) of a network can be permuted without changing the function it
computes: permute the rows of one layer's weight and bias, the matching per-channel parameters
and running statistics of a normalisation layer, and the columns of the next layer's weight.
Two independently trained models are usually far apart partly because of such a permutation,
and the loss barrier on the segment between them is then a *permutation barrier*, not a
property of the landscape. :func:`align` returns a copy of ``model`` permuted to lie as close as
possible to ``reference`` in the weight-matching sense of Ainsworth, Hayase & Srinivasa
("Git Re-Basin: merging models modulo permutation symmetries", ICLR 2023, arXiv:2209.04836,
Sec. 3.2, Algorithm 1): maximise sum_l <W_l^ref, P_l W_l P_{l-1}^T> over permutations by
coordinate descent, one linear assignment problem (``scipy.optimize.linear_sum_assignment``) per
group of tied channels at a time, until no permutation changes.

Which axes are tied is read off the model's computation graph (``torch.fx``), so sequential
stacks, convolutional nets with BatchNorm and residual networks are handled alike:

* the output channels of every Linear / convolution form a group; BatchNorm, elementwise
  activations, dropout and pooling keep the group of their input;
* ``a + b`` ties the groups of ``a`` and ``b`` (a residual stream shares one permutation);
* ``flatten`` from the channel axis turns a group of C channels into C blocks of equal size
  (the next Linear's columns are permuted block-wise);
* groups tied to the model's input or output are never permuted.

Anything else in the graph (attention, concatenation, LayerNorm, a shape the rules do not
cover) makes the model unsupported: :func:`align` then returns the model unchanged with
``supported = False`` and the reason, and callers say so. The aligned copy must compute the
same outputs as ``model`` on the given inputs (checked; a mismatch is a
:class:`~sublevel.theory.errors.Contradiction`).
"""
from __future__ import annotations

import copy
import operator
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from sublevel.theory.errors import Contradiction, InputError

_KEEPS_CHANNELS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.SiLU, nn.Softplus,
                   nn.Identity, nn.Dropout, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d,
                   nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ELEMENTWISE_FUNCTIONS = {torch.relu, torch.tanh, torch.sigmoid, torch.nn.functional.relu,
                          torch.nn.functional.gelu, torch.nn.functional.silu, torch.nn.functional.leaky_relu,
                          torch.nn.functional.elu, torch.nn.functional.softplus, torch.nn.functional.dropout}
_ELEMENTWISE_METHODS = {"relu", "tanh", "sigmoid", "contiguous"}
_FIXED = -1  # group of the input and the output: never permuted


@dataclass(frozen=True)
class Alignment:
    """``model`` permuted towards ``reference`` (or unchanged where unsupported).

    Attributes
    ----------
    model : nn.Module
        A permuted copy; the caller's model is not modified.
    supported : bool
        False when the architecture has axes the graph rules do not cover (see ``reason``).
    reason : str
        Why alignment was not done ("" when it was).
    permutations : dict
        Group name (the first layer whose output it is) -> permutation applied to it.
    distance_before, distance_after : float
        ||theta_ref - theta|| over all parameters before and after (after <= before).
    sweeps : int
        Coordinate-descent sweeps until no permutation changed.
    """

    model: nn.Module
    supported: bool
    reason: str = ""
    permutations: dict[str, list[int]] = field(default_factory=dict)
    distance_before: float = float("nan")
    distance_after: float = float("nan")
    sweeps: int = 0

    def describe(self) -> str:
        if not self.supported:
            return f"not aligned ({self.reason})"
        moved = sum(any(i != j for i, j in enumerate(p)) for p in self.permutations.values())
        return (f"aligned by weight matching: {moved} of {len(self.permutations)} channel groups permuted, "
                f"parameter distance {self.distance_before:.6g} -> {self.distance_after:.6g}")


@dataclass
class _Axis:
    """One axis of one tensor that a group of channels permutes (``block`` entries per channel)."""

    tensor: str
    axis: int
    group: int
    block: int = 1


class _Unsupported(Exception):
    pass


def permutation_axes(model: nn.Module, example: torch.Tensor) -> tuple[dict[int, int], dict[int, str], list[_Axis]]:
    """The permutable channel groups of ``model`` and the tensor axes each one permutes.

    Returns (size of each group, name of each group, axes). Raises ``_Unsupported`` with the
    reason when the graph leaves the rules of the module docstring.
    """
    try:
        graph = torch.fx.symbolic_trace(model)
        ShapeProp(graph).propagate(example)
    except Exception as error:  # tracing arbitrary user code: any failure means "not supported"
        raise _Unsupported(f"torch.fx could not trace the model: {type(error).__name__}") from None
    modules = dict(graph.named_modules())
    parent: dict[int, int] = {_FIXED: _FIXED}

    def find(g: int) -> int:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb == _FIXED:
                ra, rb = rb, ra
            parent[rb] = ra

    sizes: dict[int, int] = {}
    names: dict[int, str] = {}
    axes: list[_Axis] = []
    value: dict[torch.fx.Node, tuple[int, int]] = {}  # node -> (group of axis 1, block)

    def shape(node) -> tuple[int, ...]:
        meta = node.meta.get("tensor_meta")
        if meta is None or not hasattr(meta, "shape"):
            raise _Unsupported(f"{node.name} does not produce one tensor")
        return tuple(meta.shape)

    def source(node) -> tuple[int, int]:
        if not isinstance(node, torch.fx.Node) or node not in value:
            raise _Unsupported("an argument of an operation is not a traced tensor")
        return value[node]

    used = set()
    for node in graph.graph.nodes:
        if node.op == "placeholder":
            value[node] = (_FIXED, 1)
        elif node.op == "output":
            out = node.args[0]
            if not isinstance(out, torch.fx.Node):
                raise _Unsupported("the model returns more than one tensor")
            union(source(out)[0], _FIXED)
        elif node.op == "get_attr":
            raise _Unsupported(f"the graph reads the tensor {node.target} directly")
        elif node.op == "call_module":
            module = modules[node.target]
            group_in, block = source(node.args[0])
            if node.target in used:
                raise _Unsupported(f"module {node.target} is called more than once")
            used.add(node.target)
            if isinstance(module, _WEIGHTED):
                if isinstance(module, nn.Linear) and len(shape(node)) != 2:
                    raise _Unsupported(f"{node.target} is a Linear layer on inputs of more than 2 dimensions")
                if getattr(module, "groups", 1) != 1:
                    raise _Unsupported(f"{node.target} is a grouped convolution")
                group = len(sizes)
                parent[group] = group
                sizes[group] = module.weight.shape[0]
                names[group] = node.target
                axes.append(_Axis(f"{node.target}.weight", 0, group))
                if module.bias is not None:
                    axes.append(_Axis(f"{node.target}.bias", 0, group))
                axes.append(_Axis(f"{node.target}.weight", 1, group_in, block))
                value[node] = (group, 1)
            elif isinstance(module, _NORMS):
                if block != 1:
                    raise _Unsupported(f"{node.target} normalises flattened features")
                for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
                    if tensor.dim() == 1:
                        axes.append(_Axis(f"{node.target}.{name}", 0, group_in))
                value[node] = (group_in, 1)
            elif isinstance(module, _KEEPS_CHANNELS):
                value[node] = (group_in, block)
            elif isinstance(module, nn.Flatten):
                value[node] = _flatten(shape(node.args[0]), module.start_dim, group_in, block)
            else:
                raise _Unsupported(f"module {node.target} ({type(module).__name__}) has no permutation rule")
        elif node.op in ("call_function", "call_method"):
            target = node.target
            if target in (operator.add, torch.add, "add"):
                tensors = [a for a in node.args if isinstance(a, torch.fx.Node)]
                if len(tensors) != 2 or node.kwargs:
                    raise _Unsupported(f"{node.name} adds something other than two tensors")
                (ga, ba), (gb, bb) = source(tensors[0]), source(tensors[1])
                if ba != bb or shape(tensors[0]) != shape(tensors[1]):
                    raise _Unsupported(f"{node.name} adds tensors of different layouts")
                union(ga, gb)
                value[node] = (ga, ba)
            elif target in _ELEMENTWISE_FUNCTIONS or target in _ELEMENTWISE_METHODS:
                value[node] = source(node.args[0])
            elif target in (torch.flatten, "flatten"):
                start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
                group_in, block = source(node.args[0])
                value[node] = _flatten(shape(node.args[0]), start, group_in, block)
            elif target in (torch.mean, torch.sum, "mean", "sum", torch.amax, "amax"):
                dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
                group_in, block = source(node.args[0])
                rank = len(shape(node.args[0]))
                dims = (dims,) if isinstance(dims, int) else dims
                if dims is None or block != 1 or any(d % rank in (0, 1) for d in dims) or len(shape(node)) < 2:
                    raise _Unsupported(f"{node.name} reduces over the batch or channel axis")
                value[node] = (group_in, 1)
            else:
                raise _Unsupported(f"operation {node.name} ({getattr(target, '__name__', target)}) has no "
                                   f"permutation rule")
    for a in axes:
        a.group = find(a.group)
    groups = {find(g) for g in sizes} - {_FIXED}
    first = {}
    for h in sizes:  # creation order: a group is named after its earliest layer
        first.setdefault(find(h), h)
    axes = [a for a in axes if a.group != _FIXED]
    return ({g: sizes[first[g]] for g in sorted(groups)}, {g: names[first[g]] for g in sorted(groups)}, axes)


def _flatten(in_shape: tuple[int, ...], start: int, group: int, block: int) -> tuple[int, int]:
    start = start % len(in_shape)
    if start >= 2:
        return group, block
    if start == 1:
        return group, block * int(np.prod(in_shape[2:], dtype=np.int64))
    raise _Unsupported("flatten over the batch axis")


def align(reference: nn.Module, model: nn.Module, example: torch.Tensor, max_sweeps: int = 100,
          seed: int = 0) -> Alignment:
    """Permute the channels of ``model`` to match ``reference`` (Ainsworth et al. 2023, Alg. 1).

    Parameters
    ----------
    reference, model : nn.Module
        The same architecture; neither is modified.
    example : tensor
        A batch of inputs: traces shapes, and checks that the aligned copy computes what
        ``model`` computes (relative tolerance 1e-5 of the output scale).
    max_sweeps : int
        Coordinate-descent sweeps over the groups (in an order drawn from ``seed``).

    Returns
    -------
    Alignment
        With ``supported = False`` and ``model`` unchanged (a copy) when the architecture is
        outside the rules of this module.
    """
    if [(n, p.shape) for n, p in reference.named_parameters()] != [(n, p.shape) for n, p in model.named_parameters()]:
        raise InputError("the two models differ in parameter names or shapes")
    aligned = copy.deepcopy(model)
    try:
        sizes, names, axes = permutation_axes(copy.deepcopy(model).eval(), example)
    except _Unsupported as why:
        return Alignment(aligned, False, str(why))
    ref = {**dict(reference.named_parameters()), **dict(reference.named_buffers())}
    own = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    params = {name for name, _ in model.named_parameters()}
    ref = {k: v.detach().double() for k, v in ref.items()}
    own = {k: v.detach().double() for k, v in own.items()}
    by_tensor: dict[str, list[_Axis]] = {}
    for a in axes:
        by_tensor.setdefault(a.tensor, []).append(a)
    perms = {g: torch.arange(n) for g, n in sizes.items()}
    order = np.random.default_rng(seed).permutation(sorted(sizes))
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        changed = False
        for g in order.tolist():
            cost = torch.zeros(sizes[g], sizes[g], dtype=torch.float64)
            for name, tensor_axes in by_tensor.items():
                if name not in params or not any(a.group == g for a in tensor_axes):
                    continue
                for a in tensor_axes:
                    if a.group != g:
                        continue
                    others = [b for b in tensor_axes if b is not a]
                    b_perm = _permuted(own[name], others, perms)
                    cost += _unfold(ref[name], a, sizes[g]) @ _unfold(b_perm, a, sizes[g]).T
            rows, cols = linear_sum_assignment(cost.numpy(), maximize=True)
            new = torch.as_tensor(cols[np.argsort(rows)])
            if float(cost[torch.arange(sizes[g]), new].sum()) > float(cost[torch.arange(sizes[g]), perms[g]].sum()) \
                    * (1 + 1e-12) + 1e-300:
                perms[g] = new
                changed = True
        if not changed:
            break
    permuted = {name: _permuted(own[name], tensor_axes, perms) for name, tensor_axes in by_tensor.items()}
    with torch.no_grad():
        state = dict(aligned.named_parameters()) | dict(aligned.named_buffers())
        for name, value in permuted.items():
            state[name].copy_(value.to(state[name].dtype))
    before = _distance(ref, own, params)
    after = _distance(ref, {**own, **permuted}, params)
    _check_same_function(model, aligned, example)
    return Alignment(aligned, True, "", {names[g]: perms[g].tolist() for g in sizes}, before, after, sweeps)


def _unfold(tensor: torch.Tensor, a: _Axis, size: int) -> torch.Tensor:
    """``tensor`` with axis ``a`` first, one row per channel (its block and all other axes flattened)."""
    moved = tensor.movedim(a.axis, 0)
    return moved.reshape(size, -1)


def _permuted(tensor: torch.Tensor, axes: list[_Axis], perms: dict[int, torch.Tensor]) -> torch.Tensor:
    for a in axes:
        index = perms[a.group]
        if a.block > 1:
            index = (index[:, None] * a.block + torch.arange(a.block)).reshape(-1)
        tensor = tensor.index_select(a.axis, index)
    return tensor


def _distance(ref: dict, own: dict, params: set) -> float:
    return float(sum(float((ref[n] - own[n]).square().sum()) for n in params) ** 0.5)


def _check_same_function(model: nn.Module, aligned: nn.Module, example: torch.Tensor) -> None:
    """The permuted copy must compute ``model``'s outputs (eval mode), else the rules are wrong."""
    was, was_aligned = model.training, aligned.training
    model.eval(), aligned.eval()
    try:
        with torch.no_grad():
            want, got = model(example), aligned(example)
    finally:
        model.train(was), aligned.train(was_aligned)
    scale = float(want.abs().max()) + 1e-30
    if not float((want - got).abs().max()) <= 1e-5 * scale:
        raise Contradiction(f"the aligned model's outputs differ from the model's by "
                            f"{float((want - got).abs().max()):.3g} (scale {scale:.3g}): a permutation rule is wrong")
