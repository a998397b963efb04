"""Transformer output-projection inits on modular addition: default Xavier vs GPT-2's N(0, 0.02)
vs GPT-2's depth-scaled residual projections (0.02 / sqrt(2 n_layers)): the pre-LN residual
stream accumulates every block's output, so it grows with depth unless the projections that
write into it are scaled down; loss curves across seeds."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws, stats
from jinit.experiments import resnet_depth
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.experiments.resnet_depth import growth, mean_ci
from jinit.models import Transformer
from jinit.report import Check, Table, sweep_report
from jinit.research.transformer import gpt2_rules

SOURCE = (
    "Radford et al. 2019, 'Language Models are Unsupervised Multitask Learners', Sec. 2.3 "
    "(GPT-2: weights N(0, 0.02^2), residual-layer weights scaled by 1/sqrt(N) at init 'to "
    "account for the accumulation on the residual path'); Vaswani et al. 2017 (Xavier); task: "
    "modular addition (Power et al. 2022)"
)
#: Depth-scaled: stream std after the last block over after the first, at the deepest depth
#: (max over seeds), must stay below this (bounded in depth).
BOUNDED = 1.25
#: Unscaled N(0, 0.02): that growth at the deepest depth over at the shallowest (mean over
#: seeds) must exceed this (the stream accumulates with depth).
ACCUMULATES = 1.5


def inits(n_layers: int) -> dict[str, Any]:
    """The three entries, as :func:`jinit.reinit` rules (biases zero, norms one)."""
    small = functools.partial(laws.normal, stddev=0.02)
    return {
        "xavier": {"*kernel": laws.xavier_normal, "*embedding": laws.xavier_normal},
        "gpt2-0.02": {"*kernel": small, "*embedding": small},
        "gpt2-scaled": gpt2_rules(n_layers),
    }


def transformer(n_layers: int, d_model: int, p: int, n_heads: int = 2) -> Transformer:
    """A pre-LN encoder classifier on ``[a, b, =]`` tokens (vocabulary ``p + 1``)."""
    return Transformer(p + 1, 3, d_model, n_heads, n_layers, n_classes=p)


def transformer_checks(
    streams: Mapping[str, Mapping[int, np.ndarray]], loss: Mapping[str, np.ndarray]
) -> list[Check]:
    """``streams``: ``init -> depth -> [seeds, blocks]`` residual-stream stds
    (:func:`~jinit.experiments.resnet_depth.depth_profiles`); ``loss``: ``init -> [seeds,
    evals]`` train loss."""
    scaled, small = streams["gpt2-scaled"], streams["gpt2-0.02"]
    deep, shallow = max(scaled), min(scaled)
    accumulates = float(np.mean(growth(small[deep])) / np.mean(growth(small[shallow])))
    checks = [
        Check(f"gpt2-scaled, {deep} layers: stream std last / first block (max over seeds)",
              "bounded", float(np.max(growth(scaled[deep]))), below=BOUNDED,
              kind="published", source="Radford et al. 2019, Sec. 2.3"),
        Check(f"gpt2-0.02 (unscaled): stream growth, {deep} layers / {shallow} layers "
              "(means over seeds)", "accumulates", accumulates, above=ACCUMULATES,
              kind="published", source="Radford et al. 2019, Sec. 2.3"),
    ]  # fmt: skip
    for name, curve in loss.items():
        drop = curve[:, -1] / curve[:, 0]
        lo, hi = stats.mean_interval(drop)
        checks.append(
            Check(f"{name}: final / initial train loss (mean; 95% CI [{lo:.3f}, {hi:.3f}])",
                  "learns", float(np.nanmax(drop)), below=1.0, kind="derived",
                  note="max over seeds: every seed's loss went down")
        )  # fmt: skip
    return checks


@options(seeds=3, steps=300, batch_size=64)
def _transformer_init(
    o: Options, depths: Sequence[int] = (2, 4, 8, 16), train_layers: int = 2,
    d_model: int = 32, p: int = 23, lr: float = 3e-3, n_probe: int = 128,
) -> Any:  # fmt: skip
    data = data_lib.modular_addition(p)
    x = jnp.asarray(data.x_train[:n_probe])
    seeds = o.seed_list
    streams = resnet_depth.depth_profiles(lambda d: transformer(d, d_model, p), inits, depths,
                                          x, seeds)  # fmt: skip
    r = o.sweep(transformer(train_layers, d_model, p), inits(train_layers), data,
                "transformer-init", evals=6, optimizer=optax.adam(lr))  # fmt: skip
    loss = {name: r.metrics["train_loss"][i] for i, name in enumerate(r.inits)}
    rows = [[d, *(mean_ci(growth(streams[name][d])) for name in streams)] for d in depths]
    curve_rows = [[int(step), *(mean_ci(loss[name][:, k]) for name in loss)]
                  for k, step in enumerate(r.eval_steps)]  # fmt: skip
    return sweep_report(
        "transformer-init", len(seeds),
        f"Transformer output projections on modular addition (p={p}): Xavier vs N(0, 0.02) "
        "vs GPT-2's depth-scaled projections",
        SOURCE, checks=transformer_checks(streams, loss), result=r,
        profiles=resnet_depth.stream_profiles(streams),
        tables=[
            Table("residual-stream std, last block / first block at init (mean [95% CI] over "
                  "seeds)", ["layers", *streams], rows),
            Table(f"train loss, {train_layers} layers (mean [95% CI] over seeds)",
                  ["step", *loss], curve_rows),
        ],
        notes=[
            f"Model: jinit.models.Transformer (pre-LN, d_model {d_model}, 2 heads, mean "
            "pooling); biases zero, layer norms one. 'gpt2-scaled' is "
            "jinit.research.gpt2_rules(n_layers): attn/out and mlp/fc2 N(0, (0.02 / "
            "sqrt(2 n_layers))^2), other weights N(0, 0.02^2).",
            f"Init-time statistics: {n_probe} training sequences through the probe at the "
            f"sweep's keys. Training: {train_layers} layers, Adam lr {lr}, batch "
            f"{o.batch_size}, {o.steps} steps on {data.x_train.shape[0]} of the {p * p} pairs.",
        ],
    )  # fmt: skip


register(
    Experiment(
        "transformer-init",
        "GPT-2 (Radford et al. 2019): depth-scaled residual projections keep a pre-LN "
        "Transformer's residual stream bounded in depth",
        SOURCE,
        None,
        _transformer_init,
        default_seeds=3,
    )
)
