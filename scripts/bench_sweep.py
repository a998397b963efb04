"""Benchmark: jinit.sweep against per-run training loops, measured side by side in one run.

    python scripts/bench_sweep.py            # circles, digits, conv, transformer, formulations
    python scripts/bench_sweep.py --quick    # smoke run (one round)
    python scripts/bench_sweep.py --workload circles --repeats 5   # five interleaved rounds
    python scripts/bench_sweep.py --workload conv         # ConvNet on digits
    python scripts/bench_sweep.py --workload transformer  # Transformer on modular addition
    python scripts/bench_sweep.py --workload scaling      # circles: runs 1..10^4, steps
    python scripts/bench_sweep.py --workload circles --seeds 10000   # 60,000 runs (GPU)

(a) a Python loop over runs of a jitted single-run step, (b) one jitted lax.scan per run,
(c) jinit.sweep on one device, (c2) jinit.sweep with the run axis sharded over two host
devices, both in fresh processes (the device count is fixed when JAX starts; and cold means
cold), (d) a PyTorch ensemble of the same runs with torch.func
(scripts/bench_torch_ensemble.py, in this Python if it has torch, or in the one given by
--torch-python; MLPs only). Every row is printed cold (the whole job as a user pays it:
compile, first draws, every step, and every run evaluated before and after training, train
and test loss and accuracy, which is what the sweep's result holds) and warm (training
only), with model-steps/s, achieved GFLOP/s (XLA's cost analysis of one single-run step)
against this machine's large-matmul GFLOP/s, and the issue's targets as ratios measured in
the same run. (a) and (b) are timed on a subset of runs and scaled to the job.

This machine's noise moves one measurement by up to 1.7x within minutes, so every row is
measured ``--repeats`` times (default 3; 1 with ``--quick``), interleaved: round r measures
every row once, in turn ((c), (c2) and their cached re-runs in new fresh processes each
round), so that noise hits all rows alike. Each cell prints the median [lowest-highest] over
the rounds; each target is a ratio of two rows taken within each round, and is "met" only if
the median of those per-round ratios meets it ("met in k of N rounds" beside it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit import losses
from jinit.activations import activation_fn
from jinit.experiments.coursera import SWEEP_INITS
from jinit.models import MLP, ConvNet, Transformer, count_flops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench_common import Spread, Verdict, round_ratios, rounds
from bench_engine_parts import bare_scan

CIRCLE_INITS = SWEEP_INITS  # the headline command's six inits


def workloads(quick: bool) -> dict:
    circles = dict(
        model=MLP([2, 10, 5, 1]),
        data=jinit.data.coursera_circles(),
        inits=CIRCLE_INITS,
        seeds=10 if quick else 100,
        steps=300 if quick else 2000,
        lr=0.01,
        batch_size=None,
    )
    digits = dict(
        model=MLP([64, 64, 10], output="softmax"),
        data=jinit.data.digits(),
        inits={"he": jinit.he_normal, "xavier": jinit.xavier_normal},
        seeds=5 if quick else 50,
        steps=200 if quick else 2000,
        lr=0.05,
        batch_size=32,
    )
    conv = dict(
        model=ConvNet((8, 8, 1), channels=(16, 32), n_classes=10),
        data=jinit.data.digits(),
        inits={"he": jinit.he_normal, "xavier": jinit.xavier_normal},
        seeds=2 if quick else 4,
        steps=50 if quick else 200,
        lr=0.05,
        batch_size=64,
    )
    transformer = dict(
        model=Transformer(vocab_size=24, seq_len=3, n_classes=23),
        data=jinit.data.modular_addition(p=23),
        inits={"xavier": jinit.xavier_normal, "lecun": jinit.lecun_normal},
        seeds=2 if quick else 4,
        steps=50 if quick else 200,
        lr=0.05,
        batch_size=64,
    )
    return {"circles": circles, "digits": digits, "conv": conv, "transformer": transformer}


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    a = jax.random.normal(jax.random.key(0), (n, n))
    f = jax.jit(lambda x: x @ x)
    f(a).block_until_ready()
    best = min(_timed(lambda: f(a).block_until_ready()) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def flops_per_step(w: dict) -> float:
    batch = w["batch_size"] or len(w["data"].x_train)
    return 3 * count_flops(w["model"], batch)  # forward + backward ~ 3x forward


def _single_run_fns(w: dict):
    """A single run's jitted ``step``, ``scan_run`` (every step, one program), ``evaluate``
    (what the sweep reports of a run: loss and accuracy on the train and test splits, one
    program) and the optimizer."""
    model, data = w["model"], w["data"]
    loss_fn = losses.get("binary_cross_entropy" if model.output == "sigmoid"
                         else "softmax_cross_entropy")  # fmt: skip
    opt = optax.sgd(w["lr"])
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    splits = [(x, y), (jnp.asarray(data.x_test), jnp.asarray(data.y_test))]
    n, bs = len(x), w["batch_size"]

    def step(params, opt_state, t, key):
        if bs is None:
            xb, yb = x, y
        else:
            idx = jax.random.randint(jax.random.fold_in(key, t), (bs,), 0, n)
            xb, yb = x[idx], y[idx]
        grads = jax.grad(lambda p: loss_fn(model.apply(p, xb), yb))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    def scan_run(params, key):
        def body(carry, t):
            return step(*carry, t, key), None

        return jax.lax.scan(body, (params, opt.init(params)), jnp.arange(w["steps"]))[0]

    def evaluate(params):
        return [(loss_fn(z, ys), losses.accuracy(z, ys))
                for z, ys in ((model.apply(params, xs), ys) for xs, ys in splits)]

    return jax.jit(step), jax.jit(scan_run), jax.jit(evaluate), opt


def formulation_thunks(w: dict, steps: int) -> dict[str, Callable[[], float]]:
    """The same full-batch SGD training scan of all runs, with no engine around it, written
    three ways: ``jax.vmap`` of the single-run apply ([runs, batch, units]); the model's
    ``apply_runs`` ([runs, units, batch] einsums); and apply_runs on blocks of 100 runs, each
    block running all its steps before the next (its data stays in cache). Each compiled and
    run once; the thunks time one more call (seconds)."""
    model, data = w["model"], w["data"]
    runs = len(w["inits"]) * w["seeds"]
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    loss_fn = losses.get("binary_cross_entropy")
    keys = jax.random.split(jax.random.key(0), runs)
    params = jax.vmap(lambda k: model.init(k, jinit.he_normal))(keys)

    def vmapped(p):
        return jax.vmap(lambda q: loss_fn(model.apply(q, x), y))(p).sum()

    def layout(p):
        return jax.vmap(loss_fn, in_axes=(0, None))(model.apply_runs(p, x, True), y).sum()

    def scan_of(total):
        @jax.jit
        def train(p):
            def body(p, _):
                g = jax.grad(total)(p)
                return jax.tree_util.tree_map(lambda a, b: a - w["lr"] * b, p, g), None

            return jax.lax.scan(body, p, None, length=steps)[0]

        return train

    def blocked(block: int):  # the bare blocked scan of scripts/bench_engine_parts.py
        return jax.jit(bare_scan(loss_fn, steps, block, False, model, data, w["lr"]))

    ways = {"jax.vmap(apply)": scan_of(vmapped), "apply_runs [runs, units, batch]": scan_of(layout)}
    if runs % 100 == 0:
        ways["apply_runs, blocks of 100 runs"] = blocked(100)
    thunks = {}
    for name, train in ways.items():
        jax.block_until_ready(train(params))  # compile
        thunks[name] = lambda t=train: _timed(lambda: jax.block_until_ready(t(params)))
    return thunks


def report_formulations(w: dict, quick: bool, repeats: int) -> None:
    """The bare scans of :func:`formulation_thunks` and ``jinit.sweep`` unblocked and blocked
    (its ``run_s``), in ``repeats`` interleaved rounds; ratios taken within each round."""
    steps = 200 if quick else 1000
    runs = len(w["inits"]) * w["seeds"]
    print(f"== formulations (circles net, {runs} runs x {steps} steps, 1 device, no engine); "
          f"model-steps/s, median [lowest-highest] of {repeats} interleaved rounds")  # fmt: skip
    thunks = {f"bare scan, {k}": t for k, t in formulation_thunks(w, steps).items()}
    for bs in (None, "auto"):
        first = bench_sweep(w, steps=steps, block_size=bs)  # compiles; gives the block size
        label = f"jinit.sweep, block_size={bs} ({first['block_size']} runs)"
        thunks[label] = lambda bs=bs: bench_sweep(w, steps=steps, block_size=bs)["run_s"]
    rates = {k: [runs * steps / t for t in ts] for k, ts in rounds(thunks, repeats).items()}
    for label, each in rates.items():
        print(f"  {label:45s} {Spread.of(each).text(',.0f', ''):>27s}")
    r = list(rates.values())  # vmap, layout, [blocks,] sweep unblocked, sweep blocked

    def ratio(a: list[float], b: list[float]) -> str:
        return Spread.of(round_ratios(a, b)).text()

    ratios = f"layout/vmap {ratio(r[1], r[0])}  unblocked sweep/bare layout {ratio(r[-2], r[1])}"
    ratios += f"  blocked/unblocked sweep {ratio(r[-1], r[-2])}"
    if len(r) > 4:
        ratios += f"  bare blocks/layout {ratio(r[2], r[1])}"
    print(f"  ratios (within each round; median [lowest-highest]): {ratios}\n")


def _lax_conv(model):
    """The ConvNet with ``lax.conv_general_dilated`` in place of :func:`jinit.ops.conv2d`
    (which the model uses: same values, canonical-layout gradients): the trap, for comparison."""

    def apply(params, x):
        act = activation_fn(model.activation)
        h = x.reshape(x.shape[0], *model.image_shape)
        for layer in params[:-1]:
            z = jax.lax.conv_general_dilated(
                h, layer["kernel"], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            h = act(z + layer["bias"])
        return h.mean(axis=(1, 2)) @ params[-1]["kernel"] + params[-1]["bias"]

    return types.SimpleNamespace(init=model.init, output=model.output, apply=apply)


def step_gflop(w: dict) -> float:
    """GFLOP of one single-run training step (XLA's cost analysis of the compiled step)."""
    step, _, _, opt = _single_run_fns(w)
    p = w["model"].init(jax.random.key(0), jinit.he_normal)
    cost = step.lower(p, opt.init(p), 0, jax.random.key(0)).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0)) / 1e9


