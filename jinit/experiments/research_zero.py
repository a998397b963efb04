"""ZerO (Zhao et al. 2021): a residual MLP initialized deterministically (identity / Hadamard
kernels, zero branch ends) trains to the accuracy of random He init, with zero variance of the
initial weights across seeds (only the data order varies)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jinit import data as data_lib
from jinit import laws, stats
from jinit.engine.inits import stack_seeds
from jinit.experiments.checks import accuracy_table
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.keys import run_key
from jinit.models import ResidualMLP
from jinit.report import Check, Report, sweep_mode
from jinit.research.zero import zero_init
from jinit.trees import reinit

SOURCE = (
    "Zhao, Schafer & Anandkumar 2021, 'ZerO Initialization: Initializing Neural Networks with "
    "only Zeros and Ones', Algorithm 1 and Sec. 5: deterministic ZerO init matches random "
    "init's accuracy and removes the variance due to the initial weights"
)
#: ZerO may trail He's mean test accuracy by at most this much.
MAX_GAP = 0.03
ZERO_RULES = [("*fc2/kernel", laws.zeros), ("*kernel", zero_init), ("*bias", laws.zeros)]


def zero_checks(init_spread: float, acc_zero: np.ndarray, acc_he: np.ndarray) -> list[Check]:
    """ZerO's initial weights identical across seeds, and its accuracy within :data:`MAX_GAP`
    of He's (paired by seed: the same data order)."""
    gap = stats.compare(acc_zero, acc_he, method="t")
    lo, hi = gap.diff_ci
    return [
        Check("ZerO: max over leaves of the std across seeds of the initial weights", 0.0,
              init_spread, tolerance=0.0, kind="derived", source="Zhao et al. 2021, Alg. 1"),
        Check(f"test accuracy, ZerO - He (mean, 95% CI [{lo:.3f}, {hi:.3f}])",
              "as accurate as random init", gap.diff, above=-MAX_GAP, kind="published",
              source="Zhao et al. 2021, Sec. 5"),
    ]  # fmt: skip


@options(seeds=3, steps=300, lr=0.01, batch_size=64, width=64, depth=4)
def _zero_init(o: Options) -> Report:
    data = data_lib.digits()
    net = ResidualMLP(data.n_features, width=o.width, depth=o.depth, n_out=data.n_classes)
    seed_list = o.seed_list
    draws = [reinit(run_key(s, "zero"), net.init(run_key(s, "zero"), laws.zeros), ZERO_RULES)
             for s in seed_list]  # fmt: skip
    stacked = stack_seeds(draws)
    spread = max(float(jnp.std(leaf, axis=0).max()) for leaf in jax.tree.leaves(stacked))
    r = o.sweep(net, {"he": laws.he_normal, "zero": stacked}, data, "zero-init", evals=3,
                momentum=0.9)
    acc = r.final("test_acc")
    return Report(
        "zero-init",
        sweep_mode(len(seed_list)),
        f"ZerO vs He in a {o.depth}-block residual MLP (width {o.width}) on 8x8 digits",
        SOURCE,
        checks=zero_checks(spread, acc[1], acc[0]),
        result=r,
        tables=[accuracy_table(r, "std over seeds")],
        notes=[
            f"SGD momentum 0.9, lr {o.lr}, batch {o.batch_size}, {o.steps} steps. ZerO: every "
            "kernel zero_init (identity, partial identity or scaled Hadamard), branch ends fc2 "
            "zero, biases zero; the seed changes only the data order.",
        ],
    )


register(
    Experiment(
        "zero-init",
        "Zhao et al. 2021: deterministic ZerO init trains a residual MLP",
        SOURCE,
        None,
        _zero_init,
        default_seeds=3,
    )
)
