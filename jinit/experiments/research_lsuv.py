"""LSUV (Mishkin & Matas 2016): a 30-layer ReLU MLP that stalls from an orthonormal start
trains once each layer is rescaled to unit output variance."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jinit import data as data_lib
from jinit import laws, stats
from jinit.experiments.checks import accuracy_table
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.models import MLP
from jinit.report import Check, Report, sweep_mode
from jinit.research.lsuv import lsuv_seeds

SOURCE = (
    "Mishkin & Matas 2016, 'All you need is a good init' (ICLR), Algorithm 1 and Sec. 3: "
    "orthonormal init followed by layer-sequential unit-variance rescaling lets very deep thin "
    "nets train where orthonormal init alone does not"
)
#: The smallest mean test-accuracy gain (LSUV - orthogonal) that counts as "trains vs stalls".
MIN_GAIN = 0.3


def lsuv_checks(layer_var: np.ndarray, gain: stats.Comparison, tol: float) -> list[Check]:
    """The two checks: every layer's output variance on the LSUV batch within ``tol`` of 1
    (``layer_var`` [seeds, layers]), and LSUV's paired test-accuracy gain over orthogonal."""
    worst = float(np.max(np.abs(layer_var - 1.0)))
    lo, hi = gain.diff_ci
    return [
        Check("LSUV: max over seeds and layers of |var(z) - 1| on its batch", f"< tol = {tol}",
              worst, below=tol, kind="derived", source="Mishkin & Matas 2016, Algorithm 1"),
        Check(f"test accuracy, lsuv - orthogonal (mean over seeds, 95% CI [{lo:.3f}, {hi:.3f}])",
              "orthogonal stalls, LSUV trains", gain.diff, above=MIN_GAIN, kind="published",
              source="Mishkin & Matas 2016, Sec. 3 / Table 2"),
    ]  # fmt: skip


@options(seeds=3, steps=400, lr=0.003, batch_size=64, width=64, depth=30)
def _lsuv(o: Options, tol: float = 0.1) -> Report:
    data = data_lib.digits()
    net = MLP([data.n_features] + [o.width] * o.depth + [data.n_classes], output="softmax")
    x = jnp.asarray(data.x_train[:256])
    seed_list = o.seed_list
    params = lsuv_seeds(net, x, seed_list, name="lsuv", tol=tol)
    layer_var = np.stack(
        [np.asarray([float(lay["z"].var()) for lay in net.apply(
            [{k: v[s] for k, v in p.items()} for p in params], x, capture=True)[1]])
         for s in range(len(seed_list))]
    )  # fmt: skip
    r = o.sweep(net, {"orthogonal": laws.orthogonal, "lsuv": params}, data, "lsuv", evals=4,
                momentum=0.9)
    acc = r.final("test_acc")
    gain = stats.compare(acc[1], acc[0], method="t")
    return Report(
        "lsuv",
        sweep_mode(len(seed_list)),
        f"LSUV vs orthogonal in a {o.depth}-layer ReLU MLP (width {o.width}) on 8x8 digits",
        SOURCE,
        checks=lsuv_checks(layer_var, gain, tol),
        result=r,
        tables=[accuracy_table(r, "worst seed")],
        notes=[
            f"SGD with momentum 0.9, lr {o.lr}, batch {o.batch_size}, {o.steps} steps; LSUV on 256 "
            f"training examples, tol {tol} on the variance, every layer including the logits.",
            "The paper trains FitNets and ResNets on CIFAR-10 / ImageNet; this is the small "
            "deep-thin case on 2 CPU cores.",
        ],
    )


register(
    Experiment(
        "lsuv",
        "Mishkin & Matas 2016: LSUV makes a 30-layer ReLU MLP trainable",
        SOURCE,
        None,
        _lsuv,
        default_seeds=3,
    )
)
