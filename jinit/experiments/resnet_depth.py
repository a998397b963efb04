"""ResNets without normalization at depths 8..56 on the 8x8 digits: under plain He init the
residual stream's variance roughly doubles per block (the forward signal grows like 2^L for
unscaled ReLU branches), a zero-initialized last layer per branch keeps it flat, and with
BatchNorm both He and a zero last BN scale per block (Goyal et al. 2017) train."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws, stats
from jinit.diagnostics.probe import probe_seeds
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.models import ResNet
from jinit.report import Check, LayerProfile, Table, sweep_report

SOURCE = (
    "He et al. 2016, 'Deep Residual Learning for Image Recognition' (basic blocks); Zhang, "
    "Dauphin & Ma 2019, 'Fixup Initialization', Sec. 2 (without normalization the residual "
    "stream's variance grows exponentially with depth); Goyal et al. 2017, 'Accurate, Large "
    "Minibatch SGD', Sec. 5.1 (zero-init the last BN scale of each residual block)"
)
#: The residual stream after block i is the probe layer ``blocks/i`` of a jinit ResNet,
#: ResidualMLP or Transformer.
STREAM = re.compile(r"blocks/\d+")
#: He, no norm: the stream's std at the last block over the first (min over seeds) at the
#: deepest depth must exceed this (the 2^L law gives ~2^13 for 27 blocks).
EXPLODES = 100.0
#: He, no norm: log2 of the std growth per block; the law (Var doubles per unscaled ReLU
#: branch, so std grows by sqrt 2) gives 0.5.
PER_BLOCK = (0.5, 0.2)
FAILED = "failed = diverged, stuck at the initial loss, or final train accuracy < 0.9"


def he_rules(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """He-normal kernels (biases zero, norm scales one), ``extra`` rules first."""
    return {**(extra or {}), "*kernel": laws.he_normal}


INITS = {
    "he": he_rules(),
    "zero-branch": he_rules({"*conv2/kernel": laws.zeros}),
}
BN_INITS = {
    "he+bn": he_rules(),
    "zero-gamma+bn": he_rules({"*norm2/scale": laws.zeros}),
}


def resnet(depth: int, channels: int, norm: str | None = None) -> ResNet:
    """A one-stage ResNet of ``depth = 2 * blocks + 2`` layers (stem, two convs per block,
    readout) with ``channels`` channels throughout (no projection shortcuts)."""
    if depth < 4 or depth % 2:
        raise ValueError(f"resnet-depth: depths must be even ints >= 4, got {depth!r}.")
    return ResNet((8, 8, 1), (channels,), blocks_per_stage=(depth - 2) // 2, norm=norm)


def stream_std(model: Any, init: Any, name: str, x: Any, seeds: Any) -> np.ndarray:
    """``[seeds, blocks]``: the std of the residual stream after each block at init, read by
    :func:`jinit.diagnostics.probe_seeds` (the sweep's keys) at the layers ``blocks/i``."""
    r = probe_seeds(model, init, x, seeds=seeds, name=name)
    idx = [i for i, layer in enumerate(r.layers) if STREAM.fullmatch(layer)]
    return np.asarray(r.stats["std"][:, idx], np.float64)


def depth_profiles(
    model_at: Callable[[int], Any], inits_at: Callable[[int], Mapping[str, Any]],
    depths: Sequence[int], x: Any, seeds: Sequence[int],
) -> dict[str, dict[int, np.ndarray]]:  # fmt: skip
    """``init -> depth -> [seeds, blocks]``: :func:`stream_std` of ``model_at(depth)`` under
    each init of ``inits_at(depth)`` (inits may depend on the depth, e.g. GPT-2's scaling)."""
    out: dict[str, dict[int, np.ndarray]] = {}
    for depth in depths:
        model = model_at(depth)
        for name, init in inits_at(depth).items():
            out.setdefault(name, {})[depth] = stream_std(model, init, name, x, seeds)
    return out


def growth(profile: np.ndarray) -> np.ndarray:
    """Per seed: the stream's std after the last block over that after the first."""
    return profile[:, -1] / profile[:, 0]


def stream_profiles(by_init: Mapping[str, Mapping[int, np.ndarray]]) -> list[LayerProfile]:
    """One :class:`LayerProfile` (the mean over seeds, per block) per init and depth of
    ``init -> depth -> [seeds, blocks]`` residual-stream stds."""
    return [LayerProfile(name, depth, "residual-stream std", values.mean(axis=0))
            for name, by_depth in by_init.items()
            for depth, values in by_depth.items()]  # fmt: skip


def mean_ci(values: Sequence[float]) -> str:
    """``mean [lo, hi]`` (95% Student t interval over seeds)."""
    lo, hi = stats.mean_interval(values)
    return f"{np.mean(values):.4g} [{lo:.4g}, {hi:.4g}]"


def depth_checks(
    he: Mapping[int, np.ndarray], zero: Mapping[int, np.ndarray],
    train: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> list[Check]:  # fmt: skip
    """``he``/``zero``: ``depth -> [seeds, blocks]`` stream stds; ``train``: per BatchNorm
    init, ``(failed, final test accuracy)`` per seed (failed: the one definition)."""
    deep = max(he)
    blocks = he[deep].shape[1]
    per_block = np.log2(growth(he[deep])) / max(blocks - 1, 1)
    flat = max(float(np.max(np.abs(growth(z) - 1))) for z in zero.values())
    checks = [
        Check(f"He, no norm, depth {deep}: stream std last / first block (min over seeds)",
              "explodes", float(np.min(growth(he[deep]))), above=EXPLODES, kind="published",
              source="Zhang et al. 2019, Sec. 2"),
        Check(f"He, no norm, depth {deep}: log2 std growth per block (mean over seeds)",
              PER_BLOCK[0], float(np.mean(per_block)), tolerance=PER_BLOCK[1], kind="derived",
              note="Var(h + f(h)) = 2 Var(h) for an unscaled He ReLU branch"),
        Check("zero-branch: |stream std last / first block - 1| (max over depths, seeds)",
              0.0, flat, tolerance=1e-3, kind="derived",
              note="a zero last conv makes every block relu(h + 0) = h on the stream h >= 0"),
    ]  # fmt: skip
    for name, (failed, acc) in train.items():
        lo, hi = stats.mean_interval(acc)
        checks.append(
            Check(f"{name}: fraction of runs failed (test accuracy {np.mean(acc):.3f}, 95% CI "
                  f"[{lo:.3f}, {hi:.3f}])", "trains", float(np.mean(failed)), below=0.5,
                  kind="published", source="Goyal et al. 2017, Sec. 5.1; He et al. 2016",
                  note=FAILED)
        )  # fmt: skip
    return checks


@options(seeds=3, steps=150, lr=0.01, batch_size=64)
def _resnet_depth(
    o: Options, depths: Sequence[int] = (8, 20, 32, 44, 56), train_depth: int = 8,
    channels: int = 8, n_probe: int = 128,
) -> Any:  # fmt: skip
    data = data_lib.digits(flatten=False)
    x = jnp.asarray(data.x_train[:n_probe])
    seeds = o.seed_list
    profiles_by = depth_profiles(lambda d: resnet(d, channels), lambda d: INITS, depths, x,
                                 seeds)  # fmt: skip
    net = resnet(train_depth, channels, "batch")
    r = o.sweep(net, BN_INITS, data, "resnet-depth-bn", evals=3, optimizer=optax.adam(o.lr))
    failed, acc = r.failed(), r.final("test_acc")
    train = {name: (failed[i], acc[i]) for i, name in enumerate(r.inits)}
    he, zero = profiles_by["he"], profiles_by["zero-branch"]
    rows = [[d, (d - 2) // 2, mean_ci(np.log2(growth(he[d]))),
             mean_ci(np.log2(growth(zero[d])))] for d in depths]  # fmt: skip
    return sweep_report(
        "resnet-depth", len(seeds),
        f"ResNets without normalization at depths {', '.join(map(str, depths))}: He vs a "
        "zero last conv per branch; with BatchNorm, He vs zero last BN scale",
        SOURCE, checks=depth_checks(he, zero, train), result=r,
        profiles=stream_profiles(profiles_by),
        tables=[Table("log2 of the residual-stream std, last block / first block, at init "
                      "(mean [95% CI] over seeds)", ["depth", "blocks", "he", "zero-branch"],
                      rows)],
        notes=[
            f"Model: jinit.models.ResNet, one stage of {channels} channels (no projection "
            "shortcuts), depth = 2 * blocks + 2; 8x8 digits (NHWC). Init-time statistics: "
            f"{n_probe} training images, the probe at the sweep's keys (evaluation mode).",
            f"Training: depth {train_depth} with BatchNorm, Adam lr {o.lr}, "
            f"batch {o.batch_size}, {o.steps} steps; 'zero-gamma+bn' zeroes norm2/scale, the "
            "last BN scale of every block.",
        ],
    )  # fmt: skip


register(
    Experiment(
        "resnet-depth",
        "He et al. 2016 / Goyal et al. 2017: the residual stream of unnormalized ResNets "
        "explodes with depth under He, a zero-initialized branch end keeps it flat",
        SOURCE,
        None,
        _resnet_depth,
        default_seeds=3,
    )
)
