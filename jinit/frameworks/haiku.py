"""Haiku: an ``hk.transform`` / ``hk.transform_with_state`` model as a
:class:`~jinit.frameworks.base.Model`, and its probe tap.

An ``hk.Transformed`` is a tuple of two functions, but not an ``(init_fn, apply_fn)`` pair
in jinit's sense (its ``init`` takes example inputs, its ``apply`` an rng): it is
recognised first. Haiku kernels are JAX layout (``Linear.w`` is ``(in, out)``).
"""

from __future__ import annotations

import inspect
from typing import Any

import jax
import jax.numpy as jnp

from jinit.frameworks import base, detection


def _apply_fn(transformed: Any, state: Any = None) -> Any:
    """``(params, x) -> output`` of an ``hk.Transformed`` (with or without an rng argument)
    or of an ``hk.TransformedWithState`` holding ``state`` (default: none)."""
    import haiku as hk

    if isinstance(transformed, hk.TransformedWithState):
        state = {} if state is None else state
        return lambda params, x: transformed.apply(params, state, None, x)[0]
    if "rng" in inspect.signature(transformed.apply).parameters:
        return lambda params, x: transformed.apply(params, None, x)
    return transformed.apply


def _build(transformed: Any, example_x: Any, what: str) -> tuple[Any, Any]:
    """The template and ``apply(params, x)`` of a Haiku model."""
    import haiku as hk

    x = jnp.asarray(example_x)
    if not isinstance(transformed, hk.TransformedWithState):
        return transformed.init(jax.random.key(0), x), _apply_fn(transformed)
    params, state = transformed.init(jax.random.key(0), x)
    if jax.tree_util.tree_leaves(state):
        raise ValueError(
            f"{what}: the model has Haiku state ({', '.join(sorted(state))}, e.g. "
            "hk.BatchNorm statistics); jinit.sweep trains parameters only and does not "
            "thread state yet. Remove those layers (or use hk.LayerNorm)."
        )
    return params, _apply_fn(transformed, state)


def tap_haiku(transformed: Any) -> base.Tap:
    """A tap for a Haiku model; params are its params dict.

    Every call of an ``hk.Linear`` or ``hk.ConvND`` is intercepted (``hk.intercept_methods``):
    its output is the layer's z (plus the perturbation) and its activation h the next such
    layer's input, as for linen.
    """
    import haiku as hk

    kinds = (hk.Linear, hk.ConvND)
    apply = _apply_fn(transformed)

    def forward(params, x, perturbations):
        calls, info = [], []

        def interceptor(next_fun, args, kwargs, context):
            if context.method_name != "__call__" or not isinstance(context.module, kinds):
                return next_fun(*args, **kwargs)
            z = base.perturb(next_fun(*args, **kwargs), perturbations, len(calls))
            name = context.module.module_name
            calls.append((args[0] if args else kwargs["inputs"], z))
            info.append((name, base.selector(name, "w")))
            return z

        with hk.intercept_methods(interceptor):
            out = apply(params, x)
        return out, base.assemble(calls, out), info

    return base.Tap(forward, key=("haiku", transformed))


def from_haiku(
    transformed: Any,
    example_x: Any,
    rules: base.RulesFn | None = None,
    *,
    output: str | None = None,
) -> base.Model:
    """An ``hk.transform`` (or ``hk.without_apply_rng``) model, or an
    ``hk.transform_with_state`` one without state, as a sweep model.

    The template is ``transformed.init(jax.random.key(0), example_x)``; ``apply(params,
    x)`` is ``transformed.apply(params, None, x)`` (no rng: a model drawing random numbers in
    ``apply``, such as dropout, is not supported yet). Default rules: ``{"*/w":
    weight_init, "*/b": bias_init}`` (Haiku's names for kernels and biases).

    Example:
        >>> import haiku as hk, jax, jax.numpy as jnp, jinit, jinit.adapters
        >>> net = hk.transform(lambda x: hk.Linear(1)(jax.nn.relu(hk.Linear(16)(x))))
        >>> model = jinit.adapters.from_haiku(net, jnp.ones((1, 2)))
        >>> params = model.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
        >>> params["linear_1"]["w"].shape, model.apply(params, jnp.ones((4, 2))).shape
        ((2, 16), (4, 1))
    """
    what = "jinit.adapters.from_haiku"
    user_rules, output = base.check_args(
        transformed,
        detection.is_haiku,
        "an hk.Transformed or hk.TransformedWithState",
        what,
        rules,
        output,
    )
    if example_x is None:
        raise ValueError(
            f"{what}: a Haiku model needs an example input batch to build its parameters "
            "(jinit.sweep passes data.x_train[:1])."
        )
    template, apply = _build(transformed, example_x, what)
    rules_fn = user_rules or base.default_rules(template, ("*/w", "'*/w'"), "*/b", what)
    return base.adapter(
        "haiku", transformed, template, rules_fn, apply,
        output=output, user_rules=user_rules, tap=tap_haiku(transformed),
    )  # fmt: skip


def tap_haiku_blocks(transformed: Any) -> base.Tap:
    """A tap reading the output of each top-level Haiku module call (its blocks) as one
    layer, ``z = h`` = that output, as :func:`jinit.frameworks.linen.tap_flax_blocks`."""
    import haiku as hk

    apply = _apply_fn(transformed)

    def forward(params, x, perturbations):
        layers, info = [], []

        def interceptor(next_fun, args, kwargs, context):
            if context.method_name != "__call__" or "/" in context.module.module_name:
                return next_fun(*args, **kwargs)
            name = context.module.module_name
            z = base.perturb(next_fun(*args, **kwargs), perturbations, len(layers))
            layers.append({"z": z, "h": z})
            own = isinstance(context.module, hk.Linear | hk.ConvND)
            info.append((name, base.selector(name, "w") if own else None))
            return z

        with hk.intercept_methods(interceptor):
            out = apply(params, x)
        return out, layers, info

    return base.Tap(forward, key=("haiku-blocks", transformed))
