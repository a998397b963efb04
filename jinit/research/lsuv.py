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

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jinit.engine.inits import stack_seeds
from jinit.keys import run_key
from jinit.laws import orthogonal, zeros

Params = list[dict[str, jax.Array]]


def _check_options(owner: str, tol: float, max_iters: int) -> None:
    if not (isinstance(tol, int | float) and 0 < tol < 1):
        raise ValueError(f"{owner}: tol must be a float in (0, 1), got {tol!r}.")
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ValueError(f"{owner}: max_iters must be a positive int, got {max_iters!r}.")


def _check(model: Any, tol: float, max_iters: int) -> None:
    if not all(hasattr(model, a) for a in ("init", "apply", "n_layers")):
        raise TypeError(
            "lsuv: model must be a jinit model with init(key, weight_init, bias_init, dtype) and "
            f"apply(params, x, capture=True) and n_layers, got {type(model).__name__}."
        )
    _check_options("lsuv", tol, max_iters)


def _rescale_layers(variances: Callable, params: Any, layers: Sequence[tuple[int, Callable]],
                    tol: float, max_iters: int) -> Any:
    """Algorithm 1's loop on runs stacked on a leading axis: for each ``(column, rescale)`` in
    order, while some run's output variance ``variances(params)[:, column]`` is outside
    ``1 +- tol`` (at most ``max_iters`` times), ``params = rescale(params, 1 / std)`` per run
    (runs already within the tolerance, or with a zero or non-finite variance, get 1). The
    layer loop runs in Python so a layer stops as soon as every run is within the tolerance."""
    for col, rescale in layers:
        for _ in range(max_iters):
            var = variances(params)[:, col]
            done = jnp.abs(var - 1.0) < tol
            if bool(done.all()):
                break
            ok = ~done & (var > 0) & jnp.isfinite(var)
            params = rescale(params, jnp.where(ok, jax.lax.rsqrt(jnp.where(ok, var, 1.0)), 1.0))
    return params


def _on_batch(fn: Callable, x: jax.Array) -> Callable:
    """``p -> fn(p, x)`` for every run (``p`` stacked on a leading axis), one compiled
    program with the batch ``x`` an argument: captured by a closure, XLA would fold it into
    the program as a constant (compiling slower, once per batch)."""
    jitted = jax.jit(jax.vmap(fn, in_axes=(0, None)))
    return lambda p: jitted(p, x)


def _rescale(model: Any, params: Params, x: jax.Array, tol: float, max_iters: int, layers):
    """Rescale each chosen layer of every run (``params`` stacked on a run axis) until its
    output variance is within ``tol`` of 1 (:func:`_rescale_layers`); returns the params and
    each chosen layer's final output variance ``[runs, layers]``. One jitted, vmapped forward
    pass gives all layers' variances."""

    def variances(p, x):
        _, captured = model.apply(p, x, capture=True)
        return jnp.stack([jnp.var(captured[i]["z"]) for i in layers])

    def scale_kernel(p: Params, factor: jax.Array, i: int) -> Params:
        kernel = p[i]["kernel"]
        shape = (-1,) + (1,) * (kernel.ndim - 1)
        return [*p[:i], p[i] | {"kernel": kernel * factor.reshape(shape).astype(kernel.dtype)},
                *p[i + 1:]]  # fmt: skip

    var_fn = _on_batch(variances, x)
    steps = [(col, functools.partial(scale_kernel, i=i)) for col, i in enumerate(layers)]
    params = _rescale_layers(var_fn, [dict(p) for p in params], steps, tol, max_iters)
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


