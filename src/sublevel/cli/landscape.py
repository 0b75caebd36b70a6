"""Loss-landscape pictures (Li, Xu, Taylor, Studer & Goldstein, NeurIPS 2018, arXiv:1712.09913).

Examples:
  sublevel landscape surface --data t.npz --arch 2-8-1 --activation relu --train-steps 300 \\
      --dims 2 --grid 51 --out s.npz --plot s.png
  sublevel landscape surface --data t.npz --model mypkg.nets:make_net --weights w.pt --out s.npz
  sublevel landscape spectrum --data images.npz --model mypkg.nets:make_net --weights w.pt \\
      --loss cross-entropy --out spectrum.json --plot spectrum.png
  sublevel landscape connect --data images.npz --model mypkg.nets:make_net --weights-a a.pt \\
      --weights-b b.pt --loss cross-entropy --curve bezier --out path.json --plot path.png
  sublevel landscape merge --data images.npz --model mypkg.nets:make_net --weights a.pt b.pt c.pt \
      --loss cross-entropy --curve autoneb --out tree.json --plot tree.png
  sublevel landscape plot s.npz --kind filled --out s_filled.png
  sublevel landscape experiments --scale default --out-dir figures

`surface` is resumable: run the same command again after an interruption and it computes only
the missing grid points. Weights are an .npz of named arrays (names as in
model.named_parameters()), a .pt/.pth state dict (read with torch.load(weights_only=True), so no
code is unpickled; BatchNorm statistics included) or a .safetensors file; directions are an .npz
of d1/NAME and d2/NAME arrays.
"""
from __future__ import annotations

import argparse
import importlib

from sublevel.cli.options import positive_int, subcommands

HELP = "loss-landscape slices, interpolations and Hessian maps of torch models (Li et al. 2018)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = subcommands(parser, "action", "ACTION")
    surface = actions.add_parser("surface", help="a 1-D or 2-D filter-normalised slice of a model's loss")
    _add_model_arguments(surface)
    surface.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP + " (default: seeded initialisation)")
    surface.add_argument("--train-steps", type=int, default=0, help="full-batch Adam steps before slicing (default 0)")
    surface.add_argument("--directions", metavar="FILE.npz", help="d1/NAME (and d2/NAME) arrays instead of random ones")
    surface.add_argument("--normalization", choices=("filter", "none"), default="filter")
    surface.add_argument("--dims", type=int, choices=(1, 2), default=2)
    surface.add_argument("--grid", type=int, default=51, help="points per axis (default 51)")
    surface.add_argument("--range", default="-1,1", metavar="START,STOP", help="coefficient range (default -1,1)")
    surface.add_argument("--out", required=True, metavar="FILE.npz", help="surface file (resumable)")
    surface.add_argument("--plot", metavar="FILE.png", help="also draw the surface")
    surface.add_argument("--kind", default="contour", help="contour, filled, heatmap or surface3d")

    spectrum = actions.add_parser("spectrum", help="extreme Hessian eigenvalues (with residuals), trace and density "
                                                   "of a model's loss at its weights")
    _add_model_arguments(spectrum)
    spectrum.add_argument("--weights", metavar="FILE", help=WEIGHTS_HELP)
    spectrum.add_argument("--k", type=positive_int, default=3, help="eigenvalues at each end (default 3)")
    spectrum.add_argument("--tol", type=float, default=1e-6, help="residual tolerance relative to the spectral scale")
    spectrum.add_argument("--products", type=positive_int, default=300, help="Hessian-vector products per end, at most")
    spectrum.add_argument("--out", required=True, metavar="FILE.json|FILE.npz")
    spectrum.add_argument("--plot", metavar="FILE.png", help="also draw the density with the extremes marked")

    connect = actions.add_parser("connect", help="a curve between two trained models (linear, Bezier, polygonal "
                                                 "chain; Garipov et al. 2018) and the loss along it (sampled)")
    _add_model_arguments(connect)
    connect.add_argument("--weights-a", required=True, metavar="FILE", help=WEIGHTS_HELP + ": model A")
    connect.add_argument("--weights-b", required=True, metavar="FILE", help="model B, the same way")
    _add_curve_arguments(connect, default="bezier")
    connect.add_argument("--align", action="store_true",
                         help="permute model B's units towards model A first (weight matching)")
    connect.add_argument("--out", required=True, metavar="FILE.json")
    connect.add_argument("--plot", metavar="FILE.png", help="also draw loss (and accuracy) along the curve")

    merge = actions.add_parser("merge", help="merge tree of several trained models: curves between every pair, "
                                             "models aligned to the first (sampled maxima, not certified)")
    _add_model_arguments(merge)
    merge.add_argument("--weights", required=True, nargs="+", metavar="FILE", help=WEIGHTS_HELP + ": two or more")
    _add_curve_arguments(merge, default="autoneb")
    merge.add_argument("--no-align", action="store_true", help="use the models as given (no weight matching)")
    merge.add_argument("--out", required=True, metavar="FILE.json")
    merge.add_argument("--plot", metavar="FILE.png", help="also draw the tree on the loss axis")

    plot = actions.add_parser("plot", help="draw a saved surface")
    plot.add_argument("surface", metavar="SURFACE.npz")
    plot.add_argument("--kind", default="contour", help="contour, filled, heatmap or surface3d")
    plot.add_argument("--metric", default="loss")
    plot.add_argument("--out", required=True, metavar="FILE.png")

    experiments = actions.add_parser("experiments", help="the paper's experiments at small scale (MNIST-1D)")
    experiments.add_argument("--scale", choices=("quick", "default", "full"), default="default")
    experiments.add_argument("--out-dir", default="figures", help="directory for figures and results.json")
    experiments.add_argument("--cache-dir", default="results/landscape_runs",
                             help="trained weights and resumable surfaces (default results/landscape_runs)")
    experiments.add_argument("--hessian-grid", type=int, help="points per axis of the Hessian maps (overrides the scale)")
    experiments.add_argument("--hessian-products", type=int,
                             help="Hessian-vector products per end per point, at most (overrides the scale)")
    experiments.add_argument("--threads", type=positive_int, help="torch CPU threads for this command, overriding the "
                             "global `sublevel --threads` (default 1, the fastest for these small convolutions "
                             "on a busy machine)")


