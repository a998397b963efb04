"""Nonlinearity gains: the factor by which to scale a unit-variance init for an activation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from jinit import activations


def second_moment(fn: Callable) -> float:
    """E[f(z)^2] for z ~ N(0, 1), f evaluated in float64 (:func:`jinit.activations.expectation`:
    Gauss-Legendre panels with edges on f's kinks, exact to rounding for the usual
    activations). Raises ``ValueError`` where the expectation does not converge."""
    phi = activations.Phi(fn, "gain")
    return float(
        activations.normal_expectation(
            lambda u, t: phi(u) ** 2, phi.kinks, what=f"gain: E[f(z)^2] of {fn!r}"
        )
    )


def gain(nonlinearity: str | Callable, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity.

    For a name, PyTorch's ``calculate_gain`` table: 1 for linear, conv and sigmoid; 5/3 for
    tanh; sqrt(2) for relu; sqrt(2 / (1 + slope^2)) for leaky_relu (``param`` is the slope,
    default 0.01); 3/4 for selu.

    For any callable ``f`` (``jax.nn.gelu``, a lambda), the variance-preserving gain
    ``1 / sqrt(E[f(z)^2])`` with ``z ~ N(0, 1)``, computed in float64 by quadrature (to
    about 1e-14; :func:`jinit.activations.expectation`): the factor that keeps the second
    moment of the pre-activations at one from layer to layer. For ReLU this gives sqrt(2),
    the He et al. (2015) gain.

    Example:
        >>> import jax, jinit
        >>> round(jinit.gain("tanh"), 4)
        1.6667
        >>> round(jinit.gain(jax.nn.relu), 6)
        1.414214
    """
    if callable(nonlinearity):
        if param is not None:
            raise ValueError("gain: param applies only to named nonlinearities (leaky_relu).")
        try:
            m2 = second_moment(nonlinearity)
        except activations.DivergentExpectation as err:
            raise ValueError(f"{err} A gain needs a finite, positive second moment.") from None
        if not math.isfinite(m2) or m2 <= 0:
            raise ValueError(
                f"gain: E[f(z)^2] of {nonlinearity!r} is {m2}; a gain needs a finite, "
                "positive second moment."
            )
        return 1.0 / math.sqrt(m2)
    if not isinstance(nonlinearity, str):
        raise TypeError(f"gain: expected a name or a callable, got {nonlinearity!r}.")
    return activations.torch_gain(nonlinearity, param)


_RANDOM_WALK = ("linear", "identity", "relu")


def random_walk_gain(activation: str, width: int) -> float:
    """The random-walk gain g of Sussillo & Abbott (2014), "Random walk initialization for
    training very deep feedforward networks" (arXiv:1412.6558).

    With weights ``g * N(0, 1 / N)`` in layers of width N, the log of the norm of a
    back-propagated (or forward) vector performs a random walk across layers; g is chosen
    so that the walk has no drift. The paper's closed forms, implemented here:

    - linear units: ``g = exp(1 / (2 N))``. The squared norm is multiplied by
      g^2 chi^2_N / N per layer, and E[ln(chi^2_N / N)] = psi(N/2) + ln(2/N) ~ -1/N.
    - ReLU: ``g = sqrt(2) * exp(1.2 / (max(N, 6) - 2.4))``, the paper's fit to the exact
      zero-drift gain (a ReLU layer keeps a Binomial(N, 1/2) number of rows; within 0.1% of
      the exact value for N >= 20, 1.5% for N >= 8).

    The paper gives no formula for other nonlinearities (for tanh it finds a gain near
    1.1 numerically); those raise ``ValueError``. Use the gain as
    ``jinit.lecun_normal`` times g, e.g. ``functools.partial(jinit.variance_scaling,
    scale=g**2)``.

    Example:
        >>> import jinit
        >>> from jinit.gain import random_walk_gain
        >>> round(random_walk_gain("linear", 100), 6)   # exp(1/200)
        1.005013
        >>> round(random_walk_gain("relu", 100), 6)     # sqrt(2) exp(1.2 / 97.6)
        1.431709
    """
    if not isinstance(activation, str) or activation not in _RANDOM_WALK:
        raise ValueError(
            f"random_walk_gain: Sussillo & Abbott (2014) give closed forms for linear and "
            f"ReLU units only; got {activation!r}. Accepted: {', '.join(_RANDOM_WALK)}."
        )
    if isinstance(width, bool) or not isinstance(width, int | np.integer) or width < 1:
        raise ValueError(f"random_walk_gain: width must be a positive int, got {width!r}.")
    n = int(width)
    if activation == "relu":
        return math.sqrt(2.0) * math.exp(1.2 / (max(n, 6) - 2.4))
    return math.exp(1.0 / (2.0 * n))
