"""Depth experiments from the papers: He et al. 2015 (``deep-relu``) and Saxe et al. 2014
(``deep-linear``). Glorot & Bengio 2010 is :mod:`jinit.experiments.saturation`.

Per-layer statistics at init come from :func:`jinit.diagnostics.probe_seeds`, which draws the
weights that :func:`jinit.sweep` starts from.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws
from jinit.diagnostics import probe_seeds
from jinit.experiments._mnist import Setup
from jinit.experiments.checks import prediction_halfwidth
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.models import MLP
from jinit.report import Check, LayerProfile, Report, Table, sweep_report

_PROBE_KEY = 20150206  # the batch that init-time statistics are measured on


def layer_std_at_init(
    model: MLP, name: str, init: Callable, seeds: Sequence[int], batch: int = 256
) -> tuple[np.ndarray, float]:
    """Activation std of every hidden layer at init, ``[n_seeds, n_hidden]``, for inputs
    x ~ N(0, I) of ``batch`` examples; and the input's std. Seed s draws the weights that
    ``jinit.sweep(model, {name: init}, ...)`` draws for seed s (``run_key(s, name)``)."""
    x = jax.random.normal(jax.random.key(_PROBE_KEY), (batch, model.widths[0]))
    stds = probe_seeds(model, init, x, list(seeds), name=name).stats["std"]  # [seeds, layers]
    return np.asarray(stds)[:, :-1], float(x.std())


def _data_for(mnist: str | None):
    """MNIST from ``mnist`` or $JINIT_MNIST if present, else the bundled 8x8 digits."""
    setup = Setup.load(mnist, data_lib.mnist)
    return setup.data, "MNIST" if setup.on_mnist else "8x8 digits (no MNIST found)"


# --------------------------------------------------------------------------- deep-relu

RELU_SOURCE = (
    "He et al. 2015, 'Delving Deep into Rectifiers', Sec. 2.2 and Fig. 3: with ReLU, a fan-in "
    "variance of 1/n (Xavier/LeCun) halves the activation VARIANCE per layer (the std shrinks "
    "by 1/sqrt 2); 2/n keeps it; a 30-layer net trains with 2/n and stalls with Xavier's init"
)
HE_SEC22 = "He et al. 2015, Sec. 2.2, eq. (10): Var[y_L] = Var[y_1] prod_l (n_l Var[w_l] / 2)"
HE_FIG3 = "He et al. 2015, Fig. 3: the 30-layer ReLU net stalls with Xavier's init"
#: The per-layer std factor of each init with ReLU: sqrt(n Var[w] / 2).
RELU_FACTOR = {"xavier": 1 / math.sqrt(2), "he": 1.0}
#: The law's factor must lie in the seeds' 95% prediction interval for one more seed's factor
#: (one seed's factor is a geometric mean over the layers), widened to at least
#: RELU_FACTOR_FLOOR: at width 256 jinit measures a finite-width bias of about -0.012.
RELU_FACTOR_CONFIDENCE = 0.95
RELU_FACTOR_FLOOR = 0.02
#: |log2(last / input std) - depth log2(factor)| must stay below this: it covers the first
#: layer's constant (ReLU of N(0, 1) has std 0.58 = 2^-0.78) and the finite-width drift of
#: about 1 in log2 at width 256, and rejects the wrong law (std halving: 2^-depth) by far.
RELU_LOG2_TOL = 2.0


def relu_factor_check(init: str, depth: int, factors: np.ndarray) -> Check:
    """The per-layer std factor (one geometric mean over layers per seed) against
    ``sqrt(n Var[w] / 2)``: within t_{0.975, n-1} s sqrt(1 + 1/n) of the mean over the n seeds
    (``scipy.stats.t``), at least RELU_FACTOR_FLOOR."""
    label = f"{init}, depth {depth}: activation std factor per layer (mean over seeds)"
    expected = RELU_FACTOR[init]
    if factors.size < 2:
        return Check(label, expected, float(factors.mean()), kind="derived", source=HE_SEC22,
                     not_run="one seed: the tolerance comes from the seed spread")  # fmt: skip
    n = factors.size
    tol = max(prediction_halfwidth(factors, RELU_FACTOR_CONFIDENCE), RELU_FACTOR_FLOOR)
    return Check(label, expected, float(factors.mean()), tol,
                 f"95% prediction interval of {n} seeds (at least +-{RELU_FACTOR_FLOOR})",
                 kind="derived", source=HE_SEC22)  # fmt: skip


def relu_depth_check(init: str, depth: int, log2_ratio: np.ndarray) -> Check:
    """log2 of last-hidden over input std at ``depth`` against ``depth log2(factor)``."""
    expected = depth * math.log2(RELU_FACTOR[init])
    return Check(f"{init}, depth {depth}: log2(last hidden std / input std), median over seeds",
                 expected, float(np.median(log2_ratio)), RELU_LOG2_TOL,
                 f"(1/sqrt 2)^{depth} = 2^{expected:g}" if expected else "constant",
                 kind="derived", source=HE_SEC22)  # fmt: skip


def _relu_probe(depths: Sequence[int], width: int, seeds: int):
    inits = {"xavier": laws.xavier_normal, "he": laws.he_normal}
    rows, checks, profiles = [], [], []
    for depth in depths:
        probe_net = MLP([width] * (depth + 1) + [10], output="softmax")
        for name, init in inits.items():
            stds, x_std = layer_std_at_init(probe_net, name, init, list(range(seeds)))
            log2_ratio = np.log2(stds[:, -1] / x_std)
            factors = np.exp(np.mean(np.log(stds[:, 1:] / stds[:, :-1]), axis=1))
            profiles.append(LayerProfile(name, depth, "std", stds.mean(axis=0)))
            rows.append([depth, name, float(np.mean(factors)), float(np.median(log2_ratio)),
                         float(2.0 ** np.median(log2_ratio))])  # fmt: skip
            if depth == max(depths):
                checks += [relu_factor_check(name, depth, factors),
                           relu_depth_check(name, depth, log2_ratio)]  # fmt: skip
    header = ["depth", "init", "std factor per layer", "log2(last / input std)", "last / input"]
    return rows, header, checks, profiles


RELU_TABLE = (
    "activation std at init: factor per layer (geometric mean over layers, mean over seeds) "
    "and last hidden / input"
)


@options(seeds=3, steps=600, lr=0.005, batch_size=64, width=256, mnist=None)
def _deep_relu(o: Options, depths: Sequence[int] = (10, 22, 30)) -> Report:
    rows, header, checks, profiles = _relu_probe(depths, o.width, o.seeds)
    data, data_name = _data_for(o.mnist)
    deepest = max(depths)
    net = MLP([data.n_features] + [o.width] * deepest + [data.n_classes], output="softmax")
    inits = {"xavier": laws.xavier_normal, "he": laws.he_normal}
    r = o.sweep(net, inits, data, "deep-relu", evals=6, momentum=0.9)
    acc = r.final("test_acc")
    checks.append(
        Check(f"depth {deepest}: test accuracy, he - xavier (means over seeds)",
              "xavier stalls", float(np.nanmean(acc[1]) - np.nanmean(acc[0])), above=0.2,
              kind="published", source=HE_FIG3)
    )  # fmt: skip
    shown = ", ".join(map(str, depths))
    title = f"Xavier vs He in deep ReLU nets (width {o.width}, depths {shown})"
    return sweep_report(
        "deep-relu", o.seeds, title, RELU_SOURCE, checks=checks, result=r, profiles=profiles,
        tables=[Table(RELU_TABLE, header, rows)],
        notes=[
            f"Training: the depth-{deepest} net on {data_name}, SGD with momentum 0.9, "
            f"lr {o.lr}, batch {o.batch_size}, {o.steps} steps; the paper trains on ImageNet.",
            "Init-time statistics use a batch of 256 N(0, I) inputs of width "
            f"{o.width} and zero biases. The law is on the variance: Var halves per ReLU layer "
            "under a 1/n fan-in variance, so the std shrinks by 1/sqrt 2 per layer, about "
            "2^-15 = 3e-5 at depth 30 (not 2^-30).",
        ],
    )


register(
    Experiment(
        "deep-relu",
        "He et al. 2015: Xavier vs He in 10-30 layer ReLU nets",
        RELU_SOURCE,
        None,
        _deep_relu,
        default_seeds=3,
    )
)


# --------------------------------------------------------------------------- deep-linear

LINEAR_SOURCE = (
    "Saxe, McClelland & Ganguli 2014, 'Exact solutions to the nonlinear dynamics of learning "
    "in deep linear neural networks', Sec. 3-4 and Fig. 6: at a learning rate scaled with "
    "depth, learning time saturates with depth from orthogonal init and grows from scaled "
    "Gaussian init"
)
SAXE_FIG6 = "Saxe et al. 2014, Fig. 6 and Sec. 4 (learning rate scaled as 1/N_l)"
#: Orthogonal: learning time at the deepest depth over that at a quarter of it (saturation).
ORTHO_BAND = (0.5, 2.0)
#: Scaled Gaussian: learning time at the deepest over the shallowest depth (or never).
GAUSS_GROWTH = 2.0


def linear_task(width: int = 32, n: int = 512, seed: int = 0):
    """Regression onto a random orthogonal map: y = A x (one output per input direction)."""
    kx, ka = jax.random.split(jax.random.key(seed))
    x = np.asarray(jax.random.normal(kx, (2 * n, width)))
    a = np.asarray(laws.orthogonal(ka, (width, width)))
    y = x @ a
    return x[:n], y[:n], x[n:], y[n:]


def _steps_to(loss: np.ndarray, eval_steps: np.ndarray, target: float) -> np.ndarray:
    """First eval step at which ``loss`` (..., evals) is below ``target`` (inf if never)."""
    hit = loss <= target
    first = np.where(hit.any(-1), hit.argmax(-1), -1)
    return np.where(first >= 0, eval_steps[np.maximum(first, 0)], np.inf)


def _mse(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.mean(jnp.sum((logits - labels) ** 2, -1)) / 2


def _linear_times(o: Options, depths: Sequence[int], target: float) -> tuple[dict, dict]:
    """Median steps to ``target`` per depth, ``{depth: [orthogonal, gaussian]}``, and the
    sweep result of each depth, ``{"depth d": result}``."""
    x, y, xt, yt = linear_task(o.width)
    inits = {
        "orthogonal": laws.orthogonal,
        "gaussian": functools.partial(laws.normal, stddev=1 / math.sqrt(o.width)),
    }
    data = _regression_dataset(x, y, xt, yt)
    table, results = {}, {}
    for depth in depths:
        net = MLP([o.width] * (depth + 1), activation="linear", output="linear")
        model = (lambda key, w, b, net=net: net.init(key, w, laws.zeros), net.apply)
        r = o.sweep(model, inits, data, f"deep-linear-depth{depth}", evals=100, loss=_mse,
                    optimizer=optax.sgd(o.lr / depth))  # fmt: skip
        loss = r.metrics["train_loss"] / r.metrics["train_loss"][:, :, :1]  # relative to start
        table[depth] = np.median(_steps_to(loss, r.eval_steps, target), axis=1).tolist()
        results[f"depth {depth}"] = r
    return table, results


@options(seeds=5, steps=1500, lr=0.2, width=32)
def _deep_linear(
    o: Options, depths: Sequence[int] = (2, 4, 8, 16, 32, 64), target: float = 0.05
) -> Report:
    if len(depths) < 2:
        raise ValueError(f"deep-linear: depths needs at least two depths, got {depths!r}.")
    width, steps, lr = o.width, o.steps, o.lr
    table, results = _linear_times(o, depths, target)
    deep, shallow = max(depths), min(depths)
    mid = min(depths, key=lambda d: abs(math.log(d / (deep / 4))) if d < deep else math.inf)
    checks = [
        Check(f"orthogonal: median steps, depth {deep} / depth {mid}", "saturates with depth",
              _slowdown([table[mid][0], table[deep][0]]), above=ORTHO_BAND[0],
              below=ORTHO_BAND[1], kind="published", source=SAXE_FIG6),
        Check(f"gaussian: median steps, depth {deep} / depth {shallow} (inf: never)",
              "grows with depth", _slowdown([table[shallow][1], table[deep][1]]),
              above=GAUSS_GROWTH, kind="published", source=SAXE_FIG6),
    ]  # fmt: skip
    notes = [
        f"Task: regress y = A x with A a random orthogonal {width}x{width} map, 512 examples, "
        f"full-batch SGD at lr {lr} / depth (the paper scales the learning rate with depth; at "
        "a fixed rate deeper orthogonal nets learn faster, an effective-learning-rate "
        "artefact); biases start at zero. Learning time: the first step at which the loss "
        f"falls to {target:g} of its initial value, median over seeds.",
        "'gaussian' is N(0, 1/width): norm-preserving on average but not an isometry, so "
        "its product of matrices has a spreading singular-value spectrum as depth grows.",
    ]
    if any(math.isinf(table[d][i]) for d in (shallow, mid) for i in (0, 1)):
        notes.append(
            f"A reference depth did not reach the target within {steps} steps, so its "
            "learning time cannot be compared across depths (the ratio is nan): run with "
            "more steps."
        )
    rows = [[d, *table[d]] for d in depths]
    title = f"median steps until the loss falls to {target:g} of its initial value (never: not "
    title += "within the run)"
    return sweep_report(
        "deep-linear", o.seeds, f"Deep linear nets (width {width}): learning time vs depth",
        LINEAR_SOURCE, checks=checks, results=results, notes=notes,
        tables=[Table(title, ["depth", "orthogonal", "gaussian"], rows)],
    )


def _slowdown(steps: list[float]) -> float:
    """Median steps at the deeper over the shallower depth: inf if only the deeper never
    reaches the target, nan if the shallower never does (no baseline to compare with)."""
    shallow, deep = steps
    return math.nan if math.isinf(shallow) else deep / shallow


def _regression_dataset(x, y, xt, yt) -> data_lib.Dataset:
    return data_lib.Dataset(
        x.astype(np.float32), y.astype(np.float32), xt.astype(np.float32), yt.astype(np.float32)
    )


register(
    Experiment(
        "deep-linear",
        "Saxe et al. 2014: orthogonal vs Gaussian init in deep linear nets",
        LINEAR_SOURCE,
        None,
        _deep_linear,
        default_seeds=5,
    )
)