def lsuv(key: jax.Array, model: Any, x: jax.Array, **options: Any) -> Params:
    """LSUV parameters for a jinit model (``MLP``, ``ConvNet`` or any model whose
    ``apply(params, x, capture=True)`` returns one ``{"z", "h"}`` per layer of ``params``).

    Draws ``model.init(key, weight_init, bias_init, dtype)`` (orthonormal, zero biases), then
    rescales layer by layer until the variance of its output ``z`` on ``x`` is ``1 +- tol``
    (Mishkin & Matas 2016, Algorithm 1). ``options``: those of :func:`lsuv_runs` (``tol=0.1``,
    ``max_iters=10``, ``weight_init``, ``bias_init``, ``include_output=True``: ``False``
    leaves the last (logit) layer as drawn, ``dtype``). Raises ``ValueError`` naming the layer
    that does not converge within ``max_iters`` rescalings. Deterministic given ``key`` and
    ``x``.

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
    return jax.tree.map(lambda a: a[0], lsuv_runs(key[None], model, x, **options))


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
    return params


def lsuv_seeds(model: Any, x: jax.Array, seeds: Sequence[int], name: str = "lsuv", **kw) -> Params:
    """LSUV parameters for each seed, drawn with ``jinit.keys.run_key(seed, name)`` as a sweep
    draws run ``(name, seed)``; pass them as ``jinit.sweep(model, {name: params}, ...)``."""
    keys = jnp.stack([run_key(int(s), name) for s in seeds])
    return lsuv_runs(keys, model, x, **kw)


def _scale_leaf(params: Any, target: jax.Array, factor: jax.Array) -> Any:
    """``params`` with the leaf that *is* ``target`` multiplied by ``factor`` (per run: shape
    ``[runs]``, broadcast over the leaf's other axes)."""
    found = []

    def visit(leaf):
        if leaf is target:
            found.append(True)
            return leaf * factor.reshape((-1,) + (1,) * (leaf.ndim - 1)).astype(leaf.dtype)
        return leaf

    out = jax.tree.map(visit, params)
    if not found:
        raise ValueError("lsuv: a tapped layer's kernel is not a leaf of the parameters.")
    return out


def _lsuv_tapped(m: Any, params: Any, x: jax.Array, tol: float, max_iters: int) -> Any:
    """LSUV through a :class:`jinit.frameworks.base.Model`'s tap, on ``params`` stacked on a
    run axis: every dense/conv layer the tap sees, in call order, is rescaled per run until
    its pre-activation variance on ``x`` is ``1 +- tol``."""
    if m.tap is None:
        raise ValueError(f"lsuv: {m.description} has no tap to read its layers through.")
    variances = _on_batch(lambda p, x: jnp.stack(
        [jnp.var(lay["z"]) for lay in m.tap.forward(p, x, None)[1]]), x)  # fmt: skip
    info = m.tap.forward(jax.tree.map(lambda a: a[0], params), x, None)[2]
    tapped = [i for i, (_, kernel) in enumerate(info) if kernel is not None]

    def scale_layer(p: Any, factor: jax.Array, i: int) -> Any:
        return _scale_leaf(p, info[i][1](p), factor)

    steps = [(i, functools.partial(scale_layer, i=i)) for i in tapped]
    params = _rescale_layers(variances, params, steps, tol, max_iters)
    final = np.asarray(variances(params))[:, tapped]
    _raise_unconverged(final, [f"{i} ({info[i][0]})" for i in tapped], tol, max_iters)
    return params


def lsuv_model(key: jax.Array, model: Any, x: jax.Array, **options: Any) -> Any:
    """LSUV for any model :func:`jinit.frameworks.as_model` accepts (Flax linen / NNX,
    Equinox, Haiku, jinit), through the probe's tap: every dense/conv layer the tap sees, in
    call order, is rescaled until its pre-activation variance on ``x`` is ``1 +- tol``.
    ``options``: those of :func:`lsuv_entry` (``tol``, ``max_iters``, ``weight_init``,
    ``bias_init``). Returns the parameters (the tree ``as_model(model).init`` draws)."""
    from jinit.frameworks import as_model  # deferred: frameworks imports the adapters

    entry = lsuv_entry(x, **options)
    params = entry.draw_runs(as_model(model, x), key[None], jnp.float32)
    return jax.tree.map(lambda a: a[0], params)


class LSUVEntry(NamedTuple):
    """An ``inits`` entry of :func:`jinit.sweep` that runs LSUV for every run: run ``(name,
    seed)`` draws ``model.init(run_key(seed, name), weight_init, bias_init)`` and then rescales
    it on the batch ``x`` through the model's tap (any framework). Make one with
    :func:`lsuv_entry`."""

    x: jax.Array
    tol: float = 0.1
    max_iters: int = 10
    weight_init: Callable = orthogonal
    bias_init: Callable = zeros

    def draw_runs(self, model: Any, keys: jax.Array, dtype: Any) -> Any:
        """The LSUV parameters of the runs drawn with ``keys``, stacked on a run axis
        (``model``: the sweep's :class:`jinit.frameworks.base.Model`)."""
        draws = [model.init(k, self.weight_init, self.bias_init, dtype) for k in keys]
        x = jnp.asarray(self.x, dtype)
        return _lsuv_tapped(model, stack_seeds(draws), x, self.tol, self.max_iters)


def lsuv_entry(x: jax.Array, *, tol: float = 0.1, max_iters: int = 10,
               weight_init: Callable = orthogonal, bias_init: Callable = zeros) -> LSUVEntry:
    """LSUV as an ``inits`` entry of :func:`jinit.sweep` (data-dependent draws per run):
    ``jinit.sweep(model, {"lsuv": lsuv_entry(x_batch), "he": jinit.he_normal}, data, ...)``.
    Seed ``s`` gets exactly ``lsuv_model(run_key(s, "lsuv"), model, x_batch)``'s parameters.

    Example:
        >>> import jax, optax, jinit
        >>> from jinit.research import lsuv_entry
        >>> data = jinit.data.circles(n_train=64, n_test=16)
        >>> net = jinit.models.MLP([2, 16, 16, 1])
        >>> r = jinit.sweep(net, {"lsuv": lsuv_entry(data.x_train[:32])}, data, seeds=2,
        ...                 optimizer=optax.sgd(0.1), steps=5, progress=False)
        >>> r.inits
        ['lsuv']
    """  # fmt: skip
    _check_options("lsuv_entry", tol, max_iters)
    return LSUVEntry(jnp.asarray(x), tol, max_iters, weight_init, bias_init)
