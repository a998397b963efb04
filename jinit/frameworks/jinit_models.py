"""jinit's own models (``jinit.models.MLP``, ``ConvNet``, any object with ``init(key,
weight_init, bias_init)`` and ``apply(params, x)``) and ``(init_fn, apply_fn)`` pairs as a
:class:`~jinit.frameworks.base.Model`, and their probe tap."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax.numpy as jnp

from jinit.frameworks.base import Model, Tap, fingerprint, is_rules, selector, vmapped_apply
from jinit.laws import zeros
from jinit.models import MLP, ConvNet
from jinit.trees import reinit


def tap_named(model: Any, state: Any = None) -> Tap:
    """A tap for a named-parameter jinit model (:class:`jinit.models.ResNet`,
    ``ResidualMLP``, ``Transformer``): its ``tap_forward`` points (residual streams, branch
    and attention outputs, the logits) are the layers, ``z = h`` = the value there, ``w_std``
    the point's own kernel's. ``state``: batch norm running statistics (evaluation mode);
    ``None`` for a model with batch norm normalizes with the batch's own (training mode)."""
    takes_state = "state" in inspect.signature(model.tap_forward).parameters

    def forward(params, x, perturbations):
        kw = {"state": state} if takes_state else {}
        out, points = model.tap_forward(params, x, perturbations, **kw)
        layers = [{"z": v, "h": v} for _, v, _ in points]
        info = [(name, None if w is None else selector(*w)) for name, _, w in points]
        return out, layers, info

    key = ("jinit-named", model, None if state is None else fingerprint(state))
    return Tap(forward, key=key, activation=getattr(model, "activation", None))


def tap_jinit(model: MLP | ConvNet | Callable) -> Tap:
    """A tap for a jinit model, or any ``apply(params, x, *, capture, perturbations)``
    following :meth:`jinit.models.MLP.apply` (params a list of ``{"kernel", ...}``); a
    named-parameter model (or its bound ``apply``) is read by :func:`tap_named`."""
    owner = getattr(model, "__self__", model)
    if callable(getattr(owner, "tap_forward", None)):
        return tap_named(owner, _train_mode(owner).get("state"))
    apply = model.apply if isinstance(model, MLP | ConvNet) else model

    def forward(params, x, perturbations):
        out, layers = apply(params, x, capture=True, perturbations=perturbations)
        has_kernels = isinstance(params, Sequence) and all(
            isinstance(p, Mapping) and "kernel" in p for p in params
        )
        info = [
            (str(i + 1), selector(i, "kernel") if has_kernels else None) for i in range(len(layers))
        ]
        return out, layers, info

    activation = getattr(model, "activation", None)
    if activation is None and isinstance(getattr(model, "__self__", None), MLP | ConvNet):
        activation = model.__self__.activation
    return Tap(forward, key=("jinit", model), activation=activation)


def _qualname(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def from_jinit(model: Any) -> Model:
    """A model with ``init(key, weight_init, bias_init, dtype)`` and ``apply(params, x)``
    (and optionally ``apply_runs`` and ``output``), as it is.

    Example:
        >>> import jax, jinit
        >>> from jinit.frameworks.jinit_models import from_jinit
        >>> m = from_jinit(jinit.models.MLP([2, 4, 1]))
        >>> m.kind, m.output, m.apply(m.init(jax.random.key(0), jinit.he_normal),
        ...                           jax.numpy.ones((3, 2))).shape
        ('jinit', 'sigmoid', (3, 1))
    """

    def init(key, weight_init, bias_init=zeros, dtype=jnp.float32):
        if is_rules(weight_init):  # reinit rules: each leaf drawn with path_key(key, path)
            return reinit(key, model.init(key, zeros, zeros, dtype), weight_init)
        return model.init(key, weight_init, bias_init, dtype)

    tap = tap_jinit(model if isinstance(model, MLP | ConvNet) else model.apply)
    return Model(
        init=init,
        apply=model.apply,
        apply_runs=getattr(model, "apply_runs", None) or vmapped_apply(model.apply),
        output=getattr(model, "output", None),
        description=repr(model),
        kind="jinit",
        tap=tap,
        source=model,
        **_train_mode(model),
    )


def _train_mode(model: Any) -> dict[str, Any]:
    """The train mode of a jinit model with state (``jinit.models.ResNet(norm="batch")``):
    ``init_state(dtype)`` gives it, ``apply_train(params, state, x)`` (or with ``key=``,
    for a model drawing random numbers) trains, ``apply(params, x, state=state)``
    evaluates. ``{}`` for a model without (or whose ``init_state`` raises ``ValueError``:
    no state in this configuration)."""
    if not (callable(getattr(model, "init_state", None)) and callable(
            getattr(model, "apply_train", None))):  # fmt: skip
        return {}
    try:
        state = model.init_state(jnp.float32)
    except ValueError:
        return {}
    stochastic = "key" in inspect.signature(model.apply_train).parameters

    def apply_train(params, state, x, key):
        if stochastic:
            return model.apply_train(params, state, x, key=key)
        return model.apply_train(params, state, x)

    def apply_eval(params, state, x):
        return model.apply(params, x, state=state)

    return {
        "state": state,
        "apply_train": apply_train,
        "apply_eval": apply_eval,
        "stochastic": stochastic,
    }


def from_pair(pair: tuple[Callable, Callable]) -> Model:
    """An ``(init_fn, apply_fn)`` pair: ``init_fn(key, weight_init, bias_init) -> params``
    (the dtype is not passed), ``apply_fn(params, x) -> logits``; no output kind."""
    init_fn, apply_fn = pair

    def init(key, weight_init, bias_init=zeros, dtype=jnp.float32):
        if is_rules(weight_init):
            return reinit(key, init_fn(key, zeros, zeros), weight_init)
        return init_fn(key, weight_init, bias_init)

    return Model(
        init=init,
        apply=apply_fn,
        apply_runs=vmapped_apply(apply_fn),
        output=None,
        description=f"({_qualname(init_fn)}, {_qualname(apply_fn)})",
        kind="pair",
        tap=tap_jinit(apply_fn),
    )
