"""The model protocol every engine uses, and the pieces each framework adapter shares.

A :class:`Model` is what :func:`jinit.sweep`, the probe and :func:`jinit.reinit`-based
drawing agree on: ``init(key, weight_init, bias_init, dtype) -> params``, ``apply(params,
x) -> logits`` for a batch ``x``, ``apply_runs`` for parameters stacked on a leading run
axis, the output kind (which picks the default loss), a deterministic description (for a
sweep's fingerprint and config), and, for framework models, the ``template`` every run
redraws with ``rules`` and the :class:`Tap` the probe reads layers through. One module per
framework builds it (:mod:`jinit.frameworks.jinit_models`, ``linen``, ``nnx``,
``equinox``, ``haiku``); :func:`jinit.frameworks.as_model` picks the module.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jinit.laws import zeros
from jinit.models import OUTPUTS
from jinit.trees import Rules, float_leaves, patterns_taking_leaves, reinit

Array = jax.Array
Initializer = Callable[..., Array]
RulesFn = Callable[..., Rules]
Layers = list[dict[str, Array]]
Forward = Callable[[Any, Array, Sequence[Array] | None], tuple[Array, Layers, list]]

_MAX_LABEL = 240
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_COMMENT = re.compile(r"#[^\n]*")


# --------------------------------------------------------------------------- taps


class Tap:
    """How the probe reads a model's layers.

    ``forward(params, x, perturbations)`` returns ``(output, layers, info)``: ``layers`` one
    ``{"z": pre-activation, "h": activation}`` dict per dense/conv layer in call order (the
    last layer's ``h`` is the model output), with ``perturbations[i]`` (or nothing, for
    ``None``) added to layer i's ``z``; ``info`` one ``(name, kernel)`` pair per layer,
    ``kernel`` a function picking that layer's weight out of a pytree shaped like
    ``params`` (or ``None``). ``params`` are the model's own parameters where it carries
    them (NNX, Equinox), ``activation`` its hidden activation (a name or function) where
    known.

    Taps compare and hash by ``key`` (the model and anything the forward pass closes over),
    so the probe compiles once per model, shapes and options.
    """

    def __init__(
        self,
        forward: Forward,
        *,
        key: Any,
        params: Any = None,
        activation: str | Callable | None = None,
    ):
        self.forward = forward
        self.key = key
        self.params = params
        self.activation = activation
        try:
            hash(key)
        except TypeError:
            self.key = object()  # unhashable: a fresh compile per call

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tap) and self.key == other.key

    def __repr__(self) -> str:
        return f"Tap(key={self.key!r})"


class Attr(str):
    """A path step taken with getattr (Equinox modules) rather than indexing."""


def _pick(path: tuple, tree: Any) -> Array:
    for k in path:
        tree = getattr(tree, k) if isinstance(k, Attr) else tree[k]
    return tree.get_value() if hasattr(tree, "get_value") else tree


def selector(*path: Any) -> Callable[[Any], Array]:
    """A function picking the array at ``path`` (keys, indices, :class:`Attr`) from a tree."""
    return functools.partial(_pick, tuple(path))


def fingerprint(tree: Any) -> Any:
    """A hashable stand-in for a pytree whose leaves may be arrays (closed-over constants
    must be part of a tap's key, or a cached compile would reuse another model's)."""
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    out = []
    for leaf in leaves:
        if isinstance(leaf, jax.Array | np.ndarray):
            arr = leaf
            if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(
                leaf.dtype, jax.dtypes.prng_key
            ):
                arr = jax.random.key_data(leaf)
            arr = np.asarray(arr)
            out.append(("array", str(leaf.dtype), arr.shape, arr.tobytes()))
        else:
            out.append(leaf)
    return treedef, tuple(out)


def assemble(calls: list, output: Array) -> Layers:
    """Layers from recorded ``(input, z)`` calls: a layer's activation is the next layer's
    input (reshaped if only flattened), the last one's the model output."""
    layers = []
    for i, (_, z) in enumerate(calls):
        if i + 1 == len(calls):
            h = output if output.shape == z.shape else z
        else:
            nxt = calls[i + 1][0]
            if nxt.size != z.size:
                raise ValueError(
                    f"probe: layer {i + 1}'s output {z.shape} does not feed the next dense/conv "
                    f"layer as is (its input is {nxt.shape}: pooled?); probe reads a chain of "
                    "layers with elementwise activations between them. Write a "
                    "jinit.diagnostics.Tap for this model."
                )
            h = nxt.reshape(z.shape)
        layers.append({"z": z, "h": h})
    return layers


