"""Losses computed stably from logits, and accuracy.

Every function takes ``(logits, labels)`` for one batch and returns a scalar. Labels are
class indices (0/1 for binary, shape ``(batch,)``); logits are ``(batch, 1)`` for a sigmoid
output and ``(batch, classes)`` for softmax.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

Loss = Callable[[jax.Array, jax.Array], jax.Array]


def binary_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean of -[y log s(z) + (1 - y) log(1 - s(z))], computed from logits z without overflow.

    A saturated sigmoid (the course's x10 init drives outputs to exactly 1.0 in float) gives a
    large finite loss here instead of inf/NaN.

    Per example: :func:`sigmoid_xent`.
    """
    z = logits.reshape(labels.shape[0], -1)[:, 0]
    return sigmoid_xent(z, labels.astype(z.dtype)).mean()


def sigmoid_xent(z: jax.Array, y: jax.Array) -> jax.Array:
    """Elementwise ``-[y log s(z) + (1 - y) log(1 - s(z))]`` as
    ``max(z, 0) - y z + log1p(exp(-|z|))``: one ``exp`` and one ``log1p``, finite for every
    finite ``z``, gradient ``sigmoid(z) - y``.

    Equals ``optax.sigmoid_binary_cross_entropy`` to float round-off (tested); optax's form
    (two guarded ``log_sigmoid`` calls) made a sweep's training step of the 2-10-5-1 circles
    net, which needs every step's loss value, 1.2-1.6x slower (``scripts/bench_engine_parts.py``).
    """
    return _xent_and_sigmoid(z)[0] - z * y


@jax.custom_jvp
def _xent_and_sigmoid(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(softplus(z), sigmoid(z))`` from one ``exp(-|z|)``; the derivative of softplus is
    ``sigmoid(z)`` everywhere, also at ``z = 0`` (where autodiff of ``max`` and ``abs``
    would give 0 or 1, not 1/2)."""
    e = jnp.exp(-jnp.abs(z))
    return jnp.maximum(z, 0) + jnp.log1p(e), jnp.where(z >= 0, 1, e) / (1 + e)


@_xent_and_sigmoid.defjvp
def _xent_and_sigmoid_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    softplus, sig = _xent_and_sigmoid(z)
    return (softplus, sig), (sig * dz, sig * (1 - sig) * dz)


def course_cost(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The Coursera course's cost: ``-1/m * nansum(y log a + (1 - y) log(1 - a))``, a = sigmoid(z).

    Computed from the probabilities as the course does, so it is ``inf`` where a saturates
    to exactly 0 or 1 on a wrong label (the x10 init at iteration 0). Report it beside
    :func:`binary_cross_entropy` in faithful reproductions.
    """
    z = logits.reshape(labels.shape[0], -1)[:, 0]
    a = jax.nn.sigmoid(z)
    y = labels.astype(a.dtype)
    terms = y * jnp.log(a) + (1 - y) * jnp.log(1 - a)
    return -jnp.nansum(terms) / labels.shape[0]


def softmax_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean of -log softmax(z)[y] over the batch."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def sigmoid_cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Nielsen's cross-entropy for sigmoid outputs on one-hot targets, summed over units.

    Mean over the batch of sum_j -[y_j log s(z_j) + (1 - y_j) log(1 - s(z_j))] with y the
    one-hot label (Nielsen, ch. 3).
    """
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return sigmoid_xent(logits, onehot).sum(-1).mean()


def mean_squared_error(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean of (z - y)^2 (one output unit compared with the label value)."""
    z = logits.reshape(labels.shape[0], -1)
    return jnp.mean((z - labels.reshape(z.shape[0], -1).astype(z.dtype)) ** 2)


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction correct: ``sigmoid(z) > 0.5`` (i.e. z > 0, strict, as the course) for one
    output unit, argmax otherwise."""
    if logits.shape[-1] == 1 or logits.ndim == 1:
        pred = logits.reshape(labels.shape[0], -1)[:, 0] > 0
        return jnp.mean(pred == (labels > 0))
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


LOSSES: dict[str, Loss] = {
    "binary_cross_entropy": binary_cross_entropy,
    "softmax_cross_entropy": softmax_cross_entropy,
    "sigmoid_cross_entropy": sigmoid_cross_entropy,
    "mean_squared_error": mean_squared_error,
    "course_cost": course_cost,
}
DEFAULT_FOR_OUTPUT = {
    "sigmoid": "binary_cross_entropy",
    "softmax": "softmax_cross_entropy",
    "linear": "mean_squared_error",
}


def get(loss: str | Loss) -> Loss:
    """A loss by name (see ``LOSSES``) or a callable ``(logits, labels) -> scalar``."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        close = difflib.get_close_matches(str(loss), LOSSES, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown loss {loss!r}.{hint} Accepted: {', '.join(LOSSES)}.")
    return LOSSES[loss]