def per_run_cost(w: dict, how: str, runs: int) -> dict[str, float]:
    """A per-run job's parts, measured in this process: ``how`` is "loop" (a Python loop of
    a jitted step) or "scan" (one jitted lax.scan per run). ``first_draws_s``: the first
    seed of every init drawn one run at a time, as a user's loop draws them (every draw
    program compiles here); ``draw_s``: one run's draws after that (the mean of ``runs``);
    ``compile_s``: the first run's extra training time (its compile); ``warm``: model-steps/s
    of ``runs`` runs after the first, training only; ``eval_compile_s``, ``eval_s``: the
    first evaluation's extra time (its compile) and one evaluation after it (the mean of
    ``2 * runs``). A run is evaluated before and after training, as the sweep's result
    holds (its evaluations at step 0 and at the last step)."""
    step, scan_run, evaluate, opt = _single_run_fns(w)
    laws = list(w["inits"].values())
    key = jax.random.key(0)

    def draw(s: int):
        return jax.block_until_ready(w["model"].init(jax.random.key(s), laws[s % len(laws)]))

    def one(p):
        if how == "scan":
            return jax.block_until_ready(scan_run(p, key))
        o = opt.init(p)
        for i in range(w["steps"]):
            p, o = step(p, o, i, key)
        return jax.block_until_ready(p)

    def evaluations(ps: list) -> float:
        return _timed(lambda: [jax.block_until_ready(evaluate(p)) for p in ps])

    first_draws = _timed(lambda: [draw(s) for s in range(len(laws))])
    params = [draw(len(laws) + s) for s in range(runs + 1)]
    draw_s = _timed(lambda: [draw(2 * len(laws) + runs + s) for s in range(runs)]) / runs
    first_eval = evaluations(params[:1])
    eval_s = evaluations(params[1:] * 2) / (2 * runs)
    first = _timed(lambda: one(params[0]))
    rest = _timed(lambda: [one(p) for p in params[1:]])
    warm = runs * w["steps"] / rest
    return {"compile_s": max(first - w["steps"] / warm, 0.0), "first_draws_s": first_draws,
            "draw_s": draw_s, "warm": warm, "eval_compile_s": max(first_eval - eval_s, 0.0),
            "eval_s": eval_s}  # fmt: skip


