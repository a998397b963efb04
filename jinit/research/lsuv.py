"""LSUV: layer-sequential unit-variance initialization (Mishkin & Matas 2015).

Mishkin & Matas (2016, ICLR), "All you need is a good init", Algorithm 1:

1. draw every weight orthonormal (Saxe et al. 2014), biases zero;
2. for each layer ``l`` in order, on one batch ``x``: compute the layer's output (its
   pre-activation ``z_l``) and rescale ``W_l <- W_l / std(z_l)`` until
   ``|var(z_l) - 1| < tol`` or ``max_iters`` rescalings were made.

Layers are visited in order, so layer ``l`` is rescaled with layers ``< l`` already at unit
variance. With zero biases one rescaling suffices for a dense layer (``z`` is linear in
``W``); the loop matters when biases are not zero or the model normalizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit.engine.inits import stack_seeds
from jinit.keys import run_key
from jinit.laws import orthogonal, zeros

Params = list[dict[str, jax.Array]]


def _check(model: Any, tol: float, max_iters: int) -> None:
    if not all(hasattr(model, a) for a in ("init", "apply", "n_layers")):
        raise TypeError(
            "lsuv: model must be a jinit model with init(key, weight_init, bias_init, dtype) and "
            f"apply(params, x, capture=True) and n_layers, got {type(model).__name__}."
        )
    if not (isinstance(tol, int | float) and 0 < tol < 1):
        raise ValueError(f"lsuv: tol must be a float in (0, 1), got {tol!r}.")
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f"lsuv: max_iters must be a positive int, got {max_iters!r}.")


def _rescale(model: Any, params: Params, x: jax.Array, tol: float, max_iters: int, layers):
    """Rescale each chosen layer of every run (``params`` stacked on a run axis) until its
    output variance is within ``tol`` of 1, at most ``max_iters`` times; returns the params and
    each chosen layer's final output variance ``[runs, layers]``.

    One jitted, vmapped forward pass gives all layers' variances; the layer loop runs in Python
    so a layer stops as soon as every run is within the tolerance."""

    def variances(p):
        _, captured = model.apply(p, x, capture=True)
        return jnp.stack([jnp.var(captured[i]["z"]) for i in layers])

    var_fn = jax.jit(jax.vmap(variances))
    params = [dict(p) for p in params]
    for col, i in enumerate(layers):
        for _ in range(max_iters):
            var = var_fn(params)[:, col]
            done = jnp.abs(var - 1.0) < tol
            if bool(done.all()):
                break
            ok = ~done & (var > 0) & jnp.isfinite(var)
            factor = jnp.where(ok, jax.lax.rsqrt(jnp.where(ok, var, 1.0)), 1.0)
            kernel = params[i]["kernel"]
            shape = (-1,) + (1,) * (kernel.ndim - 1)
            params[i]["kernel"] = kernel * factor.reshape(shape).astype(kernel.dtype)
    return params, var_fn(params)


def _raise_unconverged(variances: np.ndarray, layers: Sequence[int], tol: float, iters: int):
    """``variances``: [runs, layers]. Names the first layer (and run) outside the tolerance."""
    bad = ~(np.abs(variances - 1.0) < tol)
    if bad.any():
        run, col = np.argwhere(bad)[0]
        where = f" (run {run})" if variances.shape[0] > 1 else ""
        raise ValueError(
            f"lsuv: layer {layers[col]}{where} did not reach unit output variance within tol={tol} "
            f"after max_iters={iters} rescalings (variance {variances[run, col]:.4g}); raise "
            "max_iters or tol, or check that the batch x is not constant."
        )


def lsuv(
    key: jax.Array,
    model: Any,
    x: jax.Array,
    *,
    tol: float = 0.1,
    max_iters: int = 10,
    weight_init: Callable = orthogonal,
    bias_init: Callable = zeros,
    include_output: bool = True,
    dtype: Any = jnp.float32,
) -> Params:
    """LSUV parameters for a jinit model (``MLP``, ``ConvNet`` or any model whose
    ``apply(params, x, capture=True)`` returns one ``{"z", "h"}`` per layer of ``params``).

    Draws ``model.init(key, weight_init, bias_init, dtype)`` (orthonormal, zero biases), then
    rescales layer by layer until the variance of its output ``z`` on ``x`` is ``1 +- tol``
    (Mishkin & Matas 2016, Algorithm 1). ``include_output=False`` leaves the last (logit)
    layer as drawn. Raises ``ValueError`` naming the layer that does not converge within
    ``max_iters`` rescalings. Deterministic given ``key`` and ``x``.

    Example:
        >>> import jax, jinit
        >>> from jinit.research import lsuv
        >>> net = jinit.models.MLP([16] + [64] * 20 + [10], output="softmax")
        >>> x = jax.random.normal(jax.random.key(1), (128, 16))
        >>> params = lsuv(jax.random.key(0), net, x)
        >>> _, layers = net.apply(params, x, capture=True)
        >>> bool(abs(float(layers[15]["z"].var()) - 1) < 0.1)
        True
    """
    return lsuv_runs(key[None], model, x, tol=tol, max_iters=max_iters, weight_init=weight_init,
                     bias_init=bias_init, include_output=include_output, dtype=dtype,
                     _stacked=False)  # fmt: skip


def lsuv_runs(
    keys: jax.Array,
    model: Any,
    x: jax.Array,
    *,
    tol: float = 0.1,
    max_iters: int = 10,
    weight_init: Callable = orthogonal,
    bias_init: Callable = zeros,
    include_output: bool = True,
    dtype: Any = jnp.float32,
    _stacked: bool = True,
) -> Params:
    """:func:`lsuv` for many keys at once (vmapped): parameters stacked on a leading run axis,
    ready for a sweep's ``inits={name: params}`` (see :func:`lsuv_seeds`)."""
    _check(model, tol, max_iters)
    x = jnp.asarray(x, dtype)
    layers = list(range(model.n_layers if include_output else model.n_layers - 1))

    # drawn eagerly, one run at a time: jit-compiling a deep net's QR draws costs far more
    # (13 s for a 31-layer MLP on 2 CPU cores) than running them (0.08 s)
    draws = [model.init(k, weight_init, bias_init, dtype) for k in keys]
    params = stack_seeds(draws)
    params, variances = _rescale(model, params, x, tol, max_iters, layers)
    _raise_unconverged(np.asarray(variances), layers, tol, max_iters)
    return params if _stacked else jax.tree.map(lambda a: a[0], params)


