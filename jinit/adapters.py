"""Adapters: a Flax linen, Flax NNX or Equinox model in the sweep engine's model protocol.

:func:`jinit.sweep` trains any object with ``init(key, weight_init, bias_init, dtype) ->
params`` and ``apply(params, x) -> logits`` (``x`` batched, examples first). The functions
here wrap a framework model into such an object, an :class:`Adapter`:

- :func:`from_flax` for a ``flax.linen`` module (its ``params`` collection is trained),
- :func:`from_nnx` for a ``flax.nnx`` module (its ``nnx.Param`` variables are trained),
- :func:`from_equinox` for an ``equinox.Module`` (its float arrays are trained; an Equinox
  module acts on one example, so ``apply`` vmaps it over the batch),
- :func:`as_model` picks one of them by the model's type; :func:`jinit.sweep` calls it, so
  ``jinit.sweep(flax_module, inits, data, loss=...)`` just works. A framework model does not
  state its output kind, so pass ``loss=`` (or build the adapter with ``output=``).

How a run's parameters are drawn. The framework builds the model once (linen:
``module.init(jax.random.key(0), example_x)``); its trainable arrays are the *template*
(``adapter.template``). Run (init ``name``, seed ``s``) then redraws the template with
:func:`jinit.reinit`::

    params = jinit.reinit(jinit.engine.run_key(s, name), adapter.template,
                          adapter.rules(weight_init, bias_init))

bit for bit (with ``dtype`` float32 and a float32 template; otherwise the template is cast to
``dtype`` first). ``reinit`` folds each leaf's path into the run key, so a layer's draw
depends only on the seed, the init's name and the layer's path. The default rules are

- linen and NNX: ``{"*kernel": weight_init, "*bias": bias_init}`` (kernels in JAX layout
  ``(*spatial, in, out)``),
- Equinox: every ``weight`` of two or more dimensions gets ``weight_init`` and every
  ``*bias`` gets ``bias_init`` (weights in the torch layout ``(out, in, *spatial)``, which
  ``reinit`` knows for an Equinox module, so the fans are right; a 1-D ``weight`` such as a
  LayerNorm's scale keeps its Equinox value),

each kept only where the model has such a leaf (a model without biases is fine). Float
leaves no rule takes (a LayerNorm ``scale``, an ``embedding``) keep their template value,
the same in every run. For parameters named differently pass ``rules``, a function
``(weight_init, bias_init) -> rules`` in :func:`jinit.reinit`'s form::

    rules=lambda w, b: {"*kernel": w, "*embedding": w, "*bias": b}

State that is not a parameter is not supported yet: a linen module with a ``batch_stats``
(or any other collection besides ``params`` and sown ``intermediates``), an NNX module with
``nnx.BatchStat`` or RNG state (``nnx.Dropout(..., rngs=...)``), and a stateful Equinox
layer (``eqx.nn.BatchNorm``) raise ``ValueError``; other NNX variables are held fixed.

Example:
    >>> import flax.linen as nn, jax, jax.numpy as jnp, jinit, jinit.adapters
    >>> net = jinit.adapters.from_flax(nn.Dense(3), jnp.ones((1, 2)))
    >>> net
    jinit.adapters.from_flax(Dense(features = 3, use_bias = True, ...))
    >>> params = net.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
    >>> net.apply(params, jnp.ones((5, 2))).shape
    (5, 3)
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import sys
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit.laws import zeros
from jinit.models import OUTPUTS
from jinit.trees import Rules, reinit

Array = jax.Array
Initializer = Callable[..., Array]
RulesFn = Callable[[Initializer, Initializer], Rules]

__all__ = ["Adapter", "as_model", "from_equinox", "from_flax", "from_nnx"]

_MAX_LABEL = 240
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_COMMENT = re.compile(r"#[^\n]*")


# --------------------------------------------------------------------------- helpers


def _label(obj: Any) -> str:
    """A one-line, deterministic description of ``obj``: its repr without memory addresses or
    ``#`` comments, lines joined with commas where the repr has none (linen), long texts cut
    and ended by a digest of the whole."""
    lines = [ln.strip() for ln in _COMMENT.sub("", _ADDRESS.sub("", repr(obj))).splitlines()]
    closing, opening = (")", "]", "}"), ("(", "[", "{")
    text = ""
    for line in filter(None, lines):
        if line.startswith(closing):
            text = text.removesuffix(",")
        elif text and not text.endswith(opening):
            text += ", " if not text.endswith(",") else " "
        text += line
    if len(text) > _MAX_LABEL:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        text = f"{text[: _MAX_LABEL - 24]}... sha256:{digest}"
    return text


def _fn_name(fn: Callable) -> str:
    return _ADDRESS.sub("", getattr(fn, "__qualname__", None) or repr(fn))


def _float_leaves(tree: Any) -> list[tuple[str, str, Array]]:
    """``(key string, slash form, array)`` of each float leaf, as :func:`jinit.reinit` sees it
    (an NNX ``Variable`` counts as the leaf)."""
    nnx = sys.modules.get("flax.nnx")
    is_leaf = (lambda x: isinstance(x, nnx.Variable)) if nnx is not None else None
    out = []
    for path, node in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_leaf)[0]:
        if nnx is not None and isinstance(node, nnx.Variable):
            node = node.get_value()
        if isinstance(node, jax.Array | np.ndarray) and jnp.issubdtype(node.dtype, jnp.inexact):
            out.append(
                (
                    jax.tree_util.keystr(path),
                    jax.tree_util.keystr(path, simple=True, separator="/"),
                    node,
                )
            )
    return out


def _glob(pattern: str) -> Callable[[str, str, Array], bool]:
    def test(path: str, slash: str, _: Array) -> bool:
        return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(slash, pattern)

    return test


def _is_weight_matrix(path: str, leaf: Any) -> bool:
    """An Equinox ``weight`` of two or more dimensions (a LayerNorm's 1-D weight is not)."""
    return path.endswith(".weight") and jnp.ndim(leaf) >= 2


_EQX_WEIGHT = "a `weight` of 2+ dimensions"


def _default_rules(
    template: Any, weight: tuple[Any, str], bias: tuple[Any, str], what: str
) -> RulesFn:
    """Rules ``{weight_pattern: weight_init, bias_pattern: bias_init}`` keeping only patterns
    that take at least one float leaf of ``template`` (the first matching pattern wins)."""
    leaves = _float_leaves(template)
    tests = []
    for pattern, _ in (weight, bias):
        if isinstance(pattern, str):
            tests.append(_glob(pattern))
        else:
            tests.append(lambda p, s, a, f=pattern: bool(f(p, a)))
    won = [False, False]
    for leaf in leaves:
        for i, test in enumerate(tests):
            if test(*leaf):
                won[i] = True
                break
    if not won[0]:
        paths = ", ".join(p for p, _, _ in leaves[:8]) or "none"
        raise ValueError(
            f"{what}: the model has no parameter matching {weight[1]}, the default weight "
            f"rule; pass rules=lambda w, b: {{pattern: w, ...}} naming its weights. Float "
            f"leaves: {paths}."
        )

    def rules(weight_init: Initializer, bias_init: Initializer) -> dict[Any, Initializer]:
        out = {weight[0]: weight_init}
        if won[1]:
            out[bias[0]] = bias_init
        return out

    return rules


def _check_rules(rules: Any, what: str) -> RulesFn | None:
    if rules is None or callable(rules):
        return rules
    raise TypeError(
        f"{what}: rules must be a function (weight_init, bias_init) -> {{pattern: "
        f"initializer}} (e.g. lambda w, b: {{'*kernel': w, '*bias': b}}), got "
        f"{type(rules).__name__} {rules!r}."
    )


def _check_output(output: Any, what: str) -> str | None:
    if output is None or output in OUTPUTS:
        return output
    raise ValueError(f"{what}: output must be None or one of {', '.join(OUTPUTS)}; got {output!r}.")


def _cast(tree: Any, dtype: Any) -> Any:
    """``tree`` with its real float arrays cast to ``dtype`` (complex ones stay)."""
    if dtype is None:
        return tree
    dtype = jnp.dtype(dtype)

    def cast(x: Any) -> Any:
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating):
            return x.astype(dtype)
        return x

    return jax.tree_util.tree_map(cast, tree)


