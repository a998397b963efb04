"""The muP coordinate check (Yang et al. 2022, Tensor Programs V, Fig. 5 / App. D.1): after a
few Adam steps, the logits of a standard-parametrized MLP grow with width; under muP the size
of every layer's coordinates stays put."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws, losses, stats
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.keys import data_key, run_key
from jinit.models import MLP
from jinit.report import Check, Report, Table, sweep_mode
from jinit.research.mup import mup_info, mup_init, scale_by_mup

SOURCE = (
    "Yang et al. 2022, 'Tensor Programs V: Tuning Large Neural Networks via Zero-Shot "
    "Hyperparameter Transfer', Fig. 5 and App. D.1 (coordinate check): under the standard "
    "parametrization with Adam, activations and logits blow up with width after a few steps; "
    "under muP they are width-independent"
)
#: Slopes of log mean|logit| against log width: SP must grow faster, muP stay within +-.
SP_MIN_SLOPE = 0.4
MUP_MAX_SLOPE = 0.25


def _net(width: int, depth: int, n_in: int, n_out: int) -> MLP:
    return MLP([n_in] + [width] * depth + [n_out], output="softmax")


def _coords(net, params, x) -> np.ndarray:
    """Mean |coordinate| of every layer's output (hidden h, then the logits)."""
    _, layers = net.apply(params, x, capture=True)
    return np.array([float(jnp.mean(jnp.abs(lay["h"]))) for lay in layers])


def coord_check(widths, base_width, depth, steps, lr, seed, data, batch) -> dict[str, np.ndarray]:
    """``{"sp": [widths, layers], "mup": [widths, layers]}``: mean |coordinate| per layer after
    ``steps`` Adam steps at ``lr`` (same batches for every width and parametrization)."""
    n_in, n_out = data.n_features, data.n_classes
    base = _net(base_width, depth, n_in, n_out).init(jax.random.key(0), laws.he_normal)
    delta = _net(2 * base_width, depth, n_in, n_out).init(jax.random.key(0), laws.he_normal)
    idx = jax.random.randint(data_key(seed), (steps, batch), 0, len(data.x_train))
    xs, ys = jnp.asarray(data.x_train)[idx], jnp.asarray(data.y_train)[idx]
    out = {"sp": [], "mup": []}
    for width in widths:
        net = _net(width, depth, n_in, n_out)
        sp = net.init(run_key(seed, f"sp-{width}"), laws.he_normal)
        info = mup_info(sp, base, delta)
        runs = {"sp": (sp, optax.adam(lr)),
                "mup": (mup_init(run_key(seed, f"mup-{width}"), sp, info),
                        optax.chain(optax.adam(lr), scale_by_mup(info, "adam")))}  # fmt: skip
        for name, (params, opt) in runs.items():
            params = _train(net, params, opt, xs, ys)
            out[name].append(_coords(net, params, xs[-1]))
    return {k: np.stack(v) for k, v in out.items()}


def _train(net, params, opt, xs, ys):
    loss = lambda p, x, y: losses.softmax_cross_entropy(net.apply(p, x), y)  # noqa: E731

    def step(carry, xy):
        p, s = carry
        g = jax.grad(loss)(p, *xy)
        u, s = opt.update(g, s, p)
        return (optax.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(step, (params, opt.init(params)), (xs, ys))
    return params


def slope(widths: Sequence[int], values: np.ndarray) -> np.ndarray:
    """Least-squares slope of log(values) against log(width), along the widths axis (-1)."""
    lw = np.log(np.asarray(widths, float))
    lv = np.log(values)
    lw = lw - lw.mean()
    return ((lv - lv.mean(-1, keepdims=True)) * lw).sum(-1) / (lw**2).sum()


def mean_check(label: str, expected: str, per_seed: np.ndarray, *, kind: str, source: str,
               **criterion: float) -> Check:
    """A :class:`Check` of the mean over seeds of ``per_seed``, its 95% t interval in the
    label (``label (95% CI [lo, hi])``); ``criterion``: ``above`` / ``below``."""
    lo, hi = stats.mean_interval(per_seed)
    return Check(f"{label} (95% CI [{lo:.2f}, {hi:.2f}])", expected, float(np.mean(per_seed)),
                 kind=kind, source=source, **criterion)  # fmt: skip


def mup_checks(sp_slopes: np.ndarray, mup_slopes: np.ndarray) -> list[Check]:
    """SP's logit slope above :data:`SP_MIN_SLOPE`, muP's within +-:data:`MUP_MAX_SLOPE` (the
    mean over seeds; the 95% t interval is in the label)."""
    what, source = "slope of log mean|logit| vs log width", "Yang et al. 2022, Fig. 5"
    return [
        mean_check(f"standard: {what}", "grows with width", sp_slopes, kind="published",
                   source=source, above=SP_MIN_SLOPE),
        mean_check(f"muP: {what}", "flat", mup_slopes, kind="published", source=source,
                   below=MUP_MAX_SLOPE, above=-MUP_MAX_SLOPE),
    ]  # fmt: skip


@options(seeds=3, depth=3, steps=10, lr=1e-3, batch_size=128)
def _mup_coordcheck(o: Options, widths: Sequence[int] = (64, 128, 256, 512, 1024)) -> Report:
    # a few steps per run: nothing to checkpoint (o.checkpoint_dir is accepted and unused)
    depth, steps, lr, batch_size = o.depth, o.steps, o.lr, o.batch_size
    data = data_lib.digits()
    runs = [coord_check(widths, widths[0], depth, steps, lr, s, data, batch_size)
            for s in o.seed_list]  # fmt: skip
    sp = np.stack([r["sp"] for r in runs])  # [seeds, widths, layers]
    mup = np.stack([r["mup"] for r in runs])
    header = ["width", *(f"SP layer {k + 1}" for k in range(depth)), "SP logits",
              *(f"muP layer {k + 1}" for k in range(depth)), "muP logits"]  # fmt: skip
    rows = [[w, *sp[:, i].mean(0), *mup[:, i].mean(0)] for i, w in enumerate(widths)]
    return Report(
        "mup-coordcheck",
        sweep_mode(len(o.seed_list)),
        f"muP coordinate check: {depth}-hidden-layer MLP, widths {widths[0]}..{widths[-1]}",
        SOURCE,
        checks=mup_checks(slope(widths, sp[..., -1]), slope(widths, mup[..., -1])),
        tables=[
            Table(f"mean |coordinate| after {steps} Adam steps (mean over seeds)", header, rows)
        ],
        notes=[
            f"8x8 digits, Adam lr {lr}, batch {batch_size}, {steps} steps; SP = He-normal init "
            f"and one Adam learning rate; muP relative to base width {widths[0]} (hidden and "
            "output lr / m, readout zero-initialized from the base width on).",
        ],
    )


register(
    Experiment(
        "mup-coordcheck",
        "Yang et al. 2022: muP coordinate check, widths 64..1024",
        SOURCE,
        None,
        _mup_coordcheck,
        default_seeds=3,
    )
)