def per_run_row(w: dict, cost: dict[str, float]) -> Row:
    """``(compile_s, cold, cached, warm)`` of a per-run job from :func:`per_run_cost`: cold
    = every run drawn (the first of every init cold), evaluated before and after training
    and trained, one compile of the training and one of the evaluation; cached = the same
    without the compiles (every draw warm: the most its cached job could be)."""
    n_runs = len(w["inits"]) * w["seeds"]
    total, train = n_runs * w["steps"], n_runs * w["steps"] / cost["warm"]
    train += 2 * n_runs * cost["eval_s"]
    draws = cost["first_draws_s"] + (n_runs - len(w["inits"])) * cost["draw_s"]
    compile_s = cost["compile_s"] + cost["eval_compile_s"]
    cold = total / (draws + compile_s + train)
    return compile_s, cold, total / (n_runs * cost["draw_s"] + train), cost["warm"]


def per_run_in_subprocess(name: str, quick: bool, how: str, lax_conv: bool, runs: int) -> dict:
    """:func:`per_run_cost` in a fresh process, as a user's first loop pays it (JAX's first
    traces and every compile), like the sweep's rows."""
    args = [sys.executable, __file__, "--per-run-only", name, "--how", how, "--runs", str(runs)]
    args += (["--quick"] if quick else []) + (["--lax-conv"] if lax_conv else [])
    return last_json(args)