# --------------------------------------------------------------------------- the adapter


class Adapter:
    """A framework model in the sweep engine's model protocol (build it with :func:`from_flax`,
    :func:`from_nnx`, :func:`from_equinox` or :func:`as_model`).

    Attributes:
      template: the model's trainable arrays as the framework built them (a linen params dict,
        an ``nnx.State`` of ``nnx.Param``, or the float part of an Equinox module); every run
        redraws it with :func:`jinit.reinit`.
      output: ``None`` (the engine then needs ``loss=``) or ``"sigmoid"``, ``"softmax"``,
        ``"linear"``, which picks the default loss.

    Example:
        >>> import equinox as eqx, jax, jinit, jinit.adapters
        >>> net = jinit.adapters.from_equinox(eqx.nn.Linear(256, 4, key=jax.random.key(0)))
        >>> key = jinit.engine.run_key(0, "he")
        >>> params = net.init(key, jinit.he_normal, jinit.zeros)
        >>> same = jinit.reinit(key, net.template, net.rules(jinit.he_normal, jinit.zeros))
        >>> bool((params.weight == same.weight).all()), params.weight.shape
        (True, (4, 256))
    """

    def __init__(
        self,
        kind: str,
        label: str,
        template: Any,
        rules: RulesFn,
        apply: Callable[[Any, Array], Array],
        output: str | None,
        rules_name: str | None,
    ) -> None:
        self.kind = kind
        self.template = template
        self.output = output
        self._label = label
        self._rules = rules
        self._apply = apply
        self._rules_name = rules_name
        # Surface a rule that matches nothing (or a wrong rules function) now, not mid-sweep.
        jax.eval_shape(lambda: self.init(jax.random.key(0), zeros, zeros, None))

    def rules(self, weight_init: Initializer, bias_init: Initializer = zeros) -> Rules:
        """The :func:`jinit.reinit` rules a run with these initializers draws with."""
        return self._rules(weight_init, bias_init)

    def init(
        self,
        key: Array,
        weight_init: Initializer,
        bias_init: Initializer = zeros,
        dtype: Any = jnp.float32,
    ) -> Any:
        """``jinit.reinit(key, template (cast to dtype), rules(weight_init, bias_init))``."""
        return reinit(key, _cast(self.template, dtype), self.rules(weight_init, bias_init))

    def apply(self, params: Any, x: Array) -> Array:
        """Logits of the model with ``params`` (shaped like ``template``) on the batch ``x``."""
        return self._apply(params, x)

    def __repr__(self) -> str:
        extras = "" if self._rules_name is None else f", rules={self._rules_name}"
        if self.output is not None:
            extras += f", output={self.output!r}"
        return f"jinit.adapters.from_{self.kind}({self._label}{extras})"


