"""GradInit (Zhu et al. 2021): learn one scale per parameter tensor so that the loss after one
step of the target optimizer is as small as possible, under a bound on the gradient norm.

Zhu, Ni, Xu, Kong, Huang & Goldstein (2021, NeurIPS), "GradInit: Learning to Initialize Neural
Networks for Stable and Efficient Training", Sec. 3 and Algorithm 1. Every tensor ``W_j`` of the
initial parameters gets a scale ``alpha_j`` (start 1); with ``theta = alpha * theta_0``,
the gradient ``g`` on a mini-batch ``S`` and the target optimizer's first step ``A[g]`` (SGD:
``g``; Adam: ``g / (|g| + eps)``, about ``sign(g)``), each iteration minimizes over ``alpha``

    ||g||_p                                  if ||g||_p > gamma  (p = 2 for SGD, 1 for Adam)
    L(S'; theta - eta A[g]) / eta            otherwise,

with Adam (learning rate ``scale_lr``) on ``alpha``, then clamps ``alpha >= min_scale`` for
weights (two or more axes) and ``alpha >= 0`` for the other tensors. ``S'`` shares half its rows
with ``S`` (the paper's code: ``S = [B0, B1]``, ``S' = [B0, B2]``). ``eta`` is the learning
rate of the training that follows. Defaults as the paper's CIFAR-10 runs: ``gamma = 1``,
``min_scale = 0.01``.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jinit.research import _tuning

#: The target optimizers: their first step and the norm ``p`` of the constraint. Adam's
#: ``eps_root`` keeps the derivative of ``sqrt(v)`` finite where a gradient entry is 0.
OPTIMIZERS = {"sgd": (optax.sgd, 2), "adam": (functools.partial(optax.adam, eps_root=1e-16), 1)}


class StepLoss(NamedTuple):
    """The two terms of GradInit's objective at some parameters."""

    grad_norm: jax.Array  #: ||g||_p on the batch
    loss_after: jax.Array  #: the loss after one step of the target optimizer


def step_loss(
    model: Any, params: Any, x: Any, y: Any, *, optimizer: str = "sgd", lr: float = 0.1,
    loss: Any = None, x_after: Any = None, y_after: Any = None,
) -> StepLoss:  # fmt: skip
    """``||g||_p`` on ``x, y`` and the loss on ``x_after, y_after`` (default ``x, y``) after one
    step of ``optimizer`` ("sgd" or "adam") with learning rate ``lr`` (see the module
    docstring).

    Example:
        >>> import jax, jinit
        >>> from jinit.research import step_loss
        >>> net = jinit.models.MLP([4, 8, 3], output="softmax")
        >>> x, y = jax.numpy.ones((6, 4)), jax.numpy.array([0, 1, 2, 0, 1, 2])
        >>> s = step_loss(net, net.init(jax.random.key(0), jinit.he_normal), x, y, lr=0.1)
        >>> bool(s.grad_norm > 0), bool(s.loss_after > 0)
        (True, True)
    """
    fn = _objective_terms("step_loss", model, loss, optimizer, lr)
    x, y = _tuning.check_batch("step_loss", params, x, y)
    xa, ya = (x, y) if x_after is None else _tuning.check_batch("step_loss", params, x_after,
                                                                y_after)  # fmt: skip
    return fn(params, x, y, xa, ya)


def _objective_terms(owner: str, model: Any, loss: Any, optimizer: str, lr: float):
    loss_fn = _tuning.objective(owner, model, loss)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"{owner}: optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    _tuning.positive(owner, lr=lr)
    make, p = OPTIMIZERS[optimizer]
    target = make(lr)

    def terms(params, x, y, xa, ya) -> StepLoss:
        g = jax.grad(loss_fn)(params, x, y)
        leaves = jax.tree_util.tree_leaves(g)
        norm = (sum(jnp.abs(a).sum() for a in leaves) if p == 1
                else jnp.sqrt(sum(jnp.square(a).sum() for a in leaves)))  # fmt: skip
        updates, _ = target.update(g, target.init(params), params)
        return StepLoss(norm, loss_fn(optax.apply_updates(params, updates), xa, ya))

    return terms


