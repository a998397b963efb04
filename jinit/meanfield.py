"""Mean-field signal propagation at initialization: order, chaos and the critical line.

A wide fully connected net whose weights are drawn N(0, sw2 / fan_in) and biases N(0, sb2)
(Poole et al. 2016, "Exponential expressivity in deep neural networks through transient
chaos"; Schoenholz et al. 2017, "Deep Information Propagation") carries the pre-activation
variance ``q`` of an input from layer to layer by the *variance map*

    q_{l+1} = sw2 * E_z[phi(sqrt(q_l) z)^2] + sb2,          z ~ N(0, 1),

and the correlation ``c`` of two inputs by the *correlation map* (at the fixed point q*)

    c_{l+1} = (sw2 * E[phi(u1) phi(u2)] + sb2) / q*,
    u1 = sqrt(q*) z1,  u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2).

The slope of the correlation map at c = 1 is

    chi_1 = sw2 * E_z[phi'(sqrt(q*) z)^2]:

chi_1 < 1 is the ordered phase (inputs collapse together, gradients vanish), chi_1 > 1 the
chaotic phase (gradients explode), chi_1 = 1 the critical line, where signals travel
furthest. Depth scales (Schoenholz et al. eqs. 5 and 9): ``xi_q = -1 / log(dq_{l+1}/dq_l)``
at q*, and ``xi_c = -1 / log(chi_c)`` with ``chi_c = sw2 * E[phi'(u1) phi'(u2)]`` at the
stable correlation c* (c* = 1 in the ordered phase, where chi_c = chi_1); xi_c is infinite on
the critical line.

Numerics: everything here is NumPy float64. The activation is a name from
:data:`jinit.activations.TABLE` or any elementwise JAX callable, evaluated by JAX with 64-bit
types enabled; phi' is its forward-mode derivative. Gaussian expectations are the one
quadrature of :mod:`jinit.activations` (Gauss-Legendre panels on [-12, 12] standard
deviations with edges on phi's kinks: exact to rounding, E[relu(z)^2] = 1/2 to 1e-15, and an
error where an expectation diverges). Fixed points are found by bracketing and bisection,
not by iterating the map, so they converge at criticality too.

Example:
    >>> from jinit import meanfield
    >>> round(meanfield.critical_weight_variance("relu", 0.0), 6)
    2.0
    >>> round(meanfield.chi_1(1.0, 0.0, "tanh"), 6)   # tanh, sb2 = 0: critical at sw2 = 1
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from jinit import activations
from jinit.activations import Phi as _Phi

Activation = str | Callable

# Where q* is 0 or infinite, quantities are evaluated in the limit at these variances.
_Q_MIN, _Q_MAX = 1e-20, 1e10


def _brentq(f: Callable[[float], float], lo: float, hi: float, xtol: float) -> float:
    """The root of ``f`` in [lo, hi] (``scipy.optimize.brentq``, imported on first use so
    that ``import jinit`` does not load scipy)."""
    from scipy import optimize

    return optimize.brentq(f, lo, hi, xtol=xtol)


def _phi(activation: Activation | _Phi) -> _Phi:
    return activation if isinstance(activation, _Phi) else _Phi(activation, "meanfield")


# --------------------------------------------------------------------------- quadrature


def _expect(f: Callable, phi: _Phi, mean, std, check: bool = True) -> np.ndarray:
    """E[f(u, t)] with u = mean + std t, t ~ N(0, 1), elementwise over ``mean``, ``std``."""
    what = f"meanfield: E over {phi.name}"
    return activations.normal_expectation(f, phi.kinks, mean, std, what, check)


def _second_moment(phi: _Phi, q: np.ndarray) -> np.ndarray:
    """E[phi(sqrt(q) z)^2]."""
    return _expect(lambda u, t: phi(u) ** 2, phi, 0.0, np.sqrt(q))


def _second_moment_and_slope(phi: _Phi, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[phi(sqrt(q) z)^2] and its derivative in q (q > 0) from one evaluation of phi.

    By Gaussian integration by parts, d/dq E[phi(sqrt(q) z)^2] = E[phi(sqrt(q) z)^2 (z^2 - 1)]
    / (2 q), which equals E[phi'^2 + phi phi''] without differentiating phi twice.
    """

    def both(u, t):
        f2 = phi(u) ** 2
        return np.stack([f2, f2 * (t**2 - 1)])

    m2, dm2 = _expect(both, phi, 0.0, np.sqrt(q))
    return m2, dm2 / (2 * q)


