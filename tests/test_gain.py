"""jinit.gain: PyTorch's table, and variance-preserving gains of callables.

Table values are PyTorch's ``calculate_gain`` constants written out here. Callable gains are
checked against ``scipy.integrate.quad`` of f(z)^2 times the standard normal density, with
f re-implemented in NumPy float64 in this file, and against closed forms.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

import jinit


def quad_gain(f_np) -> float:
    """1 / sqrt(E[f(z)^2]), z ~ N(0, 1), by adaptive quadrature split at the kink z = 0."""
    pieces = [(-np.inf, 0.0), (0.0, np.inf)]
    m2 = sum(
        integrate.quad(lambda z: f_np(z) ** 2 * stats.norm.pdf(z), a, b, epsabs=1e-13)[0]
        for a, b in pieces
    )
    return 1.0 / math.sqrt(m2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("linear", 1.0),
        ("identity", 1.0),
        ("sigmoid", 1.0),
        ("conv1d", 1.0),
        ("conv2d", 1.0),
        ("conv3d", 1.0),
        ("conv_transpose1d", 1.0),
        ("conv_transpose2d", 1.0),
        ("conv_transpose3d", 1.0),
        ("tanh", 5 / 3),
        ("relu", math.sqrt(2)),
        ("leaky_relu", math.sqrt(2 / (1 + 0.01**2))),
        ("selu", 3 / 4),
    ],
)
def test_pytorch_table(name, expected):
    assert jinit.gain(name) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, 5.0, -0.3])
def test_leaky_relu_param(slope):
    assert jinit.gain("leaky_relu", slope) == pytest.approx(
        math.sqrt(2 / (1 + slope**2)), rel=1e-15
    )


def test_leaky_relu_slope_one_is_linear():
    assert jinit.gain("leaky_relu", 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("slope", [float("nan"), float("inf"), "0.1", True])
def test_leaky_relu_bad_param(slope):
    with pytest.raises(ValueError, match="negative slope must be a finite number"):
        jinit.gain("leaky_relu", slope)


def test_param_only_for_leaky_relu():
    with pytest.raises(ValueError, match="param applies only to leaky_relu"):
        jinit.gain("relu", 0.1)
    with pytest.raises(ValueError, match="param applies only to named"):
        jinit.gain(jax.nn.relu, 0.1)


@pytest.mark.parametrize(
    ("typo", "suggestion"), [("rleu", "'relu'"), ("tahn", "'tanh'"), ("leaky", "'leaky_relu'")]
)
def test_unknown_name_lists_close_matches(typo, suggestion):
    with pytest.raises(ValueError, match="unknown nonlinearity") as info:
        jinit.gain(typo)
    msg = str(info.value)
    assert f"Did you mean {suggestion}" in msg or f"{suggestion}?" in msg
    assert "Accepted names:" in msg and "leaky_relu" in msg and "or pass a callable" in msg


def test_unknown_name_without_close_match_still_lists_names():
    with pytest.raises(ValueError, match=r"Accepted names: linear.*selu") as info:
        jinit.gain("zzzzzzzz")
    assert "Did you mean" not in str(info.value)


def test_not_a_name_or_callable():
    with pytest.raises(TypeError, match="expected a name or a callable"):
        jinit.gain(3)


def _gelu_tanh(z):
    return 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)))


def _selu(z):
    alpha, lam = 1.6732632423543772, 1.0507009873554805
    return lam * (z if z > 0 else alpha * math.expm1(z))


@pytest.mark.parametrize(
    ("fn", "f_np"),
    [
        (jax.nn.relu, lambda z: max(z, 0.0)),
        (jnp.tanh, np.tanh),
        (jax.nn.gelu, _gelu_tanh),  # jax.nn.gelu defaults to the tanh approximation
        (lambda x: jax.nn.gelu(x, approximate=False), lambda z: z * stats.norm.cdf(z)),
        (jax.nn.sigmoid, special.expit),
        (jax.nn.selu, _selu),
        (jax.nn.softplus, lambda z: math.log1p(math.exp(-abs(z))) + max(z, 0.0)),
        (lambda x: jnp.where(x > 0, x, 0.2 * x), lambda z: z if z > 0 else 0.2 * z),
        (lambda x: 3 * jnp.sin(x) + 1, lambda z: 3 * math.sin(z) + 1),
    ],
    ids=["relu", "tanh", "gelu", "gelu_exact", "sigmoid", "selu", "softplus", "lambda_leaky",
         "lambda_sin"],
)  # fmt: skip
def test_callable_gain_matches_quad(fn, f_np):
    assert jinit.gain(fn) == pytest.approx(quad_gain(f_np), rel=1e-6)


def test_relu_gain_is_sqrt2():
    assert abs(jinit.gain(jax.nn.relu) - math.sqrt(2)) < 1e-6


def test_identity_gain_is_one():
    assert abs(jinit.gain(lambda x: x) - 1) < 1e-6


def test_closed_forms():
    # E[(c z)^2] = c^2; E[sin(z)^2] = (1 - e^{-2}) / 2; E[|z|^p] for leaky: (1 + a^2) / 2.
    assert jinit.gain(lambda x: 4 * x) == pytest.approx(0.25, rel=1e-7)
    assert jinit.gain(jnp.sin) == pytest.approx(1 / math.sqrt((1 - math.exp(-2)) / 2), rel=1e-6)
    a = 0.01
    assert jinit.gain(lambda x: jax.nn.leaky_relu(x, a)) == pytest.approx(
        jinit.gain("leaky_relu", a), rel=1e-6
    )


@pytest.mark.parametrize(
    "fn", [jnp.sum, lambda x: x[:10], lambda x: jnp.stack([x, x]), lambda x: x.mean(keepdims=True)]
)
def test_non_elementwise_callable(fn):
    with pytest.raises(ValueError, match="must be elementwise"):
        jinit.gain(fn)


@pytest.mark.parametrize("fn", [jnp.zeros_like, lambda x: jnp.exp(x**2)])
def test_callable_without_finite_positive_second_moment(fn):
    with pytest.raises(ValueError, match="finite, positive second moment"):
        jinit.gain(fn)
