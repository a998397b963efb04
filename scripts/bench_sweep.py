"""Benchmark: jinit.sweep against per-run training loops, measured side by side in one run.

    python scripts/bench_sweep.py            # full (a few minutes on 2 cores)
    python scripts/bench_sweep.py --quick    # smoke run
    python scripts/bench_sweep.py --workload conv         # ConvNet on digits, cold and warm
    python scripts/bench_sweep.py --workload transformer  # Transformer on modular addition

(a) a Python loop over runs of a jitted single-run step, (b) one jitted lax.scan per run,
(c) jinit.sweep on one device, (c2) jinit.sweep with the run axis sharded over two host
devices (a subprocess, since the device count is fixed when JAX starts), (d) a PyTorch
ensemble of the same runs with torch.func (scripts/bench_torch_ensemble.py, in this Python if
it has torch, or in the one given by --torch-python). (a) and (b) are timed on a subset of
runs and reported per model-step. Prints model-steps/s, achieved
GFLOP/s against this machine's large-matmul GFLOP/s, and the ratios.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit import losses
from jinit.activations import activation_fn
from jinit.models import MLP, ConvNet, Transformer, count_flops

CIRCLE_INITS = {
    "zeros": jinit.zeros,
    "small": functools.partial(jinit.normal, stddev=0.01),
    "large": functools.partial(jinit.normal, stddev=10.0),
    "lecun": jinit.lecun_normal,
    "xavier": jinit.xavier_normal,
    "he": jinit.he_normal,
}


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
    model, data = w["model"], w["data"]
    loss_fn = losses.get("binary_cross_entropy" if model.output == "sigmoid"
                         else "softmax_cross_entropy")  # fmt: skip
    opt = optax.sgd(w["lr"])
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
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

    return jax.jit(step), jax.jit(scan_run), opt


def bench_python_loop(w: dict, runs: int, steps: int) -> float:
    step, _, opt = _single_run_fns(w)
    params = [w["model"].init(jax.random.key(s), jinit.he_normal) for s in range(runs)]
    key = jax.random.key(0)
    p, o = step(params[0], opt.init(params[0]), 0, key)  # compile
    jax.block_until_ready(p)
    t = time.perf_counter()
    for p in params:
        o = opt.init(p)
        for i in range(steps):
            p, o = step(p, o, i, key)
        jax.block_until_ready(p)
    return runs * steps / (time.perf_counter() - t)


def bench_scan_per_run(w: dict, runs: int) -> float:
    _, scan_run, _ = _single_run_fns(w)
    params = [w["model"].init(jax.random.key(s), jinit.he_normal) for s in range(runs)]
    key = jax.random.key(0)
    jax.block_until_ready(scan_run(params[0], key))  # compile
    t = time.perf_counter()
    for p in params:
        jax.block_until_ready(scan_run(p, key))
    return runs * w["steps"] / (time.perf_counter() - t)


def bench_formulations(w: dict, steps: int) -> dict[str, float]:
    """The same full-batch SGD training scan of all runs, with no engine around it, written
    three ways: ``jax.vmap`` of the single-run apply ([runs, batch, units]); the model's
    ``apply_runs`` ([runs, units, batch] einsums); and apply_runs on blocks of 100 runs, each
    block running all its steps before the next (its data stays in cache). Model-steps/s of
    each, best of 2."""
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

    def blocked(block: int):
        one_block = scan_of(layout)

        @jax.jit
        def train(p):
            split = jax.tree_util.tree_map(lambda a: a.reshape(-1, block, *a.shape[1:]), p)
            done = jax.lax.map(one_block, split)
            return jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), done)

        return train

    out = {}
    ways = [
        ("jax.vmap(apply)", scan_of(vmapped)),
        ("apply_runs [runs, units, batch]", scan_of(layout)),
    ]
    if runs % 100 == 0:
        ways.append(("apply_runs, blocks of 100 runs", blocked(100)))
    for name, train in ways:
        jax.block_until_ready(train(params))  # compile
        best = min(_timed(lambda t=train: jax.block_until_ready(t(params))) for _ in range(2))
        out[name] = runs * steps / best
    return out


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
    step, _, opt = _single_run_fns(w)
    p = w["model"].init(jax.random.key(0), jinit.he_normal)
    cost = step.lower(p, opt.init(p), 0, jax.random.key(0)).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0)) / 1e9


def bench_cold_warm(w: dict, how: str, runs: int) -> tuple[float, float]:
    """(cold, warm) model-steps/s of ``runs`` runs trained one after another: ``how`` is
    "loop" (a Python loop of a jitted step) or "scan" (one jitted lax.scan per run). Cold
    counts the first run's compile; warm times the runs after it."""
    step, scan_run, opt = _single_run_fns(w)
    params = [w["model"].init(jax.random.key(s), jinit.he_normal) for s in range(runs + 1)]
    key = jax.random.key(0)

    def one(p):
        if how == "scan":
            return jax.block_until_ready(scan_run(p, key))
        o = opt.init(p)
        for i in range(w["steps"]):
            p, o = step(p, o, i, key)
        return jax.block_until_ready(p)

    first = _timed(lambda: one(params[0]))
    rest = _timed(lambda: [one(p) for p in params[1:]])
    return (runs + 1) * w["steps"] / (first + rest), runs * w["steps"] / rest


