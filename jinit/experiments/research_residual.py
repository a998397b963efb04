"""Residual nets without normalization (Zhang et al. 2019, Fixup; De & Smith 2020, SkipInit;
Bachlechner et al. 2020, ReZero): a 50-block residual MLP whose residual stream explodes under
plain He init keeps unit scale and trains with each of them, as well as the same net with batch
norm at the same learning rate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax.numpy as jnp
import numpy as np

from jinit import data as data_lib
from jinit import laws, stats
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.keys import run_key
from jinit.models import ResidualMLP
from jinit.report import Check, Report, Table, sweep_mode
from jinit.research.residual import fixup_rules, rezero_rules, skipinit_rules
from jinit.trees import reinit

SOURCE = (
    "Zhang, Dauphin & Ma 2019, 'Fixup Initialization: Residual Learning Without "
    "Normalization', Sec. 2-3 and Table 1: without normalization the residual stream's "
    "variance grows exponentially in depth under standard init; Fixup keeps it bounded and "
    "trains as well as a normalized net; De & Smith 2020 (SkipInit) and Bachlechner et al. "
    "2020 (ReZero): a zero-initialized scalar per branch does the same"
)
#: Residual-stream std growth (last block / first block) that counts as exploding.
EXPLODES = 100.0
IDENTITY = "zero branch ends (gates) make every block the identity"
PAPERS = "Zhang et al. 2019; De & Smith 2020; Bachlechner et al. 2020"


#: The normalization-free methods, each a list of reinit rules for a gated ResidualMLP.
DEFAULT_LAWS = [("*kernel", laws.he_normal), ("*bias", laws.zeros)]


def method_rules(depth: int) -> dict[str, list]:
    """``{name: reinit rules}`` of He (gates 1), Fixup (the gates are its scalar multipliers,
    1), SkipInit and ReZero (gates 0) for a ``gates=True`` :class:`ResidualMLP`."""
    return {
        "he": [("*gate", laws.ones), *DEFAULT_LAWS],
        "fixup": [*fixup_rules(depth, multipliers="*gate", biases=None), *DEFAULT_LAWS],
        "skipinit": [*skipinit_rules(), *DEFAULT_LAWS],
        "rezero": [*rezero_rules(), *DEFAULT_LAWS],
    }


def stream_growth(net: ResidualMLP, params, x) -> float:
    """std of the residual stream after the last block over that after the first."""
    _, blocks = net.apply(params, x, capture=True)
    return float(blocks[-1]["h"].std() / blocks[0]["h"].std())


def residual_checks(
    growth: Mapping[str, Sequence[float]], acc: Mapping[str, np.ndarray]
) -> list[Check]:
    """Init-time growth (He explodes; Fixup, SkipInit, ReZero stay at 1) and final test
    accuracy per seed (He fails; BatchNorm trains at the same rate; each method within 0.05
    of BatchNorm, paired by seed). ``growth``: he, fixup, skipinit, rezero; ``acc``: those and
    batchnorm."""
    out = [Check("He, no norm: residual-stream std, last / first block (min over seeds)",
                 "explodes", float(np.min(growth["he"])), above=EXPLODES, kind="published",
                 source="Zhang et al. 2019, Sec. 2")]  # fmt: skip
    for name in ("fixup", "skipinit", "rezero"):
        out.append(Check(f"{name}: residual-stream std, last / first block (max over seeds)",
                         1.0, float(np.max(growth[name])), tolerance=1e-3, kind="derived",
                         source=IDENTITY))  # fmt: skip
    out += [
        Check("He, no norm: final test accuracy (max over seeds; diverged = 0)", "fails",
              float(np.max(np.nan_to_num(acc["he"], nan=0.0))), below=0.5, kind="published",
              source="Zhang et al. 2019, Table 1"),
        Check("He + BatchNorm, same learning rate: final test accuracy (min over seeds)",
              "trains", float(np.min(np.nan_to_num(acc["batchnorm"], nan=0.0))), above=0.9,
              kind="published", source="Zhang et al. 2019, Table 1; De & Smith 2020"),
    ]  # fmt: skip
    for name in ("fixup", "skipinit", "rezero"):
        gap = stats.compare(np.nan_to_num(acc[name], nan=0.0), acc["batchnorm"], method="t")
        lo, hi = gap.diff_ci
        out.append(Check(f"{name} - BatchNorm: test accuracy (mean, 95% CI [{lo:.3f}, "
                         f"{hi:.3f}])", "matches normalization", gap.diff, above=-0.05,
                         kind="published", source=PAPERS))  # fmt: skip
    return out


@options(seeds=2, steps=300, lr=0.01, batch_size=64, width=64, depth=50)
def _residual_no_norm(o: Options) -> Report:
    data = data_lib.digits()
    depth, width = o.depth, o.width
    net = ResidualMLP(data.n_features, width=width, depth=depth, n_out=data.n_classes, gates=True)
    x = jnp.asarray(data.x_train[:256])
    seed_list = o.seed_list
    rules = method_rules(depth)
    growth = {name: [stream_growth(net, reinit(run_key(s, name), net.init(
        run_key(s, name), laws.zeros, laws.zeros), r), x) for s in seed_list]
        for name, r in rules.items()}  # fmt: skip
    r = o.sweep(net, rules, data, "residual-no-norm", evals=3, momentum=0.9)
    bn = ResidualMLP(data.n_features, width=width, depth=depth, n_out=data.n_classes,
                     norm="batch")  # fmt: skip
    normed = {"batchnorm": o.sweep(bn, {"he+batchnorm": laws.he_normal}, data,
                                   "residual-batchnorm", evals=3, momentum=0.9)}
    acc = {name: r.final("test_acc")[i] for i, name in enumerate(r.inits)}
    acc |= {name: res.final("test_acc")[0] for name, res in normed.items()}
    rows = [[name, float(np.mean(growth[name])) if name in growth else float("nan"),
             float(np.mean(a))] for name, a in acc.items()]  # fmt: skip
    return Report(
        "residual-no-norm",
        sweep_mode(len(seed_list)),
        f"Fixup, SkipInit, ReZero vs He and BatchNorm in a {depth}-block residual MLP "
        f"(width {width})",
        SOURCE,
        checks=residual_checks(growth, acc),
        result=r,
        results=normed,
        tables=[
            Table(
                "residual stream and accuracy (means over seeds)",
                ["init", "stream std growth", "final test acc"],
                rows,
            )
        ],
        notes=[
            f"8x8 digits, SGD momentum 0.9, lr {o.lr}, batch {o.batch_size}, {o.steps} steps.",
            "One jinit.models.ResidualMLP(gates=True): h + gate * branch(h). He: gates 1 (the "
            "plain net); Fixup: gates are its scalar multipliers (1), branch ends and readout "
            "0, fc1 He x L^(-1/2); SkipInit and ReZero: gates 0, He elsewhere (in a net without "
            "norm the two papers' rules coincide; only their init keys differ). Normalized "
            "baseline: ResidualMLP(norm='batch'), He init (batch statistics in training, "
            "running statistics for evaluation).",
        ],
    )


register(
    Experiment(
        "residual-no-norm",
        "Fixup, SkipInit and ReZero train a 50-block residual MLP without normalization",
        SOURCE,
        None,
        _residual_no_norm,
        default_seeds=2,
    )
)
