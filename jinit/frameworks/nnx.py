"""Flax NNX: a module as a :class:`~jinit.frameworks.base.Model`, and its probe tap."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

import jax

from jinit.frameworks import base, detection
from jinit.keys import path_key

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


def tap_nnx(model: Any, mode: str | None = None) -> base.Tap:
    """A tap for a Flax NNX module; params are its ``nnx.Param`` state (the template of
    :func:`from_nnx`), other state is held fixed.

    Each forward pass builds a private copy (``nnx.merge``) whose ``nnx.Linear``,
    ``LinearGeneral``, ``Conv`` and ``ConvTranspose`` layers get a recording subclass (the
    model and its classes are left untouched); layers are read as for linen. ``mode``:
    ``"eval"`` puts the copy in evaluation mode (``.eval()``: running averages, no
    dropout), ``"train"`` in training mode (``.train()``: batch statistics, dropout with
    every RNG stream reseeded from ``jax.random.key(0)``; the updated statistics are
    dropped), ``None`` calls it as it is. With a ``mode``, ``nnx.BatchNorm`` outputs are
    read as layers too.
    """
    from flax import nnx

    weighted = (nnx.Linear, nnx.LinearGeneral, nnx.Conv, nnx.ConvTranspose)
    kinds = weighted if mode is None else (*weighted, nnx.BatchNorm)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def forward(params, x, perturbations):
        copy = nnx.merge(graphdef, params, rest, copy=mode is not None)
        _set_mode(copy, mode)
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
            kernel = base.selector(*path, "kernel") if isinstance(mod, weighted) else None
            info.append(("/".join(map(str, path)), kernel))
            return z

        token = _RECORDER.set(record)
        try:
            out = copy(x)
        finally:
            _RECORDER.reset(token)
        return out, base.assemble(calls, out), info

    key = ("nnx", graphdef, base.fingerprint(rest), mode)
    return base.Tap(forward, key=key, params=params)


def _set_mode(copy: Any, mode: str | None) -> None:
    """Put a private copy of a module in evaluation or training mode (see :func:`tap_nnx`)."""
    from flax import nnx

    if mode == "eval":
        copy.eval()
    elif mode == "train":
        copy.train()
        nnx.update(copy, _reseed(nnx.state(copy, nnx.RngState), jax.random.key(0)))


def from_nnx(
    model: Any, rules: base.RulesFn | None = None, *, output: str | None = None
) -> base.Model:
    """A ``flax.nnx`` module as a sweep model.

    ``graphdef, params, stats, rngs, rest = nnx.split(model, nnx.Param, nnx.BatchStat,
    nnx.RngState, ...)``: the template is the ``nnx.State`` of its ``nnx.Param`` variables
    (default rules ``{"*kernel": weight_init, "*bias": bias_init}``); other variables are
    held fixed. A module without batch statistics or RNG streams trains with ``apply(params,
    x) = nnx.merge(graphdef, params, ..., rest)(x)`` (a fresh module per call, so ``model``
    itself is never changed and the engine can vmap ``apply`` over runs).

    A module with ``nnx.BatchNorm`` and/or ``nnx.Dropout(rate, rngs=rngs)`` (dropout
    streams stored in the module, as in Flax's examples) gets a train mode: its
    ``nnx.BatchStat`` variables are the state; ``apply_train(params, state, x, key)`` calls
    a copy put in training mode (``model.train()``: batch statistics, running averages
    updated, dropout on) and returns its new batch statistics; ``apply_eval(params, state,
    x)`` a copy in evaluation mode (``model.eval()``). The module's own RNG streams are
    never used: each stream's key is replaced by ``jinit.path_key(key, <stream path>)`` and
    its count by 0, so dropout masks come from the engine's ``key`` alone. The module is
    called as ``model(x)``.

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

    filters = (nnx.Param, nnx.BatchStat, nnx.RngState, ...)
    graphdef, params, stats, rngs, rest = nnx.split(model, *filters)
    if not base.has_float_leaves(params):
        raise ValueError(f"{what}: the module has no float nnx.Param variables to train.")
    rules_fn = user_rules or base.default_rules(params, ("*kernel", "'*kernel'"), "*bias", what)
    mode = None
    if jax.tree_util.tree_leaves(stats) or jax.tree_util.tree_leaves(rngs):
        mode = _train_mode(model, filters, stats, rngs, rest)

    def apply(p: Any, x: jax.Array) -> jax.Array:
        return nnx.merge(graphdef, p, stats, rngs, rest)(x)

    return base.adapter(
        "nnx", model, params, rules_fn, None if mode else apply,
        output=output, user_rules=user_rules, tap=tap_nnx(model), mode=mode,
    )  # fmt: skip


def _graphdef(model: Any, filters: tuple, train: bool) -> Any:
    """The graphdef of a copy of ``model`` in training (``.train()``) or evaluation mode."""
    from flax import nnx

    copy = nnx.merge(*nnx.split(model))
    copy.train() if train else copy.eval()
    return nnx.split(copy, *filters)[0]


def _reseed(rngs: Any, key: jax.Array) -> Any:
    """``rngs`` (an ``nnx.RngState`` state) with every stream key ``path_key(key, path)``
    and every count 0."""

    def one(path, leaf):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            return path_key(key, jax.tree_util.keystr(path))
        return jax.numpy.zeros_like(leaf)

    return jax.tree_util.tree_map_with_path(one, rngs)


def _train_mode(model: Any, filters: tuple, stats: Any, rngs: Any, rest: Any) -> base.TrainMode:
    from flax import nnx

    train_def, eval_def = _graphdef(model, filters, True), _graphdef(model, filters, False)

    def apply_train(params, state, x, key):
        # copy=True: the update must not write into the caller's state (eager calls).
        copy = nnx.merge(train_def, params, state, _reseed(rngs, key), rest, copy=True)
        out = copy(x)
        return out, nnx.state(copy, nnx.BatchStat)

    def apply_eval(params, state, x):
        return nnx.merge(eval_def, params, state, rngs, rest, copy=True)(x)

    stochastic = bool(jax.tree_util.tree_leaves(rngs))
    return base.TrainMode(stats, apply_train, apply_eval, stochastic)
