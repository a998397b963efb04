"""Statistics of one layer's pre-activations and activations, pure and jittable."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jinit import activations

Array = jax.Array

FORWARD_STATS = (
    "mean",
    "std",
    "z_std",
    "frac_saturated",
    "frac_dead",
    "sq_channel_mean",
    "channel_var",
)
"""Statistics of :func:`layer_stats`, in table order."""
BACKWARD_STATS = ("grad_z_std", "grad_w_std")
"""Gradient statistics :func:`probe` adds when given labels and a loss."""

_SATURATION = 0.99


# --------------------------------------------------------------------------- statistics


def activation_name(activation: str | Callable | None) -> str | None:
    """The name of an activation (see :func:`jinit.activations.name_of`)."""
    return activations.name_of(activation)


def _saturation(h: Array, name: str | None) -> Array:
    kind = activations.saturation_kind(name)
    if kind == "tanh":
        return jnp.mean(jnp.abs(h) > _SATURATION)
    if kind == "sigmoid":
        return jnp.mean((h < 1 - _SATURATION) | (h > _SATURATION))
    return jnp.zeros((), h.dtype)


def as_stat_dtype(a: Array) -> Array:
    a = jnp.asarray(a)
    return a.astype(jnp.promote_types(a.dtype, jnp.float32))


def _scale(a: Array, axis: tuple[int, ...] | None) -> Array:
    """max |a| over ``axis`` (kept), 1 where that is 0 or not finite."""
    m = jnp.max(jnp.abs(a), axis=axis, keepdims=True)
    return jnp.where((m > 0) & jnp.isfinite(m), m, jnp.ones_like(m))


def mean_std(a: Array, axis: tuple[int, ...] | None = None) -> tuple[Array, Array]:
    """Mean and std of ``a`` over ``axis``, computed on ``a / max|a|`` and scaled back, so
    that the sum of squares neither underflows (activations of 1e-20 at depth keep their
    std) nor overflows (1e17 does not turn into inf) in float32."""
    s = _scale(a, axis)
    u = a / s
    s = s.reshape(()) if axis is None else jnp.squeeze(s, axis)
    return s * u.mean(axis), s * u.std(axis)


def layer_stats(
    z: Array, h: Array, *, activation: str | Callable | None = None
) -> dict[str, Array]:
    """Forward statistics of one layer from its pre-activation ``z`` and activation ``h``.

    Both are shaped ``(batch, ..., channels)`` (a dense layer's units are its channels).
    Pure and jittable; every value is a scalar array.

    - ``mean``, ``std``: of h over all entries. ``z_std``: of z.
    - ``frac_saturated``: fraction of entries of h in the flat tails of the activation:
      |h| > 0.99 for tanh-like activations (``tanh``, ``hard_tanh``, ``soft_sign``),
      h < 0.01 or h > 0.99 for sigmoid-like ones (``sigmoid``, ``hard_sigmoid``) (Glorot &
      Bengio 2010, Fig. 2); 0 for other or unnamed activations.
    - ``frac_dead``: fraction of channels whose activation is exactly zero on the whole
      batch (dead ReLUs).
    - ``sq_channel_mean``: average over channels of the squared channel mean, mean_c
      (E_{n,hw}[h])^2, and ``channel_var``: average channel variance, mean_c Var_{n,hw}[h]
      (the two curves of Brock et al. 2021, "Characterizing signal propagation to close
      the performance gap in unnormalized ResNets", Fig. 1).

    Example:
        >>> import jax.numpy as jnp
        >>> from jinit.diagnostics import layer_stats
        >>> z = jnp.array([[1.0, -2.0], [3.0, -1.0]])
        >>> s = layer_stats(z, jnp.maximum(z, 0), activation="relu")
        >>> float(s["frac_dead"]), float(s["sq_channel_mean"])
        (0.5, 2.0)
    """
    z, h = as_stat_dtype(z), as_stat_dtype(h)
    if h.ndim == 1:
        z, h = z.reshape(-1, 1), h.reshape(-1, 1)
    if h.ndim < 2 or h.shape[0] == 0:
        raise ValueError(
            f"layer_stats: need activations shaped (batch, ..., channels) with a non-empty "
            f"batch, got shape {h.shape}."
        )
    axes = tuple(range(h.ndim - 1))
    mean, std = mean_std(h)
    channel_mean, channel_std = mean_std(h, axes)
    return {
        "mean": mean,
        "std": std,
        "z_std": mean_std(z)[1],
        "frac_saturated": _saturation(h, activation_name(activation)).astype(h.dtype),
        "frac_dead": jnp.mean(jnp.all(h == 0, axis=axes)).astype(h.dtype),
        "sq_channel_mean": jnp.mean(channel_mean**2),
        "channel_var": jnp.mean(channel_std**2),
    }


def stacked_stats(arrays: list[Array], fn: Callable[[Array], dict[str, Array]]) -> dict:
    """``fn`` on each array, stacked per statistic; runs of equal shapes are stacked and
    vmapped, so a deep net's statistics compile to a few ops, not a few per layer."""
    if not arrays:
        return {}
    groups: list[list[int]] = []
    for i, a in enumerate(arrays):
        if groups and arrays[groups[-1][0]].shape == a.shape:
            groups[-1].append(i)
        else:
            groups.append([i])
    parts = [jax.vmap(fn)(jnp.stack([arrays[i] for i in g])) for g in groups]
    return {k: jnp.concatenate([p[k] for p in parts]) for k in parts[0]}


def std_or_nan(arrays: list[Array | None]) -> Array:
    """Per-array std (float32 at least), NaN for ``None``; equal shapes are stacked."""
    present = [a for a in arrays if a is not None]
    if not present:
        return jnp.full((len(arrays),), jnp.nan, jnp.float32)
    stds = iter(stacked_stats(present, lambda a: {"std": mean_std(as_stat_dtype(a))[1]})["std"])
    return jnp.stack([jnp.asarray(jnp.nan if a is None else next(stds), jnp.float32)
                      for a in arrays])  # fmt: skip
