"""Flax linen: a module as a :class:`~jinit.frameworks.base.Model`, and its probe tap."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jinit.frameworks import base, detection


def _as_variables(params: Any) -> tuple[Any, tuple[str, ...]]:
    """Flax variables for ``params`` (bare params or a variables dict) and the path prefix
    of the parameters inside them."""
    wrapped = not (isinstance(params, Mapping) and "params" in params)
    return ({"params": params}, ()) if wrapped else (params, ("params",))


def _runner(module: Any, call: Any, apply_kwargs: dict):
    """``run(params, x) -> (output, parameter path prefix)``: ``call(params, x)`` (bare
    params: a mode of the model, e.g. evaluation with its batch statistics) or
    ``module.apply`` of the params' variables."""

    def run(params, x):
        if call is not None:
            return call(params, x), ()
        variables, prefix = _as_variables(params)
        return module.apply(variables, x, **apply_kwargs), prefix

    return run


def tap_flax(module: Any, call: Any = None, call_key: Any = None, **apply_kwargs: Any) -> base.Tap:
    """A tap for a Flax linen module; params are its variables ``{"params": ...}`` or the
    ``params`` collection alone (the template of :func:`from_flax`).

    Every call of a ``Dense``, ``DenseGeneral``, ``Conv`` or ``ConvTranspose`` is intercepted
    (``flax.linen.intercept_methods``): its output is the layer's z (plus the perturbation),
    and its activation h is the next such layer's input, so any elementwise activation in
    ``__call__`` is taken as the model computes it. ``apply_kwargs`` go to ``module.apply``.
    """
    import flax.linen as nn

    kinds = (nn.Dense, nn.DenseGeneral, nn.Conv, nn.ConvTranspose)

    run = _runner(module, call, apply_kwargs)

    def forward(params, x, perturbations):
        calls, info = [], []
        prefix: tuple = () if call is not None else _as_variables(params)[1]

        def interceptor(next_fun, args, kwargs, context):
            if context.method_name != "__call__" or not isinstance(context.module, kinds):
                return next_fun(*args, **kwargs)
            z = base.perturb(next_fun(*args, **kwargs), perturbations, len(calls))
            path = tuple(context.module.scope.path)
            calls.append((args[0] if args else kwargs["inputs"], z))
            info.append(("/".join(path), base.selector(*prefix, *path, "kernel")))
            return z

        with nn.intercept_methods(interceptor):
            out = run(params, x)[0]
        return out, base.assemble(calls, out), info

    return base.Tap(forward, key=("flax", module, base.fingerprint(apply_kwargs), call_key))


def from_flax(
    module: Any,
    example_x: Any,
    rules: base.RulesFn | None = None,
    *,
    output: str | None = None,
    train_flag: str | None = "train",
) -> base.Model:
    """A ``flax.linen`` module as a sweep model.

    The template is the ``params`` collection of ``module.init(jax.random.key(0),
    example_x)`` (metadata boxes such as ``nn.Partitioned`` removed); ``example_x`` is a
    batch of example inputs (one is enough). Default rules: ``{"*kernel": weight_init,
    "*bias": bias_init}``; ``rules`` replaces them (see :mod:`jinit.adapters`).

    A module called as ``module(x)`` trains with ``apply(params, x) = module.apply({"params":
    params}, x)``. A module following Flax's examples, ``__call__(self, x, train: bool)``
    with ``nn.BatchNorm(use_running_average=not train)`` and ``nn.Dropout(rate,
    deterministic=not train)``, gets a train mode: its other collections (``batch_stats``)
    are its state, initialised by ``module.init(..., train=False)``;
    ``apply_train(params, state, x, key)`` is ``module.apply({"params": params, **state},
    x, train=True, rngs={"dropout": key}, mutable=[the state collections])`` and
    ``apply_eval(params, state, x)`` the same with ``train=False``, no rngs, nothing
    mutable. ``train_flag`` names the flag where the module calls it otherwise
    (``"training"``, ``"is_training"``); it is passed as a keyword. ``train_flag=None``: the
    module has no flag (both modes call ``module(x)``, training with ``rngs`` and mutable
    state, evaluation without). Random numbers come from the ``"dropout"`` stream only.

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
        >>> class BNNet(nn.Module):
        ...     @nn.compact
        ...     def __call__(self, x, train: bool):
        ...         h = nn.BatchNorm(use_running_average=not train)(nn.Dense(8)(x))
        ...         return nn.Dense(1)(nn.Dropout(0.5, deterministic=not train)(h))
        >>> bn = jinit.adapters.from_flax(BNNet(), jnp.ones((1, 2)))
        >>> bn.stateful, bn.stochastic, list(bn.state)
        (True, True, ['batch_stats'])
    """
    what = "jinit.adapters.from_flax"
    user_rules, output = base.check_args(
        module, detection.is_linen, "a flax.linen Module", what, rules, output
    )
    base.require_example(example_x, "linen", what)
    x = jnp.asarray(example_x)
    flag = base.find_flag(module.__call__, train_flag, "train", what)
    eval_kw = {} if flag is None else {flag: False}
    template, state = _variables(module, x, eval_kw, what)
    rules_fn = user_rules or base.default_rules(template, ("*kernel", "'*kernel'"), "*bias", what)
    if flag is None and train_flag == "train" and state:
        base.no_flag_error(what, ", ".join(map(repr, state)), "train")
    mode = _train_mode(module, flag, state, template, x)
    if mode is None:

        def apply(params: Any, x: jax.Array) -> jax.Array:
            return module.apply({"params": params}, x)

    return base.flagged_adapter(
        "linen", module, template, rules_fn, None if mode else apply, what=what, example_x=x,
        train_flag=train_flag, default="train", output=output, user_rules=user_rules,
        tap=tap_flax(module, **eval_kw), mode=mode,
    )  # fmt: skip