def _slope_moment(phi: _Phi, q: np.ndarray) -> np.ndarray:
    """E[phi'(sqrt(q) z)^2]."""
    return _expect(lambda u, t: phi.slope(u) ** 2, phi, 0.0, np.sqrt(q))


def _pair_moment(phi: _Phi, q: float, c: float, derivative: bool) -> float:
    """E[g(u1) g(u2)], g = phi or phi', u1, u2 jointly normal, variance q, correlation c."""
    g = phi.slope if derivative else phi
    s = math.sqrt(q)
    t1, w1 = activations.normal_nodes(phi.kinks / s)
    inner_std = np.full_like(t1, s * math.sqrt(max(1 - c * c, 0.0)))
    # The inner integrals are shifted (mean s c t1): their mass may sit in the tail of t.
    inner = _expect(lambda u, t: g(u), phi, s * c * t1, inner_std, check=False)
    what = f"meanfield: E over {phi.name}"
    return float(activations.integrate(t1, w1, g(s * t1) * inner, what))


# --------------------------------------------------------------------------- fixed points


def _as_float(x: np.ndarray):
    x = np.asarray(x, np.float64)
    return float(x) if x.ndim == 0 else x


def _check_variances(sw2, sb2, name: str) -> tuple[np.ndarray, np.ndarray]:
    sw2, sb2 = np.broadcast_arrays(np.asarray(sw2, np.float64), np.asarray(sb2, np.float64))
    if np.any(~np.isfinite(sw2)) or np.any(sw2 <= 0):
        raise ValueError(f"{name}: the weight variance sw2 must be finite and > 0, got {sw2}.")
    if np.any(~np.isfinite(sb2)) or np.any(sb2 < 0):
        raise ValueError(f"{name}: the bias variance sb2 must be finite and >= 0, got {sb2}.")
    return sw2, sb2


def variance_map(q, sw2, sb2, phi: Activation):
    """One layer of the variance map: ``sw2 * E[phi(sqrt(q) z)^2] + sb2``, z ~ N(0, 1).

    Poole et al. (2016), eq. 3. Arguments broadcast; returns a float or an array.

    Example:
        >>> from jinit import meanfield
        >>> round(meanfield.variance_map(1.0, 2.0, 0.0, "relu"), 12)   # He: q is kept
        1.0
    """
    sw2, sb2 = _check_variances(sw2, sb2, "variance_map")
    q = np.asarray(q, np.float64)
    if np.any(q < 0):
        raise ValueError(f"variance_map: q must be >= 0, got {q}.")
    return _as_float(sw2 * _second_moment(_phi(phi), q) + sb2)


