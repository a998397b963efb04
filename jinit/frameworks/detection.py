"""Which framework an object belongs to: the one place jinit asks.

A framework is looked up only if it is already imported (a model of a framework implies
the framework is loaded), so nothing here imports Flax, Equinox or Haiku. This module
imports nothing from jinit, so every layer may use it (``jinit.trees`` reads NNX boxes and
Equinox layouts through it).

Example:
    >>> import jinit
    >>> from jinit.frameworks.detection import detect
    >>> detect(jinit.models.MLP([2, 1])), detect(object())
    ('jinit', None)
"""

from __future__ import annotations

import sys
from typing import Any

KINDS = ("linen", "nnx", "equinox", "haiku", "jinit", "pair")
"""What :func:`detect` may answer (besides ``None``)."""


def _module(name: str) -> Any:
    return sys.modules.get(name)


def is_linen(obj: Any) -> bool:
    """A ``flax.linen.Module``."""
    linen = _module("flax.linen")
    return linen is not None and isinstance(obj, linen.Module)


def is_nnx(obj: Any) -> bool:
    """A ``flax.nnx.Module``."""
    nnx = _module("flax.nnx")
    return nnx is not None and isinstance(obj, nnx.Module)


def is_equinox(obj: Any) -> bool:
    """An ``equinox.Module``."""
    eqx = _module("equinox")
    return eqx is not None and isinstance(obj, eqx.Module)


def is_haiku(obj: Any) -> bool:
    """An ``hk.Transformed`` or ``hk.TransformedWithState`` (both are also tuples of two or
    three callables: check this before taking a tuple as an ``(init_fn, apply_fn)`` pair)."""
    hk = _module("haiku")
    return hk is not None and isinstance(obj, hk.Transformed | hk.TransformedWithState)


def box_types() -> tuple[type, ...]:
    """Wrapper types whose inner array is the leaf: NNX ``Variable``, linen ``AxisMetadata``."""
    types = []
    nnx = _module("flax.nnx")
    if nnx is not None:
        types.append(nnx.Variable)
    meta = _module("flax.core.meta")
    if meta is not None:
        types.append(meta.AxisMetadata)
    return tuple(types)


def _is_pair(obj: Any) -> bool:
    return isinstance(obj, tuple) and len(obj) == 2 and all(map(callable, obj))


def detect(model: Any) -> str | None:
    """The kind of ``model``: ``"linen"``, ``"nnx"``, ``"equinox"``, ``"haiku"``,
    ``"jinit"`` (an object with ``init(key, weight_init, bias_init)`` and ``apply(params,
    x)``, such as :class:`jinit.models.MLP`), ``"pair"`` (an ``(init_fn, apply_fn)``
    tuple), or ``None``. Frameworks are tried first: a linen module and an
    ``hk.Transformed`` also have ``init`` and ``apply``, with other signatures."""
    for kind, test in (
        ("linen", is_linen),
        ("nnx", is_nnx),
        ("equinox", is_equinox),
        ("haiku", is_haiku),
    ):
        if test(model):
            return kind
    if hasattr(model, "init") and hasattr(model, "apply"):
        return "jinit"
    if _is_pair(model):
        return "pair"
    return None
