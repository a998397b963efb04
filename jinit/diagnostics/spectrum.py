"""Singular values of the input-output Jacobian at initialization (dynamical isometry)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit.diagnostics.probe import default_params, tap
from jinit.frameworks.base import Layers, Tap

Array = jax.Array

PERCENTILES = (1, 10, 50, 90, 99)
"""Percentiles of the singular values :func:`jacobian_spectrum` reports (``p1`` ... ``p99``)."""
TINY = 1e-3
""":func:`jacobian_spectrum`'s ``frac_tiny`` counts singular values below this."""


def _output_of(out: Array, layers: Layers, output: str | int) -> Array:
    if output == "output":
        return out
    if output == "last_hidden":
        if len(layers) < 2:
            raise ValueError("jacobian_spectrum: output='last_hidden' needs a hidden layer.")
        return layers[-2]["h"]
    return layers[output]["h"]


@functools.partial(jax.jit, static_argnames=("tp", "output"))
def _jacobian_jit(tp: Tap, params: Any, x: Array, *, output) -> Array:
    def f(xi):
        out, layers, _ = tp.forward(params, xi[None], None)
        return _output_of(out, layers, output).reshape(-1)

    jac = jax.vmap(jax.jacfwd(f))(x)
    return jac.reshape(x.shape[0], jac.shape[1], -1)


def _as_float(tree: Any, dtype: Any) -> Any:
    def one(a: Any) -> Any:
        if isinstance(a, jax.Array | np.ndarray) and jnp.issubdtype(a.dtype, jnp.floating):
            return jnp.asarray(a, dtype)
        return a

    return jax.tree_util.tree_map(one, tree)


def _summary(s: np.ndarray) -> dict[str, Any]:
    """Spread measures of singular values ``s`` (inputs, k), in float64."""
    s2 = s**2
    out: dict[str, Any] = {
        "singular_values": s,
        "mean": s.mean(),
        "std": s.std(),
        "max": s.max(),
        "min": s.min(),
        "condition": np.mean(s.max(axis=-1) / s.min(axis=-1)),
        "spread": s2.var() / s2.mean() ** 2 if s2.mean() > 0 else np.inf,
        "frac_tiny": np.mean(s < TINY),
    }
    for q, v in zip(PERCENTILES, np.percentile(s, PERCENTILES), strict=True):
        out[f"p{q}"] = v
    return out


def jacobian_spectrum(
    model: Any,
    params: Any,
    x: Array,
    *,
    output: str | int = "last_hidden",
    dtype: Any = jnp.float64,
) -> dict[str, Any]:
    """Singular values of the input-output Jacobian at each input (rows of ``x``; pass a
    few), the dynamical-isometry view of an init.

    ``output="last_hidden"`` (default): the Jacobian of the last hidden layer's activation
    with respect to the input; ``"output"``: of the model output (logits); an int: of that
    layer's activation. Pennington, Schoenholz & Ganguli (2017, "Resurrecting the sigmoid in
    deep learning through dynamical isometry") show that the singular values concentrate
    near 1 at any depth (dynamical isometry) only for orthogonal weights at criticality
    *with a small fixed-point pre-activation variance q** (tanh with sigma_b^2 -> 0, so
    sigma_w -> 1); at larger q* (e.g. sigma_b^2 = 0.05) many singular values of an
    orthogonal depth-32 tanh net are still tiny, and Gaussian weights or ReLU never reach
    isometry. Glorot & Bengio (2010) report the mean singular value of the layer-to-layer
    Jacobian: about 0.5 with their old init, 0.8 with the normalized one.

    The spectrum spans many decades in deep nets, beyond float32's 7 digits, so by default
    the forward pass, the Jacobian and its SVD are computed in float64 (parameters and
    inputs cast, under ``jax.enable_x64``); ``dtype=jnp.float32`` computes in float32.

    Returns float64 numpy values: ``singular_values`` (inputs, k); their overall ``mean``,
    ``std``, ``max``, ``min``; ``condition`` (mean over inputs of max/min, dominated by the
    smallest value: a fragile measure); the robust ``spread``, var(s^2) / E[s^2]^2 (0 at
    isometry; Pennington et al.'s measure of the squared spectrum's width), percentiles
    ``p1``, ``p10``, ``p50``, ``p90``, ``p99`` and ``frac_tiny``, the fraction below 1e-3.

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import jacobian_spectrum
        >>> net = jinit.models.MLP([32] * 6, activation="linear", output="linear")
        >>> params = net.init(jax.random.key(0), jinit.orthogonal)
        >>> x = jax.random.normal(jax.random.key(1), (4, 32))
        >>> s = jacobian_spectrum(net, params, x)
        >>> round(float(s["min"]), 4), round(float(s["max"]), 4), float(s["spread"]) < 1e-10
        (1.0, 1.0, True)
    """
    tp = tap(model)
    params = default_params(tp, params, "jacobian_spectrum")
    if not (output in ("last_hidden", "output") or isinstance(output, int)):
        raise ValueError(
            f"jacobian_spectrum: output must be 'last_hidden', 'output' or a layer index, "
            f"got {output!r}."
        )
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"jacobian_spectrum: dtype must be float32 or float64, got {dtype}.")
    x = jnp.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"jacobian_spectrum: x must be a non-empty batch, got shape {x.shape}.")
    with jax.enable_x64(dtype == jnp.float64):
        jac = _jacobian_jit(tp, _as_float(params, dtype), _as_float(x, dtype), output=output)
        jac = np.asarray(jac, np.float64)
    return _summary(np.linalg.svd(jac, compute_uv=False))
