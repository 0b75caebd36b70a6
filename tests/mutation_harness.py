"""Mutation harness: break the core logic on purpose and see who notices.

Each mutant replaces one exact piece of source text (a sign, a term, a bound, a comparison) in
one file. For every mutant the harness runs the test suite (the tests named for it first, then,
with ``--full``, the whole default suite) and ``sublevel verify`` alone, and prints whether
each caught it: pytest fails, or verify exits non-zero (a contradiction, a crash). Source files
are restored after every mutant, also on Ctrl-C. Not part of the default test run:

    .venv/bin/python tests/mutation_harness.py              # every mutant, targeted tests + verify
    .venv/bin/python tests/mutation_harness.py --no-verify  # pytest only (faster)
    .venv/bin/python tests/mutation_harness.py --only chain-parity --full

A mutant whose text is not found is an error (the harness is out of date), never "caught".
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


CORE = ("tests/test_certified_counts.py", "tests/test_ground_truths.py")
MUTANTS = (
    # whole-space proofs
    Mutant("chain-parity", "checks/counting/chains.py", "2 ** (arch.depth - 1)", "2 ** arch.depth", CORE),
    Mutant("chain-wall-strict", "checks/counting/chains.py", "if plus.c <= lam:", "if plus.c < lam:", CORE),
    Mutant("chain-nonempty-strict", "checks/counting/chains.py",
           "return self.a * (level - self.c) + self.b * self.b >= 0",
           "return self.a * (level - self.c) + self.b * self.b > 0", CORE),
    Mutant("chain-one-side", "checks/counting/chains.py",
           "return int(plus.sublevel_nonempty(lam)) + int(minus.sublevel_nonempty(lam))",
           "return int(plus.sublevel_nonempty(lam))", CORE),
    Mutant("ridge-box-small", "checks/counting/ridge_boxes.py",
           "radius = math.sqrt(level / problem.kappa) * (1 + RADIUS_MARGIN)",
           "radius = math.sqrt(level / problem.kappa) * (1 + RADIUS_MARGIN) / 3", CORE),
    Mutant("ridge-without-ridge", "checks/counting/ridge_boxes.py",
           "if not problem.kappa > 0 or problem.num_params > 3:", "if problem.num_params > 3:", CORE),
    # separators and floors
    Mutant("separator-active-always", "constructions/certificates.py",
           "active = [sep for sep in separators if sep.floor > level]", "active = list(separators)", CORE),
    Mutant("linear-floor-rank", "checks/counting/separators.py",
           "floor = reduced_rank_floor(problem, n_out - 1) - FLOOR_MARGIN * zero",
           "floor = reduced_rank_floor(problem, n_out) - FLOOR_MARGIN * zero + 0.5 * zero",
           ("tests/test_linear_separators.py", "tests/test_deep_linear.py")),
    Mutant("reduced-rank-tail", "checks/counting/separators.py",
           "np.square(singular[rank:]).sum()", "np.square(singular[rank + 1:]).sum()",
           ("tests/test_linear_separators.py",)),
    Mutant("chain-floor-up", "checks/counting/chains.py", "floor = round_down(zero_output_loss(problem))",
           "floor = 2 * float(zero_output_loss(problem))", CORE),
    # membership, edges, union-find
    Mutant("membership-slack", "checks/certify/segments.py",
           "        bound = computed + _rounding_bound(problem, a, torch.zeros_like(a), kind)\n",
           "        bound = computed * (1 - 1e-9)\n", CORE + ("tests/test_segments.py",)),
    Mutant("kruskal-joins-above", "checks/counting/kruskal.py",
           "            if tolerance is None or weight > lower[e2] + tolerance:",
           "            if False:", CORE + ("tests/test_merge_trees.py",)),
    # (edge-slack and counts-ignore-weights, on MergeForest.labels / counts, became equivalent
    # mutants once each level's forest holds only edges <= its level; this one replaces them)
    Mutant("threshold-joins-above", "checks/counting/kruskal.py",
           "            if weight <= level and components[i] != components[j]:",
           "            if weight <= level * (1 + 1e-12) + 1e-300 and components[i] != components[j]:",
           CORE + ("tests/test_merge_trees.py",)),
    Mutant("exact-when-sampled-meets", "theory/bounds.py",
           'return "exact" if upper == lower else "bounded"', 'return "exact" if upper >= lower else "bounded"', CORE),
    Mutant("no-contradiction-check", "theory/bounds.py", "    if upper is not None and lower > upper:",
           "    if False:", CORE),
    Mutant("metadata-trusted", "checks/counting/datasets.py",
           "and np.array_equal(rebuilt.x, dataset.x) and np.array_equal(rebuilt.y, dataset.y)", "", CORE),
    # segment maxima and intervals
    Mutant("segment-ignores-breakpoints", "checks/certify/relu_sweep.py",
           "                if r > 0.0 and r < 1.0:", "                if r > 2.0:",
           ("tests/test_segments.py",)),
    Mutant("sweep-skips-critical-points", "checks/certify/relu_sweep.py",
           "        if (fu < 0.0 and fw > 0.0) or (fu > 0.0 and fw < 0.0):", "        if False:",
           ("tests/test_segments.py",)),
    Mutant("segment-rounding-bound-dropped", "checks/certify/segments.py",
           "        uppers.append(value + _rounding_bound(problem, ai, di, kind))",
           "        uppers.append(value)", ("tests/test_segments.py", "tests/test_certified_counts.py")),
    Mutant("interval-bound-lowered", "checks/certify/segments.py", "    upper = upper * (1 + delta)\n",
           "    upper = upper * (1 - 1e-6)\n", ("tests/test_segments.py", "tests/test_certified_counts.py")),
    Mutant("interval-product-radius", "checks/certify/intervals.py",
           "    return c, widen(c, x[0].abs() * y[1] + x[1] * (y[0].abs() + y[1]), delta)",
           "    return c, widen(c, x[0].abs() * y[1] + x[1] * y[0].abs(), delta)", ("tests/test_intervals.py",)),
    Mutant("interval-relu-derivative", "checks/certify/intervals.py", "s_lo, s_hi = (c - r > 0).to(c.dtype), (c + r >= 0).to(c.dtype)",
           "s_lo, s_hi = (c > 0).to(c.dtype), (c > 0).to(c.dtype)",
           ("tests/test_intervals.py", "tests/test_segments.py", "tests/test_grid_count.py")),
    Mutant("hyperplane-floor-no-residual", "checks/counting/separators.py",
           "    residual = projected - x @ coefficients", "    residual = projected",
           ("tests/test_linear_separators.py",)),
    Mutant("rho-star-misses-roots", "constructions/rank_one_floor.py",
           "                candidates.append(_explained_near_root(",
           "                0 and candidates.append(_explained_near_root(",
           ("tests/test_relu_constructions.py", "tests/test_relu_claims.py")),
    Mutant("box-overflow-trusted", "checks/certify/boxes.py",
           "        lo, hi, glo, ghi = _finite_or_open(*(torch.cat(parts) for parts in zip(*(",
           "        lo, hi, glo, ghi = (lambda *b: b)(*(torch.cat(parts) for parts in zip(*(",
           ("tests/test_grid_count.py",)),
    # verdict rules
    Mutant("judge-proven-from-sampled", "theory/claims.py",
           "if observed and all(b.upper is not None and b.upper <= self.max_components for b in observed):",
           "if observed and all(b.sampled <= self.max_components for b in observed):", ("tests/test_deep_linear.py",)),
    Mutant("judge-never-refutes", "theory/claims.py", "        if any(b.lower > self.max_components for b in observed):",
           "        if False:", ("tests/test_deep_linear.py",)),
    Mutant("paired-supported-by-mean", "checks/verdicts/paired.py", "        if self.low > 0:",
           "        if self.mean > 0:", ("tests/test_measured_claims.py",)),
    Mutant("zero-set-search-skipped", "checks/counting/separator_search.py",
           "        if not separator.floor > min(levels):", "        if True:",
           ("tests/test_separator_search.py",)),
    # the kernel lemma
    # (A halved correction, or one without its sin^2 term, is not a mutant that can be caught: the
    # tightest distribution found needs 1/6 of the stated correction, and 1/2 without sin^2, so
    # those weakened inequalities hold wherever we looked; see checks/verdicts/kernel_inequality.)
    Mutant("kernel-correction-tenth", "checks/verdicts/kernel_inequality.py",
           "    correction = 2 * sigma * ((1 - cos_a) / 2 + sin2)\n    return KernelBounds((1 + cos_a) / 2 * norm_m",
           "    correction = 0.2 * sigma * ((1 - cos_a) / 2 + sin2)\n    return KernelBounds((1 + cos_a) / 2 * norm_m",
           ("tests/test_relu_claims.py",)),
    Mutant("kernel-bisector-is-w1", "checks/verdicts/kernel_inequality.py",
           "norm_m = float(np.mean(relu(wm) ** 2))", "norm_m = float(np.mean(relu(w1) ** 2))",
           ("tests/test_relu_claims.py",)),
    # convexified CNN, landscapes, sweeps
    Mutant("nuclear-projection-shift", "checks/ccnn/nuclear.py", "theta = (cumulative[rho] - radius) / (rho + 1)",
           "theta = (cumulative[rho] - radius) / (rho + 2)", ("tests/test_ccnn_nuclear.py",)),
    Mutant("filter-normalisation-off", "checks/landscapes/directions.py",
           "scale = (t_norm / (d_norm + _EPS)).reshape((-1,) + (1,) * (theta.dim() - 1))",
           "scale = (t_norm.mean() / (d_norm + _EPS)).reshape((-1,) + (1,) * (theta.dim() - 1))",
           ("tests/test_landscape_core.py",)),
    Mutant("write-in-place", "constructions/storage.py",
           "    with atomic_output(path) as tmp:\n        with open(tmp, \"wb\") as handle:",
           "    with open(path, \"wb\") as handle:\n        if True:", ("tests/test_storage.py",)),
    Mutant("workers-outlive-client", "checks/sweeps/executors.py",
           "initializer=die_with_parent, initargs=(os.getpid(),))", ")", ("tests/test_sweeps.py",)),
    Mutant("pool-not-restarted", "checks/sweeps/executors.py", "            except BrokenProcessPool:",
           "            except ZeroDivisionError:", ("tests/test_sweeps.py",)),
    Mutant("store-forgets-finished", "checks/sweeps/store.py",
           'done.update(row[0] for row in self._db.execute(f"SELECT key FROM results WHERE key IN ({marks})", part))',
           "pass", ("tests/test_sweeps.py",)),
    # settings, curvature, per-level counting
    Mutant("settings-bounds-skipped", "theory/settings.py",
           "            _check_bounds(field.name, value, bounds, type(record).__name__)", "            pass",
           ("tests/test_settings.py",)),
    Mutant("hessian-map-draws-unconverged", "checks/landscapes/hessian.py",
           "            if not residual <= self.tol:  # unconverged", "            if False:  # unconverged",
           ("tests/test_curvature.py",)),
    Mutant("levels-share-thinning", "checks/counting/components.py",
           "        own = sample.at(level, settings.max_points)", "        own = sample.at(max(levels), settings.max_points)",
           ("tests/test_certified_counts.py",)),
    # your own models: alignment, trace, eigen residuals, streaming
    Mutant("alignment-minimises", "checks/paths/alignment.py", "maximize=True)", "maximize=False)",
           ("tests/test_alignment.py",)),
    Mutant("alignment-skips-batchnorm", "checks/paths/alignment.py",
           "                    if tensor.dim() == 1:", "                    if tensor.dim() == 2:",
           ("tests/test_alignment.py",)),
    Mutant("hutch-drops-exact-part", "checks/curvature/spectrum.py",
           "    return float(terms.sum() + values.mean()), float", "    return float(values.mean()), float",
           ("tests/test_curvature.py",)),
    Mutant("lanczos-residual-understated", "checks/curvature/spectrum.py",
           "(s[:, wanted] / norms) - values * vectors, axis=0)", "(s[:, wanted] / norms) - values * vectors, axis=0) / 2",
           ("tests/test_curvature.py",)),
    Mutant("loss-lower-bound-no-slack", "checks/certify/segments.py",
           "    lower = torch.nextafter(computed - slack, ", "    lower = torch.nextafter(computed + 0 * slack, ",
           ("tests/test_segments.py",)),
    Mutant("streamed-hessian-skips-a-batch", "checks/landscapes/hessian.py",
           "            for index in range(len(self.data)):", "            for index in range(len(self.data) - 1):",
           ("tests/test_model_curves.py",)),
)


def run(command: list[str], timeout: int) -> int:
    try:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return 124


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this mutant (repeatable)")
    parser.add_argument("--no-verify", action="store_true", help="do not run `sublevel verify` per mutant")
    parser.add_argument("--full", action="store_true", help="also run the whole default suite when the named "
                                                            "tests miss a mutant")
    args = parser.parse_args()
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    caught_tests = caught_verify = 0
    for mutant in chosen:
        path = ROOT / mutant.path
        original = path.read_text()
        if original.count(mutant.old) != 1:
            print(f"{mutant.name}: the text to mutate is not found exactly once in {mutant.path}", file=sys.stderr)
            return 2
        start = time.monotonic()
        try:
            path.write_text(original.replace(mutant.old, mutant.new))
            tests = run([PYTHON, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mutant.tests], 1800) != 0
            if not tests and args.full:
                tests = run([PYTHON, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "2"], 3600) != 0
            verify = None if args.no_verify else run([PYTHON, "-m", "sublevel", "verify"], 1800) != 0
        finally:
            path.write_text(original)
        caught_tests += tests
        caught_verify += bool(verify)
        verify_text = "" if verify is None else f"; verify {'caught' if verify else 'missed'}"
        print(f"{mutant.name:<28} pytest {'caught' if tests else 'MISSED'}{verify_text} "
              f"({time.monotonic() - start:.0f} s)", flush=True)
    total = len(chosen)
    print(f"score: pytest caught {caught_tests}/{total} ({caught_tests / total:.0%})"
          + ("" if args.no_verify else f"; sublevel verify alone caught {caught_verify}/{total} "
                                       f"({caught_verify / total:.0%})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
