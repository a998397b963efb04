"""Memory planning at scale: 100,000 runs of the circles net in one ``jinit.sweep`` call.

    PYTHONPATH=. python scripts/bench_memory.py                 # 6 inits x 16,667 seeds
    PYTHONPATH=. python scripts/bench_memory.py --seeds 200 --max-memory 2e7   # small check

The headline command's six inits (``coursera.SWEEP_INITS``) x SEEDS seeds of the MLP 2-10-5-1
on ``jinit.data.coursera_circles()``, STEPS full-batch SGD steps (lr 0.01), on one device, in
exact blocks of BLOCK runs (``block_size=BLOCK``: a seed is then the same run bit for bit in
any sweep size, group or block position). The engine estimates the bytes of one run and
trains the runs in groups that fit the budget (half the available RAM by default, or
``--max-memory``). Printed: the estimate per run, the budget, the number of groups, the wall
time, the peak resident memory of this process, and the final metrics of three seeds (the
first, one in the middle, the last) against a separate 3-seed sweep of those seeds: they must
be equal bit for bit (the script exits 1 otherwise).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit.engine import plan
from jinit.engine.config import SweepConfig
from jinit.experiments.coursera import SWEEP_INITS
from jinit.models import MLP


def workload(args: argparse.Namespace) -> dict:
    """The sweep's arguments, but its seeds and budget (one home for the script's sweeps and
    the estimate it prints)."""
    return dict(
        model=MLP([2, 10, 5, 1]), inits=SWEEP_INITS, data=jinit.data.coursera_circles(),
        optimizer=optax.sgd(0.01), steps=args.steps, eval_every=args.steps,
        block_size=args.block,
    )  # fmt: skip


def sweep(seeds: int | list[int], args: argparse.Namespace, max_memory: float | None):
    return jinit.sweep(**workload(args), seeds=seeds, max_memory=max_memory)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=16_667, help="seeds per init (default 16,667)")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--block", type=int, default=120, help="runs per exact block")
    p.add_argument("--max-memory", type=float, default=None, help="bytes (default: planned)")
    args = p.parse_args(argv)
    config = SweepConfig.build(
        **workload(args), seeds=args.seeds, loss=None, batch_size=None, extra_metrics=None,
        track=None, devices=None, dtype=jnp.float32, formulation="auto",
    )  # fmt: skip
    per_run = plan.config_run_bytes(config)
    budget = plan.memory_budget(config.devices, args.max_memory)
    print(f"per run {per_run} = {per_run.total} bytes; budget {budget:.3g} bytes")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"peak RSS before the sweep {rss_before:.2f} GB")
    t = time.perf_counter()
    big = sweep(args.seeds, args, args.max_memory)
    wall = time.perf_counter() - t
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    n = len(SWEEP_INITS) * args.seeds
    print(f"{n:,} runs x {args.steps} steps: groups {big.config.get('groups', 1)}, "
          f"{wall:.1f} s, peak RSS {rss_gb:.2f} GB")
    probe = [0, args.seeds // 2, args.seeds - 1]
    small = sweep(probe, args, None)
    equal = True
    for metric in ("train_loss", "train_acc", "test_loss"):
        a = big.metrics[metric][:, probe, -1]
        b = small.metrics[metric][:, :, -1]
        same = np.array_equal(a, b, equal_nan=True)
        equal &= same
        print(f"  seeds {probe}, final {metric}: {'bit-equal' if same else 'DIFFERENT'} to a "
              f"3-seed sweep (max |diff| {np.nanmax(np.abs(a - b)):.3g})")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
