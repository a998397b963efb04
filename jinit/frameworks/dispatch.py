"""One entry point from any model to a :class:`~jinit.frameworks.base.Model` or a tap."""

from __future__ import annotations

import sys
from typing import Any

from jinit.frameworks import detection, equinox, haiku, jinit_models, linen, nnx
from jinit.frameworks.base import Model, Tap

_SUPPORTED = (
    "model must have init(key, weight_init, bias_init) and apply(params, x) (e.g. "
    "jinit.models.MLP), be an (init_fn, apply_fn) pair, or a Flax linen, Flax NNX, Equinox "
    "or Haiku (hk.transform) model (see jinit.adapters)"
)


def adapt(model: Any, example_x: Any = None) -> Model | None:
    """The :class:`Model` of a framework model (linen, NNX, Equinox, Haiku; a stateful
    Equinox model as the ``(model, state)`` pair of ``eqx.nn.make_with_state``); ``None``
    for anything else. ``example_x`` (a batch of inputs) is needed for linen and Haiku."""
    if equinox.is_with_state(model):  # (model, state) of eqx.nn.make_with_state
        model, state = model
        adapted = equinox.from_equinox(model, state=state)
        if example_x is not None:
            equinox.check_example(adapted, example_x)
        return adapted
    kind = detection.detect(model)
    if kind == "linen":
        return linen.from_flax(model, example_x)
    if kind == "nnx":
        return nnx.from_nnx(model)
    if kind == "equinox":
        adapted = equinox.from_equinox(model)
        if example_x is not None:
            equinox.check_example(adapted, example_x)
        return adapted
    if kind == "haiku":
        return haiku.from_haiku(model, example_x)
    return None


def as_model(model: Any, example_x: Any = None) -> Model:
    """Any supported model as a :class:`Model`: a ``Model`` as it is, framework models
    through their adapter, jinit models and ``(init_fn, apply_fn)`` pairs as they are.
    Anything else raises ``TypeError``.

    Example:
        >>> import jinit
        >>> from jinit.frameworks import as_model
        >>> as_model(jinit.models.MLP([2, 1])).kind
        'jinit'
    """
    if isinstance(model, Model):
        return model
    adapted = adapt(model, example_x)
    if adapted is not None:
        return adapted
    kind = detection.detect(model)
    if kind == "jinit":
        return jinit_models.from_jinit(model)
    if kind == "pair":
        return jinit_models.from_pair(model)
    raise TypeError(f"{_SUPPORTED}; got {model!r}.")


def tap_for(model: Any) -> Tap:
    """The probe's :class:`Tap` for a model: a tap as it is; a :class:`Model`'s own tap;
    jinit models (or their bound ``apply``), Flax linen, NNX, Equinox MLP/Sequential and
    Haiku models; any other callable is taken to follow jinit's ``apply`` protocol."""
    if isinstance(model, Tap):
        return model
    if isinstance(model, Model):
        if model.tap is None:
            raise TypeError(f"probe: no layer tap for {model!r}; pass a jinit.diagnostics.Tap.")
        return model.tap
    kind = detection.detect(model)
    owner = getattr(model, "__self__", None)
    if isinstance(owner, jinit_models.MLP | jinit_models.ConvNet) and (
        getattr(model, "__name__", "") == "apply"
    ):
        return jinit_models.tap_jinit(owner)
    if kind == "equinox" and not isinstance(
        model, sys.modules["equinox"].nn.MLP | sys.modules["equinox"].nn.Sequential
    ):
        return equinox.tap_equinox_blocks(model)
    taps = {
        "linen": linen.tap_flax,
        "nnx": nnx.tap_nnx,
        "equinox": equinox.tap_equinox,
        "haiku": haiku.tap_haiku,
        "jinit": jinit_models.tap_jinit,
    }
    if kind in taps:
        return taps[kind](model)
    if callable(model):
        return jinit_models.tap_jinit(model)
    raise TypeError(
        f"probe: cannot read layers from {type(model).__name__}; pass a jinit model, a Flax "
        "(linen or NNX), Equinox or Haiku model, or a jinit.diagnostics.Tap."
    )


def block_tap_for(model: Any) -> Tap | None:
    """A tap reading whole blocks (each top-level submodule's output) for linen and Haiku
    models (or their :class:`Model`), the probe's fallback where layers do not form a chain;
    ``None`` for other models."""
    kind = model.kind if isinstance(model, Model) else detection.detect(model)
    if isinstance(model, Model):
        model = model.source
    if kind == "linen":
        return linen.tap_flax_blocks(model)
    if kind == "haiku":
        return haiku.tap_haiku_blocks(model)
    return None
