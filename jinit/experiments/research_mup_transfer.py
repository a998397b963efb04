"""muP learning-rate transfer (Yang et al. 2022, Tensor Programs V, Fig. 1 and Fig. 3): with
the learning rate as a sweep axis, the best Adam learning rate of an MLP shifts with width under
the standard parametrization (SP) and stays put under muP."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws
from jinit.engine.inits import stack_seeds
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.experiments.research_mup import _net, mean_check
from jinit.keys import run_key
from jinit.report import Check, Report, Table, sweep_mode
from jinit.research.mup import mup_info, mup_init, scale_by_mup

SOURCE = (
    "Yang et al. 2022, 'Tensor Programs V: Tuning Large Neural Networks via Zero-Shot "
    "Hyperparameter Transfer', Fig. 1 and Fig. 3: under the standard parametrization the "
    "optimal Adam learning rate shifts with width; under muP it is stable, so it transfers "
    "from a narrow model to a wide one"
)
#: Optimum shift (log2 lr, narrowest minus widest width): SP must move at least this far ...
SP_MIN_SHIFT = 1.5
#: ... and muP at most this far (in either direction).
MUP_MAX_SHIFT = 1.0


def mup_adam(learning_rate: float, info) -> optax.GradientTransformation:
    """Adam with muP's per-parameter learning-rate multipliers (a factory for ``hparams``)."""
    return optax.chain(optax.adam(learning_rate), scale_by_mup(info, "adam"))


def optimum(log2_lrs: Sequence[float], loss: np.ndarray) -> np.ndarray:
    """The optimal log2 learning rate of each curve (last axis: the learning rates, evenly
    spaced in log2): the vertex of the parabola through log(loss) at the grid's best point and
    its two neighbours; the grid's end when the best point is there. NaN (diverged) counts as
    the worst loss."""
    x = np.asarray(log2_lrs, float)
    h = x[1] - x[0]
    lv = np.log(np.where(np.isfinite(loss), loss, np.inf))
    out = np.empty(lv.shape[:-1])
    for idx in np.ndindex(out.shape):
        curve = lv[idx]
        i = int(np.argmin(curve))
        if i in (0, len(x) - 1) or not np.all(np.isfinite(curve[i - 1:i + 2])):
            out[idx] = x[i]
            continue
        l0, l1, l2 = curve[i - 1:i + 2]
        out[idx] = x[i] + h * (l0 - l2) / (2 * (l0 - 2 * l1 + l2))
    return out


def transfer_checks(sp_shift: np.ndarray, mup_shift: np.ndarray) -> list[Check]:
    """Per-seed shifts (log2 optimal lr at the narrowest minus the widest width): SP's mean at
    least :data:`SP_MIN_SHIFT`, muP's within +-:data:`MUP_MAX_SHIFT`."""
    what = "shift of the optimal log2 Adam lr, narrowest - widest"
    source = "Yang et al. 2022, Fig. 1 and 3"
    return [
        mean_check(f"standard: {what}", "shifts", sp_shift, kind="published", source=source,
                   above=SP_MIN_SHIFT),
        mean_check(f"muP: {what}", "stays put", mup_shift, kind="published", source=source,
                   below=MUP_MAX_SHIFT, above=-MUP_MAX_SHIFT),
    ]  # fmt: skip


def _curves(o: Options, width: int, base_width: int, lrs: Sequence[float], data):
    """Final train loss ``{"sp"|"mup": [lrs, seeds]}`` of one width."""
    n_in, n_out = data.n_features, data.n_classes
    net = _net(width, o.depth, n_in, n_out)
    base = _net(base_width, o.depth, n_in, n_out).init(jax.random.key(0), laws.he_normal)
    delta = _net(2 * base_width, o.depth, n_in, n_out).init(jax.random.key(0), laws.he_normal)
    info = mup_info(net.init(jax.random.key(0), laws.he_normal), base, delta)
    mup = stack_seeds([mup_init(run_key(s, "mup"), net.init(run_key(s, "mup"), laws.he_normal),
                                info) for s in o.seed_list])  # fmt: skip
    out = {}
    for name, init, factory in (("sp", laws.he_normal, optax.adam),
                                ("mup", mup, functools.partial(mup_adam, info=info))):  # fmt: skip
        r = o.sweep(net, {name: init}, data, f"mup-transfer-{name}-{width}", evals=1,
                    optimizer=factory, hparams={"learning_rate": list(lrs)})  # fmt: skip
        out[name] = np.asarray(r.metrics["train_loss"])[0, :, :, -1]
    return out


@options(seeds=3, steps=60, batch_size=64, depth=2)
def _mup_transfer(
    o: Options, widths: Sequence[int] = (32, 128, 512), log2_lrs: Sequence[int] = tuple(
        range(-12, 0)),
) -> Report:  # fmt: skip
    data = data_lib.digits()
    lrs = [2.0**k for k in log2_lrs]
    curves = [_curves(o, w, widths[0], lrs, data) for w in widths]
    best = {k: np.stack([optimum(log2_lrs, c[k].T) for c in curves]) for k in ("sp", "mup")}
    rows = [[w, k, *np.median(c[k], axis=1), float(np.mean(best[k][i]))]
            for i, (w, c) in enumerate(zip(widths, curves, strict=True)) for k in ("sp", "mup")]
    header = ["width", "param.", *(f"lr 2^{k}" for k in log2_lrs), "optimal log2 lr"]
    return Report(
        "mup-transfer",
        sweep_mode(len(o.seed_list)),
        f"muP learning-rate transfer: {o.depth}-hidden-layer MLP, widths {widths[0]}.."
        f"{widths[-1]}, Adam",
        SOURCE,
        checks=transfer_checks(best["sp"][0] - best["sp"][-1], best["mup"][0] - best["mup"][-1]),
        tables=[Table(f"final train loss after {o.steps} Adam steps (median over seeds) and the "
                      "optimal log2 lr (mean over seeds)", header, rows)],
        notes=[
            f"8x8 digits, batch {o.batch_size}, {o.steps} steps, every learning rate of the grid "
            "in one compiled sweep per width and parametrization (jinit.sweep hparams=). SP: "
            f"He-normal init, one Adam rate; muP relative to base width {widths[0]} (hidden and "
            "output lr / m, zero readout). Widths 32..512 rather than the paper's 64..8192 so "
            "the experiment runs in about a minute on 2 CPU cores. The optimum is the vertex of "
            "a parabola through log loss at the best grid point and its neighbours.",
        ],
    )


TITLE = "Yang et al. 2022: the best Adam lr transfers across width under muP, not under SP"
register(Experiment("mup-transfer", TITLE, SOURCE, None, _mup_transfer, default_seeds=3))