def perturb(z: Array, perturbations: Sequence[Array] | None, i: int) -> Array:
    """``z + perturbations[i]`` (``z`` itself without perturbations)."""
    return z if perturbations is None else z + perturbations[i]


# --------------------------------------------------------------------------- the model


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Model:
    """A model in the protocol of :func:`jinit.sweep` and the probe.

    Attributes:
      init: ``(key, weight_init, bias_init=zeros, dtype=float32) -> params``; for a
        framework model ``weight_init`` may also be :func:`jinit.reinit` rules.
      apply: ``(params, x) -> logits``, ``x`` a batch (examples first).
      apply_runs: ``(params stacked on runs, x, shared) -> logits [runs, batch, ...]``;
        ``x`` is one batch for every run if ``shared``, else stacked on runs too.
      output: ``None`` (a loss must be given) or ``"sigmoid"``, ``"softmax"``,
        ``"linear"``, which picks the default loss.
      description: a one-line, deterministic description (also the ``repr``).
      kind: ``"jinit"``, ``"pair"``, ``"linen"``, ``"nnx"``, ``"equinox"`` or ``"haiku"``.
      template: for a framework model, its trainable arrays as the framework built them,
        redrawn by every run; ``None`` for jinit models and pairs.
      rules: for a framework model, ``(weight_init, bias_init=zeros) -> rules`` for
        :func:`jinit.reinit`: ``init(key, w, b, dtype)`` is ``reinit(key, template (cast
        to dtype), rules(w, b))``.
      tap: the :class:`Tap` the probe reads layers through, or ``None``.
      source: the framework model this was built from (a jinit model itself; ``None``
        for pairs).
      state: one run's initial non-trainable state (linen collections besides ``params``
        such as ``batch_stats``, NNX ``BatchStat`` variables, an ``eqx.nn.State``, Haiku
        state), as the framework built it; ``None`` for a model without state.
      apply_train: ``(params, state, x, key) -> (logits, new_state)``, the training-mode
        call: batch statistics used and running averages updated, dropout drawn from
        ``key`` (a typed PRNG key). Given only for models with state or randomness.
      apply_eval: ``(params, state, x) -> logits``, the evaluation-mode call (running
        averages, no dropout).
      stochastic: whether the training-mode call draws random numbers (dropout).

    A model without state or randomness (``has_train_mode`` false) trains and evaluates
    with ``apply``; its ``apply_train``/``apply_eval`` are ``apply`` with the state passed
    through, so any engine may call them alike. For a framework model with a train mode,
    ``apply`` is ``apply_eval`` with the initial state; a jinit model keeps its own.
    """

    init: Callable[..., Any]
    apply: Callable[[Any, Array], Array]
    apply_runs: Callable[[Any, Array, bool], Array]
    output: str | None
    description: str
    kind: str
    template: Any = None
    rules: RulesFn | None = None
    tap: Tap | None = None
    source: Any = None
    state: Any = None
    apply_train: Callable[[Any, Any, Array, Array], tuple[Array, Any]] | None = None
    apply_eval: Callable[[Any, Any, Array], Array] | None = None
    stochastic: bool = False

    def __post_init__(self) -> None:
        if self.apply_train is None:
            apply = self.apply
            object.__setattr__(self, "apply_train", lambda p, s, x, key: (apply(p, x), s))
        if self.apply_eval is None:
            apply = self.apply
            object.__setattr__(self, "apply_eval", lambda p, s, x: apply(p, x))

    @property
    def stateful(self) -> bool:
        """Whether the model carries non-trainable state (batch statistics)."""
        return bool(jax.tree_util.tree_leaves(self.state))

    @property
    def has_train_mode(self) -> bool:
        """Whether training and evaluation differ (state or randomness): engines then call
        ``apply_train`` / ``apply_eval`` and carry the state; otherwise ``apply``."""
        return self.stateful or self.stochastic

    def init_state(self, dtype: Any = jnp.float32) -> Any:
        """One run's initial state, real float arrays cast to ``dtype`` (``()`` for a
        model without state)."""
        return () if self.state is None else cast(self.state, dtype)

    def __repr__(self) -> str:
        return self.description


def vmapped_apply(apply: Callable) -> Callable:
    """``apply_runs`` for an ``apply`` of one run's parameters: vmapped over the run axis."""

    def apply_runs(params, x, shared):
        return jax.vmap(apply, in_axes=(0, None if shared else 0))(params, x)

    return apply_runs


