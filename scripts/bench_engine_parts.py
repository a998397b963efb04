"""Where the sweep engine's time goes on the circles net, measured side by side in one process.

    PYTHONPATH=. python scripts/bench_engine_parts.py                   # every section
    PYTHONPATH=. python scripts/bench_engine_parts.py --section engine  # one section
    PYTHONPATH=. python scripts/bench_engine_parts.py --quick           # smoke run (the test)

The workload: the MLP 2-10-5-1 on ``jinit.data.coursera_circles()``, the headline command's six
inits (``coursera.SWEEP_INITS``) x RUNS/6 seeds, STEPS full-batch SGD steps at lr 0.01, runs
trained in blocks of BLOCK on one device. Every row starts from the same parameters (the
engine's own draws), in float32, without the persistent compilation cache.

- ``loss``: a bare blocked scan (``lax.map`` over blocks, ``lax.scan`` of steps, ``jax.grad``
  and plain SGD by ``tree_map``, logits from ``model.apply_runs``) with optax's
  ``sigmoid_binary_cross_entropy`` (the old jinit loss) and with
  ``jinit.losses.binary_cross_entropy`` (the hand-written form), each grad only and with the
  per-run loss value kept every step for the divergence step, as the engine does
  (``diverged = where((d < 0) & ~isfinite(loss), t, d)``).
- ``engine``: that bare scan (value + divergence, jinit loss) against the engine's compiled
  training chunk (``jinit.engine.sweep._Compiled``; one chunk of all STEPS steps and its
  evaluation), the same chunk with the per-run loss value replaced by zeros (what
  ``diverged_step`` costs; ``engine.program._losses_and_grads`` patched in this process
  only), and ``jinit.sweep`` itself (``timing["run_s"]``: training, the evaluations and
  fetching the result).
- ``setup``: a fresh sweep in fresh processes (nothing compiled, nothing cached): the seconds
  of its pieces (the validated config, the initial draws, the first state and data order,
  the compile of the training chunk, the first chunk with its initial evaluation),
  then ``jinit.sweep``'s own ``timing`` in another fresh process.

Timed rows: model-steps/s (runs x steps / seconds) of REPS repetitions after a warm-up call;
every variant of a section is compiled first, then the variants are timed in turn,
repetition by repetition, so that machine noise hits all alike. Each row prints every
repetition, the median and the best; a ratio is taken within each round (the two variants
timed next to each other) and printed as the median over the rounds [lowest-highest].
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

import jinit
from jinit import losses
from jinit.engine.config import SweepConfig
from jinit.engine.inits import initial_params
from jinit.experiments.coursera import SWEEP_INITS
from jinit.models import MLP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import Spread, round_ratios, rounds

SW = importlib.import_module("jinit.engine.sweep")
PROGRAM = importlib.import_module("jinit.engine.program")
LR = 0.01
DIMS = [2, 10, 5, 1]


def optax_bce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The old jinit loss: optax's ``sigmoid_binary_cross_entropy`` of the first logit."""
    z = logits.reshape(labels.shape[0], -1)[:, 0]
    return optax.sigmoid_binary_cross_entropy(z, labels.astype(z.dtype)).mean()


LOSSES = {"optax": optax_bce, "jinit": losses.binary_cross_entropy}


def sweep_kwargs(args: argparse.Namespace) -> dict:
    """``jinit.sweep``'s keyword arguments for the workload (after model, inits, data)."""
    return dict(
        optimizer=optax.sgd(LR), loss=None, steps=args.steps, seeds=args.runs // len(SWEEP_INITS),
        batch_size=None, eval_every=args.steps, devices=[jax.devices()[0]], dtype=jnp.float32,
        formulation="auto", block_size=args.block,
    )  # fmt: skip


def config(args: argparse.Namespace) -> SweepConfig:
    kw = sweep_kwargs(args) | {"extra_metrics": None, "track": None, "hparams": None}
    return SweepConfig.build(MLP(DIMS), SWEEP_INITS, jinit.data.coursera_circles(), **kw)


def bare_scan(loss_fn: Callable, steps: int, block: int, keep_value: bool, model=None,
              data=None, lr: float = LR) -> Callable:  # fmt: skip
    """``params -> (params, diverged)``: every block of ``block`` runs trained ``steps``
    full-batch SGD steps at ``lr`` in a ``lax.scan``, the blocks one after another
    (``lax.map``); ``model`` (with ``apply_runs``) and ``data`` default to the circles net."""
    model = MLP(DIMS) if model is None else model
    data = jinit.data.coursera_circles() if data is None else data
    x, y = jnp.asarray(data.x_train, jnp.float32), jnp.asarray(data.y_train)

    def total(p):
        per_run = jax.vmap(loss_fn, in_axes=(0, None))(model.apply_runs(p, x, True), y)
        return per_run.sum(), per_run

    def step(carry, t):
        p, d = carry
        if keep_value:
            (_, per_run), g = jax.value_and_grad(total, has_aux=True)(p)
            d = jnp.where((d < 0) & ~jnp.isfinite(per_run), t, d)
        else:
            g = jax.grad(lambda q: total(q)[0])(p)
        return (jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), d), None

    def one_block(p):
        n = jax.tree_util.tree_leaves(p)[0].shape[0]
        return jax.lax.scan(step, (p, jnp.full((n,), -1, jnp.int32)), jnp.arange(steps))[0]

    def train(params):
        blocks = jax.tree_util.tree_map(lambda a: a.reshape(-1, block, *a.shape[1:]), params)
        return jax.lax.map(one_block, blocks)

    return train