WEIGHTS_HELP = ("trained weights: .npz of named parameter arrays, a .pt/.pth state dict (read with "
                "torch.load(weights_only=True): no code is unpickled; buffers such as BatchNorm statistics included) "
                "or .safetensors")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="FILE.npz",
                        help="data set: (X, Y) as written by `sublevel construct`, or with --model an .npz whose X "
                             "may be images (N, C, H, W) or any (N, ...) array")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--arch", metavar="N0-N1-...", help="fully connected net widths, e.g. 2-8-1")
    model.add_argument("--model", metavar="MODULE:FACTORY", help="import path of a function returning a torch.nn.Module")
    parser.add_argument("--activation", default="relu", help="activation for --arch (default relu)")
    parser.add_argument("--no-bias", action="store_true", help="--arch without biases")
    parser.add_argument("--loss", choices=("mse", "cross-entropy"), default="mse")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, directions and curves")


def run(args: argparse.Namespace) -> int:
    return {"surface": _surface, "spectrum": _spectrum, "connect": _connect, "merge": _merge, "plot": _plot,
            "experiments": _experiments}[args.action](args)


def _add_curve_arguments(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--curve", choices=("linear", "bezier", "polychain", "autoneb"), default=default,
                        help=f"curve family (default {default}; autoneb: Draxler et al. 2018)")
    parser.add_argument("--points", type=positive_int, default=41, help="values of t evaluated (default 41)")
    parser.add_argument("--steps", type=int, default=300,
                        help="Adam steps training the bend, or per AutoNEB cycle (default 300)")
    parser.add_argument("--cycles", type=int, default=3, help="AutoNEB relax-then-insert cycles (default 3)")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate of the bend or pivots (default 0.01)")