# --------------------------------------------------------------------------- adapter helpers


def label(obj: Any) -> str:
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


def fn_name(fn: Callable) -> str:
    """A function's qualified name without memory addresses."""
    return _ADDRESS.sub("", getattr(fn, "__qualname__", None) or repr(fn))


def check_rules(rules: Any, what: str) -> RulesFn | None:
    if rules is None or callable(rules):
        return rules
    raise TypeError(
        f"{what}: rules must be a function (weight_init, bias_init) -> {{pattern: "
        f"initializer}} (e.g. lambda w, b: {{'*kernel': w, '*bias': b}}), got "
        f"{type(rules).__name__} {rules!r}."
    )


def check_args(
    model: Any, is_kind: Callable[[Any], bool], expected: str, what: str, rules: Any, output: Any
) -> tuple[RulesFn | None, str | None]:
    """The checks every ``from_*`` constructor starts with: ``model`` is of its framework,
    ``rules`` a function or ``None``, ``output`` a known kind or ``None``."""
    if not is_kind(model):
        raise TypeError(f"{what}: expected {expected}, got {type(model).__name__}.")
    return check_rules(rules, what), check_output(output, what)


def check_output(output: Any, what: str) -> str | None:
    if output is None or output in OUTPUTS:
        return output
    raise ValueError(f"{what}: output must be None or one of {', '.join(OUTPUTS)}; got {output!r}.")


def has_float_leaves(tree: Any) -> bool:
    return bool(float_leaves(tree)[2])


def default_rules(template: Any, weight: tuple[Any, str], bias: Any, what: str) -> RulesFn:
    """Rules ``{weight_pattern: weight_init, bias_pattern: bias_init}``, the bias rule kept
    only where it takes a float leaf of ``template`` the weight rule leaves (the model may
    have no biases). ``weight`` is a pattern and its description for the error raised when
    no leaf matches it."""
    pattern, shown = weight
    takes_weight, takes_bias = patterns_taking_leaves(template, [pattern, bias])
    if not takes_weight:
        paths = ", ".join(leaf.path for leaf in float_leaves(template)[2][:8]) or "none"
        raise ValueError(
            f"{what}: the model has no parameter matching {shown}, the default weight rule; "
            f"pass rules=lambda w, b: {{pattern: w, ...}} naming its weights. Float leaves: "
            f"{paths}."
        )

    def rules(weight_init: Initializer, bias_init: Initializer = zeros) -> dict:
        return {pattern: weight_init, bias: bias_init} if takes_bias else {pattern: weight_init}

    return rules


def cast(tree: Any, dtype: Any) -> Any:
    """``tree`` with its real float arrays cast to ``dtype`` (complex ones stay)."""
    if dtype is None:
        return tree
    dtype = jnp.dtype(dtype)

    def one(x: Any) -> Any:
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jnp.floating):
            return x.astype(dtype)
        return x

    return jax.tree_util.tree_map(one, tree)


def is_rules(init: Any) -> bool:
    """Whether ``init`` is :func:`jinit.reinit` rules (a dict or a list of pairs), not a law."""
    return isinstance(init, Mapping) or (isinstance(init, Sequence) and not isinstance(init, str))


def find_flag(fn: Callable | None, train_flag: Any, default: str, what: str) -> str | None:
    """The keyword a model takes its train flag by: ``train_flag`` if ``fn`` (the model's
    call; ``None`` when unknown) takes it; ``None`` if ``train_flag`` is ``None``, or is the
    ``default`` and not taken; an error otherwise."""
    if train_flag is None:
        return None
    if not isinstance(train_flag, str) or not train_flag.isidentifier():
        raise TypeError(
            f"{what}: train_flag must be the name of the model's train argument (a string "
            f"such as {default!r}) or None, got {train_flag!r}."
        )
    params = inspect.signature(fn).parameters if fn is not None else {}
    if train_flag in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return train_flag
    if train_flag == default:
        return None
    raise ValueError(
        f"{what}: train_flag={train_flag!r}, but the model's call takes no such argument (it "
        f"takes {', '.join(params) or 'nothing known'})."
    )


def no_flag_error(what: str, state: str, flag: str) -> None:
    """Raise: a model with state but without the conventional train flag."""
    raise ValueError(
        f"{what}: the model has {state} (e.g. batch statistics) but takes no {flag!r} "
        "argument, so separate training and evaluation modes are not supported for it; name "
        "its train flag with train_flag=..., or pass train_flag=None to train and evaluate it "
        "in its one mode."
    )


