#!/usr/bin/env bash
# The GPU check of issue 15: install jinit with the CUDA extra into .venv-gpu, run the test
# suite on the GPU, then scripts/bench_sweep.py with 10^4 and 10^5 runs. Everything it prints
# also goes to bench_gpu-<host>-<UTC time>.log beside this checkout's root, for
# docs/benchmarks.md (record the log's lines with this command above them).
#
#   bash scripts/bench_gpu.sh              # jax[cuda12]
#   CUDA_EXTRA=cuda13 bash scripts/bench_gpu.sh
#   SKIP_TESTS=1 bash scripts/bench_gpu.sh # benchmarks only
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${CUDA_EXTRA:-cuda}
log="bench_gpu-$(hostname)-$(date -u +%Y%m%dT%H%MZ).log"
exec > >(tee "$log") 2>&1

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null 2>&1 &&
       "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
      PY=$c; break
    fi
  done
fi
[ -n "$PY" ] || { echo "bench_gpu: no Python >= 3.12 found (set PYTHON=...)" >&2; exit 1; }
[ -x .venv-gpu/bin/python ] || "$PY" -m venv .venv-gpu
.venv-gpu/bin/python -m pip install -q --upgrade pip
.venv-gpu/bin/python -m pip install -q -e ".[dev,$extra]"

date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
.venv-gpu/bin/python - <<'EOF'
import jax
devices = jax.devices()
print("jax", jax.__version__, devices)
if devices[0].platform != "gpu":
    raise SystemExit("bench_gpu: JAX sees no GPU (check the CUDA extra and the driver)")
EOF

if [ -z "${SKIP_TESTS:-}" ]; then
  # one process: several pytest workers would share (and split) the GPU's memory
  XLA_PYTHON_CLIENT_PREALLOCATE=false .venv-gpu/bin/python -m pytest -q -p no:cacheprovider
fi

bench() { echo; echo "\$ python scripts/bench_sweep.py $*"; time .venv-gpu/bin/python scripts/bench_sweep.py "$@"; }
bench --workload circles                 # 600 runs, the CPU figures' workload
bench --workload circles --seeds 1667    # 6 inits x 1667 seeds: 10,002 runs
bench --workload circles --seeds 16667 --repeats 1  # 100,002 runs (one round: long)
bench --workload digits --seeds 5000 --repeats 1  # 2 inits x 5000 seeds: 10,000 runs, batch 32
bench --workload conv --seeds 500        # 1,000 CNN runs
bench --workload transformer --seeds 500 # 1,000 Transformer runs
bench --workload scaling
echo "bench_gpu: log in $log"
