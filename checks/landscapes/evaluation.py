"""Loss and accuracy of any ``torch.nn.Module`` at many points of an affine slice, in batches.

A slice is theta(c) = theta_0 + sum_j c_j d_j for coefficient rows c in R^m (m = 1 for a line,
2 for a plane; Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018, arXiv:1712.09913, Sec. 5).
:class:`SliceEvaluator` evaluates K such points per pass: it stacks the K parameter sets and
runs ``torch.func.functional_call`` under ``torch.func.vmap``.

Why it is faster than loading weights and running forward once per point: the first layer is
linear in its parameters (W, b) jointly, so when the model's first parameterised module is a
Linear or convolution applied to the input, its output at theta(c) is

    f_0(X; W_0 + sum_j c_j D_j, b_0 + sum_j c_j e_j) = f_0(X; W_0, b_0) + sum_j c_j f_0(X; D_j, e_j)

(D_j, e_j: the first layer's part of direction j). The m + 1 products are computed once per data batch and
every grid point pays only for the combination and the (usually much cheaper) rest of the net.
Whether the shortcut applies is found by a probe forward pass with hooks (first
parameterised module called, called once, on the model's own input); otherwise every point
runs the full model.

The nets of the theorems go further (:class:`sublevel.checks.landscapes.lines.SweptMLP`: a
``Sequential`` with one or two hidden ReLU / leaky-ReLU layers, any number of Linear layers
without activation, or one hidden layer of :class:`~sublevel.checks.landscapes.models.Square`): along
each run of points that differ only in the last coordinate the outputs are piecewise
polynomial in that coordinate, and :mod:`sublevel.checks.landscapes.lines` evaluates the whole run
exactly in one sweep (float64, on the CPU).

Networks are evaluated in eval mode: BatchNorm uses the stored running statistics (its
parameters get 0 in filter-normalised directions), dropout is off.
"""
from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch.func import functional_call, vmap

