"""Coursera Deep Learning Specialization: "Initialization" (course 2 week 1) and "Planar data"
(course 1 week 3)."""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit import data as data_lib
from jinit import losses
from jinit.engine import sweep
from jinit.experiments import Experiment, register
from jinit.report import Check, Report, sweep_mode

CIRCLES_DIMS = (2, 10, 5, 1)
LN2 = math.log(2)


def course_weights(kind: str, dims: tuple[int, ...], seed: int = 3) -> list[np.ndarray]:
    """The course's initializers, drawn as it draws them.

    ``np.random.seed(seed)`` then one ``randn(n[l], n[l-1])`` per layer (course layout
    (out, in)), times 10 (``"random"``), ``sqrt(2 / n[l-1])`` (``"he"``), ``0.01``
    (``"small"``) or ``sqrt(1 / n[l-1])`` (``"xavier"``, the course's name for LeCun); or
    zeros.
    """
    rng = np.random.RandomState(seed)  # the same stream as np.random.seed(seed)
    scale = {
        "random": lambda n_in: 10.0,
        "he": lambda n_in: math.sqrt(2.0 / n_in),
        "small": lambda n_in: 0.01,
        "xavier": lambda n_in: math.sqrt(1.0 / n_in),
    }
    ws = []
    for n_out, n_in in zip(dims[1:], dims[:-1], strict=True):
        if kind == "zeros":
            ws.append(np.zeros((n_out, n_in)))
        else:
            ws.append(rng.randn(n_out, n_in) * scale[kind](n_in))
    return ws


def as_params(weights: list[np.ndarray]) -> list[dict]:
    """Course-layout weights (out, in) as jinit MLP parameters with a seed axis of one."""
    return [
        {"kernel": jnp.asarray(w.T[None], jnp.float32), "bias": jnp.zeros((1, w.shape[0]))}
        for w in weights
    ]


# --------------------------------------------------------------------------- coursera-init

INIT_SOURCE = (
    "Coursera DLS course 2 week 1 'Initialization' (seed 003): make_circles data, "
    "[2,10,5,1] ReLU net, full-batch GD lr 0.01, 15000 iterations"
)


def _coursera_faithful(steps: int = 15000) -> Report:
    data = data_lib.coursera_circles()
    inits = {k: as_params(course_weights(k, CIRCLES_DIMS)) for k in ("zeros", "random", "he")}
    r = sweep(
        jinit.models.MLP(CIRCLES_DIMS),
        inits,
        data,
        optimizer=optax.sgd(0.01),
        steps=steps,
        seeds=1,
        eval_every=1000,
        extra_metrics={"course_cost": losses.course_cost},
    )
    cost = r.metrics["train_course_cost"][:, 0]
    at = {int(s): i for i, s in enumerate(r.eval_steps)}
    checks = []
    if 14000 in at:
        e = at[14000]
        checks += [
            Check("He: cost at iteration 0", 0.8830537463419761, cost[2, 0], 1e-5),
            Check("He: cost at iteration 14000", 0.07357895962677366, cost[2, e], 1e-3),
            Check("zeros: cost at iteration 0", LN2, cost[0, 0], 1e-6),
            Check("zeros: cost at iteration 14000", LN2, cost[0, e], 1e-6),
            Check("random x10: cost at iteration 0", math.inf, cost[1, 0], 0.0),
            Check("random x10: cost at iteration 14000", 0.38278, cost[1, e], 3e-3,
                  "chaotic path: +-0.002 between platforms"),
        ]  # fmt: skip
    acc = {"train": r.final("train_acc")[:, 0], "test": r.final("test_acc")[:, 0]}
    for i, name, train, test in ((2, "He", 0.99333, 0.96), (0, "zeros", 0.5, 0.5),
                                 (1, "random x10", 0.83, 0.86)):  # fmt: skip
        checks.append(Check(f"{name}: train accuracy", train, acc["train"][i], 0.5 / 300 + 1e-6))
        checks.append(Check(f"{name}: test accuracy", test, acc["test"][i], 0.5 / 100 + 1e-6))
    return Report(
        "coursera-init",
        "faithful",
        "Zeros vs large random vs He initialization (Coursera, seed 3)",
        INIT_SOURCE,
        checks=checks,
        result=r,
        notes=[
            "Weights are the course's own NumPy draws (np.random.seed(3), layout (out, in)), "
            "transposed into jinit's (in, out) kernels; training runs in float32 JAX.",
            "The course's cost is inf at iteration 0 for x10 (sigmoid outputs saturate to "
            "exactly 1.0); jinit's training loss is computed from logits and stays finite.",
            "Seed 003's text labels the random init '*0.01' and mixes train and test "
            "accuracies (0.83 is x10's train accuracy, 0.96 He's test accuracy).",
        ],
    )


SWEEP_INITS = {
    "zeros": jinit.zeros,
    "small x0.01": functools.partial(jinit.normal, stddev=0.01),
    "large x10": functools.partial(jinit.normal, stddev=10.0),
    "lecun": jinit.lecun_normal,
    "xavier": jinit.xavier_normal,
    "he": jinit.he_normal,
}


