"""Flax NNX: a module as a :class:`~jinit.frameworks.base.Model`, and its probe tap."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

import jax

from jinit.frameworks import base, detection

# The recorder of the forward pass in progress (one per thread/context; None outside).
_RECORDER: contextvars.ContextVar[Callable | None] = contextvars.ContextVar(
    "jinit_probe_nnx_recorder", default=None
)


@functools.cache
def _recording(cls: type) -> type:
    """A subclass of an NNX layer class whose ``__call__`` reports (self, input, output)."""

    def __call__(self, inputs, *args, **kwargs):
        z = super(sub, self).__call__(inputs, *args, **kwargs)
        record = _RECORDER.get()
        return z if record is None else record(self, inputs, z)

    sub = type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__})
    return sub


def tap_nnx(model: Any) -> base.Tap:
    """A tap for a Flax NNX module; params are its ``nnx.Param`` state (the template of
    :func:`from_nnx`), other state is held fixed.

    Each forward pass builds a private copy (``nnx.merge``) whose ``nnx.Linear``,
    ``LinearGeneral``, ``Conv`` and ``ConvTranspose`` layers get a recording subclass (the
    model and its classes are left untouched); layers are read as for linen.
    """
    from flax import nnx

    kinds = (nnx.Linear, nnx.LinearGeneral, nnx.Conv, nnx.ConvTranspose)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def forward(params, x, perturbations):
        copy = nnx.merge(graphdef, params, rest)
        paths = {}
        for path, mod in nnx.iter_modules(copy):
            if isinstance(mod, kinds):
                paths[id(mod)] = tuple(path)
                mod.__class__ = _recording(type(mod))
        calls, info = [], []

        def record(mod, inputs, z):
            z = base.perturb(z, perturbations, len(calls))
            path = paths[id(mod)]
            calls.append((inputs, z))
            info.append(("/".join(map(str, path)), base.selector(*path, "kernel")))
            return z

        token = _RECORDER.set(record)
        try:
            out = copy(x)
        finally:
            _RECORDER.reset(token)
        return out, base.assemble(calls, out), info

    return base.Tap(forward, key=("nnx", graphdef, base.fingerprint(rest)), params=params)


def from_nnx(
    model: Any, rules: base.RulesFn | None = None, *, output: str | None = None
) -> base.Model:
    """A ``flax.nnx`` module as a sweep model.

    ``graphdef, params, rest = nnx.split(model, nnx.Param, ...)``: the template is the
    ``nnx.State`` of its ``nnx.Param`` variables; ``apply(params, x)`` is
    ``nnx.merge(graphdef, params, rest)(x)`` (a fresh module per call, so ``model`` itself is
    never changed and the engine can vmap ``apply`` over runs). Default rules:
    ``{"*kernel": weight_init, "*bias": bias_init}``. Other variables are held fixed; batch
    statistics (``nnx.BatchNorm``) and RNG state kept in the module (``nnx.Dropout(...,
    rngs=...)``) raise ``ValueError``, since the engine would never update them.

    Example:
        >>> import jax, jinit, jinit.adapters
        >>> from flax import nnx
        >>> net = jinit.adapters.from_nnx(nnx.Linear(2, 3, rngs=nnx.Rngs(0)))
        >>> params = net.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
        >>> params["kernel"].shape, net.apply(params, jax.numpy.ones((5, 2))).shape
        ((2, 3), (5, 3))
    """
    what = "jinit.adapters.from_nnx"
    user_rules, output = base.check_args(
        model, detection.is_nnx, "a flax.nnx Module", what, rules, output
    )
    from flax import nnx

    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    unsupported = sorted(
        {
            type(v).__name__
            for v in jax.tree_util.tree_leaves(rest, is_leaf=lambda x: isinstance(x, nnx.Variable))
            if isinstance(v, nnx.BatchStat | nnx.RngState)
        }
    )
    if unsupported:
        raise ValueError(
            f"{what}: the module holds {', '.join(unsupported)} variables (batch statistics of "
            "nnx.BatchNorm, or RNG streams such as nnx.Dropout(..., rngs=...)); jinit.sweep "
            "trains nnx.Param only and would never update them. Remove those layers (or use "
            "nnx.LayerNorm, and dropout without stored rngs)."
        )
    if not base.has_float_leaves(params):
        raise ValueError(f"{what}: the module has no float nnx.Param variables to train.")
    rules_fn = user_rules or base.default_rules(params, ("*kernel", "'*kernel'"), "*bias", what)

    def apply(p: Any, x: jax.Array) -> jax.Array:
        return nnx.merge(graphdef, p, rest)(x)

    return base.adapter(
        "nnx", model, params, rules_fn, apply,
        output=output, user_rules=user_rules, tap=tap_nnx(model),
    )  # fmt: skip