def gradinit(
    key: jax.Array,
    model: Any,
    params: Any,
    x: Any,
    y: Any,
    *,
    optimizer: str = "sgd",
    lr: float = 0.1,
    gamma: float = 1.0,
    steps: int = 100,
    batch_size: int = 64,
    scale_lr: float = 0.01,
    min_scale: float = 0.01,
    loss: Any = None,
) -> Any:
    """``params`` with every tensor rescaled by GradInit (see the module docstring).

    ``optimizer`` ("sgd" or "adam") and ``lr``: the optimizer and learning rate the net will
    be trained with; ``gamma``: the bound on ``||g||_p``; ``steps`` iterations on mini-batches
    of ``batch_size`` rows of ``x, y`` drawn with ``key``. ``model``: a jinit model or an
    ``apply(params, x) -> logits`` function. One compiled ``lax.scan``; jit-able.

    Example:
        >>> import functools, jax, jinit
        >>> from jinit.research import gradinit, step_loss
        >>> net = jinit.models.MLP([4, 16, 16, 3], output="softmax")
        >>> xy = (jax.random.normal(jax.random.key(1), (128, 4)),
        ...       jax.random.randint(jax.random.key(2), (128,), 0, 3))
        >>> big = net.init(jax.random.key(0), functools.partial(jinit.normal, stddev=1.0))
        >>> tuned = gradinit(jax.random.key(3), net, big, *xy, lr=0.1, steps=200)
        >>> [bool(step_loss(net, p, *xy, lr=0.1).grad_norm < 1.5) for p in (big, tuned)]
        [False, True]
    """
    terms = _objective_terms("gradinit", model, loss, optimizer, lr)
    x, y = _tuning.check_batch("gradinit", params, x, y)
    _tuning.positive("gradinit", gamma=gamma, scale_lr=scale_lr, min_scale=min_scale)
    _tuning.positive("gradinit", integer=True, steps=steps, batch_size=batch_size)
    if batch_size < 2 or batch_size // 2 * 3 > x.shape[0]:
        raise ValueError(
            f"gradinit: batch_size must be >= 2 and 1.5 x batch_size <= the rows of x "
            f"({x.shape[0]}), got {batch_size}."
        )
    half = batch_size // 2
    scales0 = jax.tree_util.tree_map(lambda p: jnp.ones((), p.dtype), params)
    floor = jax.tree_util.tree_map(lambda p: min_scale if _tuning.is_weight(p) else 0.0, params)
    opt = optax.adam(scale_lr)

    def objective(scales, xg, yg, xa, ya):
        t = terms(_tuning.rescale(params, scales), xg, yg, xa, ya)
        violated = jax.lax.stop_gradient(t.grad_norm) > gamma
        return jnp.where(violated, t.grad_norm, t.loss_after / lr)

    def step(carry, k):
        scales, state = carry
        idx = _tuning.rows(k, x.shape[0], 3 * half)
        b0, b1, b2 = idx[:half], idx[half:2 * half], idx[2 * half:]
        grad = jax.grad(objective)(scales, x[jnp.concatenate([b0, b1])],
                                   y[jnp.concatenate([b0, b1])], x[jnp.concatenate([b0, b2])],
                                   y[jnp.concatenate([b0, b2])])  # fmt: skip
        updates, state = opt.update(grad, state, scales)
        scales = jax.tree_util.tree_map(jnp.maximum, optax.apply_updates(scales, updates), floor)
        return (scales, state), None

    (scales, _), _ = jax.lax.scan(step, (scales0, opt.init(scales0)), jax.random.split(key, steps))
    return _tuning.rescale(params, scales)
