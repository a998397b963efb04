"""MetaInit (Dauphin & Schoenholz 2019): tune the norm of every weight tensor so that the
gradient quotient is small.

Dauphin & Schoenholz (2019, NeurIPS), "MetaInit: Initializing learning by learning to
initialize", Sec. 3 and Algorithm 1. With ``g`` the gradient of the loss and ``H`` its Hessian,
one gradient step changes the gradient to ``g - H g`` (learning rate 1); a good init is one
where this is close to ``g`` (the curvature does not swamp the gradient). The *gradient
quotient*

    GQ(theta) = 1/N sum_i | (g_i - (H g)_i) / (g_i + eps sign(g_i)) - 1 |

(``N`` parameters, ``eps = 1e-5``, ``sign(0) = +1``, the ``eps sign(g)`` term not
differentiated) is minimized over the norms ``||W_j||`` of the weight tensors (two or more
axes; biases and norm vectors keep their values) by signSGD with momentum: ``m <- momentum m
- lr sign(dGQ / d||W_j||)``, ``||W_j|| <- ||W_j|| + m``. ``H g`` is a Hessian-vector product
(``jax.jvp`` of ``jax.grad``). The paper's defaults: ``lr = 0.1``, ``momentum = 0.9``,
``eps = 1e-5``, and a batch of random data, which works as well as real data (any ``x, y``
here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jinit.research import _tuning

EPS = 1e-5


def gradient_quotient(loss_fn: Callable[[Any], jax.Array], params: Any, eps: float = EPS):
    """MetaInit's gradient quotient of ``loss_fn(params)`` (the module docstring's ``GQ``).

    Example:
        >>> import jax.numpy as jnp
        >>> from jinit.research import gradient_quotient
        >>> # a quadratic 0.5 h w^2 has H g = h g: GQ = |1 - h - 1| = h
        >>> round(float(gradient_quotient(lambda w: 0.5 * 0.3 * jnp.sum(w**2), jnp.ones(3))), 4)
        0.3
    """
    grad = jax.grad(loss_fn)
    g, hg = jax.jvp(grad, (params,), (grad(params),))

    def quotient(g_i: jax.Array, hg_i: jax.Array) -> jax.Array:
        guard = jax.lax.stop_gradient(eps * jnp.where(g_i >= 0, 1.0, -1.0))
        return jnp.abs((g_i - hg_i) / (g_i + guard) - 1.0).sum()

    total = sum(jax.tree_util.tree_leaves(jax.tree_util.tree_map(quotient, g, hg)))
    return total / sum(p.size for p in jax.tree_util.tree_leaves(params))


def metainit(
    key: jax.Array,
    model: Any,
    params: Any,
    x: Any,
    y: Any,
    *,
    steps: int = 100,
    lr: float = 0.1,
    momentum: float = 0.9,
    eps: float = EPS,
    batch_size: int | None = None,
    loss: Any = None,
) -> Any:
    """``params`` with every weight tensor rescaled by MetaInit (see the module docstring).

    ``model``: a jinit model or an ``apply(params, x) -> logits`` function; ``loss``: a loss
    name of :mod:`jinit.losses` or ``(logits, labels) -> scalar`` (default: the model output's
    loss). Each of the ``steps`` signSGD steps uses ``batch_size`` rows of ``x, y`` drawn with
    ``key`` (default: all rows). One compiled ``lax.scan``; jit-able and vmappable over runs.

    Example:
        >>> import functools, jax, jinit
        >>> from jinit.research import gradient_quotient, metainit
        >>> net = jinit.models.MLP([4, 16, 16, 3], output="softmax")
        >>> x = jax.random.normal(jax.random.key(1), (64, 4))
        >>> y = jax.random.randint(jax.random.key(2), (64,), 0, 3)
        >>> p0 = net.init(jax.random.key(0), functools.partial(jinit.normal, stddev=1.0))
        >>> p1 = metainit(jax.random.key(3), net, p0, x, y, steps=50)
        >>> gq = lambda p: float(gradient_quotient(lambda q: jinit.losses.softmax_cross_entropy(
        ...     net.apply(q, x), y), p))
        >>> gq(p1) < gq(p0)
        True
    """
    loss_fn = _tuning.objective("metainit", model, loss)
    x, y = _tuning.check_batch("metainit", params, x, y)
    _tuning.positive("metainit", integer=True, steps=steps)
    _tuning.positive("metainit", lr=lr, eps=eps)
    if not (isinstance(momentum, int | float) and 0 <= momentum < 1):
        raise ValueError(f"metainit: momentum must be a number in [0, 1), got {momentum!r}.")
    size = x.shape[0] if batch_size is None else batch_size
    _tuning.positive("metainit", integer=True, batch_size=size)
    return _run(key, loss_fn, params, x, y, steps, lr, momentum, eps, min(size, x.shape[0]))


def _run(key, loss_fn, params, x, y, steps, lr, momentum, eps, size):
    leaves, treedef = jax.tree_util.tree_flatten(params)
    tuned = [i for i, p in enumerate(leaves) if _tuning.is_weight(p)]
    if not tuned:
        raise ValueError("metainit: params has no weight tensor (a leaf with two or more axes).")
    norm0 = jnp.stack([jnp.linalg.norm(leaves[i]) for i in tuned])

    def with_norms(norms):  # an all-zero tensor has no direction: it stays zero
        factor = jnp.where(norm0 > 0, norms / jnp.where(norm0 > 0, norm0, 1.0), 1.0)
        new = list(leaves)
        for k, i in enumerate(tuned):
            new[i] = leaves[i] * factor[k].astype(leaves[i].dtype)
        return jax.tree_util.tree_unflatten(treedef, new)

    def gq(norms, xb, yb):
        return gradient_quotient(lambda p: loss_fn(p, xb, yb), with_norms(norms), eps)

    # signSGD with momentum: optax's trace m <- g + momentum m, update -lr m, on sign(g)
    opt = optax.chain(optax.stateless(lambda g, _: jnp.sign(g)), optax.sgd(lr, momentum))

    def step(carry, k):
        norms, state = carry
        idx = _tuning.rows(k, x.shape[0], size)
        grad = jax.grad(gq)(norms, x[idx], y[idx])
        updates, state = opt.update(grad, state, norms)
        return (optax.apply_updates(norms, updates), state), None

    (norms, _), _ = jax.lax.scan(step, (norm0, opt.init(norm0)), jax.random.split(key, steps))
    return with_norms(norms)