# --------------------------------------------------------------------------- constructors


def from_flax(
    module: Any,
    example_x: Any,
    rules: RulesFn | None = None,
    *,
    output: str | None = None,
) -> Adapter:
    """A ``flax.linen`` module as a sweep model.

    The template is ``module.init(jax.random.key(0), example_x)["params"]`` (metadata boxes
    such as ``nn.Partitioned`` removed); ``apply(params, x)`` is
    ``module.apply({"params": params}, x)``, so the module is called as ``module(x)`` (wrap
    it in a module of that signature for other arguments). ``example_x`` is a batch of
    example inputs (one is enough). Default rules: ``{"*kernel": weight_init, "*bias":
    bias_init}``; ``rules`` replaces them (see the module docs). A module with collections
    besides ``params`` (``batch_stats`` of ``nn.BatchNorm``) raises ``ValueError``.

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
    """
    what = "jinit.adapters.from_flax"
    linen = sys.modules.get("flax.linen")
    if linen is None or not isinstance(module, linen.Module):
        raise TypeError(f"{what}: expected a flax.linen Module, got {type(module).__name__}.")
    if example_x is None:
        raise ValueError(
            f"{what}: a linen module needs an example input batch to build its parameters "
            "(jinit.sweep passes data.x_train[:1])."
        )
    rules = _check_rules(rules, what)
    output = _check_output(output, what)
    from flax.core import meta, unfreeze

    variables = unfreeze(module.init(jax.random.key(0), jnp.asarray(example_x)))
    others = sorted(c for c in variables if c not in ("params", "intermediates"))
    if others:
        raise ValueError(
            f"{what}: the module has the collection(s) {', '.join(map(repr, others))} besides "
            "'params' (e.g. batch_stats of nn.BatchNorm); jinit.sweep trains parameters only "
            "and does not support mutable state yet. Remove the layer (or use nn.LayerNorm)."
        )
    if "params" not in variables:
        raise ValueError(f"{what}: the module has no parameters (module.init gave no 'params').")
    template = meta.unbox(variables["params"])
    if rules is None:
        rules_fn = _default_rules(template, ("*kernel", "'*kernel'"), ("*bias", ""), what)
    else:
        rules_fn = rules

    def apply(params: Any, x: Array) -> Array:
        return module.apply({"params": params}, x)

    return Adapter(
        "flax",
        _label(module),
        template,
        rules_fn,
        apply,
        output,
        None if rules is None else _fn_name(rules),
    )