def report_cold_warm(name: str, w: dict, peak: float, quick: bool) -> None:
    """Section for the conv and Transformer workloads: (a), (b) and (c), cold and warm."""
    runs = len(w["inits"]) * w["seeds"]
    gflop = step_gflop(w)
    print(f"== {name}: {type(w['model']).__name__}, {runs} runs x {w['steps']} steps, batch "
          f"{w['batch_size']} ({gflop * 1e3:.2f} MFLOP per model-step, XLA cost "
          "analysis)")  # fmt: skip
    sub = 1 if quick else 2
    res = {}
    variants = [("", w)]
    if name == "conv":
        lax_conv = w | {"model": _lax_conv(w["model"])}
        variants = [(" (lax conv)", lax_conv), (" (canonical conv)", w)]
    for label, v in variants:
        res[f"(a) python loop of a jitted step{label}"] = bench_cold_warm(v, "loop", sub)
        res[f"(b) jitted lax.scan per run{label}"] = bench_cold_warm(v, "scan", sub)
    c = bench_sweep(w)
    # warm: the extra time of twice the steps (the evaluations and the first chunk's one-off
    # work, such as compiling the batch permutations, cancel out)
    c2 = bench_sweep(w, steps=2 * w["steps"])
    warm = runs * w["steps"] / max(c2["run_s"] - c["run_s"], 1e-9)
    res[f"(c) jinit.sweep ({c['formulation']}), 1 device"] = (c["cold_rate"], warm)
    print(f"  {'':50s} {'cold':>10s} {'warm':>10s}  model-steps/s; warm GFLOP/s")
    for label, (cold, warm) in res.items():
        gf = warm * gflop
        print(f"  {label:50s} {cold:10,.0f} {warm:10,.0f}  {gf:6.2f} GFLOP/s "
              f"({100 * gf / peak:4.1f}% of matmul peak)")  # fmt: skip
    best = max(r[1] for k, r in res.items() if not k.startswith("(c)"))
    print(f"  (a), (b) on {sub + 1} runs (the first compiles; warm: the others); (c) cold: one "
          f"sweep, compile {c['compile_s']:.2f} s; warm: from a second sweep of twice the steps; "
          f"(c) warm / best per-run warm {warm / best:.2f}x\n")  # fmt: skip


def bench_sweep(w: dict, seeds: int | None = None, steps: int | None = None,
                inits: dict | None = None) -> dict:  # fmt: skip
    steps = steps or w["steps"]
    r = jinit.sweep(
        w["model"], inits or w["inits"], w["data"], optimizer=optax.sgd(w["lr"]),
        steps=steps, seeds=seeds or w["seeds"], batch_size=w["batch_size"], eval_every=steps,
    )  # fmt: skip
    t = r.timing
    return {
        "rate": t["model_steps"] / t["run_s"],
        "cold_rate": t["model_steps"] / t["total_s"],
        "formulation": r.config["formulation"],
        "compile_s": t["compile_s"],
        "run_s": t["run_s"],
        "runs": t["model_steps"] // steps,
        "devices": r.config["devices"],
    }