def _model_and_data(args: argparse.Namespace, weights: str | None):
    """(net, x, y, loss_fn) from the shared arguments: the model built (--arch) or imported
    (--model), ``weights`` loaded, the data read and checked against the model by a probe."""
    import numpy as np
    import torch

    from sublevel.checks.landscapes.models import mlp
    from sublevel.theory.errors import InputError
    from sublevel.theory.networks import Architecture

    x_array, y_array = _read_xy(args.data, images=bool(args.model))
    torch.manual_seed(args.seed)
    if args.arch:
        net = mlp(Architecture.parse(args.arch, args.activation, not args.no_bias))
    else:
        factory = _factory(args.model)
        try:
            net = factory()
        except Exception as err:  # the user's code: its failure is a bad input, not our traceback
            raise InputError(f"the model factory {args.model} raised {type(err).__name__}: {err}") from None
        if not isinstance(net, torch.nn.Module):
            raise InputError(f"{args.model} did not return a torch.nn.Module")
    if not any(True for _ in net.parameters()):
        raise InputError("the model has no parameters")
    dtype = next(net.parameters()).dtype
    x = torch.as_tensor(x_array, dtype=dtype)
    if args.loss == "cross-entropy":
        labels = y_array.reshape(len(y_array), -1)
        if labels.shape[1] != 1 or not np.all(labels == np.round(labels)) or labels.min() < 0:
            raise InputError("cross-entropy needs Y to be one column of class labels 0, 1, ...")
        y, loss_fn = torch.as_tensor(labels[:, 0], dtype=torch.long), torch.nn.CrossEntropyLoss()
    else:
        y, loss_fn = torch.as_tensor(y_array.reshape(len(y_array), -1), dtype=dtype), torch.nn.MSELoss()
    if weights:
        _load_weights(net, weights)
    was_training = net.training
    net.eval()  # a one-sample probe: BatchNorm in training mode refuses a batch of one
    try:
        with torch.no_grad():
            net(x[:1])
    except (RuntimeError, ValueError) as err:
        raise InputError(f"the model cannot run on the data (inputs of shape {tuple(x.shape[1:])}): {err}") from None
    finally:
        net.train(was_training)
    return net, x, y, loss_fn


def _read_xy(path: str, images: bool):
    """X and Y of a data file: a `sublevel construct` data set, or (with a model of the user's)
    an .npz with X of any shape (N, ...) and Y (N,) or (N, k); checked, never unpickled."""
    import numpy as np

    from sublevel.constructions.datasets import Dataset
    from sublevel.constructions.storage import read_npz
    from sublevel.theory.errors import InputError

    if not images:
        data = Dataset.load(path)
        return data.x, data.y
    arrays, _ = read_npz(path, "data set", ("X", "Y"))
    x, y = arrays["X"], arrays["Y"]
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise InputError(f"{path}: X and Y must be numeric arrays")
    if x.ndim < 2 or y.ndim not in (1, 2) or len(x) != len(y):
        raise InputError(f"{path}: need X of shape (N, ...) and Y of shape (N,) or (N, k), got {x.shape} and {y.shape}")
    if len(x) == 0:
        raise InputError(f"{path}: the data set has no samples")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise InputError(f"{path}: X or Y contains NaN or inf")
    return x, y


def _surface(args: argparse.Namespace) -> int:
    from sublevel.checks.landscapes.directions import parameters_of, random_direction
    from sublevel.checks.landscapes.evaluation import SliceEvaluator
    from sublevel.checks.landscapes.surfaces import Grid, compute_surface

    start, stop = _range(args.range)
    grid = Grid.regular(args.dims, start, stop, args.grid)
    net, x, y, loss_fn = _model_and_data(args, args.weights)
    if args.train_steps > 0:
        _train(net, loss_fn, x, y, args.train_steps)
    theta = parameters_of(net)
    if args.directions:
        arrays = _arrays(args.directions)
        directions = [{name[3:]: v for name, v in arrays.items() if name.startswith(f"d{j}/")}
                      for j in range(1, args.dims + 1)]
    else:
        directions = [random_direction(theta, args.seed + j, args.normalization) for j in range(1, args.dims + 1)]
    evaluator = SliceEvaluator(net, loss_fn, (x, y), directions)
    metadata = {"model": args.arch or args.model, "data": str(args.data), "loss": args.loss,
                "directions": args.directions or f"random seeds {args.seed + 1}..{args.seed + args.dims}",
                "normalization": args.normalization, "train_steps": args.train_steps,
                "title": f"{args.arch or args.model} on {args.data}"}
    surface = compute_surface(evaluator, grid, path=args.out, metadata=metadata, progress=True)
    print(f"wrote {args.out}: {args.dims}-D grid {'x'.join(map(str, grid.shape))}, "
          f"loss {surface.values['loss'].min():.4g} .. {surface.values['loss'].max():.4g}")
    if args.plot:
        from sublevel.figures.landscape_plots import plot_surface

        plot_surface(surface, args.plot, kind=args.kind)
        print(f"wrote {args.plot}")
    return 0


