"""Cost of the convexified CNN: peak memory, time per epoch, and projected gradient vs cvxpy.

    python bench/ccnn_bench.py            # default-table setting, ~3 minutes on 2 cores
    python bench/ccnn_bench.py --quick    # smaller, for a smoke test

1. Each fit runs in a fresh process so that its peak resident memory (``ru_maxrss``) is its own:
   CCNN-1 and CCNN-2 with the default table's settings on one variation, with the pooled
   features kept in memory (they fit) and streamed (recomputed per batch, ``max_cache_bytes=0``),
   plus the feature size a whole cache would need for real MNIST (60000 x 28 x 28).
   Time per epoch is the SGD wall time divided by the epochs (feature caching not included);
   the fit's CPU time is printed too, since wall time on a shared machine mostly measures load.
2. Projected gradient (FISTA) time / cvxpy (Clarabel) solve time on the instances where both run
   (:data:`sublevel.checks.ccnn.agreement.INSTANCES`), with the relative objective difference.
Ratios, not absolute times, are the figures to compare across machines.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _fit(args) -> dict:
    depth, cache, quick, threads = args
    import torch

    from sublevel.checks.experiments.ccnn_table import TableConfig
    from sublevel.constructions.mnist_variations import digits_variation

    torch.set_num_threads(threads)
    config = TableConfig.quick() if quick else TableConfig()
    data = digits_variation("img", 0, config.image_size)
    model = config.model(f"CCNN-{depth}", 0).set_params(max_cache_bytes=(1 << 30) if cache else 0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    epochs: list[tuple[int, float]] = []
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(data.x_train, data.y_train, on_epoch=lambda layer, epoch, seconds: epochs.append((layer, seconds)))
    total, cpu = time.perf_counter() - start, time.process_time() - cpu
    solve = sum(layer.result.seconds for layer in model.layers_)
    n_epochs = len(epochs)
    return {"model": f"CCNN-{depth}", "features": "cached" if cache else "streamed",
            "train_samples": len(data.x_train), "fit_seconds": total, "fit_cpu_seconds": cpu,
            "sgd_seconds": solve, "seconds_per_epoch": solve / max(n_epochs, 1), "epochs": n_epochs,
            "test_error_percent": 100 * (1 - model.score(data.x_test, data.y_test)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_fit_mb": before / 1024}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", metavar="FILE.json")
    args = parser.parse_args(argv)

    from sublevel.checks.ccnn.agreement import INSTANCES, agreement_report
    from sublevel.checks.experiments.ccnn_table import TableConfig

    config = TableConfig.quick() if args.quick else TableConfig()
    report = {"fits": [], "agreement": []}
    context = mp.get_context("spawn")
    for depth in (1, 2):
        for cache in (True, False):
            with context.Pool(1) as pool:
                row = pool.apply(_fit, ((depth, cache, args.quick, args.threads),))
            report["fits"].append(row)
            print(f"{row['model']} features {row['features']:>8}: peak RSS {row['peak_rss_mb']:7.0f} MB "
                  f"(before fit {row['rss_before_fit_mb']:.0f}), {row['seconds_per_epoch']:.2f} s/epoch "
                  f"over {row['epochs']} epochs, fit {row['fit_seconds']:.1f} s wall / "
                  f"{row['fit_cpu_seconds']:.1f} s CPU, "
                  f"test error {row['test_error_percent']:.2f}%", flush=True)
    mnist_gb = 60000 * 12 * 12 * config.n_features * 4 / 1e9
    print(f"a whole pooled-feature cache for MNIST (60000 x 12 x 12 x {config.n_features} float32) "
          f"would need {mnist_gb:.1f} GB; above max_cache_bytes (1 GiB) it is streamed per batch")
    import torch

    torch.set_num_threads(1)  # tiny problems: extra threads only spin under load
    instances = INSTANCES[:2] if args.quick else INSTANCES
    report["agreement"] = agreement_report(instances)
    for r in report["agreement"]:
        print(f"N={r['n']} P={r['p']} m={r['m']} K={r['k']} R={r['radius']:g}: PG {r['pg_seconds']:.3f} s, "
              f"cvxpy {r['cvxpy_seconds']:.3f} s, ratio PG/cvxpy {r['time_ratio']:.4f}, "
              f"relative objective difference {r['relative_difference']:.1e}")
    if args.json:
        from sublevel.constructions.storage import write_json

        write_json(args.json, report, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