def last_json(args: list[str], env: dict | None = None) -> dict:
    """Run ``args`` (a fresh process) and read the JSON its last line of output prints."""
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_sweep(w: dict, seeds: int | None = None, steps: int | None = None,
                inits: dict | None = None, eval_every: int | None = None,
                **kw) -> dict:  # fmt: skip
    steps = steps or w["steps"]
    r = jinit.sweep(
        w["model"], inits or w["inits"], w["data"], optimizer=optax.sgd(w["lr"]),
        steps=steps, seeds=seeds or w["seeds"], batch_size=w["batch_size"],
        eval_every=eval_every or steps, **kw,
    )  # fmt: skip
    t = r.timing
    return {
        "rate": t["model_steps"] / t["run_s"],
        "cold_rate": t["model_steps"] / t["total_s"],
        "total_s": t["total_s"],
        "formulation": r.config["formulation"],
        "block_size": r.config.get("block_size"),
        "compile_s": t["compile_s"],
        "run_s": t["run_s"],
        "runs": t["model_steps"] // steps,
        "model_steps": t["model_steps"],
        "devices": r.config["devices"],
    }


def cold_and_warm_sweep(w: dict, **kw) -> dict:
    """One sweep as a user pays it (in a fresh process: draws and compile included, from
    the ``sweep`` call to the result), then warm: the extra training time of the same sweep
    with twice the steps (two chunks, the same programs) over a second sweep as the first (so
    the first and last evaluations and one-off work cancel out, as (a) and (b) have none;
    one evaluation of the middle stays in). Where machine noise leaves no extra time at all
    (tiny ``--quick`` sweeps), warm is NaN (printed "n/a", left out of the medians), not an
    absurd rate."""
    cold = bench_sweep(w, **kw)
    again = bench_sweep(w, **kw)
    twice = bench_sweep(w, **kw | {"steps": 2 * w["steps"], "eval_every": w["steps"]})
    extra = twice["run_s"] - again["run_s"]
    return cold | {"warm": again["model_steps"] / extra if extra > 0 else float("nan")}


def sweep_in_subprocess(name: str, quick: bool, devices: int, **kw) -> dict:
    """:func:`cold_and_warm_sweep` in a fresh process with ``devices`` host devices and
    JAX's persistent compilation cache on, in an empty directory (as the ``jinit`` command
    runs the first time), then one more sweep in a second fresh process that finds that
    cache filled: ``cached_rate`` (what the ``jinit`` command pays from its second run on)."""
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    args = [sys.executable, __file__, "--sweep-only", name, "--sweep-kw", json.dumps(kw)]
    args += ["--quick"] if quick else []
    with tempfile.TemporaryDirectory() as cache:
        env["JINIT_BENCH_CACHE"] = cache
        first, cached = (last_json(args + extra, env) for extra in ([], ["--cold-only"]))
    return first | {"cached_rate": cached["cold_rate"], "cached_compile_s": cached["compile_s"]}


