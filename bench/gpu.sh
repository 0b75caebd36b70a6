#!/usr/bin/env bash
# Whole GPU check in one call (< 5 minutes on a GPU machine; runs on the CPU without CUDA):
# batched many-networks loss vs CPU float64, GPU vs CPU throughput, fraction of the GPU's
# large-matmul FLOP/s, and a tiny `sublevel sweep --device cuda` compared with the CPU rows.
# Usage: bench/gpu.sh   (from the repository root, with the package's Python on PATH or in .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
exec timeout 290 "$PYTHON" bench/gpu_check.py "$@"
