"""jinit.meanfield against closed forms and independent quadrature; jinit.gain.random_walk_gain.

Independent references: scipy.integrate.quad of NumPy re-implementations of the activations,
the arc-cosine kernel of ReLU (Cho & Saul 2009), published critical points (Schoenholz et
al. 2017: tanh with sb2 = 0.05 at sw2 ~ 1.76; He et al. 2015: ReLU at 2), and the exact
zero-drift condition of Sussillo & Abbott's random walk from digamma functions.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from jinit import meanfield as mf
from jinit.gain import random_walk_gain


def gauss(f, q: float) -> float:
    """E[f(sqrt(q) z)], z ~ N(0, 1), by adaptive quadrature split at 0."""
    s = math.sqrt(q)
    return sum(
        integrate.quad(lambda z: f(s * z) * stats.norm.pdf(z), a, b, epsabs=1e-14, limit=200)[0]
        for a, b in ((-np.inf, 0.0), (0.0, np.inf))
    )


def relu(u):
    return max(u, 0.0)


def test_variance_map_matches_quadrature():
    assert mf.variance_map(1.0, 2.0, 0.0, "relu") == pytest.approx(1.0, abs=1e-13)
    for q in (0.1, 1.0, 7.0):
        expected = 1.5 * gauss(lambda u: math.tanh(u) ** 2, q) + 0.05
        assert mf.variance_map(q, 1.5, 0.05, "tanh") == pytest.approx(expected, abs=1e-10)
    out = mf.variance_map(np.array([0.5, 2.0]), 1.0, 0.0, "linear")
    np.testing.assert_allclose(out, [0.5, 2.0], atol=1e-12)


def test_fixed_point_linear_closed_form_and_limits():
    for sw2, sb2 in ((0.5, 0.5), (0.9, 0.01), (0.2, 1.0)):
        assert mf.fixed_point(sw2, sb2, "linear") == pytest.approx(sb2 / (1 - sw2), rel=1e-10)
    assert mf.fixed_point(1.0, 0.1, "linear") == math.inf
    assert mf.fixed_point(3.0, 0.0, "relu") == math.inf
    assert mf.fixed_point(0.5, 0.0, "tanh") == 0.0
    assert mf.fixed_point(2.0, 0.0, "relu", q0=3.0) == pytest.approx(3.0)  # every q is fixed


def test_fixed_point_is_a_fixed_point_and_vectorized():
    sw2 = np.array([1.2, 1.76, 3.0])
    q = mf.fixed_point(sw2, 0.05, "tanh")
    np.testing.assert_allclose(mf.variance_map(q, sw2, 0.05, "tanh"), q, rtol=1e-10)
    for s, qs in zip(sw2, q, strict=True):
        assert mf.fixed_point(float(s), 0.05, "tanh") == pytest.approx(qs, rel=1e-12)


def test_chi_1_matches_quadrature():
    q = mf.fixed_point(1.5, 0.05, "tanh")
    expected = 1.5 * gauss(lambda u: (1 - math.tanh(u) ** 2) ** 2, q)
    assert mf.chi_1(1.5, 0.05, "tanh") == pytest.approx(expected, rel=1e-9)
    assert mf.chi_1(2.0, 0.0, "relu") == pytest.approx(1.0, abs=1e-12)
    assert mf.chi_1(0.8, 0.3, "relu") == pytest.approx(0.4, abs=1e-12)  # sw2 / 2, any q


def test_relu_correlation_map_is_the_arccosine_kernel():
    # E[relu(u1) relu(u2)] = q / (2 pi) (sqrt(1 - c^2) + (pi - arccos c) c), Cho & Saul 2009.
    for c in (-0.5, 0.0, 0.3, 0.9):
        kernel = (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / (2 * math.pi)
        assert mf.correlation_map(c, 2.0, 0.0, "relu") == pytest.approx(2 * kernel, abs=1e-6)
    out = mf.correlation_map(np.array([0.2, 1.0]), 2.0, 0.0, "relu")
    assert out.shape == (2,) and out[1] == pytest.approx(1.0, abs=1e-9)


def test_critical_weight_variance_published_values():
    assert mf.critical_weight_variance("tanh", 0.05) == pytest.approx(1.76, rel=0.01)
    assert mf.critical_weight_variance("relu", 0.0) == pytest.approx(2.0, abs=1e-6)
    assert mf.critical_weight_variance("tanh", 0.0) == pytest.approx(1.0, abs=1e-6)
    assert mf.critical_weight_variance("erf", 0.0) == pytest.approx(math.pi / 4, abs=1e-6)
    # On the line chi_1 = 1 at the fixed point.
    sw2 = mf.critical_weight_variance("tanh", 0.2)
    assert mf.chi_1(sw2, 0.2, "tanh") == pytest.approx(1.0, abs=1e-7)


def test_depth_scales_and_phases():
    assert mf.correlation_fixed_point(1.0, 0.05, "tanh") == 1.0  # ordered
    c = mf.correlation_fixed_point(2.5, 0.05, "tanh")  # chaotic: a stable c* < 1
    assert 0 < c < 1
    assert mf.correlation_map(c, 2.5, 0.05, "tanh") == pytest.approx(c, abs=1e-9)
    assert mf.chi_c(1.0, 0.05, "tanh") == pytest.approx(mf.chi_1(1.0, 0.05, "tanh"))
    assert mf.chi_c(2.5, 0.05, "tanh") < 1
    assert mf.xi_c(2.0, 0.0, "relu") == math.inf
    assert mf.xi_c(1.0, 0.05, "tanh") == pytest.approx(-1 / math.log(mf.chi_1(1.0, 0.05, "tanh")))
    assert mf.xi_q(0.5, 0.5, "linear") == pytest.approx(-1 / math.log(0.5), rel=1e-9)
    assert math.isnan(mf.xi_q(3.0, 0.0, "relu"))


def test_phase_diagram_grid():
    sw2, sb2 = np.array([0.5, 2.0, 3.0]), np.array([0.0, 0.2])
    chi = mf.phase_diagram("relu", sw2, sb2)
    np.testing.assert_allclose(chi, np.repeat(sw2[:, None] / 2, 2, axis=1), atol=1e-12)
    tanh = mf.phase_diagram("tanh", sw2, sb2)
    assert tanh[0, 1] == pytest.approx(mf.chi_1(0.5, 0.2, "tanh"), rel=1e-10)


def test_callable_activation_and_errors():
    def cube_root_ish(u):
        return u / (1 + abs(u))  # softsign, a callable without a name in jinit

    assert mf.chi_1(1.0, 0.0, cube_root_ish) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="unknown activation"):
        mf.chi_1(1.0, 0.0, "tanhh")
    with pytest.raises(ValueError, match="sw2"):
        mf.fixed_point(-1.0, 0.0, "tanh")
    with pytest.raises(ValueError, match="diverges"):
        mf.correlation_map(0.5, 3.0, 0.0, "relu")


# --------------------------------------------------------------------------- random walk gain


def exact_linear_gain(n: int) -> float:
    """g with zero drift: 2 ln g + E[ln(chi^2_N / N)] = 0, E[ln chi^2_N] = psi(N/2) + ln 2."""
    return math.exp(-(special.digamma(n / 2) + math.log(2) - math.log(n)) / 2)


def exact_relu_gain(n: int) -> float:
    """Zero drift with K ~ Binomial(N, 1/2) surviving rows (K = 0 left out)."""
    k = np.arange(1, n + 1)
    p = stats.binom.pmf(k, n, 0.5)
    e = np.sum(p * (special.digamma(k / 2) + math.log(2))) / p.sum()
    return math.sqrt(n) * math.exp(-e / 2)


@pytest.mark.parametrize("n", [1, 6, 10, 100, 1000])
def test_random_walk_gain_formulas(n):
    assert random_walk_gain("linear", n) == pytest.approx(math.exp(1 / (2 * n)), rel=1e-15)
    assert random_walk_gain("identity", n) == random_walk_gain("linear", n)
    fit = math.sqrt(2) * math.exp(1.2 / (max(n, 6) - 2.4))
    assert random_walk_gain("relu", n) == pytest.approx(fit, rel=1e-15)


@pytest.mark.parametrize("n", [10, 20, 100, 1000])
def test_random_walk_gain_zeroes_the_drift(n):
    assert random_walk_gain("linear", n) == pytest.approx(exact_linear_gain(n), rel=0.25 / n**2)
    assert random_walk_gain("relu", n) == pytest.approx(exact_relu_gain(n), rel=5e-3)


def test_random_walk_gain_errors():
    with pytest.raises(ValueError, match="linear and ReLU"):
        random_walk_gain("tanh", 100)
    with pytest.raises(ValueError, match="width"):
        random_walk_gain("relu", 0)
