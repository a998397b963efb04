"""Depth experiments from the papers: He et al. 2015, Glorot & Bengio 2010, Saxe et al. 2014.

Per-layer statistics come from :func:`jinit.diagnostics.layer_stats`, the same function the probe
and ``describe`` use.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit import data as data_lib
from jinit.diagnostics import layer_stats
from jinit.engine import run_key, sweep
from jinit.experiments import Experiment, register
from jinit.models import MLP
from jinit.report import Check, Report, sweep_mode
from jinit.results import _align

_PROBE_KEY = 20150206  # the batch that init-time statistics are measured on


def layer_std_at_init(
    model: MLP, name: str, init: Callable, seeds: Sequence[int], batch: int = 256
) -> tuple[np.ndarray, float]:
    """Activation std of every hidden layer at init, ``[n_seeds, n_hidden]``, for inputs
    x ~ N(0, I) of ``batch`` examples; and the input's std."""
    x = jax.random.normal(jax.random.key(_PROBE_KEY), (batch, model.widths[0]))

    def one(key):
        params = model.init(key, init)
        _, layers = model.apply(params, x, capture=True)
        return jnp.stack([layer_stats(lay["z"], lay["h"])["std"] for lay in layers[:-1]])

    keys = jnp.stack([run_key(int(s), name) for s in seeds])
    return np.asarray(jax.jit(jax.vmap(one))(keys)), float(x.std())


def _worst(ratio: np.ndarray) -> float:
    """The ratio farthest from 1 (in log scale)."""
    return float(ratio[np.argmax(np.abs(np.log(ratio)))])


def _data_for(mnist: str | None):
    """MNIST from ``mnist`` or $JINIT_MNIST if present, else the bundled 8x8 digits."""
    try:
        return data_lib.mnist(mnist), "MNIST"
    except FileNotFoundError:
        if mnist:
            raise
        return data_lib.digits(), "8x8 digits (no MNIST found)"


def _tracker(model: MLP, x_probe: jax.Array) -> Callable:
    def track(params):
        _, layers = model.apply(params, x_probe, capture=True)
        stats = [layer_stats(lay["z"], lay["h"]) for lay in layers[:-1]]
        return {k: jnp.stack([s[k] for s in stats]) for k in ("std", "frac_saturated", "mean")}

    return track


# --------------------------------------------------------------------------- deep-relu

RELU_SOURCE = (
    "He et al. 2015, 'Delving Deep into Rectifiers', Fig. 3: a 30-layer ReLU net trains "
    "with their init and stalls with Xavier's; with Xavier the activation std halves per layer"
)


