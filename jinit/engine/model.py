"""What the sweep trains: the model protocol of :mod:`jinit.frameworks` (init, apply,
apply_runs, output, description).

``as_model`` is the single place the engine turns a user's model into that protocol (a jinit
model, an ``(init_fn, apply_fn)`` pair, or a Flax linen / NNX / Equinox / Haiku model through
:func:`jinit.frameworks.as_model`). ``check_input`` traces ``apply`` on one example so that
a model whose input size does not match the data fails at sweep start with both shapes named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jinit import frameworks
from jinit.frameworks.base import Model
from jinit.laws import zeros


def fn_name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def as_model(model: Any, example_x: Any = None) -> Model:
    """``model`` in the engine's protocol (:class:`jinit.frameworks.Model`), or a
    ``TypeError`` saying what a model is."""
    return frameworks.as_model(model, example_x)


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