def from_nnx(model: Any, rules: RulesFn | None = None, *, output: str | None = None) -> Adapter:
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
    nnx = sys.modules.get("flax.nnx")
    if nnx is None or not isinstance(model, nnx.Module):
        raise TypeError(f"{what}: expected a flax.nnx Module, got {type(model).__name__}.")
    rules = _check_rules(rules, what)
    output = _check_output(output, what)
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
    if not _float_leaves(params):
        raise ValueError(f"{what}: the module has no float nnx.Param variables to train.")
    if rules is None:
        rules_fn = _default_rules(params, ("*kernel", "'*kernel'"), ("*bias", ""), what)
    else:
        rules_fn = rules

    def apply(p: Any, x: Array) -> Array:
        return nnx.merge(graphdef, p, rest)(x)

    return Adapter(
        "nnx",
        _label(model),
        params,
        rules_fn,
        apply,
        output,
        None if rules is None else _fn_name(rules),
    )


def from_equinox(model: Any, rules: RulesFn | None = None, *, output: str | None = None) -> Adapter:
    """An ``equinox.Module`` acting on one example as a sweep model.

    ``params, static = eqx.partition(model, eqx.is_inexact_array)``: the template is
    ``params`` (an Equinox module, so :func:`jinit.reinit` uses the torch layout and
    ``Linear.weight`` ``(out, in)`` gets fan_in = in); ``apply(params, x)`` is
    ``jax.vmap(eqx.combine(params, static))(x)``. Default rules: every ``weight`` of 2+
    dimensions gets ``weight_init``, every ``*bias`` ``bias_init``. Every float array is
    trained. A stateful layer (``eqx.nn.BatchNorm``, anything with an ``eqx.nn.StateIndex``)
    raises ``ValueError``.

    Example:
        >>> import equinox as eqx, jax, jinit, jinit.adapters
        >>> mlp = eqx.nn.MLP(2, 1, 16, 1, key=jax.random.key(0))
        >>> net = jinit.adapters.from_equinox(mlp)
        >>> params = net.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
        >>> params.layers[0].weight.shape, net.apply(params, jax.numpy.ones((5, 2))).shape
        ((16, 2), (5, 1))
    """
    what = "jinit.adapters.from_equinox"
    eqx = sys.modules.get("equinox")
    if eqx is None or not isinstance(model, eqx.Module):
        raise TypeError(f"{what}: expected an equinox Module, got {type(model).__name__}.")
    rules = _check_rules(rules, what)
    output = _check_output(output, what)
    state_index = eqx.nn.StateIndex
    nodes = jax.tree_util.tree_leaves(model, is_leaf=lambda x: isinstance(x, state_index))
    if any(isinstance(n, state_index) for n in nodes):
        raise ValueError(
            f"{what}: the module has stateful layers (eqx.nn.StateIndex, e.g. eqx.nn.BatchNorm); "
            "jinit.sweep trains parameters only and does not thread eqx.nn.State yet. Remove "
            "those layers (or use eqx.nn.LayerNorm)."
        )
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if not _float_leaves(params):
        raise ValueError(f"{what}: the module has no float arrays to train.")
    if rules is None:
        rules_fn = _default_rules(params, (_is_weight_matrix, _EQX_WEIGHT), ("*bias", ""), what)
    else:
        rules_fn = rules

    def apply(p: Any, x: Array) -> Array:
        return jax.vmap(eqx.combine(p, static))(x)

    return Adapter(
        "equinox",
        _label(model),
        params,
        rules_fn,
        apply,
        output,
        None if rules is None else _fn_name(rules),
    )


def as_model(model: Any, example_x: Any = None) -> Adapter | None:
    """An :class:`Adapter` for a linen, NNX or Equinox model; ``None`` for anything else.

    Frameworks are looked up only if already imported (a model of theirs implies they are),
    so this never imports Flax or Equinox. ``example_x`` (a batch of inputs) is needed for a
    linen module only.

    Example:
        >>> import jinit, jinit.adapters
        >>> jinit.adapters.as_model(jinit.models.MLP([2, 1])) is None
        True
    """
    linen = sys.modules.get("flax.linen")
    if linen is not None and isinstance(model, linen.Module):
        return from_flax(model, example_x)
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None and isinstance(model, nnx.Module):
        return from_nnx(model)
    eqx = sys.modules.get("equinox")
    if eqx is not None and isinstance(model, eqx.Module):
        return from_equinox(model)
    return None