def seconds_of(fn: Callable, *args) -> Callable[[], float]:
    """A thunk: the seconds of one call of ``fn(*args)`` until its result is ready."""

    def run() -> float:
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        return time.perf_counter() - t

    return run


def compiled_scan(params, loss_fn: Callable, args: argparse.Namespace, keep_value: bool):
    """:func:`bare_scan` compiled for ``params``, as a timing thunk."""
    train = bare_scan(loss_fn, args.steps, args.block, keep_value)
    return seconds_of(jax.jit(train).lower(params).compile(), params)


class Rates(NamedTuple):
    """Model-steps/s of each variant, one entry per round (repetition)."""

    each: dict[str, list[float]]

    def ratio(self, a: str, b: str) -> str:
        """``a/b`` round by round (the two timed next to each other): median [min-max]."""
        return Spread.of(round_ratios(self.each[a], self.each[b])).text()


def print_rates(secs: dict[str, list[float]], model_steps: int) -> Rates:
    """One row per variant: model-steps/s of each repetition, the median and the best."""
    rates = Rates({name: [model_steps / t for t in s] for name, s in secs.items()})
    for name, each in rates.each.items():
        cells = " ".join(f"{r:9,.0f}" for r in each)
        print(f"  {name:48s} {cells}  median {statistics.median(each):9,.0f}  best "
              f"{max(each):9,.0f}")  # fmt: skip
    return rates


def section_loss(args: argparse.Namespace, params) -> None:
    print(f"== loss forms: bare blocked scan, {args.runs} runs x {args.steps} steps, blocks of "
          f"{args.block} (model-steps/s, {args.reps} repetitions)")  # fmt: skip
    thunks = {}
    for name, fn in LOSSES.items():
        for keep in (False, True):
            label = f"{name} loss, " + ("value + divergence" if keep else "grad only")
            thunks[label] = compiled_scan(params, fn, args, keep)
    r = print_rates(rounds(thunks, args.reps, warmup=True), args.runs * args.steps)
    print("  ratios, round by round: median [range]")
    for how in ("grad only", "value + divergence"):
        print(f"    jinit/optax loss, {how}: {r.ratio(f'jinit loss, {how}', f'optax loss, {how}')}")
    for loss in LOSSES:
        grad, value = f"{loss} loss, grad only", f"{loss} loss, value + divergence"
        print(f"    {loss} loss, grad only/value + divergence: {r.ratio(grad, value)}")
    print()


@contextlib.contextmanager
def loss_value_zeroed() -> Iterator[None]:
    """While building a sweep: its step's per-run loss values are zeros (so ``diverged``
    never changes and XLA may drop what only the value needed); the gradients are unchanged."""
    original = PROGRAM._losses_and_grads

    def zeroed(*a):
        f = original(*a)

        def losses_and_grads(params, mstate, x, y, keys):
            per_run, grads, mstate = f(params, mstate, x, y, keys)
            return jnp.zeros_like(per_run), grads, mstate

        return losses_and_grads

    PROGRAM._losses_and_grads = zeroed
    try:
        yield
    finally:
        PROGRAM._losses_and_grads = original


def engine_chunk(cfg: SweepConfig) -> Callable[[], float]:
    """The engine's compiled first chunk (all steps and the evaluation of every block of
    runs), as a timing thunk."""
    c = SW._Compiled(cfg)
    return seconds_of(c.train, c.state, 0, cfg.steps, c.indices(0, cfg.n_chunks))


def section_engine(args: argparse.Namespace, params, cfg: SweepConfig) -> None:
    print(f"== engine vs bare scan: {args.runs} runs x {args.steps} steps, blocks of "
          f"{args.block}, jinit loss (model-steps/s, {args.reps} repetitions)")  # fmt: skip
    with loss_value_zeroed():
        no_value = engine_chunk(cfg)
    data, kw = jinit.data.coursera_circles(), sweep_kwargs(args)

    def sweep_run_s() -> float:
        return jinit.sweep(MLP(DIMS), SWEEP_INITS, data, progress=False, **kw).timing["run_s"]

    scan = compiled_scan(params, LOSSES["jinit"], args, True)
    thunks = {
        "bare blocked scan (value + divergence)": scan,
        "engine chunk (_Compiled.train)": engine_chunk(cfg),
        "engine chunk, per-run loss value zeroed": no_value,
        'jinit.sweep (timing["run_s"])': sweep_run_s,
    }
    r = print_rates(rounds(thunks, args.reps, warmup=True), args.runs * args.steps)
    bare, chunk, zeroed, sweep = thunks
    print("  ratios, round by round: median [range]")
    print(f"    engine chunk/bare scan: {r.ratio(chunk, bare)}")
    print(f"    jinit.sweep/engine chunk: {r.ratio(sweep, chunk)}")
    print(f"    jinit.sweep/bare scan: {r.ratio(sweep, bare)}")
    print(f"    engine chunk without/with the loss value: {r.ratio(zeroed, chunk)}\n")