def _spectrum(args: argparse.Namespace) -> int:
    from sublevel.checks.curvature.model_spectrum import hessian_spectrum

    _check_outputs(args, (".json", ".npz"))
    net, x, y, loss_fn = _model_and_data(args, args.weights)
    return _report(hessian_spectrum(net, loss_fn, (x, y), k=args.k, tol=args.tol, products=args.products,
                                    seed=args.seed), args)


def _connect(args: argparse.Namespace) -> int:
    import copy

    from sublevel.checks.paths.model_curves import connect

    _check_outputs(args, (".json",))
    model_a, x, y, loss_fn = _model_and_data(args, args.weights_a)
    model_b = copy.deepcopy(model_a)
    _load_weights(model_b, args.weights_b)
    return _report(connect(model_a, model_b, loss_fn, (x, y), curve=args.curve, points=args.points,
                           steps=args.steps, lr=args.lr, seed=args.seed, align=args.align, cycles=args.cycles), args)


def _merge(args: argparse.Namespace) -> int:
    import copy

    from sublevel.checks.paths.model_merge_trees import merge_models
    from sublevel.theory.errors import InputError

    _check_outputs(args, (".json",))
    if len(args.weights) < 2:
        raise InputError("--weights needs two or more files")
    first, x, y, loss_fn = _model_and_data(args, args.weights[0])
    models = [first]
    for path in args.weights[1:]:
        model = copy.deepcopy(first)
        _load_weights(model, path)
        models.append(model)
    return _report(merge_models(models, loss_fn, (x, y), curve=args.curve, align_units=not args.no_align,
                                seed=args.seed, points=args.points, steps=args.steps, lr=args.lr,
                                cycles=args.cycles), args)


def _check_outputs(args: argparse.Namespace, suffixes: tuple[str, ...]) -> None:
    """--out and --plot checked before any work, so a bad name never costs a computation."""
    from sublevel.figures.saving import check_figure_path
    from sublevel.theory.errors import InputError

    if not args.out.lower().endswith(suffixes):
        raise InputError(f"--out must end in {' or '.join(suffixes)}, got {args.out}")
    if args.plot:
        check_figure_path(args.plot)


def _report(result, args: argparse.Namespace) -> int:
    """Save a result (anything with ``save``, ``describe`` and ``plot``) to --out, print it, draw --plot."""
    result.save(args.out)
    print(result.describe())
    print(f"wrote {args.out}")
    if args.plot:
        result.plot(args.plot)
        print(f"wrote {args.plot}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from sublevel.checks.landscapes.surfaces import Surface
    from sublevel.figures.landscape_plots import plot_surface

    surface = Surface.load(args.surface)
    plot_surface(surface, args.out, kind=args.kind, metric=args.metric)
    if surface.complete:
        print(f"wrote {args.out}")
    else:
        print(f"wrote {args.out}: INCOMPLETE surface, {surface.mask.mean():.0%} of the grid computed (the rest "
              f"is left blank); run the same `landscape surface` command again to finish it")
    return 0


def _experiments(args: argparse.Namespace) -> int:
    import dataclasses
    import os

    import torch

    from sublevel.checks.experiments.landscapes import SCALES, run_all
    from sublevel.theory.errors import InputError

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"hessian_grid": args.hessian_grid, "hessian_products": args.hessian_products}
    scale = dataclasses.replace(SCALES[args.scale], **{k: v for k, v in overrides.items() if v is not None})
    if scale.hessian_grid < 1 or scale.hessian_products < 1:
        raise InputError("--hessian-grid and --hessian-products must be >= 1")
    from sublevel.figures.landscape_plots import draw_suite

    suite = run_all(scale, args.out_dir, args.cache_dir, progress=True)
    written = draw_suite(suite, args.out_dir)
    print(f"{'model':<28} {'test error':>10} {'train loss':>10} {'min slice loss':>14}")
    for row in suite.results["table"]:
        print(f"{row['model']:<28} {row['test_error']:>10.4f} {row['train_loss']:>10.4g} {row['slice_min_loss']:>14.4g}")
    print(f"wrote {os.path.join(args.out_dir, 'landscape_results.json')} (every number) and {len(written)} figures "
          f"in {args.out_dir}")
    return 0