TORCH_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_torch_ensemble.py")


def torch_python(given: str | None) -> str | None:
    if given:
        return given
    return sys.executable if importlib.util.find_spec("torch") is not None else None


def bench_torch(w: dict, python: str) -> dict:
    runs = len(w["inits"]) * w["seeds"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, x=np.asarray(w["data"].x_train), y=np.asarray(w["data"].y_train))
        widths = ",".join(map(str, w["model"].widths))
        args = [python, TORCH_SCRIPT, path, "--widths", widths, "--runs", str(runs),
                "--steps", str(w["steps"]), "--lr", str(w["lr"]), "--output", w["model"].output,
                "--batch-size", str(w["batch_size"] or 0)]  # fmt: skip
        return last_json(args)


def header() -> None:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"jax {jax.__version__}, jinit {jinit.__version__}, python {platform.python_version()}")
    print(f"{os.cpu_count()} CPU cores ({cpu}); devices in this process: {jax.devices()}")


TARGETS = [("(c)", "(b)", 3), ("(c2)", "(b)", 5), ("(c2)", "(a)", 10), ("(c)", "(d)", 3)]
COLUMNS = ("compile", "cold job", "cached", "warm")
Row = tuple[float, float, float, float]  # compile_s; cold job, cached job, warm model-steps/s
Measured = tuple[str, Row] | None  # (how the row ran, e.g. its formulation; values) or skipped


def row_thunks(name: str, w: dict, quick: bool, torch_py: str | None,
               sub: int) -> dict[str, Callable[[], Measured]]:  # fmt: skip
    """One thunk per row, in the order a round measures them; each call is one fresh
    measurement ((c), (c2): two fresh processes, the second finding the first's cache)."""
    variants = [("", False)]
    if name == "conv":
        variants = [(" (lax conv)", True), (" (ops conv)", False)]
    thunks: dict[str, Callable[[], Measured]] = {}
    for label, lax_conv in variants:
        for key, how, title in [("(a)", "loop", "python loop of a jitted step"),
                                ("(b)", "scan", "jitted lax.scan per run")]:  # fmt: skip

            def per_run(lax_conv=lax_conv, how=how) -> Measured:
                cost = per_run_in_subprocess(name, quick, how, lax_conv, sub)
                return "", per_run_row(w, cost)

            thunks[f"{key} {title}{label}"] = per_run
    sweeps = [("(c)", 1, {}), ("(c2)", 2, {})]
    if name in ("conv", "transformer"):
        sweeps += [("(c)", 1, {"formulation": f}) for f in ("vmap", "map", "patches")]
    auto: dict[str, str] = {}  # the formulation "auto" chose first (its row is not run twice)
    for key, devices, kw in sweeps:
        label = f"{key} jinit.sweep, {devices} device{'s' * (devices > 1)}"
        label += f", formulation={kw['formulation']}" if kw else ""

        def sweep_row(devices=devices, kw=kw) -> Measured:
            if kw and kw["formulation"] == auto.get("auto"):
                return None
            c = sweep_in_subprocess(name, quick, devices, seeds=w["seeds"], **kw)
            auto.setdefault("auto", c["formulation"])
            how = f"{c['formulation']}, blocks of {c['block_size']}"
            return how, (c["compile_s"], c["cold_rate"], c["cached_rate"], c["warm"])

        thunks[label] = sweep_row
    if torch_py and hasattr(w["model"], "widths"):

        def torch_row() -> Measured:
            d = bench_torch(w, torch_py)
            return f"torch {d['torch']}", (0.0, d["rate"], d["rate"], d["rate"])

        thunks["(d) torch.func ensemble"] = torch_row
    return thunks


def measured_rows(name: str, w: dict, quick: bool, torch_py: str | None, sub: int,
                  repeats: int) -> dict[str, list[tuple[str, Row]]]:  # fmt: skip
    """Every row measured ``repeats`` times, interleaved: round r measures every row once, in
    turn, so that machine noise hits all rows alike. Rows skipped in every round are dropped."""
    out = rounds(row_thunks(name, w, quick, torch_py, sub), repeats)
    return {k: [m for m in ms if m is not None] for k, ms in out.items() if any(ms)}