def _fixed_points(phi: _Phi, sw2: np.ndarray, sb2: np.ndarray, q0: float) -> np.ndarray:
    """The fixed point the variance map reaches from q0, elementwise: 0 where q collapses,
    inf where it grows without bound."""
    shape = sw2.shape
    sw2, sb2 = sw2.ravel(), sb2.ravel()

    def gap(q, idx):  # V(q) - q and its derivative, on the entries idx
        m2, dm2 = _second_moment_and_slope(phi, q)
        return sw2[idx] * m2 + sb2[idx] - q, sw2[idx] * dm2 - 1.0

    q = np.full(sw2.shape, float(q0))
    g, _ = gap(q, slice(None))
    lo = np.where(g > 0, q, np.nan)
    hi = np.where(g < 0, q, np.nan)
    result = np.where(np.abs(g) <= 1e-13 * q, q, np.nan)  # q0 itself (e.g. He init, any q)
    # Bracket: step by 8x in the direction the map moves q. Above ``cap`` the variance is
    # taken to diverge (a fixed point there is a rounding artefact of a critical map).
    cap = 1e12 * np.maximum(max(q0, 1.0), sb2)
    for up, steps in ((True, 40), (False, 120)):
        todo = np.flatnonzero((g > 0) if up else (g < 0))
        todo = todo[np.isnan(result[todo])]
        x = q[todo]
        for _ in range(steps):
            if up:  # past the cap: diverges
                over = x > cap[todo]
                result[todo[over]] = math.inf
                todo, x = todo[~over], x[~over]
            if todo.size == 0:
                break
            x = x * 8.0 if up else x / 8.0
            gx, _ = gap(x, todo)
            crossed = (gx <= 0) if up else (gx >= 0)
            if up:
                hi[todo[crossed]] = x[crossed]
                lo[todo[~crossed]] = x[~crossed]
            else:
                lo[todo[crossed]] = x[crossed]
                hi[todo[~crossed]] = x[~crossed]
            todo, x = todo[~crossed], x[~crossed]
        result[todo] = math.inf if up else 0.0
    # Newton's method inside the bracket, falling back to bisection (in log space) whenever
    # a step would leave it; V is evaluated once per step for the whole set.
    idx = np.flatnonzero(np.isnan(result))
    a, b = lo[idx], hi[idx]
    x = np.sqrt(a * b)
    for _ in range(100):
        if idx.size == 0:
            break
        gx, dgx = gap(x, idx)
        a, b = np.where(gx > 0, x, a), np.where(gx > 0, b, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = x - gx / dgx
        inside = np.isfinite(step) & (step > a) & (step < b)
        new = np.where(inside, step, np.sqrt(a * b))
        done = (np.abs(new - x) <= 1e-14 * x) | (b - a <= 1e-15 * b) | (gx == 0)
        result[idx[done]] = np.where(gx[done] == 0, x[done], new[done])
        idx, a, b, x = idx[~done], a[~done], b[~done], new[~done]
    result[idx] = x
    result[result > cap] = math.inf
    # A collapsing variance (sb2 = 0, phi(0) = 0) ends at rounding level, not at 0.
    result[(sb2 == 0) & (result < 1e-13 * q0)] = 0.0
    return result.reshape(shape)


def fixed_point(sw2, sb2, phi: Activation, *, q0: float = 1.0):
    """The fixed point q* = V(q*) of the variance map reached from ``q0``.

    Found by bracketing (steps of 8x in the direction V moves q) and bisection, so it
    converges even at criticality where iterating the map crawls. Returns ``0.0`` where the
    variance collapses (e.g. tanh with sw2 < 1, sb2 = 0), ``inf`` where it grows without
    bound (an unbounded phi, e.g. ReLU with sw2 > 2), and ``q0`` where every q is a fixed
    point (ReLU with sw2 = 2, sb2 = 0). Arguments broadcast.

    Example:
        >>> from jinit import meanfield
        >>> round(meanfield.fixed_point(0.5, 0.5, "linear"), 9)   # q* = sb2 / (1 - sw2)
        1.0
        >>> meanfield.fixed_point(3.0, 0.0, "relu")
        inf
    """
    sw2, sb2 = _check_variances(sw2, sb2, "fixed_point")
    if not (math.isfinite(q0) and q0 > 0):
        raise ValueError(f"fixed_point: q0 must be a finite number > 0, got {q0!r}.")
    return _as_float(_fixed_points(_phi(phi), sw2, sb2, q0))


def _limit_q(q: np.ndarray) -> np.ndarray:
    return np.clip(q, _Q_MIN, _Q_MAX)


def chi_1(sw2, sb2, phi: Activation):
    """chi_1 = sw2 * E[phi'(sqrt(q*) z)^2], the slope of the correlation map at c = 1.

    Schoenholz et al. (2017), eq. 7 (Poole et al. 2016, eq. 7). < 1: ordered, > 1: chaotic,
    = 1: critical. Where q* is 0 or infinite, its limit (evaluated at q = 1e-20 or 1e10).
    Arguments broadcast.

    Example:
        >>> from jinit import meanfield
        >>> round(meanfield.chi_1(2.0, 0.0, "relu"), 9)
        1.0
    """
    sw2, sb2 = _check_variances(sw2, sb2, "chi_1")
    f = _phi(phi)
    q = _limit_q(_fixed_points(f, sw2, sb2, 1.0))
    return _as_float(sw2 * _slope_moment(f, q))


def _scalar(x, what: str, name: str) -> float:
    arr = np.asarray(x, np.float64)
    if arr.ndim != 0:
        raise TypeError(f"{name}: {what} must be a scalar, got shape {arr.shape}.")
    return float(arr)


def _q_star(f: _Phi, sw2: float, sb2: float, name: str) -> float:
    q = float(_fixed_points(f, np.array(sw2), np.array(sb2), 1.0))
    if math.isinf(q):
        raise ValueError(
            f"{name}: the variance diverges (q* = inf) for sw2={sw2}, sb2={sb2}: the "
            "correlation map is undefined there."
        )
    return max(q, _Q_MIN)


def correlation_map(c, sw2, sb2, phi: Activation, *, q: float | None = None):
    """One layer of the correlation map at variance ``q`` (default: the fixed point q*).

    ``(sw2 * E[phi(u1) phi(u2)] + sb2) / q``, with u1, u2 jointly normal, variance q and
    correlation c (Poole et al. 2016, eq. 5). ``c`` may be an array; sw2, sb2 are scalars.
    Each value is a 2-D quadrature (about 1e6 evaluations of phi).

    Example:
        >>> from jinit import meanfield
        >>> round(meanfield.correlation_map(1.0, 1.5, 0.1, "tanh"), 9)   # c = 1 is fixed
        1.0
    """
    name = "correlation_map"
    sw2 = _scalar(sw2, "sw2", name)
    sb2 = _scalar(sb2, "sb2", name)
    _check_variances(sw2, sb2, name)
    f = _phi(phi)
    q = _q_star(f, sw2, sb2, name) if q is None else float(q)
    cs = np.asarray(c, np.float64)
    if np.any(np.abs(cs) > 1):
        raise ValueError(f"{name}: correlations must lie in [-1, 1], got {c}.")
    out = [(sw2 * _pair_moment(f, q, float(ci), False) + sb2) / q for ci in cs.ravel()]
    return _as_float(np.reshape(out, cs.shape))


def correlation_fixed_point(sw2: float, sb2: float, phi: Activation) -> float:
    """c*, the stable fixed point of the correlation map: 1 in the ordered phase
    (chi_1 <= 1), below 1 in the chaotic phase, found by bisection on c_map(c) - c.

    Example:
        >>> from jinit import meanfield
        >>> meanfield.correlation_fixed_point(1.0, 0.1, "tanh")
        1.0
    """
    name = "correlation_fixed_point"
    sw2, sb2 = _scalar(sw2, "sw2", name), _scalar(sb2, "sb2", name)
    _check_variances(sw2, sb2, name)
    f = _phi(phi)
    if chi_1(sw2, sb2, f) <= 1 + 1e-12:
        return 1.0
    q = _q_star(f, sw2, sb2, name)

    def gap(c: float) -> float:
        return (sw2 * _pair_moment(f, q, c, False) + sb2) / q - c

    lo, hi = (0.0, 1 - 1e-9) if gap(0.0) >= 0 else (-1.0, 0.0)
    return float(_brentq(gap, lo, hi, 1e-12))


def chi_c(sw2: float, sb2: float, phi: Activation) -> float:
    """chi_c = sw2 * E[phi'(u1) phi'(u2)] at the stable correlation c* (Schoenholz et al.
    2017, eq. 9): the slope of the correlation map there; equals chi_1 in the ordered phase.

    Example:
        >>> from jinit import meanfield
        >>> a, b = meanfield.chi_c(1.0, 0.05, "tanh"), meanfield.chi_1(1.0, 0.05, "tanh")
        >>> round(a, 9) == round(b, 9)   # ordered phase: c* = 1
        True
    """
    name = "chi_c"
    sw2, sb2 = _scalar(sw2, "sw2", name), _scalar(sb2, "sb2", name)
    f = _phi(phi)
    c = correlation_fixed_point(sw2, sb2, f)
    if c == 1.0:
        return float(chi_1(sw2, sb2, f))
    return sw2 * _pair_moment(f, _q_star(f, sw2, sb2, name), c, True)


def _depth(slope: float) -> float:
    if not math.isfinite(slope) or slope <= 0:
        return math.nan
    return math.inf if slope >= 1 - 1e-12 else -1.0 / math.log(slope)


def xi_c(sw2: float, sb2: float, phi: Activation) -> float:
    """The correlation depth scale ``-1 / log(chi_c)`` (Schoenholz et al. 2017, eq. 9): how
    many layers two inputs stay distinguishable; ``inf`` at criticality.

    Example:
        >>> from jinit import meanfield
        >>> meanfield.xi_c(2.0, 0.0, "relu")
        inf
    """
    return _depth(chi_c(sw2, sb2, phi))


def xi_q(sw2: float, sb2: float, phi: Activation) -> float:
    """The variance depth scale ``-1 / log(dV/dq at q*)`` (Schoenholz et al. 2017, eq. 5, where
    dV/dq = chi_1 + sw2 E[phi'' phi]): how fast q approaches q*. ``nan`` where q* is
    infinite, ``inf`` where the approach is slower than exponential.

    Example:
        >>> from jinit import meanfield
        >>> round(meanfield.xi_q(0.5, 0.5, "linear"), 6)   # dV/dq = sw2 for linear units
        1.442695
    """
    name = "xi_q"
    sw2, sb2 = _scalar(sw2, "sw2", name), _scalar(sb2, "sb2", name)
    _check_variances(sw2, sb2, name)
    f = _phi(phi)
    q = float(_fixed_points(f, np.array(sw2), np.array(sb2), 1.0))
    if math.isinf(q):
        return math.nan
    return _depth(float(sw2 * _second_moment_and_slope(f, _limit_q(np.array(q)))[1]))


# --------------------------------------------------------------------------- criticality


def critical_weight_variance(activation: Activation, bias_variance: float = 0.0) -> float:
    """The weight variance sw2 at which chi_1 = 1 for bias variance ``bias_variance``.

    Solved along the line of fixed points: a variance q is the fixed point for
    ``sw2(q) = (q - sb2) / E[phi(sqrt(q) z)^2]``, where chi_1(q) = sw2(q) E[phi'(sqrt(q) z)^2];
    brentq finds the first q where chi_1 crosses 1 (as Poole et al. and Schoenholz et al.
    draw the critical line). Where chi_1 only approaches 1 (tanh or ReLU with sb2 = 0, whose
    critical q* is 0 or any q; ReLU with sb2 > 0, where q* diverges as sw2 -> 2) the limit
    is returned. Tanh: 1 at sb2 = 0, about 1.76 at sb2 = 0.05 (Schoenholz et al. Fig. 1);
    ReLU: 2 (He et al. 2015).

    Example:
        >>> from jinit import meanfield
        >>> round(meanfield.critical_weight_variance("tanh", 0.05), 2)
        1.76
    """
    name = "critical_weight_variance"
    sb2 = _scalar(bias_variance, "bias_variance", name)
    if not (math.isfinite(sb2) and sb2 >= 0):
        raise ValueError(f"{name}: bias_variance must be finite and >= 0, got {bias_variance!r}.")
    f = _phi(activation)

    def weight(q):
        return (q - sb2) / _second_moment(f, q)

    def excess(q):
        return weight(q) * _slope_moment(f, q) - 1.0

    q = sb2 + np.logspace(-10, 8, 241)
    h = excess(q)
    ok = np.isfinite(h)
    q, h = q[ok], h[ok]
    up = np.flatnonzero((h[:-1] <= 0) & (h[1:] > 0))
    if up.size:
        i = up[0]
        root = _brentq(lambda x: float(excess(np.array(x))), q[i], q[i + 1], 1e-14)
        return float(weight(np.array(root)))
    best = int(np.argmin(np.abs(h)))
    if abs(h[best]) < 1e-6:
        return float(weight(q[best]))
    raise ValueError(
        f"{name}: chi_1 never reaches 1 along the fixed-point line of {f.name!r} with "
        f"sb2={sb2} (closest: chi_1 - 1 = {h[best]:.3g}); this activation has no critical "
        "weight variance there."
    )


def phase_diagram(activation: Activation, sw2_grid, sb2_grid) -> np.ndarray:
    """chi_1 on a grid: ``out[i, j] = chi_1(sw2_grid[i], sb2_grid[j])`` (one vectorized
    solve for all points). log(chi_1) < 0 is ordered, > 0 chaotic.

    Example:
        >>> from jinit import meanfield
        >>> meanfield.phase_diagram("tanh", [0.5, 1.0, 2.0], [0.0, 0.1]).shape
        (3, 2)
    """
    sw2 = np.asarray(sw2_grid, np.float64)
    sb2 = np.asarray(sb2_grid, np.float64)
    if sw2.ndim != 1 or sb2.ndim != 1:
        raise ValueError("phase_diagram: sw2_grid and sb2_grid must be 1-D sequences.")
    return np.asarray(chi_1(sw2[:, None], sb2[None, :], activation)).reshape(sw2.size, sb2.size)
