"""Shared pieces of the data-dependent scale tuners (:mod:`~jinit.research.metainit`,
:mod:`~jinit.research.gradinit`): the model's apply function and loss, argument checks,
mini-batch sampling and per-tensor rescaling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jinit import losses

Loss = Callable[[Any, jax.Array, jax.Array], jax.Array]


def objective(owner: str, model: Any, loss: Any) -> Loss:
    """``loss_fn(params, x, y)``: ``loss(apply(params, x), y)``. ``model`` is a jinit model (its
    ``apply`` and ``output``) or an ``apply(params, x) -> logits`` function; ``loss`` a name of
    :mod:`jinit.losses`, a callable ``(logits, labels) -> scalar``, or None (the model output's
    default loss; softmax cross-entropy for a bare function)."""
    apply = getattr(model, "apply", model)
    if not callable(apply):
        raise TypeError(
            f"{owner}: model must be a jinit model (with apply) or a function apply(params, x) "
            f"-> logits, got {type(model).__name__}."
        )
    if loss is None:
        loss = losses.DEFAULT_FOR_OUTPUT.get(getattr(model, "output", None) or "softmax")
    fn = losses.get(loss)

    def loss_fn(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        return fn(apply(params, x), y)

    return loss_fn


def check_batch(owner: str, params: Any, x: Any, y: Any) -> tuple[jax.Array, jax.Array]:
    """``(x, y)`` as arrays with the same number of rows; params a non-empty float tree."""
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves or not all(jnp.issubdtype(jnp.asarray(p).dtype, jnp.floating) for p in leaves):
        raise TypeError(f"{owner}: params must be a non-empty pytree of float arrays.")
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(
            f"{owner}: x and y must be arrays with the same number (>= 2) of rows, got shapes "
            f"{x.shape} and {y.shape}."
        )
    return x, y


def positive(owner: str, integer: bool = False, **values: Any) -> None:
    """Raise ``ValueError`` naming the first value that is not a positive number (int)."""
    for name, v in values.items():
        kinds = int if integer else int | float
        if isinstance(v, bool) or not isinstance(v, kinds) or not v > 0:
            what = "a positive int" if integer else "a positive number"
            raise ValueError(f"{owner}: {name} must be {what}, got {v!r}.")


def rows(key: jax.Array, n: int, size: int) -> jax.Array:
    """``size`` distinct row indices of ``n`` rows, drawn with ``key``."""
    return jax.random.choice(key, n, (size,), replace=False)


def rescale(params: Any, scales: Any) -> Any:
    """Every leaf of ``params`` times its scalar in ``scales`` (a tree of the same structure)."""
    return jax.tree_util.tree_map(lambda p, s: p * s.astype(p.dtype), params, scales)


def is_weight(leaf: Any) -> bool:
    """A weight tensor (kernel, embedding: two or more axes), not a bias or a norm vector."""
    return jnp.ndim(leaf) >= 2