def require_example(example_x: Any, framework: str, what: str) -> None:
    """Raise unless there is an example batch: linen and Haiku models build their parameters
    by calling the model on one."""
    if example_x is None:
        raise ValueError(
            f"{what}: a {framework} model needs an example input batch to build its parameters "
            "(jinit.sweep passes data.x_train[:1])."
        )


def flagged_adapter(
    *args: Any, what: str, example_x: Any, train_flag: str | None, default: str, **kwargs: Any
) -> Model:
    """:func:`adapter` (``args``, ``kwargs``) of a model whose call takes a train flag (linen's
    ``train``, Haiku's ``is_training``: the ``default``; ``train_flag`` names another, and the
    description says which), with both of its modes traced on ``example_x``."""
    options = "" if train_flag == default else f", train_flag={train_flag!r}"
    out = adapter(*args, options=options, **kwargs)
    check_train_mode(out, example_x, what)
    return out


class TrainMode(NamedTuple):
    """What a framework adapter gives for a model with state or randomness: the initial
    ``state``, ``apply_train(params, state, x, key) -> (logits, state)``,
    ``apply_eval(params, state, x) -> logits`` and whether training draws random numbers."""

    state: Any
    apply_train: Callable[[Any, Any, Array, Array], tuple[Array, Any]]
    apply_eval: Callable[[Any, Any, Array], Array]
    stochastic: bool


def check_train_mode(model: Model, example_x: Any, what: str) -> None:
    """Trace both modes of ``model`` on ``example_x`` (a batch), so a model that cannot be
    called as its adapter calls it fails when adapted, not mid-sweep."""
    if not model.has_train_mode:
        return
    x = jnp.asarray(example_x)[:2]
    params, state = model.template, model.state
    try:
        jax.eval_shape(model.apply_train, params, state, x, jax.random.key(0))
        jax.eval_shape(model.apply_eval, params, state, x)
    except (TypeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"{what}: the model cannot be called in training and evaluation mode as the "
            f"adapter calls it (see its docstring): {reason}"
        ) from err


def _eval_with(apply_eval: Callable, state: Any) -> Callable[[Any, Array], Array]:
    """``apply(params, x)``: evaluation mode with the initial state (a named function, so
    its name is the same in every process: it is part of a sweep's fingerprint)."""

    def apply(params: Any, x: Array) -> Array:
        return apply_eval(params, state, x)

    return apply


def adapter(
    kind: str,
    model: Any,
    template: Any,
    rules: RulesFn,
    apply: Callable[[Any, Array], Array] | None,
    *,
    output: str | None,
    user_rules: RulesFn | None,
    tap: Tap | None,
    mode: TrainMode | None = None,
    options: str = "",
) -> Model:
    """A framework :class:`Model` whose runs redraw ``template`` with ``rules``; checked by
    tracing one draw, so a rule that matches nothing fails here, not mid-sweep. Its
    ``init(key, weight_init, bias_init, dtype)`` also takes :func:`jinit.reinit` rules in
    place of ``weight_init`` (``bias_init`` is then unused): a sweep or probe entry may be
    "He everywhere, zeros on the readout" as one rules dict."""

    def with_default(weight_init: Initializer, bias_init: Initializer = zeros) -> Rules:
        return rules(weight_init, bias_init)

    def init(key: Array, weight_init: Initializer | Rules, bias_init: Initializer = zeros,
             dtype: Any = jnp.float32) -> Any:  # fmt: skip
        drawn = weight_init if is_rules(weight_init) else rules(weight_init, bias_init)
        return reinit(key, cast(template, dtype), drawn)

    extras = "" if user_rules is None else f", rules={fn_name(user_rules)}"
    if output is not None:
        extras += f", output={output!r}"
    extras += options
    name = {"linen": "flax"}.get(kind, kind)
    if mode is not None and apply is None:
        apply = _eval_with(mode.apply_eval, mode.state)
    modes = {} if mode is None else mode._asdict()
    out = Model(
        init=init,
        apply=apply,
        apply_runs=vmapped_apply(apply),
        output=output,
        description=f"jinit.adapters.from_{name}({label(model)}{extras})",
        kind=kind,
        template=template,
        rules=with_default,
        tap=tap,
        source=model,
        **modes,
    )
    jax.eval_shape(lambda: out.init(jax.random.key(0), zeros, zeros, None))
    return out