def setup_parts(args: argparse.Namespace) -> dict[str, float]:
    """Seconds of the pieces of a fresh sweep (call in a fresh process)."""
    t0 = time.perf_counter()
    cfg = config(args)
    t1 = time.perf_counter()
    draws: list[float] = []

    def timed_draws(*a):
        t = time.perf_counter()
        out = jax.block_until_ready(initial_params(*a))
        draws.append(time.perf_counter() - t)
        return out

    SW.initial_params = timed_draws  # this process only
    c = SW._Compiled(cfg)
    t2 = time.perf_counter()
    idx = c.indices(0, cfg.n_chunks)

    def initial_and_first(state):  # the initial evaluation (no steps), then the first chunk
        return c.evaluate(state, idx), c.train(state, 0, cfg.steps, idx)

    first_chunk = seconds_of(initial_and_first, c.state)()
    return {
        "SweepConfig.build (validate, model, formulation)": t1 - t0,
        "initial draws (initial_params)": draws[0],
        "first state, data order, blocks": t2 - t1 - draws[0] - c.compile_s,
        "compile (the training chunk)": c.compile_s,
        f"first chunk (initial evaluation, {cfg.steps} steps, evaluation)": first_chunk,
    }


def sweep_timing(args: argparse.Namespace) -> dict[str, float]:
    """``jinit.sweep``'s ``timing`` (call in a fresh process)."""
    t = time.perf_counter()
    r = jinit.sweep(MLP(DIMS), SWEEP_INITS, jinit.data.coursera_circles(), progress=False,
                    **sweep_kwargs(args))  # fmt: skip
    wall = time.perf_counter() - t
    tm = r.timing
    return {
        "compile_s": tm["compile_s"],
        "setup (total_s - run_s)": tm["total_s"] - tm["run_s"],
        "run_s": tm["run_s"],
        "total_s": tm["total_s"],
        "wall (from the call to the result)": wall,
    }


def in_fresh_process(child: str, args: argparse.Namespace) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", child, "--runs", str(args.runs),
           "--steps", str(args.steps), "--block", str(args.block)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def section_setup(args: argparse.Namespace) -> None:
    print(f"== setup of a fresh sweep: {args.runs} runs x {args.steps} steps, blocks of "
          f"{args.block}, fresh processes (seconds)")  # fmt: skip
    for name, s in in_fresh_process("setup", args).items():
        print(f"  {name:54s} {s:7.2f} s")
    print("  jinit.sweep in another fresh process, its timing:")
    for name, s in in_fresh_process("sweep", args).items():
        print(f"  {name:54s} {s:7.2f} s")
    print()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=600, help="runs, a multiple of 6 (default 600)")
    p.add_argument("--steps", type=int, default=1000, help="SGD steps per run (default 1000)")
    p.add_argument("--block", type=int, default=120, help="runs per block (default 120)")
    p.add_argument("--reps", type=int, default=3, help="timed repetitions (default 3)")
    p.add_argument("--section", default="all", choices=["loss", "engine", "setup", "all"])
    p.add_argument("--quick", action="store_true", help="12 runs x 20 steps, blocks of 6, 1 rep")
    p.add_argument("--child", choices=["setup", "sweep"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.steps, args.block, args.reps = 12, 20, 6, 1
    n = len(SWEEP_INITS)
    if args.runs < n or args.runs % n:
        p.error(f"--runs must be a positive multiple of {n} (the inits), got {args.runs}")
    if args.block < 1 or args.runs % args.block:
        p.error(f"--block must be a positive divisor of --runs ({args.runs}), got {args.block}")
    if args.steps < 1 or args.reps < 1:
        p.error(f"--steps and --reps must be >= 1, got {args.steps} and {args.reps}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    if args.child:
        print(json.dumps((setup_parts if args.child == "setup" else sweep_timing)(args)))
        return
    print(f"jax {jax.__version__}, {jax.devices()[0].device_kind} device 0 of "
          f"{len(jax.devices())}; MLP {DIMS} on coursera_circles, six inits x "
          f"{args.runs // len(SWEEP_INITS)} seeds, full batch, SGD lr {LR}\n")  # fmt: skip
    cfg = config(args)
    params = initial_params(cfg.model, cfg.inits, cfg.seeds, cfg.dtype, cfg.template)
    if args.section in ("loss", "all"):
        section_loss(args, params)
    if args.section in ("engine", "all"):
        section_engine(args, params, cfg)
    if args.section in ("setup", "all"):
        section_setup(args)


if __name__ == "__main__":
    main()