def _variables(module: Any, x: jax.Array, eval_kw: dict, what: str) -> tuple[Any, dict]:
    """``(params, state)`` of ``module.init`` in evaluation mode: the ``params`` collection
    (metadata boxes removed) and every other collection but sown ``intermediates``."""
    from flax.core import meta, unfreeze

    key = jax.random.key(0)
    variables = unfreeze(module.init({"params": key, "dropout": key}, x, **eval_kw))
    if "params" not in variables:
        raise ValueError(f"{what}: the module has no parameters (module.init gave no 'params').")
    skip = ("params", "intermediates")
    state = {c: meta.unbox(v) for c, v in variables.items() if c not in skip}
    return meta.unbox(variables["params"]), state


def _train_mode(
    module: Any, flag: str | None, state: dict, template: Any, x: jax.Array
) -> base.TrainMode | None:
    """The train mode of a module with a flag, state or randomness (``None`` for none)."""
    import flax

    train_kw = {} if flag is None else {flag: True}
    eval_kw = {} if flag is None else {flag: False}
    mutable = sorted(state) or False
    try:
        jax.eval_shape(
            lambda: module.apply({"params": template, **state}, x, **train_kw, mutable=mutable)
        )
        stochastic = False
    except flax.errors.InvalidRngError:
        stochastic = True
    if flag is None and not state and not stochastic:
        return None

    def apply_train(params, state, x, key):
        out = module.apply(
            {"params": params, **state}, x, **train_kw, rngs={"dropout": key}, mutable=mutable
        )
        return out if mutable else (out, state)

    def apply_eval(params, state, x):
        if flag is None and mutable:  # one mode only: statistics updated and discarded
            return module.apply({"params": params, **state}, x, mutable=mutable)[0]
        return module.apply({"params": params, **state}, x, **eval_kw)

    return base.TrainMode(state, apply_train, apply_eval, stochastic)


def tap_flax_blocks(
    module: Any, call: Any = None, call_key: Any = None, **apply_kwargs: Any
) -> base.Tap:
    """A tap reading the output of each direct submodule of ``module`` (its blocks: residual
    blocks, norms, dense layers called from ``__call__``) as one layer, ``z = h`` = that
    output, in call order. The probe falls back to it where layers do not form a chain
    (residual connections, pooling), so a ResNet gives per-block residual-stream
    statistics. Params, ``call`` as for :func:`tap_flax`; ``w_std`` is the block's own
    ``kernel``'s where it has one."""
    import flax.linen as nn

    run = _runner(module, call, apply_kwargs)

    def forward(params, x, perturbations):
        prefix: tuple = () if call is not None else _as_variables(params)[1]
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
            out = run(params, x)[0]
        return out, layers, info

    key = ("flax-blocks", module, base.fingerprint(apply_kwargs), call_key)
    return base.Tap(forward, key=key)
