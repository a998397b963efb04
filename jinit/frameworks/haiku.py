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


def _calls(transformed: Any, flag: str | None) -> tuple[Any, Any]:
    """``apply_train(params, state, x, key) -> (out, state)`` and ``apply_eval(params,
    state, x) -> out`` of a Haiku model (state ``{}`` for ``hk.transform``)."""
    import haiku as hk

    train_kw = {} if flag is None else {flag: True}
    eval_kw = {} if flag is None else {flag: False}
    if isinstance(transformed, hk.TransformedWithState):

        def apply_train(params, state, x, key):
            return transformed.apply(params, state, key, x, **train_kw)

        def apply_eval(params, state, x):
            return transformed.apply(params, state, None, x, **eval_kw)[0]

    else:
        takes_rng = "rng" in inspect.signature(transformed.apply).parameters
        rng = (lambda key: (key,)) if takes_rng else (lambda key: ())

        def apply_train(params, state, x, key):
            return transformed.apply(params, *rng(key), x, **train_kw), state

        def apply_eval(params, state, x):
            return transformed.apply(params, *rng(None), x, **eval_kw)

    return apply_train, apply_eval


def _needs_rng(call: Any) -> bool:
    """Whether tracing ``call()`` stops at Haiku's missing-rng error (the model draws random
    numbers, e.g. ``hk.dropout``); other errors propagate."""
    try:
        jax.eval_shape(call)
    except ValueError as err:
        if "non-None PRNGKey" in str(err):
            return True
        raise
    return False


def _build(transformed: Any, example_x: Any, flag: str | None) -> tuple[Any, Any, Any]:
    """The template, the ``apply(params, x)`` (or ``None``) and the train mode (or
    ``None``) of a Haiku model."""
    import haiku as hk

    x = jnp.asarray(example_x)
    kw = {} if flag is None else {flag: True}
    key = jax.random.key(0)
    if isinstance(transformed, hk.TransformedWithState):
        params, state = transformed.init(key, x, **kw)
    else:
        params, state = transformed.init(key, x, **kw), {}
    if flag is None and not jax.tree_util.tree_leaves(state):
        fn = _apply_fn(transformed, state)
        if not _needs_rng(lambda: fn(params, x)):
            return params, fn, None
    apply_train, apply_eval = _calls(transformed, flag)
    stochastic = _needs_rng(lambda: apply_train(params, state, x, None))
    return params, None, base.TrainMode(state, apply_train, apply_eval, stochastic)


def tap_haiku(transformed: Any, call: Any = None, call_key: Any = None) -> base.Tap:
    """A tap for a Haiku model; params are its params dict.

    Every call of an ``hk.Linear`` or ``hk.ConvND`` is intercepted (``hk.intercept_methods``):
    its output is the layer's z (plus the perturbation) and its activation h the next such
    layer's input, as for linen. ``call(params, x)``, when given, runs instead of the
    model's stateless apply (the probe's evaluation or training mode of a model with state),
    ``call_key`` identifying it.
    """
    import haiku as hk

    kinds = (hk.Linear, hk.ConvND)
    apply = call or _apply_fn(transformed)

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

    return base.Tap(forward, key=("haiku", transformed, call_key))


def from_haiku(
    transformed: Any,
    example_x: Any,
    rules: base.RulesFn | None = None,
    *,
    output: str | None = None,
    train_flag: str | None = "is_training",
) -> base.Model:
    """An ``hk.transform`` (or ``hk.without_apply_rng``) or ``hk.transform_with_state``
    model as a sweep model.

    The template is the params of ``transformed.init(jax.random.key(0), example_x)``
    (default rules ``{"*/w": weight_init, "*/b": bias_init}``, Haiku's names for kernels
    and biases). A model without state, randomness or train flag trains with ``apply(params,
    x) = transformed.apply(params, None, x)``.

    A function following Haiku's examples, ``f(x, is_training)`` with ``hk.BatchNorm(...)(x,
    is_training)`` and ``hk.dropout(hk.next_rng_key(), rate, x)`` when training, gets a
    train mode: it is initialised with ``is_training=True``; its Haiku state
    (``transform_with_state``) is the state; ``apply_train(params, state, x, key)`` is
    ``transformed.apply(params, state, key, x, is_training=True)`` and ``apply_eval`` the
    same with ``rng=None`` and ``is_training=False`` (for ``hk.transform``: no state, the
    same calls without it). The flag is passed as a keyword; ``train_flag`` names another
    one, ``None`` means the function has none.

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
    base.require_example(example_x, "Haiku", what)
    fn = getattr(transformed.init, "_original_fn", None)  # the transformed function
    flag = base.find_flag(fn, train_flag, "is_training", what)
    template, apply, mode = _build(transformed, example_x, flag)
    if flag is None and train_flag == "is_training" and mode is not None and mode.state:
        base.no_flag_error(what, f"Haiku state {', '.join(map(repr, mode.state))}", "is_training")
    rules_fn = user_rules or base.default_rules(template, ("*/w", "'*/w'"), "*/b", what)
    return base.flagged_adapter(
        "haiku", transformed, template, rules_fn, apply, what=what, example_x=example_x,
        train_flag=train_flag, default="is_training", output=output,
        user_rules=user_rules, tap=tap_haiku(transformed), mode=mode,
    )  # fmt: skip


def tap_haiku_blocks(transformed: Any, call: Any = None, call_key: Any = None) -> base.Tap:
    """A tap reading the output of each top-level Haiku module call (its blocks) as one
    layer, ``z = h`` = that output, as :func:`jinit.frameworks.linen.tap_flax_blocks`;
    ``call`` as for :func:`tap_haiku`."""
    import haiku as hk

    apply = call or _apply_fn(transformed)

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

    return base.Tap(forward, key=("haiku-blocks", transformed, call_key))
