"""What the sweep trains: one model protocol (init, apply, apply_runs, output, description).

``as_model`` is the single place the engine turns a user's model into that protocol (a jinit
model, an ``(init_fn, apply_fn)`` pair, or a Flax linen / NNX / Equinox module through
:mod:`jinit.adapters`). ``check_input`` traces ``apply`` on one example so that a model whose
input size does not match the data fails at sweep start with both shapes named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jinit import adapters
from jinit.laws import zeros


@dataclasses.dataclass(frozen=True)
class Model:
    init: Callable  # (key, weight_init, bias_init, dtype) -> params
    apply: Callable  # (params, x) -> logits
    apply_runs: Callable  # (stacked params, x, shared_x) -> logits [runs, batch, ...]
    output: str | None
    description: str


def _vmapped_apply(apply: Callable) -> Callable:
    def apply_runs(params, x, shared):
        return jax.vmap(apply, in_axes=(0, None if shared else 0))(params, x)

    return apply_runs


def fn_name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def as_model(model: Any, example_x: Any = None) -> Model:
    """``model`` in the engine's protocol, or a ``TypeError`` saying what a model is."""
    # A Flax linen module also has .init/.apply (with other signatures): adapt frameworks first.
    adapted = adapters.as_model(model, example_x)
    if adapted is not None:
        model = adapted
    if hasattr(model, "init") and hasattr(model, "apply"):
        return Model(
            lambda key, w, b, dtype: model.init(key, w, b, dtype),
            model.apply,
            getattr(model, "apply_runs", None) or _vmapped_apply(model.apply),
            getattr(model, "output", None),
            repr(model),
        )
    if isinstance(model, tuple) and len(model) == 2 and all(map(callable, model)):
        init_fn, apply_fn = model
        return Model(
            lambda key, w, b, dtype: init_fn(key, w, b),
            apply_fn,
            _vmapped_apply(apply_fn),
            None,
            f"({fn_name(init_fn)}, {fn_name(apply_fn)})",
        )
    raise TypeError(
        "sweep: model must have init(key, weight_init, bias_init) and apply(params, x) "
        "(e.g. jinit.models.MLP), be an (init_fn, apply_fn) pair, or a Flax linen, Flax NNX "
        f"or Equinox module (see jinit.adapters); got {model!r}."
    )


def template(model: Model, dtype: Any) -> Any:
    """Shapes and dtypes of one run's parameters (``jax.ShapeDtypeStruct`` leaves)."""
    return jax.eval_shape(lambda: model.init(jax.random.key(0), zeros, zeros, dtype))


def check_input(
    model: Model, params: Any, x_shape: tuple[int, ...], dtype: Any
) -> jax.ShapeDtypeStruct:
    """The shape of ``apply`` on one example of data of shape ``x_shape``; a ``ValueError``
    naming the model's first weight and the example shape when ``apply`` cannot take it."""
    x = jax.ShapeDtypeStruct((1, *x_shape[1:]), jnp.dtype(dtype))
    try:
        return jax.eval_shape(model.apply, params, x)
    except (TypeError, ValueError) as err:
        leaves = jax.tree_util.tree_leaves_with_path(params)
        weights = [leaf for leaf in leaves if len(leaf[1].shape) >= 2] or leaves
        first = (
            f"; its first weight {jax.tree_util.keystr(weights[0][0])} has shape "
            f"{tuple(weights[0][1].shape)}"
            if weights
            else ""
        )
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"sweep: the model cannot take data.x_train's examples of shape "
            f"{tuple(x_shape[1:])}{first} (apply failed: {reason})."
        ) from err
