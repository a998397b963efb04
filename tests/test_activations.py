"""jinit.activations: the one table and the one Gaussian expectation, against scipy.integrate."""

from __future__ import annotations

import ast
import itertools
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from jinit import activations
from jinit._validate import did_you_mean


def quad(f, q: float = 1.0, breaks=(0.0,)) -> float:
    """E[f(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature split at ``breaks``."""
    s = math.sqrt(q)
    edges = [-np.inf, *sorted(b / s for b in breaks), np.inf]
    return sum(
        integrate.quad(lambda z: f(s * z) * stats.norm.pdf(z), a, b, epsabs=1e-14, limit=200)[0]
        for a, b in itertools.pairwise(edges)
    )


@pytest.mark.parametrize(
    ("name", "f_np", "q"),
    [
        ("relu", lambda u: max(u, 0.0) ** 2, 1.0),
        ("tanh", lambda u: math.tanh(u) ** 2, 2.5),
        ("relu6", lambda u: min(max(u, 0.0), 6.0) ** 2, 20.0),
        ("hard_tanh", lambda u: min(max(u, -1.0), 1.0) ** 2, 0.7),
        ("erf", lambda u: math.erf(u) ** 2, 1.0),
    ],
)
def test_expectation_matches_scipy_quad(name, f_np, q):
    fn = activations.TABLE[name].fn
    kinks = activations.TABLE[name].kinks or (0.0,)
    got = activations.expectation(lambda u: fn(u) ** 2, q, kinks)
    assert got == pytest.approx(quad(f_np, q, kinks), rel=1e-10, abs=1e-14)


def test_expectation_is_float64_exact_at_a_kink():
    assert abs(activations.expectation(lambda u: jax.nn.relu(u) ** 2) - 0.5) < 1e-14


@pytest.mark.parametrize("fn", [lambda x: jnp.exp(x**2), lambda x: jnp.exp(0.4 * x**2)])
def test_divergent_expectation_raises(fn):
    # E[exp(z^2)] is infinite; E[exp(0.4 z^2)] is finite but its integrand decays so slowly
    # that [-12, 12] would truncate it: both refuse rather than return a truncated number.
    with pytest.raises(activations.DivergentExpectation, match="does not converge"):
        activations.expectation(fn)


def test_expectation_bad_variance():
    with pytest.raises(ValueError, match="variance q must be finite"):
        activations.expectation(jnp.tanh, -1.0)


def test_table_rows_and_lookup():
    assert activations.lookup("relu").kinks == (0.0,)
    assert activations.lookup(jax.nn.relu6).name == "relu6"  # a table function by identity
    assert activations.lookup(lambda x: x).kinks == (0.0,)  # unknown callables: a kink at 0
    assert activations.activation_fn("tanh") is jnp.tanh
    assert activations.name_of(jax.nn.silu) == "silu" and activations.name_of(None) is None
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'\. Did you mean 'relu'"):
        activations.lookup("rleu")
    with pytest.raises(TypeError, match="expected an activation name or a callable"):
        activations.lookup(3)


@pytest.mark.parametrize(
    ("activation", "kind"),
    [("tanh", "tanh"), (jnp.tanh, "tanh"), ("hard_tanh", "tanh"), ("soft_sign", "tanh"),
     ("sigmoid", "sigmoid"), (jax.nn.hard_sigmoid, "sigmoid"), ("relu", None), (None, None),
     (lambda x: x, None)],
)  # fmt: skip
def test_saturation_kind(activation, kind):
    assert activations.saturation_kind(activation) == kind


def test_torch_gain_table():
    assert activations.torch_gain("conv2d") == 1.0
    assert activations.torch_gain("tanh") == 5 / 3
    assert activations.torch_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert set(activations.TORCH_GAIN_NAMES) <= {*activations.TABLE, *(
        f"conv{t}{d}d" for t in ("", "_transpose") for d in (1, 2, 3))}  # fmt: skip


def test_phi_is_float64_and_elementwise():
    phi = activations.Phi("sigmoid")
    out = phi(np.array([40.0]))
    assert out.dtype == np.float64 and 1 - out[0] < 1e-16  # float32 would give exactly 1
    assert phi.slope(np.array([0.0]))[0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="must be elementwise"):
        activations.Phi(jnp.sum)(np.ones(3))


def test_did_you_mean_one_line():
    err = did_you_mean("fan_inn", ["fan_in", "fan_out"], "mode", accepted="Available")
    assert str(err) == "unknown mode 'fan_inn'. Did you mean 'fan_in'? Available: fan_in, fan_out."
    assert "Did you mean" not in str(did_you_mean("zzz", ["a", "b"], "x"))


def test_meanfield_and_gain_import_no_model_module():
    root = pathlib.Path(activations.__file__).parent
    for module in ("meanfield.py", "gain.py", "activations.py"):
        tree = ast.parse((root / module).read_text())
        imported = {
            getattr(node, "module", None) or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not any("models" in (m or "") for m in imported), (module, imported)