def lsuv_seeds(model: Any, x: jax.Array, seeds: Sequence[int], name: str = "lsuv", **kw) -> Params:
    """LSUV parameters for each seed, drawn with ``jinit.keys.run_key(seed, name)`` as a sweep
    draws run ``(name, seed)``; pass them as ``jinit.sweep(model, {name: params}, ...)``."""
    keys = jnp.stack([run_key(int(s), name) for s in seeds])
    return lsuv_runs(keys, model, x, **kw)


def _scale_leaf(params: Any, target: jax.Array, factor: jax.Array) -> Any:
    """``params`` with the leaf that *is* ``target`` multiplied by ``factor``."""
    found = []

    def visit(leaf):
        if leaf is target:
            found.append(True)
            return leaf * factor.astype(leaf.dtype)
        return leaf

    out = jax.tree.map(visit, params)
    if not found:
        raise ValueError("lsuv_model: a tapped layer's kernel is not a leaf of the parameters.")
    return out


def lsuv_model(
    key: jax.Array,
    model: Any,
    x: jax.Array,
    *,
    tol: float = 0.1,
    max_iters: int = 10,
    weight_init: Callable = orthogonal,
    bias_init: Callable = zeros,
) -> Any:
    """LSUV for any model :func:`jinit.frameworks.as_model` accepts (Flax linen / NNX,
    Equinox, Haiku, jinit), through the probe's tap: every dense/conv layer the tap sees, in
    call order, is rescaled until its pre-activation variance on ``x`` is ``1 +- tol``.
    Returns the parameters (the tree ``as_model(model).init`` draws)."""
    from jinit.frameworks import as_model  # deferred: frameworks imports the adapters

    if not (isinstance(tol, int | float) and 0 < tol < 1):
        raise ValueError(f"lsuv_model: tol must be a float in (0, 1), got {tol!r}.")
    m = as_model(model, x)
    if m.tap is None:
        raise ValueError(f"lsuv_model: {m.description} has no tap to read its layers through.")
    params = m.init(key, weight_init, bias_init)
    forward = jax.jit(lambda p: m.tap.forward(p, x, None)[1])
    info = m.tap.forward(params, x, None)[2]
    for i, (name, kernel) in enumerate(info):
        for _ in range(max_iters):
            var = jnp.var(forward(params)[i]["z"])
            if bool(jnp.abs(var - 1.0) < tol) or kernel is None:
                break
            params = _scale_leaf(params, kernel(params), jax.lax.rsqrt(var))
        var = float(jnp.var(forward(params)[i]["z"]))
        if not abs(var - 1.0) < tol:
            raise ValueError(
                f"lsuv_model: layer {i} ({name}) did not reach unit output variance within "
                f"tol={tol} after max_iters={max_iters} rescalings (variance {var:.4g})."
            )
    return params
