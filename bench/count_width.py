"""How `sublevel count` fares as width grows: components, time and peak memory per (w, N).

On teacher data (`sublevel construct teacher --arch 2-4-1 --activation relu --samples N`),
counts 2-w-1 ReLU nets with biases at 0.05, 0.2 and 0.5 of mean y^2 with default settings,
each (w, N) in a fresh process (so its peak resident memory is its own), and prints one row
per run: sampled components and proven lower bound per level, certified segments, seconds and
peak memory. A second line per run counts 0.2 and 0.5 alone, to show the counts at a level do
not depend on the other levels asked.

    python bench/count_width.py                      # w = 2, 8, 32, 128; N = 64, 1024
    python bench/count_width.py --widths 2,8 --samples 64
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

CHILD = """
import json, sys, time, resource
import numpy as np, torch
torch.set_num_threads(int(sys.argv[4]))
from sublevel.checks.counting.datasets import count_dataset
from sublevel.constructions import construct
from sublevel.theory.networks import Architecture
width, samples, fractions = int(sys.argv[1]), int(sys.argv[2]), [float(f) for f in sys.argv[3].split(",")]
data = construct("teacher", arch="2-4-1", activation="relu", samples=samples, seed=0)
mean = float(np.square(data.y).mean())
start = time.perf_counter()
count = count_dataset(data, Architecture((2, width, 1), "relu", bias=True), [f * mean for f in fractions])
seconds = time.perf_counter() - start
print(json.dumps({"sampled": [b.sampled for b in count.brackets], "lower": [b.lower for b in count.brackets],
                  "points": [b.points for b in count.brackets], "certified": count.certified_edges,
                  "seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(width: int, samples: int, fractions: str, threads: int, timeout: float) -> dict | None:
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(width), str(samples), fractions, str(threads)],
                             capture_output=True, text=True, timeout=timeout, check=True).stdout
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="2,8,32,128")
    parser.add_argument("--samples", default="64,1024")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run before it is reported as such")
    parser.add_argument("--no-alone", action="store_true", help="skip the runs of 0.2 and 0.5 alone")
    args = parser.parse_args()
    print(f"{'w':>4} {'N':>5}  {'levels (x mean y^2)':<20} {'sampled':<14} {'lower':<10} {'points':<16} "
          f"{'segments':>8} {'seconds':>8} {'peak MiB':>8}")
    for samples in (int(n) for n in args.samples.split(",")):
        for width in (int(w) for w in args.widths.split(",")):
            for fractions in ("0.05,0.2,0.5",) + (() if args.no_alone else ("0.2,0.5",)):
                row = run(width, samples, fractions, args.threads, args.timeout)
                if row is None:
                    print(f"{width:>4} {samples:>5}  {fractions:<20} did not finish in {args.timeout:.0f} s", flush=True)
                    continue
                print(f"{width:>4} {samples:>5}  {fractions:<20} {str(row['sampled']):<14} {str(row['lower']):<10} "
                      f"{str(row['points']):<16} {row['certified']:>8} {row['seconds']:>8.1f} {row['peak_mib']:>8.0f}",
                      flush=True)
    print(f"(peak memory of each child process; {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} "
          f"MiB the largest)")


if __name__ == "__main__":
    main()
