"""Where a cold sweep's seconds go: timers around the engine's steps, in fresh processes.

One sweep of a ``scripts/bench_sweep.py`` workload (the same model, data, inits, runs and
steps as its row (c)), in a fresh process without a compilation cache, with the wall time
of each step of the engine on the calling thread:

- ``plan``: the memory plan (``plan.sweep_groups``: one run's step traced for its bytes);
- ``lower``: tracing and lowering the training program (its compile then runs in a second
  thread, beside the draws);
- ``draws``: the initial parameters of every run (``initial_params``);
- ``wait``: waiting for the training program's compile after the draws;
- ``train``: the chunks, their evaluations and fetching the results;
- ``sweep``: the whole call.

    PYTHONPATH=. python scripts/profile_sweep_setup.py --workload conv --rounds 3
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import subprocess
import sys
import time

STEPS = {"plan": ("plan", "sweep_groups"), "draws": ("sweep", "initial_params"),
         "wait": ("background", "result"), "train": ("sweep", "_train")}  # fmt: skip


def _profile(workload: str, quick: bool) -> dict:
    """The timers of one sweep of ``workload`` (``quick``: its ``--quick`` size), in this
    process."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_sweep

    from jinit.engine import plan

    sweep_module = importlib.import_module("jinit.engine.sweep")
    owners = {"plan": plan, "sweep": sweep_module, "background": sweep_module._Background}
    seconds = dict.fromkeys([*STEPS, "lower"], 0.0)

    def timed(name: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                seconds[name] += time.perf_counter() - t

        return wrapper

    for name, (owner, attr) in STEPS.items():
        setattr(owners[owner], attr, timed(name, getattr(owners[owner], attr)))
    background = owners["background"]
    background.__init__ = timed("lower", background.__init__)
    w = bench_sweep.workloads(quick=quick)[workload]
    t = time.perf_counter()
    bench_sweep.bench_sweep(w)
    return seconds | {"sweep": time.perf_counter() - t}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="conv",
                        choices=["circles", "digits", "conv", "transformer"])  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the workload's --quick size")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_profile(args.workload, args.quick)))
        return
    caches = ("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE")  # no persistent cache
    env = {k: v for k, v in os.environ.items() if not k.startswith(caches)}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=1"  # row (c): one device
    cmd = [sys.executable, os.path.abspath(__file__), "--workload", args.workload, "--child",
           *(["--quick"] if args.quick else [])]  # fmt: skip
    print(f"{args.workload}: one sweep per fresh process, seconds on the calling thread")
    for _ in range(args.rounds):
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print("  " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))


if __name__ == "__main__":
    main()
