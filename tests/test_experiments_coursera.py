"""The Coursera "Initialization" reproduction: the course's weights, its reference table and a
float64 NumPy re-implementation of its training loop (moved from test_sweep.py)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit.engine import sweep

LN2 = math.log(2)


# --------------------------------------------------------------------------- helpers


def course_weights(kind: str, dims=(2, 10, 5, 1)) -> list[np.ndarray]:
    """The Coursera initializers (np.random.seed(3), one randn per layer, W shape (out, in))."""
    np.random.seed(3)
    ws = []
    for l in range(1, len(dims)):
        if kind == "zeros":
            ws.append(np.zeros((dims[l], dims[l - 1])))
        elif kind == "random":
            ws.append(np.random.randn(dims[l], dims[l - 1]) * 10)
        else:
            ws.append(np.random.randn(dims[l], dims[l - 1]) * np.sqrt(2.0 / dims[l - 1]))
    return ws


def as_jinit_params(ws: list[np.ndarray]) -> list[dict]:
    """Course layout (out, in) -> jinit kernels (in, out), with a leading seed axis of 1."""
    return [
        {"kernel": jnp.asarray(w.T[None], jnp.float32), "bias": jnp.zeros((1, w.shape[0]))}
        for w in ws
    ]


def numpy_course_loop(ws, x, y, lr=0.01, iters=15000):
    """The course's model(): forward, nansum cost, backward, update; float64 NumPy."""
    W = [w.copy() for w in ws]
    b = [np.zeros((w.shape[0], 1)) for w in ws]
    X, Y = x.T.astype(np.float64), y.reshape(1, -1).astype(np.float64)
    m = X.shape[1]
    costs = {}
    for i in range(iters):
        a, cache = X, []
        for l in range(len(W)):
            z = W[l] @ a + b[l]
            cache.append((a, z))
            a = np.maximum(z, 0) if l < len(W) - 1 else 1 / (1 + np.exp(-z))
        if i % 1000 == 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                logp = np.multiply(-np.log(a), Y) + np.multiply(-np.log(1 - a), 1 - Y)
            costs[i] = 1.0 / m * np.nansum(logp)
        dz = a - Y  # sigmoid + cross-entropy
        for l in reversed(range(len(W))):
            a_prev, _ = cache[l]
            dW = dz @ a_prev.T / m
            db = dz.sum(axis=1, keepdims=True) / m
            if l > 0:
                dz = (W[l].T @ dz) * (cache[l - 1][1] > 0)
            W[l] -= lr * dW
            b[l] -= lr * db

    def accuracy(xx, yy):
        a = xx.T
        for l in range(len(W)):
            z = W[l] @ a + b[l]
            a = np.maximum(z, 0) if l < len(W) - 1 else 1 / (1 + np.exp(-z))
        return float(np.mean((a > 0.5) == yy.reshape(1, -1)))

    return costs, accuracy


# --------------------------------------------------------------------------- faithful


@pytest.fixture(scope="module")
def coursera_result():
    data = jinit.data.coursera_circles()
    inits = {k: as_jinit_params(course_weights(k)) for k in ("zeros", "random", "he")}
    return data, sweep(
        jinit.models.MLP([2, 10, 5, 1]),
        inits,
        data,
        optimizer=optax.sgd(0.01),
        steps=15000,
        seeds=1,
        eval_every=1000,
        extra_metrics={"course_cost": jinit.losses.course_cost},
    )


def test_course_weights_match_reference_unit_tests():
    # REFERENCE.md: the course's unit-test arrays for random([3,2,1]) and he([2,4,1]).
    rnd = course_weights("random", (3, 2, 1))
    np.testing.assert_allclose(
        rnd[0],
        [[17.88628473, 4.36509851, 0.96497468], [-18.63492703, -2.77388203, -3.54758979]],
        atol=1e-8,
    )
    np.testing.assert_allclose(rnd[1], [[-0.82741481, -6.27000677]], atol=1e-8)
    he = course_weights("he", (2, 4, 1))
    np.testing.assert_allclose(
        he[1], [[-0.03098412, -0.33744411, -0.92904268, 0.62552248]], atol=1e-8
    )


def test_faithful_coursera_reference_table(coursera_result):
    _, r = coursera_result
    z, rnd, he = 0, 1, 2
    cost = r.metrics["train_course_cost"]
    assert list(r.eval_steps[:15]) == list(range(0, 15000, 1000))
    # He: 0.8830537 at 0, 0.0735790 at 14000; 0.99333 / 0.96 (REFERENCE.md table).
    assert cost[he, 0, 0] == pytest.approx(0.8830537463419761, abs=1e-5)
    assert cost[he, 0, 14] == pytest.approx(0.07357895962677366, abs=1e-3)
    assert r.final("train_acc")[he, 0] == pytest.approx(0.99333, abs=1e-4)
    assert r.final("test_acc")[he, 0] == pytest.approx(0.96)
    # zeros: ln 2 throughout, 0.5 / 0.5.
    np.testing.assert_allclose(cost[z, 0], LN2, atol=1e-6)
    assert r.final("train_acc")[z, 0] == 0.5 and r.final("test_acc")[z, 0] == 0.5
    # x10: the course cost is inf at 0 (outputs saturate), 0.38278 +- 0.002 at 14000.
    assert np.isinf(cost[rnd, 0, 0])
    assert np.isfinite(r.metrics["train_loss"][rnd, 0, 0])  # the stable loss stays finite
    assert cost[rnd, 0, 14] == pytest.approx(0.38278, abs=3e-3)
    assert r.final("train_acc")[rnd, 0] == pytest.approx(0.83, abs=1e-9 + 1 / 300)
    assert r.final("test_acc")[rnd, 0] == pytest.approx(0.86, abs=0.011)
    assert not r.diverged.any()


def test_faithful_coursera_matches_numpy_loop(coursera_result):
    data, r = coursera_result
    costs, accuracy = numpy_course_loop(course_weights("he"), data.x_train, data.y_train)
    he = 2
    for it in (0, 1000, 7000, 14000):
        assert r.metrics["train_course_cost"][he, 0, it // 1000] == pytest.approx(
            costs[it], abs=1e-3
        )
    assert accuracy(data.x_train, data.y_train) == pytest.approx(r.final("train_acc")[he, 0])
    assert accuracy(data.x_test, data.y_test) == pytest.approx(r.final("test_acc")[he, 0])
