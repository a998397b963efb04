"""Per-layer statistics of a network's signal, shared by the probe, the experiments and
``describe``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def layer_stats(z: jax.Array, h: jax.Array, *, activation: str | None = None) -> dict:
    """Statistics of one layer's pre-activations ``z`` and activations ``h`` (batch first).

    ``mean`` and ``std`` of h over all entries; ``z_std``; ``frac_saturated``: entries with
    |h| > 0.99 (tanh-like) or h < 0.01 or h > 0.99 where h lies in [0, 1] (sigmoid-like);
    ``frac_dead``: units (last axis) that are zero on the whole batch (dead ReLUs);
    ``sq_channel_mean`` and ``channel_var``: the average over units of the squared mean and of
    the variance over the batch (Brock et al. 2021's signal propagation plots). Jittable.
    """
    flat = h.reshape(-1, h.shape[-1])
    in_unit_interval = (flat.min() >= 0) & (flat.max() <= 1)
    if activation in ("sigmoid",):
        saturated = (flat < 0.01) | (flat > 0.99)
    elif activation in ("tanh",):
        saturated = jnp.abs(flat) > 0.99
    else:
        saturated = jnp.where(in_unit_interval, (flat < 0.01) | (flat > 0.99), jnp.abs(flat) > 0.99)
    return {
        "mean": flat.mean(),
        "std": flat.std(),
        "z_std": z.std(),
        "frac_saturated": saturated.mean(),
        "frac_dead": jnp.all(flat == 0, axis=0).mean(),
        "sq_channel_mean": jnp.mean(flat.mean(axis=0) ** 2),
        "channel_var": jnp.mean(flat.var(axis=0)),
    }


def symmetry(params: Sequence, *, tol: float = 1e-6) -> list[int]:
    """Distinct hidden units per hidden layer of an MLP.

    ``params`` is a list of ``{"kernel": (in, out), "bias": (out,)}`` dicts (or (W, b) pairs).
    Two units of hidden layer l are the same if their incoming weights, bias and outgoing
    weights agree within ``tol``. Zero or constant init gives 1 per layer forever.
    """
    layers = [(np.asarray(p["kernel"]), np.asarray(p["bias"])) if isinstance(p, dict)
              else (np.asarray(p[0]), np.asarray(p[1])) for p in params]  # fmt: skip
    counts = []
    for (w_in, b), (w_out, _) in itertools.pairwise(layers):
        units = np.concatenate([w_in.T, b[:, None], w_out], axis=1)  # one row per unit
        distinct: list[np.ndarray] = []
        for row in units:
            if not any(np.max(np.abs(row - d)) <= tol for d in distinct):
                distinct.append(row)
        counts.append(len(distinct))
    return counts