from sublevel.checks.landscapes.directions import Params, check_direction, check_finite, fingerprint, parameters_of
from sublevel.checks.landscapes.lines import LayerAlongLines, Lines, SweptMLP, line_outputs, switch_factors
from sublevel.checks.landscapes.models import Square
from sublevel.theory.errors import InputError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss_fn(outputs, targets) -> scalar`` averaged over the batch (e.g. ``nn.CrossEntropyLoss()``)."""

_AFFINE_TYPES = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
_ELEMENTWISE_TYPES = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU,
                      torch.nn.ELU, torch.nn.Softplus, torch.nn.Identity, torch.nn.Dropout, Square)
# Points per pass: activations near 2^20 elements (4 MiB in float32) stay in cache between the
# few passes each layer makes; more than 64 points per pass measured no faster on small nets
# (bench/landscape_vs_loss_landscapes.py).
_CHUNK_ELEMENTS = 2 ** 20
_MAX_CHUNK = 64
# On a GPU a pass should fill the device instead: 2^28 activations (1 GiB in float32 if every
# layer's output were alive at once) and up to 4096 points per pass (bench/gpu_check.py:
# CPU-sized chunks left an H200 slower than 16 CPU cores).
_DEVICE_CHUNK_ELEMENTS = 2 ** 28
_DEVICE_MAX_CHUNK = 4096
# Outputs per group of lines in the line sweep: 2^18 float64 values (2 MiB) stay in cache
# while the loss reads them.
_LINE_CHUNK_ELEMENTS = 2 ** 18


@dataclass(frozen=True)
class Batches:
    """A data set as a fixed list of (inputs, targets) batches.

    Materialising a loader once keeps every grid point on exactly the same samples even when
    the loader shuffles. Iterating or indexing yields each batch cast to ``dtype`` and on
    ``device`` (floating tensors only; integer class labels keep their type). When the data
    are *streamed* (:meth:`to` with ``stream``), the stored tensors stay where the caller had
    them (host memory) and every batch is moved when it is used, so a data set larger than
    the accelerator's memory is never moved there whole.
    """

    batches: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    dtype: torch.dtype | None = None
    device: torch.device | None = None

    @property
    def streamed(self) -> bool:
        """True when batches are moved (or cast) on use rather than stored ready."""
        return self.dtype is not None or self.device is not None

    @property
    def num_samples(self) -> int:
        return sum(int(x.shape[0]) for x, _ in self.batches)

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.numel() for pair in self.batches for t in pair)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.batches[index]
        return (self._cast(x), self._cast(y)) if self.streamed else (x, y)

    def __iter__(self):
        return (self[index] for index in range(len(self.batches)))

    def _cast(self, t: torch.Tensor) -> torch.Tensor:
        dtype = self.dtype if self.dtype is not None and t.is_floating_point() else t.dtype
        return t.to(device=self.device if self.device is not None else t.device, dtype=dtype)

    def fingerprint(self) -> str:
        return fingerprint(*[t for pair in self.batches for t in pair])

    def to(self, dtype: torch.dtype, device: torch.device | str | None = None,
           stream: bool | None = None) -> "Batches":
        """Floating tensors cast to ``dtype`` (integer class labels keep theirs), on ``device``.

        ``stream=None`` (default) streams when the device is not the CPU and the data take more
        than :data:`DEVICE_RESIDENT_BYTES`; otherwise every batch is moved once, now.
        """
        device = torch.device(device) if device is not None else None
        if stream is None:
            stream = device is not None and device.type != "cpu" and self.nbytes > DEVICE_RESIDENT_BYTES
        if stream:
            return Batches(self.batches, dtype, device)
        ready = Batches(self.batches, dtype, device)
        return Batches(tuple(ready))


DEVICE_RESIDENT_BYTES = 2 ** 30
"""Data sets larger than this (1 GiB) stay in host memory and move to an accelerator one batch
at a time (:meth:`Batches.to`)."""


def as_batches(data, label: str = "data") -> Batches:
    """Accept ``(X, Y)`` tensors, a :class:`Batches`, or any iterable of ``(x, y)`` batches.

    Raises
    ------
    InputError
        If there are no samples, inputs and targets disagree in length, or an input is not
        finite.
    """
    if isinstance(data, Batches):
        return data
    if isinstance(data, tuple) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        pairs: Iterable = [data]
    else:
        pairs = data
    batches = []
    for item in pairs:
        try:
            x, y = item[0], item[1]
        except (TypeError, IndexError):
            raise InputError(f"{label}: each batch must be an (inputs, targets) pair") from None
        x, y = torch.as_tensor(x), torch.as_tensor(y)
        if x.shape[0] != y.shape[0]:
            raise InputError(f"{label}: a batch has {x.shape[0]} inputs but {y.shape[0]} targets")
        if x.shape[0] == 0:
            continue
        check_finite({"inputs": x}, label)
        batches.append((x, y))
    if not batches:
        raise InputError(f"{label}: the data (loader) yields no samples")
    return Batches(tuple(batches))


@dataclass(frozen=True)
class _FirstLayer:
    """The module whose output is computed once per batch and combined per point."""

    name: str
    module: torch.nn.Module


def _probe(model: torch.nn.Module, x: torch.Tensor) -> tuple[_FirstLayer | None, int]:
    """Run one forward pass; return the affine first layer (or None) and activations/sample.

    The shortcut is sound when the first parameterised module called is a Linear or
    convolution, is called once, and its input cannot depend on parameters: it is the
    model's input itself, or every parameter lives in a leaf module (so nothing
    parameterised ran before it).
    """
    calls: list[tuple[str, torch.nn.Module, tuple]] = []
    sizes: list[int] = []
    names = {module: name for name, module in model.named_modules()}

    def hook(module, inputs, output):
        if any(True for _ in module.parameters(recurse=False)):
            calls.append((names[module], module, inputs))
        if isinstance(output, torch.Tensor):
            sizes.append(output.numel())

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    per_sample = max(1, sum(sizes) // max(1, x.shape[0]))
    if not calls:
        return None, per_sample
    name, module, inputs = calls[0]
    once = sum(1 for _, m, _ in calls if m is module) == 1
    leaf_params = all(not list(m.children()) for m in model.modules() if list(m.parameters(recurse=False)))
    unmoved_input = len(inputs) == 1 and (inputs[0] is x or leaf_params)
    if isinstance(module, _AFFINE_TYPES) and once and unmoved_input:
        return _FirstLayer(name, module), per_sample
    return None, per_sample


class _Reached(Exception):
    """Raised by a pre-hook to stop a forward pass once the first layer's input is known."""


