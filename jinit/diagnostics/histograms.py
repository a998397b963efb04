"""Per-layer histograms of activations (Glorot & Bengio 2010, Figs. 6-7)."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit.diagnostics.probe import tap_and_names
from jinit.diagnostics.stats import as_stat_dtype

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Histograms:
    """Per-layer histograms: ``fractions[i, k]`` of layer ``layers[i]``'s entries fall in
    ``[edges[k], edges[k + 1])`` (the last bin is closed)."""

    layers: tuple[str, ...]
    edges: np.ndarray
    fractions: np.ndarray


@functools.partial(jax.jit, static_argnames=("tp", "bins", "which", "hidden_only"))
def _histogram_jit(tp, params, x, value_range, *, bins, which, hidden_only):
    _, layers, _ = tp.forward(params, x, None)
    layers = layers[:-1] if hidden_only and len(layers) > 1 else layers
    values = [as_stat_dtype(lay[which]).ravel() for lay in layers]
    if value_range is None:
        lo = jnp.min(jnp.stack([v.min() for v in values]))
        hi = jnp.max(jnp.stack([v.max() for v in values]))
        hi = jnp.where(hi > lo, hi, lo + 1)
    else:
        lo, hi = value_range
    edges = jnp.linspace(lo, hi, bins + 1)
    counts = jnp.stack([jnp.histogram(v, edges)[0] / v.size for v in values])
    return edges, counts


def activation_histograms(
    model: Any,
    params: Any,
    x: Array,
    *,
    bins: int = 50,
    value_range: tuple[float, float] | None = None,
    which: str = "h",
    hidden_only: bool = True,
) -> Histograms:
    """Histograms of each layer's activations (``which="h"``) or pre-activations (``"z"``)
    on the batch ``x``, on shared bins (``value_range``, default: the overall min to max),
    for plots in the style of Glorot & Bengio (2010), Figs. 6-7. The output layer is left
    out unless ``hidden_only=False``.

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import activation_histograms
        >>> net = jinit.models.MLP([8, 16, 16, 2], activation="tanh")
        >>> params = net.init(jax.random.key(0), jinit.xavier_uniform)
        >>> x = jax.random.normal(jax.random.key(1), (64, 8))
        >>> hist = activation_histograms(net, params, x, bins=10, value_range=(-1, 1))
        >>> hist.fractions.shape, round(float(hist.fractions.sum()), 4)
        ((2, 10), 2.0)
    """
    if which not in ("h", "z"):
        raise ValueError(f"activation_histograms: which must be 'h' or 'z', got {which!r}.")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"activation_histograms: bins must be a positive int, got {bins!r}.")
    x = jnp.asarray(x)
    tp, params, names = tap_and_names(model, params, x, False, "activation_histograms")
    if hidden_only and len(names) > 1:
        names = names[:-1]
    vr = None if value_range is None else tuple(float(v) for v in value_range)
    if vr is not None and not (len(vr) == 2 and math.isfinite(vr[0]) and vr[0] < vr[1]):
        raise ValueError(
            f"activation_histograms: value_range must be (lo, hi) with lo < hi, got "
            f"{value_range!r}."
        )
    edges, fractions = _histogram_jit(
        tp, params, x, vr, bins=bins, which=which, hidden_only=hidden_only
    )
    return Histograms(names, np.asarray(edges), np.asarray(fractions))