def _deep_relu(
    seeds: int = 3,
    depths: Sequence[int] = (10, 22, 30),
    width: int = 256,
    steps: int = 600,
    lr: float = 0.005,
    batch_size: int = 64,
    mnist: str | None = None,
) -> Report:
    inits = {"xavier": jinit.xavier_normal, "he": jinit.he_normal}
    seed_list = list(range(seeds))
    rows, checks, extra = [], [], {}
    for depth in depths:
        probe_net = MLP([width] * (depth + 1) + [10], output="softmax")
        for name, init in inits.items():
            stds, x_std = layer_std_at_init(probe_net, name, init, seed_list)
            ratio = stds[:, -1] / x_std
            extra[f"layer_std_{name}_depth{depth}"] = stds.mean(axis=0)
            rows.append([str(depth), name, f"{ratio.min():.3g}", f"{ratio.max():.3g}"])
            if depth == max(depths) and name == "xavier":
                checks.append(Check(f"xavier, depth {depth}: last/input activation std "
                                    "(max over seeds)", "halves per layer", float(ratio.max()),
                                    below=1e-3))  # fmt: skip
            elif depth == max(depths):
                checks.append(Check(f"he, depth {depth}: last/input activation std "
                                    "(worst seed)", "constant", _worst(ratio),
                                    below=3.0, above=1 / 3))  # fmt: skip
    extra["activation std of the last hidden layer / input std, at init (min, max over seeds)"] = (
        _align([["depth", "init", "min", "max"], *rows])
    )
    data, data_name = _data_for(mnist)
    deepest = max(depths)
    net = MLP([data.n_features] + [width] * deepest + [data.n_classes], output="softmax")
    r = sweep(
        net,
        inits,
        data,
        optimizer=optax.sgd(lr, momentum=0.9),
        steps=steps,
        seeds=seeds,
        batch_size=batch_size,
        eval_every=max(1, steps // 6),
    )
    acc = r.final("test_acc")
    checks.append(
        Check(f"depth {deepest}: test accuracy, he - xavier (means over seeds)",
              "xavier stalls", float(np.nanmean(acc[1]) - np.nanmean(acc[0])), above=0.2)
    )  # fmt: skip
    return Report(
        "deep-relu",
        sweep_mode(seeds),
        f"Xavier vs He in deep ReLU nets (width {width}, depths {', '.join(map(str, depths))})",
        RELU_SOURCE,
        checks=checks,
        result=r,
        extra=extra,
        notes=[
            f"Training: the depth-{deepest} net on {data_name}, SGD with momentum 0.9, "
            f"lr {lr}, batch {batch_size}, {steps} steps; the paper trains on ImageNet.",
            "Init-time statistics use a batch of 256 N(0, I) inputs of width "
            f"{width} and zero biases.",
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


# --------------------------------------------------------------------------- saturation

SATURATION_SOURCE = (
    "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural "
    "networks', Figs. 2-7: 5 hidden layers, standard U(+-1/sqrt(n)) vs normalized init"
)


def _saturation(
    seeds: int = 5,
    width: int = 256,
    steps: int = 2000,
    lr: float = 0.05,
    batch_size: int = 32,
    mnist: str | None = None,
) -> Report:
    inits = {"standard": jinit.torch_default, "normalized": jinit.xavier_uniform}
    data, data_name = _data_for(mnist)
    x_probe = jnp.asarray(data.x_test[:256])
    reports, extra, checks = {}, {}, []
    results = {}
    for activation in ("sigmoid", "tanh"):
        net = MLP([data.n_features] + [width] * 5 + [data.n_classes], activation, "softmax")
        r = sweep(
            net,
            inits,
            data,
            optimizer=optax.sgd(lr),
            steps=steps,
            seeds=seeds,
            batch_size=batch_size,
            eval_every=max(1, steps // 10),
            track=_tracker(net, x_probe),
        )
        results[activation] = r
        sat = r.tracked["frac_saturated"]  # [inits, seeds, evals, layers]
        rows = []
        for i, name in enumerate(r.inits):
            for e in (0, sat.shape[2] // 2, sat.shape[2] - 1):
                per_layer = sat[i, :, e].mean(axis=0)
                rows.append([name, str(int(r.eval_steps[e]))] + [f"{v:.2f}" for v in per_layer])
        header = ["init", "step"] + [f"layer {k + 1}" for k in range(sat.shape[-1])]
        extra[f"{activation}: fraction of saturated units per layer (mean over seeds)"] = _align(
            [header, *rows]
        )
        reports[activation] = r
    sig = results["sigmoid"]
    top_mean = sig.tracked["mean"][:, :, :, -1]  # top hidden layer's mean activation
    checks.append(
        Check("sigmoid, standard init: top hidden layer mean activation early in training",
              "near 0 (saturated, paper Fig. 2)", float(top_mean[0, :, 1].mean()), None)
    )  # fmt: skip
    tanh_acc = results["tanh"].final("test_acc")
    checks.append(
        Check("tanh: test accuracy, normalized - standard (means over seeds)", "normalized "
              "learns faster", float(np.nanmean(tanh_acc[1]) - np.nanmean(tanh_acc[0])), above=0)
    )  # fmt: skip
    return Report(
        "saturation",
        sweep_mode(seeds),
        "Saturation in 5-layer sigmoid and tanh nets: standard vs normalized init",
        SATURATION_SOURCE,
        checks=checks,
        result=results["tanh"],
        extra=extra | {"sigmoid": results["sigmoid"].table(), "tanh": results["tanh"].table()},
        notes=[
            f"Data: {data_name} (the paper uses Shapeset-3x2); {width} units per layer (the "
            f"paper 1000); SGD lr {lr}, batch {batch_size}, {steps} steps.",
            "'standard' is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (jinit.torch_default); "
            "'normalized' is Glorot's U(+-sqrt(6/(fan_in+fan_out))).",
            "Saturated: |tanh| > 0.99, or sigmoid below 0.01 or above 0.99, on 256 test inputs.",
            "The summary table shown is the tanh net's; the sigmoid net's is in the extras.",
        ],
    )


register(
    Experiment(
        "saturation",
        "Glorot & Bengio 2010: saturation with standard vs normalized init",
        SATURATION_SOURCE,
        None,
        _saturation,
        default_seeds=5,
    )
)


# --------------------------------------------------------------------------- deep-linear

LINEAR_SOURCE = (
    "Saxe, McClelland & Ganguli 2014, 'Exact solutions to the nonlinear dynamics of learning "
    "in deep linear neural networks', Fig. 6: learning time vs depth, orthogonal vs Gaussian"
)


def linear_task(width: int = 32, n: int = 512, seed: int = 0):
    """Regression onto a random orthogonal map: y = A x (one output per input direction)."""
    kx, ka = jax.random.split(jax.random.key(seed))
    x = np.asarray(jax.random.normal(kx, (2 * n, width)))
    a = np.asarray(jinit.orthogonal(ka, (width, width)))
    y = x @ a
    return x[:n], y[:n], x[n:], y[n:]


def _steps_to(loss: np.ndarray, eval_steps: np.ndarray, target: float) -> np.ndarray:
    """First eval step at which ``loss`` (..., evals) is below ``target`` (inf if never)."""
    hit = loss <= target
    first = np.where(hit.any(-1), hit.argmax(-1), -1)
    return np.where(first >= 0, eval_steps[np.maximum(first, 0)], np.inf)


def _deep_linear(
    seeds: int = 5,
    depths: Sequence[int] = (2, 4, 8, 16, 32, 64),
    width: int = 32,
    steps: int = 3000,
    lr: float = 0.01,
    target: float = 0.05,
) -> Report:
    x, y, xt, yt = linear_task(width)
    inits = {
        "orthogonal": jinit.orthogonal,
        "gaussian": functools.partial(jinit.normal, stddev=1 / math.sqrt(width)),
    }
    rows, checks, table = [], [], {}

    def init_fn(net):
        return lambda key, w, b: net.init(key, w, jinit.zeros)

    for depth in depths:
        net = MLP([width] * (depth + 1), activation="linear", output="linear")
        mse = lambda logits, labels: jnp.mean(jnp.sum((logits - labels) ** 2, -1)) / 2  # noqa: E731
        r = sweep(
            (init_fn(net), net.apply),
            inits,
            _regression_dataset(x, y, xt, yt),
            optimizer=optax.sgd(lr),
            loss=mse,
            steps=steps,
            seeds=seeds,
            eval_every=max(1, steps // 100),
        )
        loss = r.metrics["train_loss"] / r.metrics["train_loss"][:, :, :1]  # relative to start
        t = _steps_to(loss, r.eval_steps, target)  # [inits, seeds]
        table[depth] = t
        rows.append([str(depth)] + [_median_steps(t[i]) for i in range(len(inits))])
    header = ["depth", *(f"{name}: median steps" for name in inits)]
    extra = {f"steps until the loss falls to {target:g} of its initial value": _align(
        [header, *rows])}  # fmt: skip
    deep, shallow = max(depths), min(depths)
    orth = [np.median(table[d][0]) for d in (shallow, deep)]
    gauss = [np.median(table[d][1]) for d in (shallow, deep)]
    checks.append(Check(f"orthogonal: median steps, depth {deep} / depth {shallow}",
                        "depth-independent", _slowdown(orth), below=2.0))  # fmt: skip
    checks.append(Check(f"gaussian: median steps, depth {deep} / depth {shallow}",
                        "grows with depth", _slowdown(gauss), above=2.0))  # fmt: skip
    notes = []
    if math.isinf(orth[0]) or math.isinf(gauss[0]):
        notes.append(
            f"Depth {shallow} did not reach the target within {steps} steps, so learning time "
            "cannot be compared across depths (the ratios are nan): run with more steps."
        )
    return Report(
        "deep-linear",
        sweep_mode(seeds),
        f"Deep linear nets (width {width}): learning time vs depth",
        LINEAR_SOURCE,
        checks=checks,
        extra=extra,
        notes=[
            f"Task: regress y = A x with A a random orthogonal {width}x{width} map, "
            f"512 examples, full-batch SGD lr {lr}; biases start at zero.",
            "'gaussian' is N(0, 1/width): norm-preserving on average but not an isometry, so "
            "its product of matrices has a spreading singular-value spectrum as depth grows.",
            *notes,
        ],
    )


def _slowdown(steps: list[float]) -> float:
    """Median steps at the deepest over the shallowest depth: inf if only the deepest never
    reaches the target, nan if the shallowest never does (no baseline to compare with)."""
    shallow, deep = steps
    return math.nan if math.isinf(shallow) else deep / shallow


def _median_steps(t: np.ndarray) -> str:
    m = float(np.median(t))
    return "never" if math.isinf(m) else f"{m:.0f}"


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
