"""Activations: one table, and one Gaussian expectation E[f(z)] for z ~ N(mean, std^2).

The table (:data:`TABLE`) is the one place that knows, for each named activation, its JAX
function, its *kinks* (points where f or f' is not analytic, e.g. 0 for ReLU), the kind of
saturation it has (``"tanh"``: bounded in [-1, 1]; ``"sigmoid"``: bounded in [0, 1];
``None``: unbounded or not saturating) and PyTorch's ``calculate_gain`` value where PyTorch
has one. Models, gains, mean-field theory and diagnostics read it.

The Gaussian expectation is composite Gauss-Legendre quadrature against the normal density
on [-12, 12] standard deviations, in float64, in panels of width 0.5 whose edges include the
activation's kinks (and a few extra edges around each kink). Plain Gauss-Hermite converges
only algebraically at a kink (about 1e-5 for ReLU with 200 nodes); with a panel edge on the
kink both sides are analytic and the rule is exact to rounding (E[relu(z)^2] = 1/2 to 1e-15).
An integrand that does not decay within 12 standard deviations (``exp(z^2)``: an infinite
expectation) is detected from the share of the integral beyond 10 standard deviations and
raises :class:`DivergentExpectation` instead of returning a truncated number.

Example:
    >>> import jax
    >>> from jinit import activations
    >>> round(activations.expectation(lambda u: jax.nn.relu(u) ** 2), 12)
    0.5
    >>> activations.saturation_kind("tanh"), activations.torch_gain("relu") ** 2
    ('tanh', 2.0000000000000004)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jinit._validate import did_you_mean

Fn = Callable[[jax.Array], jax.Array]


class Activation(NamedTuple):
    """One row of the table.

    Attributes:
      name: the name models and the command line accept.
      fn: the JAX function.
      kinks: points where f or f' is not analytic (quadrature panel edges).
      saturation: ``"tanh"`` (flat tails at -1 and 1), ``"sigmoid"`` (at 0 and 1) or None.
      torch_gain: PyTorch's ``calculate_gain`` value, or None where PyTorch has none.
    """

    name: str
    fn: Fn
    kinks: tuple[float, ...] = ()
    saturation: str | None = None
    torch_gain: float | None = None


def _linear(x: jax.Array) -> jax.Array:
    return x


_ROWS = (
    Activation("relu", jax.nn.relu, (0.0,), None, math.sqrt(2.0)),
    Activation("tanh", jnp.tanh, (), "tanh", 5.0 / 3.0),
    Activation("sigmoid", jax.nn.sigmoid, (), "sigmoid", 1.0),
    Activation("linear", _linear, (), None, 1.0),
    Activation("identity", _linear, (), None, 1.0),
    # PyTorch's leaky_relu gain depends on the slope: see torch_gain().
    Activation("leaky_relu", jax.nn.leaky_relu, (0.0,), None, None),
    Activation("elu", jax.nn.elu, (0.0,)),
    Activation("selu", jax.nn.selu, (0.0,), None, 3.0 / 4.0),
    Activation("gelu", jax.nn.gelu),
    Activation("softplus", jax.nn.softplus),
    Activation("silu", jax.nn.silu),
    Activation("swish", jax.nn.silu),
    Activation("erf", jax.scipy.special.erf, (), "tanh"),
    Activation("hard_tanh", jax.nn.hard_tanh, (-1.0, 1.0), "tanh"),
    Activation("soft_sign", jax.nn.soft_sign, (0.0,), "tanh"),
    Activation("hard_sigmoid", jax.nn.hard_sigmoid, (-3.0, 3.0), "sigmoid"),
    Activation("relu6", jax.nn.relu6, (0.0, 6.0)),
)
TABLE: dict[str, Activation] = {row.name: row for row in _ROWS}
"""Every named activation, by name."""

# PyTorch's calculate_gain also names layers without a nonlinearity: gain 1.
_TORCH_UNIT_LAYERS = (
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
)  # fmt: skip
_LEAKY_DEFAULT_SLOPE = 0.01
TORCH_GAIN_NAMES: tuple[str, ...] = (
    "linear", "identity", "sigmoid", *_TORCH_UNIT_LAYERS, "tanh", "relu", "leaky_relu", "selu",
)  # fmt: skip
"""The names PyTorch's ``calculate_gain`` accepts, in its documentation's order."""


def lookup(activation: str | Fn, caller: str = "") -> Activation:
    """The table row of a name, or a row for a callable (its table row if it is one of the
    table's functions; otherwise kinks at 0, which costs nothing where f is smooth).
    ``caller`` prefixes errors."""
    prefix = f"{caller}: " if caller else ""
    if isinstance(activation, str):
        if activation not in TABLE:
            raise did_you_mean(
                activation, list(TABLE), "activation", also=", or any callable", prefix=prefix
            )
        return TABLE[activation]
    if not callable(activation):
        raise TypeError(f"{prefix}expected an activation name or a callable, got {activation!r}.")
    for row in _ROWS:
        if row.fn is activation:
            return row
    return Activation(getattr(activation, "__name__", "phi"), activation, (0.0,))


def activation_fn(activation: str | Fn) -> Fn:
    """The function for an activation name (``"relu"``, ``"tanh"``, ...) or a callable."""
    return activation if callable(activation) else lookup(activation).fn


def name_of(activation: str | Fn | None) -> str | None:
    """The name of an activation: a name as is; a callable by its table name, else its
    ``__name__`` (None for None)."""
    if activation is None or isinstance(activation, str):
        return activation
    return lookup(activation).name


def saturation_kind(activation: str | Fn | None) -> str | None:
    """``"tanh"`` (flat tails at -1 and +1), ``"sigmoid"`` (at 0 and 1) or None."""
    name = name_of(activation)
    row = TABLE.get(name) if name is not None else None
    return row.saturation if row is not None else None


def torch_gain(name: str, param: float | None = None) -> float:
    """PyTorch's ``calculate_gain(name, param)``: 1 for linear, conv and sigmoid; 5/3 for
    tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky_relu (``param`` is the slope,
    default 0.01); 3/4 for selu."""
    if name not in TORCH_GAIN_NAMES:
        raise did_you_mean(
            name, TORCH_GAIN_NAMES, "nonlinearity", accepted="Accepted names",
            also="; or pass a callable", prefix="gain: ",
        )  # fmt: skip
    if param is not None and name != "leaky_relu":
        raise ValueError(f"gain: param applies only to leaky_relu, not {name!r}.")
    if name in _TORCH_UNIT_LAYERS:
        return 1.0
    if name != "leaky_relu":
        return float(TABLE[name].torch_gain)
    slope = _LEAKY_DEFAULT_SLOPE if param is None else param
    if isinstance(slope, bool) or not isinstance(slope, int | float) or not math.isfinite(slope):
        raise ValueError(
            f"gain: leaky_relu's negative slope must be a finite number, got {slope!r}."
        )
    return math.sqrt(2.0 / (1.0 + slope**2))


# --------------------------------------------------------------------------- float64 evaluation


class Phi:
    """An elementwise activation evaluated in float64 on NumPy arrays, with its slope
    (forward-mode derivative) and kinks. ``what`` names the caller in errors."""

    def __init__(self, activation: str | Fn, what: str = ""):
        row = lookup(activation, what)
        self.name, self.kinks, self.what = row.name, np.array(row.kinks, np.float64), what
        fn = row.fn
        # Eager, not jitted: callers evaluate ever smaller subsets, and a jitted phi would
        # recompile for every new shape.
        self._value = fn
        self._slope = lambda u: jax.jvp(fn, (u,), (jnp.ones_like(u),))[1]

    def _eval(self, f: Callable, u: Any) -> np.ndarray:
        u = np.asarray(u, np.float64)
        with jax.enable_x64(True):
            out = np.asarray(f(jnp.asarray(u)), np.float64)
        if out.shape != u.shape:
            raise ValueError(
                f"{self.what or 'activation'}: the activation must be elementwise (shape in "
                f"= shape out); it mapped shape {u.shape} to {out.shape}."
            )
        return out

    def __call__(self, u: Any) -> np.ndarray:
        return self._eval(self._value, u)

    def slope(self, u: Any) -> np.ndarray:
        return self._eval(self._slope, u)


# --------------------------------------------------------------------------- quadrature

# N(0, 1) mass beyond 12 sd is about 4e-33.
LIMIT = 12.0
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)
_GRID = np.linspace(-LIMIT, LIMIT, 49)  # panels of width 0.5
_REFINE = np.array([-0.1, -0.02, 0.02, 0.1])  # extra panel edges around each kink
# A convergent integrand keeps (far) less than this share of its mass beyond 10 sd.
_TAIL, _TAIL_SHARE = 10.0, 1e-6


class DivergentExpectation(ValueError):
    """The Gaussian expectation does not converge within 12 standard deviations."""


def normal_nodes(breaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``t`` and weights ``w`` (shape ``(..., M)``) with ``sum(w f(t)) = E[f(t)]``,
    t ~ N(0, 1), for functions smooth between the panel edges ``breaks`` (shape ``(..., K)``)."""
    breaks = np.asarray(breaks, np.float64)
    extra = (breaks[..., :, None] + _REFINE).reshape(*breaks.shape[:-1], -1)
    grid = np.broadcast_to(_GRID, (*breaks.shape[:-1], _GRID.size))
    edges = np.sort(np.clip(np.concatenate([grid, breaks, extra], -1), -LIMIT, LIMIT), -1)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    half = (hi - lo) / 2
    t = (lo + hi) / 2 + half * _GL_X
    w = half * _GL_W * np.exp(-(t**2) / 2) / math.sqrt(2 * math.pi)
    shape = (*t.shape[:-2], -1)
    return t.reshape(shape), w.reshape(shape)


def normal_points(kinks: Sequence[float], mean: Any, std: Any):
    """Quadrature points ``u = mean + std t`` (shape ``(..., M)``), with their ``t`` and
    weights ``w``, for E over t ~ N(0, 1) with panel edges where u crosses a kink."""
    kinks = np.asarray(kinks, np.float64)
    mean, std = np.broadcast_arrays(np.asarray(mean, np.float64), np.asarray(std, np.float64))
    safe = np.where(std > 0, std, 1.0)
    breaks = (kinks - mean[..., None]) / safe[..., None]
    if kinks.size == 0:
        t, w = normal_nodes(np.zeros(0))
    elif np.all(breaks == breaks.reshape(-1, kinks.size)[0]):  # same panels everywhere
        t, w = normal_nodes(breaks.reshape(-1, kinks.size)[0])
    else:
        t, w = normal_nodes(breaks)
    return mean[..., None] + std[..., None] * t, t, w


def integrate(
    t: np.ndarray, w: np.ndarray, values: np.ndarray, what: str = "E[f]", check: bool = True
) -> np.ndarray:
    """``sum(w * values)`` over the last axis. With ``check``, raises
    :class:`DivergentExpectation` where the integrand is not finite or more than 1e-6 of the
    integral's absolute mass lies beyond 10 standard deviations (a shifted integrand, whose
    mass legitimately sits in the tail of t, needs ``check=False``)."""
    terms = w * values
    if not check:
        return np.sum(terms, -1)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.sum(terms, -1)
        mass = np.sum(np.abs(terms), -1)
        tail = np.sum(np.where(np.abs(t) > _TAIL, np.abs(terms), 0.0), -1)
        bad = ~np.isfinite(mass) | (tail > _TAIL_SHARE * mass)
    if np.any(bad):
        share = np.max(np.where(bad, tail / np.where(mass > 0, mass, 1.0), 0.0))
        raise DivergentExpectation(
            f"{what} does not converge: the integrand is not finite or keeps {share:.2g} of its "
            f"mass beyond {_TAIL:g} standard deviations (an infinite expectation, or growth "
            "like exp(z^2 / 2))."
        )
    return out


def normal_expectation(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    kinks: Sequence[float],
    mean: Any = 0.0,
    std: Any = 1.0,
    what: str = "E[f]",
    check: bool = True,
) -> np.ndarray:
    """E[f(u, t)] with u = mean + std t, t ~ N(0, 1), elementwise over ``mean`` and ``std``
    (``f`` takes float64 arrays ``u`` and ``t`` of shape ``(..., M)``; it may return extra
    leading axes). Where ``std`` is 0, f at the mean (a point mass). ``check``: see
    :func:`integrate`."""
    u, t, w = normal_points(kinks, mean, std)
    out = integrate(t, w, f(u, t), what, check)
    mean, std = np.broadcast_arrays(np.asarray(mean, np.float64), np.asarray(std, np.float64))
    if np.any(std == 0):
        out = np.where(std > 0, out, f(mean, np.zeros_like(mean)))
    return out


def expectation(
    fn: str | Fn,
    q: float = 1.0,
    kinks: Sequence[float] | None = None,
    what: str = "expectation",
) -> float:
    """E[f(z)] for z ~ N(0, q), f an activation name or elementwise JAX callable (evaluated in
    float64), to about 1e-14 for the table's activations. ``kinks``: where f or f' is not
    analytic (default: the table's kinks for a name or table function, else 0); a kink left
    out costs accuracy (about 1e-4 for relu6's kink at 6).

    Raises :class:`DivergentExpectation` where the expectation does not converge.

    Example:
        >>> from jinit.activations import expectation
        >>> round(expectation(lambda u: u**2, q=3.0), 12)
        3.0
    """
    q = float(q)
    if not (math.isfinite(q) and q >= 0):
        raise ValueError(f"{what}: the variance q must be finite and >= 0, got {q!r}.")
    phi = Phi(fn, what)
    breaks = phi.kinks if kinks is None else kinks
    return float(normal_expectation(lambda u, t: phi(u), breaks, 0.0, math.sqrt(q), what))
