"""Cold start of ``jinit.sweep``: from the call to the first training chunk, in fresh processes.

Issue 15's target: from the ``sweep`` call to the first training chunk in under 0.5 s plus
the training program's compile for the headline net (MLP 2-10-5-1, the six inits of
``jinit compare`` x 100 seeds), and no slower for a 30-layer net than before. Each
measurement is a fresh process without JAX's persistent compilation cache (what a Python
user's first sweep pays; the ``jinit`` command's later runs find its cache filled), running one
sweep of 20 steps on one device:

- ``setup``: ``timing["total_s"] - timing["run_s"]``, the seconds from the call to the first
  training chunk (validation, the initial draws, placing the runs, the first state, the
  compile, the first evaluation);
- ``compile``: ``timing["compile_s"]``, the training program's lowering and compile (and the
  evaluation's, where it is compiled apart); since the compile runs in a second thread while
  the runs are drawn, its seconds overlap the rest of the setup;
- ``setup - compile``: the part the target bounds by 0.5 s (with the compile overlapping the
  draws, the part of the setup it does not hide);
- ``XLA compiles``: every program compiled in the call (``jax.monitoring`` events), and their
  seconds.

With ``--against DIR`` (a checkout of another commit, e.g. ``git worktree add /tmp/old
<commit>``) every round measures both trees in turn, each in its own fresh process, and
prints the ratio of their setups within each round (median [lowest-highest] over the
rounds)::

    PYTHONPATH=. python scripts/bench_cold.py --rounds 3 --against /tmp/old
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import Spread, round_ratios, rounds

ROOT = pathlib.Path(__file__).resolve().parents[1]
NETS = {"headline [2, 10, 5, 1]": [2, 10, 5, 1], "30 layers x 16": [2] + [16] * 30 + [1]}
ROWS = ("setup", "compile", "setup - compile", "XLA compiles", "XLA compile s")


def child(dims: list[int], seeds: int) -> dict[str, float]:
    """One sweep in this (fresh) process: the seconds of its pieces and its compiles."""
    import jax
    import optax

    import jinit
    from jinit.engine.compiles import BACKEND_COMPILE_EVENT
    from jinit.experiments.coursera import SWEEP_INITS

    seconds: list[float] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        if event == BACKEND_COMPILE_EVENT:
            seconds.append(duration)

    data = jinit.data.coursera_circles()
    jax.monitoring.register_event_duration_secs_listener(listen)
    r = jinit.sweep(jinit.models.MLP(dims), SWEEP_INITS, data, optimizer=optax.sgd(0.01),
                    steps=20, seeds=seeds, eval_every=20, progress=False)  # fmt: skip
    t = r.timing
    setup = t["total_s"] - t["run_s"]
    return {"setup": setup, "compile": t["compile_s"], "setup - compile": setup - t["compile_s"],
            "XLA compiles": len(seconds), "XLA compile s": sum(seconds)}  # fmt: skip


def in_fresh_process(tree: pathlib.Path, dims: list[int], seeds: int) -> dict[str, float]:
    """:func:`child` in a fresh process importing jinit from ``tree``, one device, without
    JAX's persistent compilation cache (a Python user's first sweep)."""
    env = {**os.environ, "PYTHONPATH": str(tree), "JAX_ENABLE_COMPILATION_CACHE": "false",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}  # fmt: skip
    cmd = [sys.executable, __file__, "--child", json.dumps(dims), "--seeds", str(seeds)]
    out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(name: str, dims: list[int], trees: dict[str, pathlib.Path], args) -> None:
    thunks = {label: (lambda t=tree: in_fresh_process(t, dims, args.seeds))
              for label, tree in trees.items()}  # fmt: skip
    got = rounds(thunks, args.rounds)
    print(f"== {name}: 6 inits x {args.seeds} seeds, 20 steps, 1 device, fresh processes "
          f"without a compilation cache; {args.rounds} round(s)")  # fmt: skip
    for row in ROWS:
        cells = []
        for label in trees:
            spread = Spread.of([m[row] for m in got[label]])
            fmt, unit = (".0f", "") if row == "XLA compiles" else (".2f", " s")
            cells.append(f"{label}: {spread.text(fmt, unit):22s}")
        print(f"  {row:16s} " + "  ".join(cells))
    if len(trees) == 2:
        this, other = ([m["setup"] for m in got[label]] for label in trees)
        print(f"  setup, this tree / the other, round by round: "
              f"{Spread.of(round_ratios(this, other)).text()}")  # fmt: skip
    print()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--seeds", type=int, default=100, help="seeds per init (default 100)")
    p.add_argument("--against", type=pathlib.Path, default=None,
                   help="a checkout of another commit, measured in turn with this one")  # fmt: skip
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child), args.seeds)))
        return
    trees = {"this tree": ROOT}
    if args.against is not None:
        if not (args.against / "jinit" / "__init__.py").is_file():
            p.error(f"--against must be a jinit checkout, got {args.against} (no jinit/)")
        trees["other"] = args.against.resolve()
    print(f"(started {time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f})")
    for name, dims in NETS.items():
        report(name, dims, trees, args)


if __name__ == "__main__":
    main()