def _input_of(model: torch.nn.Module, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The tensor ``module`` receives when ``model(x)`` runs (the rest of the pass is skipped)."""
    seen = []

    def pre_hook(_, inputs):
        seen.append(inputs[0])
        raise _Reached

    handle = module.register_forward_pre_hook(pre_hook)
    try:
        with torch.no_grad():
            model(x)
    except _Reached:
        pass
    finally:
        handle.remove()
    return seen[0]


@contextlib.contextmanager
def _output_replaced(module: torch.nn.Module, output_of: Callable[[], torch.Tensor]):
    """Make ``module(...)`` return ``output_of()`` instead of computing its forward."""
    module.forward = lambda *args, **kwargs: output_of()
    try:
        yield
    finally:
        del module.forward


def resolve_slice(model: torch.nn.Module, data, directions: Sequence[Params], origin: Params | None = None,
                  stream: bool | None = None):
    """Checked (origin, directions, data batches in the model's dtype and on its device, detached
    buffers) of the slice theta = origin + sum_j c_j d_j of ``model``; origin defaults to the
    model's parameters. ``stream``: see :meth:`Batches.to`."""
    base = parameters_of(model)
    origin = base if origin is None else check_direction(base, origin, "origin")
    checked = [check_direction(base, d, f"direction {j + 1}") for j, d in enumerate(directions)]
    reference = next(iter(base.values()))
    batches = as_batches(data).to(reference.dtype, reference.device, stream=stream)
    return origin, checked, batches, {name: b.detach() for name, b in model.named_buffers()}


class SliceEvaluator:
    """Loss (and accuracy) at theta_0 + c @ D for rows c of a (K, m) coefficient matrix.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; it is not modified (evaluation uses ``functional_call``).
    loss_fn : callable
        ``loss_fn(outputs, targets)`` returning the batch-mean loss.
    data : tensors, loader or Batches
        See :func:`as_batches`. Each point's loss is the sample-weighted mean over batches.
    directions : sequence of Params
        d_1..d_m, each shaped like the model's parameters (checked).
    origin : Params, optional
        theta_0; the model's own parameters by default.
    chunk_size : int, optional
        Points per pass; by default activations stay near 2^20 elements, at most 64 points, on
        the CPU, and near 2^28 elements, at most 4096 points, on a GPU.
    affine_first_layer : bool
        Use the first-layer shortcut when the probe allows it (default True).
    accuracy : bool
        Also report the fraction of correct argmax predictions when the targets are class
        labels (default True; costs an argmax per point).
    stream : bool, optional
        Keep the data in host memory and move one batch at a time to the model's device
        (default: when the device is an accelerator and the data exceed
        :data:`DEVICE_RESIDENT_BYTES`); the first-layer shortcut is then off.

    Notes
    -----
    Accuracy is reported when targets are integer class labels and outputs are (N, classes)
    logits. Memory: the m + 1 first-layer outputs of every batch are kept (for data that do
    not fit, pass ``affine_first_layer=False``). Cost per point: the model minus its first layer, plus m + 1 multiply-adds of the
    first layer's output; the first layer itself costs m + 1 products per batch in total.
    """

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn, data, directions: Sequence[Params],
                 origin: Params | None = None, chunk_size: int | None = None,
                 affine_first_layer: bool = True, accuracy: bool = True, stream: bool | None = None):
        self.model = model
        self.loss_fn = loss_fn
        self._losses = batched_loss(loss_fn)
        self.origin, self.directions, self.data, self.buffers = resolve_slice(model, data, directions, origin,
                                                                              stream)
        was_training = model.training
        model.eval()
        try:
            first, per_sample = _probe(model, self.data[0][0])
        except RuntimeError as err:
            raise InputError(f"the model cannot run on the data: {err}") from None
        finally:
            model.train(was_training)
        # streamed data: the first layer's outputs of every batch would not fit either
        self.first = first if affine_first_layer and not self.data.streamed else None
        labels = self.data[0][1]
        self.accuracy = bool(accuracy) and not labels.is_floating_point() and labels.dim() == 1
        largest = max(int(x.shape[0]) for x, _ in self.data.batches)
        per_point = per_sample * largest + sum(v.numel() for v in self.origin.values())
        on_cpu = all(v.device.type == "cpu" for v in self.origin.values())  # the data follow the model
        budget, most = (_CHUNK_ELEMENTS, _MAX_CHUNK) if on_cpu else (_DEVICE_CHUNK_ELEMENTS, _DEVICE_MAX_CHUNK)
        self.chunk_size = int(chunk_size) if chunk_size else max(1, min(most, budget // per_point))
        self._mlp = _mlp_layers(model, self.first, self.data)
        self._loop = not self._mlp and _batches_poorly(model)
        self._copy: torch.nn.Module | None = None  # the loop's private copy, made on first use
        self._sweep = SweptMLP.detect(self._mlp) if self._mlp and self.directions and on_cpu else None
        # every moved parameter of every point in one GEMM: theta + c @ D over the flattened
        # parameters (the first layer's are not needed when its outputs are combined instead)
        skip = self.first.name + "." if self.first else None
        self._moved = {name: theta.shape for name, theta in self.origin.items()
                       if not (skip and name.startswith(skip))}
        self._base = torch.cat([self.origin[name].reshape(-1) for name in self._moved])
        self._span = torch.stack([torch.cat([d[name].reshape(-1) for name in self._moved])
                                  for d in self.directions]) if self.directions else None
        model.eval()
        try:
            self._first_outputs = [self._first_layer_outputs(x) for x, _ in self.data] if self.first else None
        finally:
            model.train(was_training)
        # for the line sweep, made on first use: float64 first-layer outputs and switch factors
        self._first64: list[torch.Tensor] | None = None
        self._switches: list[tuple[np.ndarray, np.ndarray]] | None = None

    @property
    def path(self) -> str:
        """How points are evaluated: ``sweep`` (exact line sweep), ``mlp`` (batched layer by
        layer), ``vmap`` (``functional_call`` under ``vmap``) or ``loop`` (point by point)."""
        if self.line_sweep:
            return "sweep"
        return "mlp" if self._mlp else ("loop" if self._loop else "vmap")

    @property
    def line_sweep(self) -> bool:
        """Whether runs of points along the last direction use the exact line sweep."""
        return self._sweep is not None

    @property
    def metric_names(self) -> tuple[str, ...]:
        return ("loss", "accuracy") if self.accuracy else ("loss",)

    def fingerprint(self) -> str:
        """Identifies model point, directions and data (to refuse resuming a different setup)."""
        return fingerprint(self.origin, *self.directions, torch.tensor([float(self.data.num_samples)])) \
            + self.data.fingerprint()[:8]

    def _first_layer_outputs(self, x: torch.Tensor) -> torch.Tensor:
        """Stack f_0(X; W_0, b_0) and f_0(X; D_j, e_j): shape (m + 1, N, ...)."""
        prefix = self.first.name + "."
        own = {n[len(prefix):]: v for n, v in self.origin.items() if n.startswith(prefix)}
        x = _input_of(self.model, self.first.module, x)
        outs = [functional_call(self.first.module, own, (x,))]
        for d in self.directions:
            local = {n[len(prefix):]: v for n, v in d.items() if n.startswith(prefix)}
            outs.append(functional_call(self.first.module, local, (x,)))
        return torch.stack(outs)

    def __call__(self, coefficients: torch.Tensor) -> dict[str, torch.Tensor]:
        """Metrics at each row of ``coefficients`` (K, m): ``{"loss": (K,), "accuracy": (K,)}``."""
        reference = next(iter(self.origin.values()))
        coefficients = torch.as_tensor(coefficients, dtype=reference.dtype, device=reference.device)
        if coefficients.dim() != 2 or coefficients.shape[1] != len(self.directions):
            raise InputError(f"coefficients must be (K, {len(self.directions)}), got {tuple(coefficients.shape)}")
        lines = Lines.split(coefficients.cpu().numpy()) if self._sweep else None
        if lines is None or lines.starts.size == 0:
            return self._pointwise(coefficients)
        result = {name: torch.empty(coefficients.shape[0], dtype=coefficients.dtype) for name in self.metric_names}
        for name, values in self._along_lines(coefficients, lines).items():
            result[name][lines.points()] = values.to(coefficients.dtype)
        if lines.singles.size:
            for name, values in self._pointwise(coefficients[lines.singles]).items():
                result[name][lines.singles] = values
        return result

    def _layer_along_lines(self, name: str, starts: torch.Tensor) -> LayerAlongLines:
        """Linear layer ``name`` at the slice points ``starts`` (R, m) and its derivative along
        the last direction, in float64."""
        def at(key: str) -> torch.Tensor:
            span = torch.stack([d[key].double() for d in self.directions])
            return self.origin[key].double() + torch.einsum("rm,m...->r...", starts, span)

        weight = f"{name}.weight"
        if f"{name}.bias" in self.origin:
            bias, bias_slope = at(f"{name}.bias"), self.directions[-1][f"{name}.bias"].double()
        else:
            rows = self.origin[weight].shape[0]
            bias = torch.zeros(starts.shape[0], rows, dtype=torch.float64)
            bias_slope = torch.zeros(rows, dtype=torch.float64)
        return LayerAlongLines(at(weight), self.directions[-1][weight].double(), bias, bias_slope)

    def _pointwise(self, coefficients: torch.Tensor) -> dict[str, torch.Tensor]:
        if coefficients.shape[0] == 0:
            return {name: coefficients.new_zeros(0) for name in self.metric_names}
        scratch: dict = {}
        results = [self._chunk(part, scratch) for part in coefficients.split(self.chunk_size)]
        return {key: torch.cat([r[key] for r in results]) for key in results[0]}

    def _along_lines(self, coefficients: torch.Tensor, lines: Lines) -> dict[str, torch.Tensor]:
        """Metrics at the points of ``lines`` (in line order), from the exact line sweep."""
        c = coefficients.double()
        along = c[lines.starts]
        layers = [self._layer_along_lines(name, along) for name in self._sweep.layers]
        if self._first64 is None:
            self._first64 = [z.double() for z in self._first_outputs]
            self._switches = [switch_factors(z) for z in self._first64]
        largest = max(int(x.shape[0]) for x, _ in self.data.batches)
        per_line = int(lines.lengths.max()) * largest * layers[-1].weight.shape[1]
        group = max(1, _LINE_CHUNK_ELEMENTS // per_line)
        buffer = np.empty(group * per_line)
        totals = {name: [] for name in self.metric_names}
        for first in range(0, lines.starts.size, group):
            part = slice(first, first + group)
            starts, lengths = lines.starts[part], lines.lengths[part]
            offsets = np.arange(int(lengths.max()))
            rows = np.minimum(starts[:, None] + offsets, starts[:, None] + lengths[:, None] - 1)
            positions = c[rows, -1] - c[starts, -1][:, None]
            valid = torch.as_tensor(offsets[None, :] < lengths[:, None])
            loss = torch.zeros(int(lengths.sum()), dtype=torch.float64)
            correct = torch.zeros_like(loss)
            for index, (x, y) in enumerate(self.data):
                out = line_outputs(self._first64[index], c[starts], positions, torch.as_tensor(lengths),
                                   [layer.lines(part) for layer in layers], self._sweep.alphas, buffer,
                                   self._switches[index], self._sweep.square)
                out = out.flatten(0, 1) if valid.all() else out[valid]
                if self.accuracy:  # before the loss, which may overwrite `out`
                    correct += (out.argmax(-1) == y).sum(-1).double()
                loss += self._losses(out, y) * x.shape[0]
            totals["loss"].append(loss / self.data.num_samples)
            if self.accuracy:
                totals["accuracy"].append(correct / self.data.num_samples)
        return {name: torch.cat(values) for name, values in totals.items()}

    def _params(self, c: torch.Tensor) -> Params:
        k = c.shape[0]
        flat = torch.addmm(self._base, c, self._span) if self._span is not None else self._base.expand(k, -1)
        sizes = [shape.numel() for shape in self._moved.values()]
        return {name: part.view((k,) + shape)
                for (name, shape), part in zip(self._moved.items(), flat.split(sizes, dim=1))}

    def _chunk(self, c: torch.Tensor, scratch: dict) -> dict[str, torch.Tensor]:
        params = self._params(c)

        def buffer(key: str, shape: tuple[int, ...]) -> torch.Tensor:
            """Reused output memory: a fresh multi-MiB tensor per operation costs page faults
            that measured slower than the arithmetic on small nets."""
            if key not in scratch or scratch[key].shape[1:] != shape[1:]:
                scratch[key] = torch.empty((self.chunk_size,) + tuple(shape[1:]), dtype=c.dtype, device=c.device)
            return scratch[key][:shape[0]]

        total_loss = torch.zeros(c.shape[0], dtype=c.dtype, device=c.device)
        correct = torch.zeros_like(total_loss)
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for index, (x, y) in enumerate(self.data):
                    if self.first:
                        # every point's first-layer output Z_0 + sum_j c_j Z_j; fused multiply-adds
                        # measured 2-4x faster than the equivalent (K x (m+1)) @ ((m+1) x N n_1) GEMM
                        z = self._first_outputs[index].flatten(1)
                        mixed = buffer("first", (c.shape[0],) + self._first_outputs[index].shape[1:])
                        flat = mixed.view(c.shape[0], -1)
                        flat.copy_(z[0].expand_as(flat))
                        for j in range(c.shape[1]):
                            flat.addcmul_(z[j + 1].expand_as(flat), c[:, j:j + 1])
                        if self._mlp:
                            out = _mlp_forward(self._mlp, params, mixed, buffer)
                        elif self._loop:
                            out = torch.stack([self._at_point(params, k, x, mixed[k]) for k in range(c.shape[0])])
                        else:
                            out = vmap(self._rest, in_dims=(0, 0, None))(params, mixed, x)
                    elif self._loop:
                        out = torch.stack([self._at_point(params, k, x) for k in range(c.shape[0])])
                    else:
                        out = vmap(self._full, in_dims=(0, None))(params, x)
                    if self.accuracy:  # before the loss, which may overwrite `out`
                        correct += (out.argmax(-1) == y).sum(-1).to(c.dtype)
                    total_loss += self._losses(out, y) * x.shape[0]
        finally:
            self.model.train(was_training)
        n = self.data.num_samples
        out = {"loss": total_loss / n}
        if self.accuracy:
            out["accuracy"] = correct / n
        return out

    def _at_point(self, params: Params, k: int, x: torch.Tensor, first_output: torch.Tensor | None = None
                  ) -> torch.Tensor:
        """The model at point k of a chunk, evaluated by a private copy of the model whose
        parameters are overwritten in place (``functional_call``'s re-parametrisation per call
        measured 10-15% of a small transformer layer's forward). The user's model is untouched."""
        if self._copy is None:
            self._copy = copy.deepcopy(self.model).eval()
            own = dict(self._copy.named_parameters())
            self._copy_params = [(own[name], name) for name in params]
            own_buffers = dict(self._copy.named_buffers())
            with torch.no_grad():
                for name, value in self.buffers.items():
                    own_buffers[name].copy_(value)
            self._copy_first = dict(self._copy.named_modules())[self.first.name] if self.first else None
        with torch.no_grad():
            for target, name in self._copy_params:
                target.copy_(params[name][k])
            if first_output is None:
                return self._copy(x)
            with _output_replaced(self._copy_first, lambda: first_output):
                return self._copy(x)

    def _full(self, params: Params, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, (params, self.buffers), (x,))

    def _rest(self, params: Params, first_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        with _output_replaced(self.first.module, lambda: first_output):
            return functional_call(self.model, (params, self.buffers), (x,))


_VMAP_FRIENDLY = (torch.nn.Linear, torch.nn.Identity, torch.nn.Dropout, torch.nn.Flatten, torch.nn.ReLU,
                  torch.nn.LeakyReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.SiLU, torch.nn.ELU,
                  torch.nn.Softplus, torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)
"""Modules whose parameters ``vmap`` batches into one larger operation (a batched matrix
product). Convolutions become grouped convolutions, and normalisation, attention and
recurrent layers go through slower batching rules or none (torch warns "performance drop"):
measured 0.78-0.90x of a point-by-point loop (bench/landscape_generic_models.py)."""


def _batches_poorly(model: torch.nn.Module) -> bool:
    """Whether any submodule of ``model`` is outside :data:`_VMAP_FRIENDLY`, or ``model`` is
    itself a leaf module of another kind (then points are evaluated one at a time by a private
    copy of the model, :meth:`SliceEvaluator._at_point`). A structural rule, not a timing, so
    the same model always takes the same path and gives the same bits."""
    return any(not isinstance(module, _VMAP_FRIENDLY) for module in model.modules() if module is not model) \
        or not isinstance(model, _VMAP_FRIENDLY) and not any(True for _ in model.children())


def _mlp_layers(model: torch.nn.Module, first: _FirstLayer | None,
                data: Batches) -> tuple[tuple[str, torch.nn.Module], ...] | None:
    """The layers after the first when ``model`` is a Sequential MLP on (N, d) inputs, else None.

    Such a model gets a hand-batched forward (``baddbmm`` with the bias fused, ReLU in place)
    instead of ``vmap``: half the memory traffic per point on small nets.
    """
    if type(model) is not torch.nn.Sequential or first is None or first.name != "0" \
            or not isinstance(first.module, torch.nn.Linear) \
            or any(x.dim() != 2 for x, _ in data.batches):
        return None
    rest = tuple((name, module) for name, module in model.named_children() if name != "0")
    if all(isinstance(module, (torch.nn.Linear,) + _ELEMENTWISE_TYPES) for _, module in rest):
        return rest
    return None


def _mlp_forward(layers: tuple[tuple[str, torch.nn.Module], ...], params: Params, h: torch.Tensor,
                 buffer: Callable[[str, tuple[int, ...]], torch.Tensor]) -> torch.Tensor:
    """Outputs (K, N, n_L) of K MLPs from their first-layer outputs ``h`` (K, N, n_1).

    ``buffer(key, shape)`` hands out reusable output memory (one buffer per layer).
    """
    for name, module in layers:
        if isinstance(module, torch.nn.Linear):
            weight, bias = params[f"{name}.weight"], params.get(f"{name}.bias")
            if weight.shape[1] == 1:  # (1 x n) @ (n x N): 10x faster than bmm's one-column (N x n) @ (n x 1)
                h = torch.bmm(weight, h.transpose(1, 2)).transpose(1, 2)
                h = h if bias is None else h + bias.unsqueeze(1)
            else:
                weight = weight.transpose(1, 2)
                out = buffer(name, (h.shape[0], h.shape[1], weight.shape[2]))
                h = torch.bmm(h, weight, out=out) if bias is None \
                    else torch.baddbmm(bias.unsqueeze(1), h, weight, out=out)
        elif isinstance(module, torch.nn.ReLU):
            h = h.relu_()  # h is this pass's own buffer
        elif not isinstance(module, (torch.nn.Identity, torch.nn.Dropout)):  # dropout is off in eval mode
            h = module(h)
    return h


def batched_loss(loss_fn: LossFn) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``(outputs (K, N, ...), targets) -> (K,)`` losses, one per parameter point.

    Default-argument ``CrossEntropyLoss`` and ``MSELoss`` get closed forms that put the class
    axis where torch's kernels are fast (cross-entropy over a last axis of 10 classes is about
    15x slower than over axis 1); any other loss is vmapped as given. The returned function may
    overwrite ``outputs`` (the evaluator's scratch memory: a fresh multi-MiB difference per call
    costs page faults comparable to the loss itself), so use the outputs for anything else first.
    """
    if type(loss_fn) is torch.nn.CrossEntropyLoss and loss_fn.weight is None \
            and loss_fn.label_smoothing == 0.0 and loss_fn.reduction == "mean":
        def cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if out.dim() != 3 or y.dim() != 1:
                return vmap(loss_fn, in_dims=(0, None))(out, y)
            target = y.expand(out.shape[0], -1)
            per_sample = torch.nn.functional.cross_entropy(out.transpose(1, 2), target, reduction="none",
                                                           ignore_index=loss_fn.ignore_index)
            kept = (target != loss_fn.ignore_index).sum(1)
            return per_sample.sum(1) / kept
        return cross_entropy
    if type(loss_fn) is torch.nn.MSELoss and loss_fn.reduction == "mean":
        def squared_error(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return out.sub_(y).square_().flatten(1).mean(1)
        return squared_error
    return vmap(loss_fn, in_dims=(0, None))