def row_label(key: str, measured: list[tuple[str, Row]]) -> str:
    hows = list(dict.fromkeys(how for how, _ in measured if how))  # distinct, in order
    return f"{key} ({'; '.join(hows)})" if hows else key


def print_rows(rows: dict[str, list[tuple[str, Row]]], gflop: float, peak: float) -> None:
    """One line per row: every column's median [lowest-highest] over the rounds."""
    spreads = {k: [Spread.of([row[i] for _, row in m]) for i in range(len(COLUMNS))]
               for k, m in rows.items()}  # fmt: skip
    cells = {k: [c[0].text(".2f", "s")] + [s.text(",.0f", "") for s in c[1:]]
             for k, c in spreads.items()}  # fmt: skip
    width = [max(len(c[i]) for c in [*cells.values(), COLUMNS]) + 2 for i in range(len(COLUMNS))]
    labels = {k: row_label(k, m) for k, m in rows.items()}
    lw = max(58, *map(len, labels.values()))
    print(f"  {'':{lw}s}" + "".join(c.rjust(n) for c, n in zip(COLUMNS, width, strict=True))
          + "  model-steps/s (compile: s); median warm GFLOP/s")  # fmt: skip
    for key, label in labels.items():
        line = "".join(c.rjust(n) for c, n in zip(cells[key], width, strict=True))
        gf = spreads[key][3].median * gflop
        print(f"  {label:{lw}s}{line}  {gf:6.2f} GFLOP/s "
              f"({100 * gf / peak:4.1f}% of matmul peak)")  # fmt: skip


def report(name: str, w: dict, peak: float, quick: bool, torch_py: str | None,
           repeats: int) -> None:  # fmt: skip
    """One workload: (a), (b), (c), (c2), (d) cold (the whole job as a user pays it) and
    warm, ``repeats`` interleaved rounds, then the issue's targets judged round by round."""
    runs = len(w["inits"]) * w["seeds"]
    gflop = step_gflop(w)
    kind = f"{type(w['model']).__name__} {getattr(w['model'], 'widths', '')}".rstrip()
    print(f"== {name}: {kind}, {runs} runs x {w['steps']} "
          f"steps, batch {w['batch_size'] or 'full'} ({gflop * 1e6:,.1f} kFLOP per model-step, "
          f"XLA cost analysis); {repeats} round{'s' * (repeats > 1)}")  # fmt: skip
    sub = 1 if name in ("conv", "transformer") else (4 if quick else 10)
    rows = measured_rows(name, w, quick, torch_py, sub, repeats)
    print_rows(rows, gflop, peak)
    print(f"  each cell: median [lowest-highest] over {repeats} round{'s' * (repeats > 1)} "
          "(one value where all rounds agree), "
          "every row measured once per round, in turn; (a), (b) in fresh processes, timed "
          f"on {sub} runs after a first that compiles, cold job = the {runs} runs drawn one "
          "at a time (the first of every init cold: its draw programs compile), one compile "
          f"of the step and one of the evaluation, {runs} runs' steps, every run evaluated "
          "before and after training (train and test loss and accuracy, as the sweep); "
          "(c), (c2) in fresh processes, cold job = from the sweep call "
          "to its result (draws, compile, evaluations), warm = training steps only; cached = "
          "(c), (c2) cold again in a fresh process whose JAX persistent compilation cache an "
          "earlier process filled (the jinit command's second run); (a), (b): every draw and "
          "step warm, (d): every step warm, no compile at all (the most their cached job "
          "could be)")  # fmt: skip
    print_targets(rows, name)
    print()


def round_firsts(rows: dict[str, list[tuple[str, Row]]], r: int) -> dict[str, Row]:
    """Round ``r``'s row of each kind: (c), (c2) the first (formulation "auto"); (a), (b),
    (d) the fastest warm of that round."""
    first: dict[str, Row] = {}
    for key, measured in rows.items():
        if len(measured) <= r:
            continue
        kind, vals = key.split()[0], measured[r][1]
        if kind not in first or (not kind.startswith("(c") and vals[3] > first[kind][3]):
            first[kind] = vals
    return first


