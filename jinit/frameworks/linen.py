"""Flax linen: a module as a :class:`~jinit.frameworks.base.Model`, and its probe tap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jinit.frameworks import base, detection


def tap_flax(module: Any, **apply_kwargs: Any) -> base.Tap:
    """A tap for a Flax linen module; params are its variables ``{"params": ...}`` or the
    ``params`` collection alone (the template of :func:`from_flax`).

    Every call of a ``Dense``, ``DenseGeneral``, ``Conv`` or ``ConvTranspose`` is intercepted
    (``flax.linen.intercept_methods``): its output is the layer's z (plus the perturbation),
    and its activation h is the next such layer's input, so any elementwise activation in
    ``__call__`` is taken as the model computes it. ``apply_kwargs`` go to ``module.apply``.
    """
    import flax.linen as nn

    kinds = (nn.Dense, nn.DenseGeneral, nn.Conv, nn.ConvTranspose)

    def forward(params, x, perturbations):
        wrapped = not (isinstance(params, Mapping) and "params" in params)
        variables = {"params": params} if wrapped else params
        prefix = () if wrapped else ("params",)
        calls, info = [], []

        def interceptor(next_fun, args, kwargs, context):
            if context.method_name != "__call__" or not isinstance(context.module, kinds):
                return next_fun(*args, **kwargs)
            z = base.perturb(next_fun(*args, **kwargs), perturbations, len(calls))
            path = tuple(context.module.scope.path)
            calls.append((args[0] if args else kwargs["inputs"], z))
            info.append(("/".join(path), base.selector(*prefix, *path, "kernel")))
            return z

        with nn.intercept_methods(interceptor):
            out = module.apply(variables, x, **apply_kwargs)
        return out, base.assemble(calls, out), info

    return base.Tap(forward, key=("flax", module, base.fingerprint(apply_kwargs)))


def from_flax(
    module: Any,
    example_x: Any,
    rules: base.RulesFn | None = None,
    *,
    output: str | None = None,
) -> base.Model:
    """A ``flax.linen`` module as a sweep model.

    The template is ``module.init(jax.random.key(0), example_x)["params"]`` (metadata boxes
    such as ``nn.Partitioned`` removed); ``apply(params, x)`` is
    ``module.apply({"params": params}, x)``, so the module is called as ``module(x)`` (wrap
    it in a module of that signature for other arguments). ``example_x`` is a batch of
    example inputs (one is enough). Default rules: ``{"*kernel": weight_init, "*bias":
    bias_init}``; ``rules`` replaces them (see :mod:`jinit.adapters`). A module with
    collections besides ``params`` (``batch_stats`` of ``nn.BatchNorm``) raises
    ``ValueError``.

    Example:
        >>> import flax.linen as nn, jax, jax.numpy as jnp, jinit, jinit.adapters
        >>> class Net(nn.Module):
        ...     @nn.compact
        ...     def __call__(self, x):
        ...         h = nn.relu(nn.Dense(16)(x))
        ...         return nn.Dense(1)(h)
        >>> net = jinit.adapters.from_flax(Net(), jnp.ones((1, 2)))
        >>> params = net.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
        >>> params["Dense_0"]["kernel"].shape, net.apply(params, jnp.ones((4, 2))).shape
        ((2, 16), (4, 1))
    """
    what = "jinit.adapters.from_flax"
    user_rules, output = base.check_args(
        module, detection.is_linen, "a flax.linen Module", what, rules, output
    )
    if example_x is None:
        raise ValueError(
            f"{what}: a linen module needs an example input batch to build its parameters "
            "(jinit.sweep passes data.x_train[:1])."
        )
    from flax.core import meta, unfreeze

    variables = unfreeze(module.init(jax.random.key(0), jnp.asarray(example_x)))
    others = sorted(c for c in variables if c not in ("params", "intermediates"))
    if others:
        raise ValueError(
            f"{what}: the module has the collection(s) {', '.join(map(repr, others))} besides "
            "'params' (e.g. batch_stats of nn.BatchNorm); jinit.sweep trains parameters only "
            "and does not support mutable state yet. Remove the layer (or use nn.LayerNorm)."
        )
    if "params" not in variables:
        raise ValueError(f"{what}: the module has no parameters (module.init gave no 'params').")
    template = meta.unbox(variables["params"])
    rules_fn = user_rules or base.default_rules(template, ("*kernel", "'*kernel'"), "*bias", what)

    def apply(params: Any, x: jax.Array) -> jax.Array:
        return module.apply({"params": params}, x)

    return base.adapter(
        "linen", module, template, rules_fn, apply,
        output=output, user_rules=user_rules, tap=tap_flax(module),
    )  # fmt: skip


def tap_flax_blocks(module: Any, **apply_kwargs: Any) -> base.Tap:
    """A tap reading the output of each direct submodule of ``module`` (its blocks: residual
    blocks, norms, dense layers called from ``__call__``) as one layer, ``z = h`` = that
    output, in call order. The probe falls back to it where layers do not form a chain
    (residual connections, pooling), so a ResNet gives per-block residual-stream
    statistics. Params as for :func:`tap_flax`; ``w_std`` is the block's own ``kernel``'s
    where it has one."""
    import flax.linen as nn

    def forward(params, x, perturbations):
        wrapped = not (isinstance(params, Mapping) and "params" in params)
        variables = {"params": params} if wrapped else params
        prefix = () if wrapped else ("params",)
        layers, info = [], []

        def interceptor(next_fun, args, kwargs, context):
            path = tuple(context.module.scope.path)
            if context.method_name != "__call__" or len(path) != 1:
                return next_fun(*args, **kwargs)
            z = base.perturb(next_fun(*args, **kwargs), perturbations, len(layers))
            layers.append({"z": z, "h": z})
            own = isinstance(context.module, nn.Dense | nn.DenseGeneral | nn.Conv)
            info.append((path[0], base.selector(*prefix, *path, "kernel") if own else None))
            return z

        with nn.intercept_methods(interceptor):
            out = module.apply(variables, x, **apply_kwargs)
        return out, layers, info

    return base.Tap(forward, key=("flax-blocks", module, base.fingerprint(apply_kwargs)))
