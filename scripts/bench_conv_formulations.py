"""The conv formulations side by side, warm: what ``formulation="auto"`` is decided from.

    python scripts/bench_conv_formulations.py SEEDS STEPS FORMULATION...   # e.g. 8 60 map vmap
    MN=5000 python scripts/bench_conv_formulations.py 8 40 map vmap        # 28x28 MNIST (5000)
    UP=2 python scripts/bench_conv_formulations.py 8 60 map vmap           # digits at 16x16
    BS=16 ...                                                             # batch size (64)

The ConvNet (conv 16 + conv 32 + dense) on the digits (8x8), the digits upsampled ``UP``
times, or the first ``MN`` MNIST images (``../shared/data/mnist``); 2 inits x SEEDS runs.
Each formulation's training chunk is compiled once, then all are timed in turn, three times,
in one process (model-steps/s; the blocks each used in brackets).
"""

from __future__ import annotations

import importlib
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit.engine.config import SweepConfig
from jinit.models import ConvNet

SW = importlib.import_module("jinit.engine.sweep")


def workload():
    if os.environ.get("MN"):
        d = jinit.data.mnist(os.path.join(os.path.dirname(__file__), "../../shared/data/mnist"))
        n = int(os.environ["MN"])
        data = jinit.data.Dataset(d.x_train[:n], d.y_train[:n], d.x_test[:1000], d.y_test[:1000])
        return ConvNet((28, 28, 1), channels=(16, 32), n_classes=10), data
    if os.environ.get("UP"):
        u, d = int(os.environ["UP"]), jinit.data.digits(flatten=False)

        def up(a):
            return np.kron(np.asarray(a), np.ones((1, u, u, 1), np.float32))

        data = jinit.data.Dataset(up(d.x_train), d.y_train, up(d.x_test), d.y_test)
        return ConvNet((8 * u, 8 * u, 1), channels=(16, 32), n_classes=10), data
    return ConvNet((8, 8, 1), channels=(16, 32), n_classes=10), jinit.data.digits()


def build(model, data, form: str, seeds: int, steps: int):
    inits = {"he": jinit.he_normal, "xavier": jinit.xavier_normal}
    cfg = SweepConfig.build(
        model, inits, data, optimizer=optax.sgd(0.05), loss=None, steps=steps, seeds=seeds,
        batch_size=int(os.environ.get("BS", 64)), eval_every=steps, extra_metrics=None,
        track=None, devices=None, dtype=jnp.float32, formulation=form, hparams=None,
        block_size="auto",
    )  # fmt: skip
    c = SW._Compiled(cfg)
    idx = c.indices(0, 1)
    jax.block_until_ready(c.train(c.state, 0, steps, idx))
    return c, idx


def main() -> None:
    seeds, steps, forms = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    model, data = workload()
    built = {f: build(model, data, f, seeds, steps) for f in forms}
    for _ in range(3):
        out = []
        for f, (c, idx) in built.items():
            t = time.perf_counter()
            jax.block_until_ready(c.train(c.state, 0, steps, idx))
            rate = 2 * seeds * steps / (time.perf_counter() - t)
            out.append(f"{f}{tuple(c.blocks)} {rate:,.0f}")
        print("  ".join(out))


if __name__ == "__main__":
    main()