def _coursera_sweep(seeds: int = 100, steps: int = 15000, lr: float = 0.01) -> Report:
    r = sweep(
        jinit.models.MLP(CIRCLES_DIMS),
        SWEEP_INITS,
        data_lib.coursera_circles(),
        optimizer=optax.sgd(lr),
        steps=steps,
        seeds=seeds,
        eval_every=max(1, steps // 15),
    )
    med = {name: float(np.median(r.final("train_acc")[i])) for i, name in enumerate(r.inits)}
    checks = [
        Check("He: median train accuracy", 0.98, med["he"], None,
              "published over NumPy seeds 0-9 (min 0.67, max 0.99)"),
        Check("lecun ('Xavier' in the course): median train accuracy", 0.99, med["lecun"], None,
              "NumPy seeds 0-9 (min 0.53)"),
        Check("large x10: median train accuracy", 0.73, med["large x10"], None,
              "NumPy seeds 0-9 (0.55 .. 0.89)"),
        Check("small x0.01: median train accuracy", 0.5, med["small x0.01"], None,
              "never leaves cost 0.6931 in the course"),
    ]  # fmt: skip
    return Report(
        "coursera-init",
        sweep_mode(seeds),
        "Which init trains the Coursera circles net, across seeds",
        INIT_SOURCE,
        checks=checks,
        result=r,
        fail_below=0.9,
        notes=[
            "A run fails if it diverges, stays at its initial loss, or ends below 90% train "
            "accuracy. Weights are drawn by jinit (JAX PRNG, not NumPy), so the published "
            "medians over NumPy seeds 0-9 are context, not a pass/fail target.",
            "'lecun' is N(0, 1/n_in), what the course calls Xavier; 'xavier' is Glorot's "
            "N(0, 2/(n_in+n_out)).",
        ],
    )


register(
    Experiment(
        "coursera-init",
        "Zeros vs large random vs He on the Coursera circles (REFERENCE 1)",
        INIT_SOURCE,
        _coursera_faithful,
        _coursera_sweep,
    )
)


# --------------------------------------------------------------------------- planar

PLANAR_SOURCE = (
    "Coursera DLS course 1 week 3 'Planar data' (seed 001): flower data, 2-4-1 tanh net, "
    "randn*0.01, full-batch GD lr 1.2, 10000 iterations"
)
PLANAR_DIMS = (2, 4, 1)


def _hidden_units_distinct(params: list[dict]) -> int:
    """Distinct hidden units of a 2-4-1 net (incoming weights, bias and outgoing weight)."""
    from jinit.diagnostics import symmetry

    return symmetry(params)[0]


def _planar_faithful(steps: int = 10000) -> Report:
    data = data_lib.planar_flower()
    inits = {
        "randn*0.01": as_params(course_weights("small", PLANAR_DIMS, seed=2)),
        "zeros": as_params(course_weights("zeros", PLANAR_DIMS)),
    }
    r = sweep(
        jinit.models.MLP(PLANAR_DIMS, activation="tanh"),
        inits,
        data,
        optimizer=optax.sgd(1.2),
        steps=steps,
        seeds=1,
        eval_every=1000,
        extra_metrics={"course_cost": losses.course_cost},
        keep_params=True,
    )
    cost = r.metrics["train_course_cost"][:, 0]
    at = {int(s): i for i, s in enumerate(r.eval_steps)}
    checks = [Check("randn*0.01: cost at iteration 0", 0.693048, cost[0, 0], 1e-5)]
    if 9000 in at:
        checks.append(Check("randn*0.01: cost at iteration 9000", 0.2186, cost[0, at[9000]], 2e-3))
    checks += [
        Check("randn*0.01: accuracy (training set)", 0.90, r.final("train_acc")[0, 0], 0.01),
        Check("zeros: cost at every iteration (max |cost - ln 2|)", 0.0,
              float(np.max(np.abs(cost[1] - LN2))), 1e-6),
        Check("zeros: accuracy", 0.5, r.final("train_acc")[1, 0], 1e-6),
    ]  # fmt: skip
    distinct = {
        name: _hidden_units_distinct([{k: v[i, 0] for k, v in layer.items()} for layer in r.params])
        for i, name in enumerate(r.inits)
    }
    checks.append(Check("zeros: distinct hidden units after training", 1, distinct["zeros"], 0))
    checks.append(
        Check("randn*0.01: distinct hidden units after training", 4, distinct["randn*0.01"], 0)
    )
    return Report(
        "planar",
        "faithful",
        "Small random vs zeros on the planar flower (Coursera, seed 2)",
        PLANAR_SOURCE,
        checks=checks,
        result=r,
        notes=[
            "Zero init never breaks the symmetry: all four hidden units keep identical "
            "weights, so the net is a one-unit net and its cost stays at ln 2.",
            "The course measures accuracy on the training set; the test split here is the "
            "same 400 points.",
        ],
    )


def _planar_sweep(seeds: int = 100, steps: int = 10000, lr: float = 1.2) -> Report:
    inits = {
        "zeros": jinit.zeros,
        "small x0.01": functools.partial(jinit.normal, stddev=0.01),
        "lecun": jinit.lecun_normal,
        "xavier": jinit.xavier_normal,
        "he": jinit.he_normal,
    }
    r = sweep(
        jinit.models.MLP(PLANAR_DIMS, activation="tanh"),
        inits,
        data_lib.planar_flower(),
        optimizer=optax.sgd(lr),
        steps=steps,
        seeds=seeds,
        eval_every=max(1, steps // 10),
    )
    return Report(
        "planar",
        sweep_mode(seeds),
        "Planar flower, 2-4-1 tanh: inits across seeds",
        PLANAR_SOURCE,
        result=r,
        fail_below=0.85,
        notes=["A run fails if it diverges, stays at its initial loss or ends below 85%."],
    )


register(
    Experiment(
        "planar",
        "Symmetry: randn*0.01 vs zeros on the planar flower (REFERENCE 2)",
        PLANAR_SOURCE,
        _planar_faithful,
        _planar_sweep,
    )
)
