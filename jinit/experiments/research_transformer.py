"""Transformer depth scalings (GPT-2, Radford et al. 2019; DeepNorm, Wang et al. 2022; T-Fixup,
Huang et al. 2020) on the modular-addition sequence task: the residual stream of a pre-LN
Transformer grows like sqrt(depth) under a plain Xavier init and stays bounded under each
depth-scaled init; the training loss of every scheme across seeds at one depth."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.experiments.research_mup import mean_check, slope
from jinit.experiments.resnet_depth import depth_profiles
from jinit.experiments.transformer_init import transformer
from jinit.models import Transformer
from jinit.report import Check, Report, Table, sweep_mode
from jinit.research.transformer import deepnorm_rules, gpt2_rules, tfixup_rules

SOURCE = (
    "Radford et al. 2019 (GPT-2), Sec. 2.3: output projections scaled by 1/sqrt(N) 'to account "
    "for the accumulation on the residual path with model depth'; Wang et al. 2022 (DeepNet) "
    "and Huang et al. 2020 (T-Fixup): depth-dependent scalings that bound the residual updates"
)
#: Slope of log std(residual stream) vs log depth: the default must grow (theory 0.5) ...
GROWS = 0.3
#: ... and each depth-scaled init stay within +- this.
BOUNDED = 0.15
EMBED = ("*embedding", functools.partial(laws.normal, stddev=0.02))


def schemes(n_layers: int) -> dict[str, list]:
    """The four inits as reinit rules: Xavier (default), GPT-2, DeepNorm's beta, T-Fixup;
    embeddings N(0, 0.02^2) in all."""
    return {"default": [("*kernel", laws.xavier_normal), EMBED], "gpt2": gpt2_rules(n_layers),
            "deepnorm": [*deepnorm_rules(n_layers), EMBED],
            "tfixup": [*tfixup_rules(n_layers), EMBED]}  # fmt: skip


def _net(o: Options, n_layers: int, data) -> Transformer:
    return transformer(n_layers, o.width, data.n_classes, n_heads=4)


def stream_std(o: Options, depths: Sequence[int], data) -> dict[str, np.ndarray]:
    """``{scheme: [seeds, depths]}``: std of the residual stream after the last block at init,
    on 256 training sequences (:func:`~jinit.experiments.resnet_depth.depth_profiles`: the
    probe at the sweep's keys)."""
    x = jnp.asarray(data.x_train[:256])
    profiles = depth_profiles(lambda d: _net(o, d, data), schemes, depths, x, o.seed_list)
    return {name: np.stack([by_depth[d][:, -1] for d in depths], axis=1)
            for name, by_depth in profiles.items()}  # fmt: skip


def depth_checks(slopes: dict[str, np.ndarray]) -> list[Check]:
    """The default's mean slope above :data:`GROWS`; each depth-scaled init's within
    +-:data:`BOUNDED` (per-seed slopes; the 95% t interval in the label)."""
    kinds = {"default": ("grows like sqrt(depth)", dict(above=GROWS), "published",
                         "Radford et al. 2019, Sec. 2.3; Xiong et al. 2020"),
             "gpt2": ("bounded", dict(above=-BOUNDED, below=BOUNDED), "published",
                      "Radford et al. 2019, Sec. 2.3"),
             "deepnorm": ("bounded", dict(above=-BOUNDED, below=BOUNDED), "derived",
                          "beta^4 = 1/(8N): every branch adds variance ~ 1/N"),
             "tfixup": ("bounded", dict(above=-BOUNDED, below=BOUNDED), "derived",
                        "(0.67 N^-1/4)^4: every branch adds variance ~ 1/N")}  # fmt: skip
    what = "slope of log std(residual stream) vs log depth"
    return [
        mean_check(f"{name}: {what}", expected, slopes[name], kind=kind, source=source, **crit)
        for name, (expected, crit, kind, source) in kinds.items()
    ]


@options(seeds=3, steps=300, batch_size=64, width=32, depth=8)
def _transformer_depth(o: Options, depths: Sequence[int] = (2, 8, 32), adam_lr: float = 1e-3):
    data = data_lib.modular_addition()
    std = stream_std(o, depths, data)
    slopes = {k: slope(depths, v) for k, v in std.items()}
    r = o.sweep(_net(o, o.depth, data), schemes(o.depth), data, "transformer-depth", evals=3,
                optimizer=optax.adam(adam_lr))  # fmt: skip
    loss = r.final("train_loss")
    rows = [[k, *v.mean(0), float(np.mean(slopes[k])), float(np.nanmean(loss[i]))]
            for i, (k, v) in enumerate(std.items())]  # fmt: skip
    header = ["init", *(f"std(h) depth {d}" for d in depths), "slope", f"train loss (depth "
              f"{o.depth})"]  # fmt: skip
    return Report(
        "transformer-depth",
        sweep_mode(len(o.seed_list)),
        f"Transformer depth scalings: pre-LN, d_model {o.width}, depths {depths[0]}.."
        f"{depths[-1]}, modular addition",
        SOURCE,
        checks=depth_checks(slopes),
        result=r,
        tables=[Table("residual stream at init (mean over seeds), final train loss", header, rows)],
        notes=[
            f"Modular addition p = 23 ([a, b, =] -> a + b mod 23), 80% train; Adam lr {adam_lr}, "
            f"batch {o.batch_size}, {o.steps} steps at depth {o.depth}. jinit.models.Transformer "
            "is pre-LN, so DeepNorm's post-LN x <- LN(alpha x + f(x)) and T-Fixup's removal of "
            "layer norm are not modelled: only their init scalings are (value, output and MLP "
            "projections x beta = (8N)^(-1/4), resp. x 0.67 N^(-1/4)). The training loss is "
            "reported, not checked: no scheme's loss is claimed for this pre-LN model.",
        ],
    )


TITLE = "GPT-2, DeepNorm and T-Fixup scalings bound a Transformer's residual stream in depth"
register(Experiment("transformer-depth", TITLE, SOURCE, None, _transformer_depth,
                    default_seeds=3))  # fmt: skip
