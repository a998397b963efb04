"""The hand-written sigmoid cross-entropy against optax, a float64 NumPy reference and its
gradient ``sigmoid(z) - y``."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.special import expit

from jinit import losses

Z = np.array([-1e30, -200.0, -30.0, -3.0, -1e-3, 0.0, 1e-3, 0.5, 3.0, 30.0, 200.0, 1e30],
             np.float32)  # fmt: skip


def reference(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """-[y log s(z) + (1 - y) log(1 - s(z))] in float64, via logaddexp."""
    z, y = z.astype(np.float64), y.astype(np.float64)
    return y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)


@pytest.mark.parametrize("label", [0.0, 1.0, 0.3])
def test_sigmoid_xent_matches_a_float64_reference_and_optax(label):
    y = np.full_like(Z, label)
    got = np.asarray(losses.sigmoid_xent(jnp.asarray(Z), jnp.asarray(y)))
    np.testing.assert_allclose(got, reference(Z, y), rtol=2e-6, atol=1e-6)
    finite = np.abs(Z) < 1e3  # optax's log_sigmoid form loses 1e30 - 1e30 differently
    want = np.asarray(optax.sigmoid_binary_cross_entropy(jnp.asarray(Z), jnp.asarray(y)))
    np.testing.assert_allclose(got[finite], want[finite], rtol=2e-6, atol=1e-6)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_sigmoid_xent_gradient_is_sigmoid_minus_label(label):
    y = jnp.full(Z.shape, label)
    grad = jax.grad(lambda z: losses.sigmoid_xent(z, y).sum())(jnp.asarray(Z))
    want = expit(Z.astype(np.float64)) - label
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-6, atol=1e-7)


def test_binary_cross_entropy_is_the_batch_mean_of_sigmoid_xent():
    z = jnp.asarray(Z[2:-2]).reshape(-1, 1)
    y = jnp.asarray(np.arange(z.shape[0]) % 2, jnp.int32)
    got = float(losses.binary_cross_entropy(z, y))
    assert got == pytest.approx(reference(Z[2:-2], np.arange(z.shape[0]) % 2).mean(), rel=1e-6)
    wrong = float(losses.binary_cross_entropy(z, 1 - y))  # labels flipped: a different loss
    assert abs(wrong - got) > 1.0


def test_sigmoid_xent_has_a_second_derivative():
    z = jnp.asarray(Z[1:-1])
    hess = jax.vmap(jax.grad(jax.grad(lambda a: losses.sigmoid_xent(a, jnp.asarray(1.0)))))(z)
    s = expit(Z[1:-1].astype(np.float64))
    np.testing.assert_allclose(np.asarray(hess), s * (1 - s), rtol=1e-5, atol=1e-7)