def sweep_in_subprocess(name: str, quick: bool, devices: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    args = [sys.executable, __file__, "--sweep-only", name] + (["--quick"] if quick else [])
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


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
        out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def header() -> None:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    print(f"jax {jax.__version__}, jinit {jinit.__version__}, python {platform.python_version()}")
    print(f"{os.cpu_count()} CPU cores ({cpu}); devices in this process: {jax.devices()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    workloads_ = ["circles", "digits", "formulations", "conv", "transformer", "all"]
    p.add_argument("--workload", default="all", choices=workloads_)
    p.add_argument(
        "--torch-python", default=None, help="a Python with torch for (d) (default: this one)"
    )
    p.add_argument("--sweep-only", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    ws = workloads(args.quick)
    if args.sweep_only:
        print(json.dumps(bench_sweep(ws[args.sweep_only])))
        return
    header()
    peak = matmul_gflops()
    print(f"large float32 matmul (2048^3, jitted, best of 5): {peak:.1f} GFLOP/s\n")
    if args.workload in ("conv", "transformer"):
        report_cold_warm(args.workload, ws[args.workload], peak, args.quick)
        return
    names = {"all": ["circles", "digits"], "formulations": []}.get(args.workload, [args.workload])
    for name in names:
        w = ws[name]
        runs = len(w["inits"]) * w["seeds"]
        fl = flops_per_step(w)
        batch = w["batch_size"] or "full"
        print(
            f"== {name}: {w['model'].widths}, {runs} runs x {w['steps']} steps, "
            f"batch {batch} ({fl / 1e3:.1f} kFLOP per model-step)"
        )
        sub = 4 if args.quick else 10
        res = {
            "(a) python loop of a jitted step": bench_python_loop(w, sub, min(w["steps"], 300)),
            "(b) jitted lax.scan per run": bench_scan_per_run(w, 2 * sub),
        }
        c = bench_sweep(w)
        c2 = sweep_in_subprocess(name, args.quick, 2)
        res["(c) jinit.sweep, 1 device"] = c["rate"]
        res["(c2) jinit.sweep, 2 host devices"] = c2["rate"]
        torch_py = torch_python(args.torch_python)
        d = bench_torch(w, torch_py) if torch_py else None
        if d is not None:
            res[f"(d) torch {d['torch']} func ensemble"] = d["rate"]
        for label, rate in res.items():
            gf = rate * fl / 1e9
            print(f"  {label:36s} {rate:12,.0f} model-steps/s  {gf:7.2f} GFLOP/s "
                  f"({100 * gf / peak:4.1f}% of matmul peak)")  # fmt: skip
        print(f"  (a), (b) timed on {sub} and {2 * sub} runs; (c) compile {c['compile_s']:.2f} s, "
              f"(c2) compile {c2['compile_s']:.2f} s")  # fmt: skip
        a, b = res["(a) python loop of a jitted step"], res["(b) jitted lax.scan per run"]
        ratios = f"(c)/(a) {c['rate'] / a:.1f}x  (c)/(b) {c['rate'] / b:.1f}x  "
        ratios += f"(c2)/(a) {c2['rate'] / a:.1f}x  (c2)/(b) {c2['rate'] / b:.1f}x"
        if d is not None:
            ratios += (
                f"  (c)/(d) {c['rate'] / d['rate']:.1f}x  (c2)/(d) {c2['rate'] / d['rate']:.1f}x"
            )
        print(f"  ratios: {ratios}")
        if d is None:
            print("  (d) PyTorch ensemble: no torch here and no --torch-python given, skipped")
        print()
    if args.workload in ("formulations", "all"):
        w = ws["circles"]
        steps = 200 if args.quick else 1000
        runs = len(w["inits"]) * w["seeds"]
        print(f"== formulations (circles net, {runs} runs x {steps} steps, 1 device, no engine)")
        f = bench_formulations(w, steps)
        for label, rate in f.items():
            print(f"  bare scan, {label:32s} {rate:12,.0f} model-steps/s")
        s = bench_sweep(w, steps=steps)
        print(f"  jinit.sweep (same runs and steps)          {s['rate']:12,.0f} model-steps/s")
        rates = list(f.values())
        ratios = (
            f"layout/vmap {rates[1] / rates[0]:.2f}x  sweep/bare layout {s['rate'] / rates[1]:.2f}x"
        )
        if len(rates) > 2:
            ratios += f"  blocks/layout {rates[2] / rates[1]:.2f}x"
        print(f"  ratios: {ratios}")
    if args.workload in ("circles", "all"):
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
