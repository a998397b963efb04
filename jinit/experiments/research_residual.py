"""Residual nets without normalization (Zhang et al. 2019, Fixup): a 50-block residual MLP whose
residual stream explodes under plain He init keeps unit scale and trains with Fixup, as well
as the same net with layer norm."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws, stats
from jinit.engine import sweep
from jinit.engine.inits import stack_seeds
from jinit.experiments.registry import Experiment, checkpointing, register
from jinit.keys import run_key
from jinit.models import ResidualMLP
from jinit.report import Check, Report, Table, sweep_mode
from jinit.research.residual import fixup

SOURCE = (
    "Zhang, Dauphin & Ma 2019, 'Fixup Initialization: Residual Learning Without "
    "Normalization', Sec. 2-3 and Table 1: without normalization the residual stream's "
    "variance grows exponentially in depth under standard init; Fixup keeps it bounded and "
    "trains as well as a normalized net"
)
#: Residual-stream std growth (last block / first block) that counts as exploding.
EXPLODES = 100.0


def stream_growth(net: ResidualMLP, params, x) -> float:
    """std of the residual stream after the last block over that after the first."""
    _, blocks = net.apply(params, x, capture=True)
    return float(blocks[-1]["h"].std() / blocks[0]["h"].std())


def residual_checks(he_growth, fixup_growth, acc_fixup, acc_he, acc_norm) -> list[Check]:
    """Init-time growth (He explodes, Fixup stays 1) and final test accuracy per seed."""
    gap = stats.compare(acc_fixup, acc_norm, method="t")
    lo, hi = gap.diff_ci
    return [
        Check("He, no norm: residual-stream std, last / first block (min over seeds)",
              "explodes", float(np.min(he_growth)), above=EXPLODES, kind="published",
              source="Zhang et al. 2019, Sec. 2"),
        Check("Fixup: residual-stream std, last / first block (max over seeds)", 1.0,
              float(np.max(fixup_growth)), tolerance=1e-3, kind="derived",
              source="Fixup rule 1: zero branch ends make every block the identity"),
        Check("He, no norm: final test accuracy (max over seeds; diverged = 0)", "fails",
              float(np.max(np.nan_to_num(acc_he, nan=0.0))), below=0.5, kind="published",
              source="Zhang et al. 2019, Table 1"),
        Check(f"Fixup - layer norm: test accuracy (mean, 95% CI [{lo:.3f}, {hi:.3f}])",
              "Fixup matches normalization", gap.diff, above=-0.05, kind="published",
              source="Zhang et al. 2019, Table 1"),
    ]  # fmt: skip


def _residual_no_norm(
    seeds: int = 2,
    depth: int = 50,
    width: int = 64,
    steps: int = 300,
    lr: float = 0.01,
    batch_size: int = 64,
    checkpoint_dir: str | None = None,
) -> Report:
    data = data_lib.digits()
    net = ResidualMLP(data.n_features, width=width, depth=depth, n_out=data.n_classes)
    normed = ResidualMLP(data.n_features, width=width, depth=depth, n_out=data.n_classes,
                         norm="layer")  # fmt: skip
    x = jnp.asarray(data.x_train[:256])
    seed_list = list(range(seeds))
    fixed = [fixup(run_key(s, "fixup"), net.init(run_key(s, "fixup"), laws.he_normal), depth)
             for s in seed_list]  # fmt: skip
    he_growth = [stream_growth(net, net.init(run_key(s, "he"), laws.he_normal), x)
                 for s in seed_list]  # fmt: skip
    fixup_growth = [stream_growth(net, p, x) for p in fixed]
    common = dict(optimizer=optax.sgd(lr, momentum=0.9), steps=steps, seeds=seed_list,
                  batch_size=batch_size, eval_every=max(1, steps // 3))  # fmt: skip
    stacked = stack_seeds(fixed)
    r = sweep(net, {"he": laws.he_normal, "fixup": stacked}, data, **common,
              **checkpointing(checkpoint_dir, "residual-no-norm"))  # fmt: skip
    r_norm = sweep(normed, {"he+layernorm": laws.he_normal}, data, **common,
                   **checkpointing(checkpoint_dir, "residual-layernorm"))  # fmt: skip
    acc, acc_norm = r.final("test_acc"), r_norm.final("test_acc")[0]
    rows = [["he", float(np.mean(he_growth)), float(np.mean(acc[0]))],
            ["fixup", float(np.mean(fixup_growth)), float(np.mean(acc[1]))],
            ["he+layernorm", float("nan"), float(np.mean(acc_norm))]]  # fmt: skip
    return Report(
        "residual-no-norm",
        sweep_mode(seeds),
        f"Fixup vs He vs layer norm in a {depth}-block residual MLP (width {width})",
        SOURCE,
        checks=residual_checks(he_growth, fixup_growth, acc[1], acc[0], acc_norm),
        result=r,
        results={"layernorm": r_norm},
        tables=[
            Table(
                "residual stream and accuracy (means over seeds)",
                ["init", "stream std growth", "final test acc"],
                rows,
            )
        ],
        notes=[
            f"8x8 digits, SGD momentum 0.9, lr {lr}, batch {batch_size}, {steps} steps.",
            "Normalized baseline: jinit.models.ResidualMLP(norm='layer') (the paper compares "
            "with BatchNorm ResNets). SkipInit / ReZero (jinit.research.skipinit_rules, "
            "rezero_rules) need a model with a scalar gate per branch, which ResidualMLP "
            "does not have yet, so they are not in this comparison.",
        ],
    )


register(
    Experiment(
        "residual-no-norm",
        "Zhang et al. 2019: Fixup trains a 50-block residual MLP without normalization",
        SOURCE,
        None,
        _residual_no_norm,
        default_seeds=2,
    )
)
