"""Benchmark: stateful models (BatchNorm, dropout) on several host devices, the engine's
``jax.shard_map`` path against the device-group ``vmap`` that such models took before.

    python scripts/bench_stateful.py                          # 2 devices, both models
    python scripts/bench_stateful.py --model equinox --runs 128 --steps 100 --repeats 1

Until session 5 the engine split the devices with a ``vmap`` over a device-group axis for
every model with a train mode (``Model.has_train_mode``), because Equinox's
``eqx.nn.State.set`` raised inside ``shard_map``; now every model trains through
``shard_map``. The old path is re-created here (row ``vmap``: ``on_devices`` patched with
the old ``vmap`` over ``[devices, runs / devices]``; the rest of the engine is today's), so
both run the same sweep in fresh processes, alternating, ``--repeats`` times each.

Models: ``residual`` = ``jinit.models.ResidualMLP(64, width=64, depth=2, norm="batch")``
(jinit's own, BatchNorm in every block), ``equinox`` = an Equinox MLP 64-64-10 with
``eqx.nn.BatchNorm`` and ``eqx.nn.Dropout(0.1)`` (an ``eqx.nn.Sequential``); digits, Adam,
batch 32. Cold
model-steps/s = the first sweep from its call to its result; warm = the same sweep's
training steps and final evaluation (``timing["run_s"]``), the fastest of three identical
sweeps in the process (the machine may be shared); one compile per sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PATHS = ("vmap", "shard_map")


def _equinox_net():
    """Dense 64, BatchNorm, ReLU, dropout 0.1, dense 10 as an ``eqx.nn.Sequential``."""
    import equinox as eqx
    import jax

    k1, k2 = jax.random.split(jax.random.key(0))
    layers = [eqx.nn.Linear(64, 64, key=k1), eqx.nn.BatchNorm(64, "batch", momentum=0.9,
              mode="ema"), eqx.nn.Lambda(jax.nn.relu), eqx.nn.Dropout(0.1),
              eqx.nn.Linear(64, 10, key=k2)]  # fmt: skip
    return eqx.nn.make_with_state(eqx.nn.Sequential)(layers)


def _device_group_vmap() -> None:
    """The engine's ``on_devices`` before session 5 for models with a train mode: the
    devices split by a ``vmap`` over ``[devices, runs / devices]`` (jit partitions that
    axis)."""
    import jax

    from jinit.engine import program, sweep

    def on_devices(fn, mesh):
        if mesh is None:
            return fn

        def split(tree):
            n = mesh.size
            return jax.tree_util.tree_map(lambda a: a.reshape(n, -1, *a.shape[1:]), tree)

        def merged(tree):
            return jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), tree)

        return lambda runs, shared: merged(jax.vmap(lambda r: fn(r, shared))(split(runs)))

    program.on_devices = sweep.on_devices = on_devices


def measure(model: str, path: str, runs: int, steps: int) -> dict:
    """Cold and warm model-steps/s of a sweep of ``runs`` runs (2 inits) in this process."""
    import jax
    import optax

    import jinit

    if path == "vmap":
        _device_group_vmap()
    net = _equinox_net() if model == "equinox" else jinit.models.ResidualMLP(
        64, width=64, depth=2, norm="batch")  # fmt: skip
    data = jinit.data.digits()
    inits = {"he": jinit.he_normal, "xavier": jinit.xavier_normal}
    kw = dict(loss="softmax_cross_entropy", optimizer=optax.adam(1e-3), seeds=runs // 2,
              batch_size=32)  # fmt: skip
    rs = [jinit.sweep(net, inits, data, steps=steps, eval_every=steps, **kw) for _ in range(3)]
    return {
        "devices": len(jax.devices()),
        "compiles": [r.timing["compiles"] for r in rs],
        "cold": rs[0].timing["model_steps"] / rs[0].timing["total_s"],
        "warm": rs[0].timing["model_steps"] / min(r.timing["run_s"] for r in rs),
        "final_train_loss": float(rs[0].final("train_loss").mean()),
    }


def in_fresh_process(model: str, path: str, args: argparse.Namespace) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={args.devices}"}
    cmd = [sys.executable, __file__, "--child", path, "--model", model,
           "--runs", str(args.runs), "--steps", str(args.steps)]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("residual", "equinox", "both"), default="both")
    parser.add_argument("--runs", type=int, default=256, help="runs (2 inits x runs/2 seeds)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--devices", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    models = ("residual", "equinox") if args.model == "both" else (args.model,)
    if args.child:
        print(json.dumps(measure(models[0], args.child, args.runs, args.steps)))
        return
    print(f"{args.runs} runs x {args.steps} steps (batch 32, digits), {args.devices} host "
          f"devices, fresh processes alternating; model-steps/s")  # fmt: skip
    for model in models:
        rows: dict[str, list[dict]] = {p: [] for p in PATHS}
        for i in range(args.repeats):
            for path in PATHS if i % 2 == 0 else PATHS[::-1]:
                rows[path].append(in_fresh_process(model, path, args))
        warm = {p: statistics.median(r["warm"] for r in rows[p]) for p in PATHS}
        cold = {p: statistics.median(r["cold"] for r in rows[p]) for p in PATHS}
        best = {p: max(r["warm"] for r in rows[p]) for p in PATHS}
        for p in PATHS:
            each = ", ".join(f"{r['warm']:,.0f}" for r in rows[p])
            print(
                f"  {model:9s} {p:9s} warm {warm[p]:9,.0f} (each: {each})  cold {cold[p]:9,.0f}"
                f"  compiles {rows[p][0]['compiles']}  loss {rows[p][0]['final_train_loss']:.5f}"
            )
        print(
            f"  {model:9s} shard_map / vmap: warm {warm['shard_map'] / warm['vmap']:.2f}x, "
            f"best warm {best['shard_map'] / best['vmap']:.2f}x, "
            f"cold {cold['shard_map'] / cold['vmap']:.2f}x"
        )


if __name__ == "__main__":
    main()