def print_targets(rows: dict[str, list[tuple[str, Row]]], name: str) -> None:
    """The issue's targets, cold, cached and warm: each a ratio of two rows measured in the
    same round; "met" if the median over the rounds meets the target."""
    n = max(len(m) for m in rows.values())
    firsts = [round_firsts(rows, r) for r in range(n)]
    targets = TARGETS if name in ("circles", "digits") else [("(c)", "(a)", 1), ("(c)", "(b)", 1)]
    print(f"  targets: the ratio of two rows within each round, median of {n} round"
          f"{'s' * (n > 1)} [lowest-highest]; met if the median meets the target")  # fmt: skip
    for col, what in [(1, "cold job"), (2, "cached job"), (3, "warm")]:
        parts = []
        for num, den, goal in targets:
            ratios = [f[num][col] / f[den][col] for f in firsts if num in f and den in f]
            if ratios:
                parts.append(f"{num}/{den} {Verdict.judge(ratios, goal).text()}")
        print(f"  targets, {what}: " + "  ".join(parts))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    workloads_ = ["circles", "digits", "formulations", "conv", "transformer", "scaling", "all"]
    p.add_argument("--workload", default="all", choices=workloads_)
    p.add_argument(
        "--torch-python", default=None, help="a Python with torch for (d) (default: this one)"
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds per init (default: by workload)")
    p.add_argument("--repeats", type=int, default=None,
                   help="interleaved rounds of every row (default 3; 1 with --quick)")  # fmt: skip
    p.add_argument("--sweep-only", default=None, help=argparse.SUPPRESS)
    p.add_argument("--sweep-kw", default="{}", help=argparse.SUPPRESS)
    p.add_argument("--cold-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--per-run-only", default=None, help=argparse.SUPPRESS)
    p.add_argument("--how", default="loop", help=argparse.SUPPRESS)
    p.add_argument("--runs", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--lax-conv", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        p.error(f"--repeats must be a positive number of rounds, got {args.repeats}")
    ws = workloads(args.quick)
    if args.seeds:
        ws = {k: w | {"seeds": args.seeds} for k, w in ws.items()}
    if args.per_run_only:
        w = ws[args.per_run_only]
        w = w | {"model": _lax_conv(w["model"])} if args.lax_conv else w
        print(json.dumps(per_run_cost(w, args.how, args.runs)))
        return
    if args.sweep_only:
        if os.environ.get("JINIT_BENCH_CACHE"):
            jinit.enable_compilation_cache(os.environ["JINIT_BENCH_CACHE"])
        run = bench_sweep if args.cold_only else cold_and_warm_sweep
        print(json.dumps(run(ws[args.sweep_only], **json.loads(args.sweep_kw))))
        return
    header()
    peak = matmul_gflops()
    print(f"large float32 matmul (2048^3, jitted, best of 5): {peak:.1f} GFLOP/s\n")
    every = ["circles", "digits", "conv", "transformer"]
    names = {"all": every, "formulations": [], "scaling": []}.get(args.workload, [args.workload])
    for name in names:
        report(name, ws[name], peak, args.quick, torch_python(args.torch_python), repeats)
    if args.workload in ("formulations", "all"):
        report_formulations(ws["circles"], args.quick, repeats)
    if args.workload == "scaling":
        w = ws["circles"]
        he = {"he": jinit.he_normal}
        print("== scaling with runs (circles net, 1 device, 200 steps)")
        counts = [1, 10, 100, 1000] if args.quick else [1, 10, 100, 1000, 10000]
        for n in counts:
            s = bench_sweep(w, seeds=n, steps=200, inits=he)
            print(f"  {n:6d} runs: {s['rate']:12,.0f} model-steps/s  run {s['run_s']:.2f} s  "
                  f"compile {s['compile_s']:.2f} s")  # fmt: skip
        print("== scaling with steps (circles net, 600 runs, 1 device)")
        for steps in [100, 200, 400] if args.quick else [500, 1000, 2000]:
            s = bench_sweep(w, steps=steps, seeds=10 if args.quick else 100)
            print(f"  {steps:6d} steps: {s['rate']:12,.0f} model-steps/s  run {s['run_s']:.2f} s  "
                  f"compile {s['compile_s']:.2f} s")  # fmt: skip


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