def _range(text: str) -> tuple[float, float]:
    from sublevel.theory.errors import InputError

    try:
        start, stop = (float(part) for part in text.split(","))
    except ValueError:
        raise InputError(f"--range must be START,STOP (two numbers), got {text!r}") from None
    return start, stop


def _factory(spec: str):
    from sublevel.theory.errors import InputError

    module_name, _, attribute = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except Exception as err:  # ImportError, AttributeError, or whatever the module raises on import
        raise InputError(f"cannot import model factory {spec!r} (MODULE:FUNCTION): {type(err).__name__}: {err}") from None


def _load_weights(net, path: str) -> None:
    """Load ``path`` into ``net``: every parameter must be given with its shape and finite;
    buffers (a state dict's BatchNorm statistics) are loaded when present; unknown names are
    an error. Nothing is unpickled: .pt files go through ``torch.load(weights_only=True)``."""
    import os

    import torch

    from sublevel.checks.landscapes.directions import check_direction, parameters_of
    from sublevel.theory.errors import InputError

    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".pt", ".pth"):
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # pickled code, a truncated file, ...: refused, never executed
            raise InputError(f"{path}: not a state dict that torch.load(weights_only=True) can read "
                             f"({type(err).__name__}: {str(err).splitlines()[0][:120]})") from None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]  # a training checkpoint
    elif suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise InputError(f"{path}: reading .safetensors needs the safetensors package "
                             f"(pip install safetensors)") from None
        if not os.path.exists(path):
            raise FileNotFoundError(2, "No such file or directory", path)
        try:
            state = load_file(path)
        except Exception as err:
            raise InputError(f"{path}: not a readable safetensors file ({type(err).__name__})") from None
    else:
        state = _arrays(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: expected a mapping of names to tensors")
    buffers = dict(net.named_buffers())
    unknown = sorted(set(state) - set(dict(net.named_parameters())) - set(buffers))
    if unknown:
        raise InputError(f"{path}: names the model does not have: {', '.join(unknown[:5])}")
    parameters = {name: value for name, value in state.items() if name not in buffers}
    loaded = check_direction(parameters_of(net), parameters, "weights")
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(loaded[name])
        for name, value in state.items():
            if name in buffers:
                if value.shape != buffers[name].shape:
                    raise InputError(f"{path}: buffer {name!r} has shape {tuple(value.shape)}, the model's "
                                     f"{tuple(buffers[name].shape)}")
                if value.is_floating_point() and not torch.isfinite(value).all():
                    raise InputError(f"{path}: buffer {name!r} contains NaN or inf")
                buffers[name].copy_(value)


def _arrays(path: str) -> dict:
    import torch

    from sublevel.constructions.storage import read_npz

    from sublevel.theory.errors import InputError

    arrays, _ = read_npz(path, "file of named arrays")
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise InputError(f"{path}: array {name!r} must be numeric, got dtype {array.dtype}")
    return {name: torch.as_tensor(array) for name, array in arrays.items()}


def _train(net, loss_fn, x, y, steps: int) -> None:
    import torch

    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(net(x), y).backward()
        optimizer.step()
