"""The probe: per-layer statistics of a model at initialization, forward and backward,
for one set of parameters or vmapped over seeds drawn with the sweep's keys.

Layers are read through a :class:`~jinit.frameworks.base.Tap`, which each framework adapter
provides (:func:`tap`); parameters are drawn through the same :class:`jinit.frameworks.Model`
and keys as :func:`jinit.sweep`, so seed ``s`` of init ``name`` is the same weights here and
there.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit import _format
from jinit import keys as _keys
from jinit import losses as _losses
from jinit._validate import check_choice
from jinit.diagnostics.stats import (
    BACKWARD_STATS,
    FORWARD_STATS,
    activation_name,
    layer_stats,
    stacked_stats,
    std_or_nan,
)
from jinit.draw import as_keys, draw
from jinit.frameworks.base import Layers, Model, Tap, fingerprint, is_rules
from jinit.frameworks.detection import detect
from jinit.frameworks.dispatch import as_model, block_tap_for, tap_for
from jinit.laws import zeros
from jinit.models import MLP, ConvNet
from jinit.registry import name_of
from jinit.trees import _is_float_array

Array = jax.Array


def tap(model: Any) -> Tap:
    """The :class:`Tap` for a model: a tap is returned as is; jinit models (or their bound
    ``apply``), Flax linen modules, Flax NNX modules, Equinox MLP/Sequential and Haiku
    models are recognized (each framework adapter provides its tap); any other callable is
    taken to follow jinit's ``apply`` protocol."""
    return tap_for(model)


MODES = ("eval", "train")


def _check_mode(mode: Any, what: str) -> str:
    return check_choice(mode, MODES, "mode", what)


def _mode_call(m: Model, mode: str) -> Callable:
    """``call(params, x)``: ``m`` in evaluation mode with its initial state, or in training
    mode (batch statistics; dropout from ``jax.random.key(0)``; the new state dropped)."""
    state = m.init_state()
    if mode == "eval":
        return lambda p, x: m.apply_eval(p, state, x)
    return lambda p, x: m.apply_train(p, state, x, jax.random.key(0))[0]


def mode_taps(m: Model, mode: str) -> tuple[Tap, Tap | None]:
    """``(layer tap, block tap or None)`` of a model with a train mode (state or dropout),
    run in ``mode``: ``"eval"`` (running averages from the model's own init, no dropout) or
    ``"train"`` (batch statistics, dropout masks from ``jax.random.key(0)``)."""
    from jinit.frameworks import equinox, haiku, jinit_models, linen, nnx

    key = (mode, fingerprint(m.state))
    if m.kind == "linen":
        call = _mode_call(m, mode)
        return (linen.tap_flax(m.source, call=call, call_key=key),
                linen.tap_flax_blocks(m.source, call=call, call_key=key))  # fmt: skip
    if m.kind == "haiku":
        call = _mode_call(m, mode)
        return (haiku.tap_haiku(m.source, call=call, call_key=key),
                haiku.tap_haiku_blocks(m.source, call=call, call_key=key))  # fmt: skip
    if m.kind == "nnx":
        return nnx.tap_nnx(m.source, mode=mode), None
    if m.kind == "equinox":
        return equinox.tap_equinox_blocks(m.source, m.state if m.stateful else None, mode), None
    if m.kind == "jinit" and callable(getattr(m.source, "tap_forward", None)):
        return jinit_models.tap_named(m.source, m.init_state() if mode == "eval" else None), None
    if m.tap is None:
        raise TypeError(f"probe: no layer tap for {m!r}; pass a jinit.diagnostics.Tap.")
    return m.tap, None


def _as_stateful(model: Any, params: Any, x: Array) -> tuple[Any, Any]:
    """A framework model with a train mode as its :class:`Model` (a linen variables dict
    split into params and state), so the probe runs it in a mode; others as given."""
    if isinstance(model, Tap | Model) or detect(model) not in ("linen", "haiku", "nnx"):
        return model, params
    try:
        m = as_model(model, x[:1])
    except (ValueError, TypeError):  # not adaptable as a sweep model: probed as it is
        return model, params
    if not m.has_train_mode:
        return model, params
    if m.kind == "linen" and isinstance(params, Mapping) and "params" in params:
        state = {k: v for k, v in params.items() if k != "params"}
        m = dataclasses.replace(m, state=state or m.state)
        params = params["params"]
    return m, params


def tap_and_names(
    model: Any, params: Any, x: Array, stacked: bool, what: str, mode: str = "eval"
):  # fmt: skip
    """``(tap, params, layer names)``. For linen and Haiku models whose top-level submodules
    include composite blocks or norms (a residual block is not a dense layer), the tap of
    those blocks (each block's output, e.g. the residual stream); otherwise the model's
    dense/conv layer tap (activations as the next layer receives them). A model with state
    or dropout runs in ``mode`` (:func:`mode_taps`)."""
    model, params = _as_stateful(model, params, x)
    if isinstance(model, Model) and model.has_train_mode:
        tp, blocks = mode_taps(model, mode)
    else:
        tp = tap(model)
        blocks = block_tap_for(model) if not isinstance(model, Tap) else None
    params = default_params(tp, params, what)
    try:
        names = layer_names(tp, params, x, stacked)
    except ValueError as err:
        if blocks is None or "does not feed" not in str(err):
            raise
        names = None
    if blocks is not None:
        block_names = layer_names(blocks, params, x, stacked)
        if names is None or not set(block_names) <= set(names):
            return blocks, params, block_names
    return tp, params, names


def default_params(tp: Tap, params: Any, name: str) -> Any:
    """``params``, or the model's own parameters where it carries them (NNX, Equinox)."""
    if params is not None:
        return params
    if tp.params is None:
        raise ValueError(f"{name}: this model keeps no parameters of its own; pass params.")
    return tp.params


# --------------------------------------------------------------------------- the probe


def _forward_stats(layers: Layers, info: list, params: Any, activation) -> dict:
    hidden = functools.partial(_pair_stats, activation=activation)
    stats = stacked_stats([jnp.stack([lay["z"], lay["h"]]) for lay in layers[:-1]], hidden)
    last = layer_stats(layers[-1]["z"], layers[-1]["h"], activation="linear")
    if stats:
        stats = {k: jnp.concatenate([stats[k], last[k][None]]) for k in FORWARD_STATS}
    else:
        stats = {k: last[k][None] for k in FORWARD_STATS}
    weights = [None if sel is None else sel(params) for _, sel in info]
    stats["w_std"] = std_or_nan(weights)
    return stats


def _pair_stats(zh: Array, activation) -> dict[str, Array]:
    return layer_stats(zh[0], zh[1], activation=activation)


def _probe_core(tp: Tap, params: Any, x: Array, y: Any, loss: Any, activation) -> dict:
    """Per-layer statistics as arrays of shape (layers,): pure, jittable, vmappable."""
    x_flat = x.reshape(x.shape[0], -1) if x.ndim == 1 else x
    inputs = layer_stats(x_flat, x_flat)
    if loss is None:
        _, layers, info = tp.forward(params, x, None)
        return {"layers": _forward_stats(layers, info, params, activation), "inputs": inputs}

    shapes = jax.eval_shape(lambda p, v: [lay["z"] for lay in tp.forward(p, v, None)[1]],
                            params, x)  # fmt: skip
    perturbations = [jnp.zeros(s.shape, s.dtype) for s in shapes]
    leaves, treedef = jax.tree_util.tree_flatten(params)
    mask = [_is_float_array(leaf) for leaf in leaves]
    floats = [leaf for leaf, m in zip(leaves, mask, strict=True) if m]

    def rebuild(new_floats):
        it = iter(new_floats)
        return jax.tree_util.tree_unflatten(
            treedef, [next(it) if m else leaf for leaf, m in zip(leaves, mask, strict=True)]
        )

    side = {}

    def objective(floats, perturbations):
        out, layers, info = tp.forward(rebuild(floats), x, perturbations)
        side["info"] = info
        return loss(out, y), layers

    (value, layers), (g_floats, g_z) = jax.value_and_grad(objective, (0, 1), has_aux=True)(
        floats, perturbations
    )
    info = side["info"]
    grads = rebuild(g_floats)
    stats = _forward_stats(layers, info, params, activation)
    stats["grad_z_std"] = std_or_nan(list(g_z))
    stats["grad_w_std"] = std_or_nan([None if sel is None else sel(grads) for _, sel in info])
    return {"layers": stats, "inputs": inputs, "loss": value}


@functools.partial(jax.jit, static_argnames=("tp", "loss", "activation", "stacked"))
def _probe_jit(tp, params, x, y, *, loss, activation, stacked):
    def core(p):
        return _probe_core(tp, p, x, y, loss, activation)

    return jax.vmap(core)(params) if stacked else core(params)


def layer_names(tp: Tap, params: Any, x: Array, stacked: bool) -> tuple[str, ...]:
    names: list = []

    def run(p, v):
        p = jax.tree_util.tree_map(lambda a: a[0], p) if stacked else p
        _, layers, info = tp.forward(p, v, None)
        names.extend(name for name, _ in info)
        return [lay["z"] for lay in layers]

    jax.eval_shape(run, params, x)
    return tuple(names)


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """Per-layer statistics from :func:`probe`.

    ``stats[name]`` has shape ``(layers,)``, or ``(seeds, layers)`` when ``seeded``;
    ``inputs[name]`` the same statistics of the input (shape ``()`` or ``(seeds,)``);
    ``loss`` the loss value when labels were given. Statistic names: :data:`FORWARD_STATS`,
    ``w_std`` (the std of each layer's weight) and, with a loss, :data:`BACKWARD_STATS`.
    """

    layers: tuple[str, ...]
    stats: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    loss: np.ndarray | None = None
    seeded: bool = False

    @property
    def n_seeds(self) -> int | None:
        """Number of seeds, or ``None`` for a single set of parameters."""
        return next(iter(self.stats.values())).shape[0] if self.seeded else None

    def _get(self, stat: str) -> np.ndarray:
        if stat not in self.stats:
            raise KeyError(f"ProbeResult: no statistic {stat!r}; have {', '.join(self.stats)}.")
        return self.stats[stat]

    def __getitem__(self, stat: str) -> np.ndarray:
        return self._get(stat)

    def mean(self, stat: str) -> np.ndarray:
        """Per-layer values, averaged over seeds when seeded."""
        v = self._get(stat)
        return v.mean(axis=0) if self.seeded else v

    def std(self, stat: str) -> np.ndarray:
        """Per-layer spread over seeds (sample std; zeros when not seeded or one seed)."""
        v = self._get(stat)
        if not self.seeded or v.shape[0] < 2:
            return np.zeros(v.shape[-1])
        return v.std(axis=0, ddof=1)

    def table(self, stats: Sequence[str] | None = None) -> str:
        """A text table, a row per layer (the input first), ``mean±std`` over seeds."""
        stats = [s for s in (stats or self.stats) if s in self.stats or self._get(s) is None]

        def cell(values: np.ndarray) -> str:
            v = np.asarray(values, np.float64)
            if not self.seeded:
                return f"{float(v):.3g}"
            sd = v.std(ddof=1) if v.size > 1 else 0.0
            return f"{v.mean():.3g}±{sd:.2g}"

        rows = [["layer", *stats]]
        rows.append(["input", *(cell(self.inputs[s]) if s in self.inputs else "" for s in stats)])
        for i, name in enumerate(self.layers):
            rows.append([name, *(cell(self.stats[s][..., i]) for s in stats)])
        text = _format.table(rows, right=range(len(rows[0])), rule=False)
        if self.loss is not None:
            text += f"\nloss: {cell(self.loss)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Plain Python (JSON-ready): per statistic its per-layer ``mean``, ``std`` over seeds
        and raw ``values``."""

        def entry(v: np.ndarray, seeded: bool) -> dict[str, Any]:
            v = np.asarray(v, np.float64)
            mean = v.mean(axis=0) if seeded else v
            std = v.std(axis=0, ddof=1) if seeded and v.shape[0] > 1 else np.zeros_like(mean)
            return {"mean": mean.tolist(), "std": std.tolist(), "values": v.tolist()}

        out = {
            "layers": list(self.layers),
            "seeded": self.seeded,
            "n_seeds": self.n_seeds,
            "stats": {k: entry(v, self.seeded) for k, v in self.stats.items()},
            "inputs": {k: entry(v, self.seeded) for k, v in self.inputs.items()},
        }
        if self.loss is not None:
            out["loss"] = entry(self.loss, self.seeded)
        return out


def _resolve_loss(tp: Tap, model: Any, y: Any, loss: Any):
    if y is None:
        if loss is not None:
            raise ValueError("probe: a loss needs labels y.")
        return None
    if loss is None:
        output = getattr(model, "output", None)
        if output not in _losses.DEFAULT_FOR_OUTPUT:
            raise ValueError("probe: labels y need a loss (a name or (logits, y) -> scalar).")
        loss = _losses.DEFAULT_FOR_OUTPUT[output]
    return _losses.get(loss)


def probe(
    model: Any,
    params: Any,
    x: Array,
    y: Array | None = None,
    *,
    loss: str | Callable | None = None,
    activation: str | Callable | None = None,
    stacked: bool = False,
    mode: str = "eval",
) -> ProbeResult:
    """Per-layer statistics of ``model`` with ``params`` on the batch ``x``.

    Forward, per layer: :func:`layer_stats` of z and h, and ``w_std``. With labels ``y``
    (and ``loss``, a name from ``jinit.losses`` or ``(output, y) -> scalar``; default from a
    jinit model's ``output``), backward: ``grad_z_std``, the std of dloss/dz (the gradient
    with respect to each layer's pre-activations, read through the additive perturbations),
    and ``grad_w_std``, the std of dloss/dW of each layer's weight (Glorot & Bengio 2010,
    Figs. 7 and 9). ``activation`` (default: the model's, where it says) names the hidden
    activation for ``frac_saturated``.

    ``model`` is anything :func:`adapt` reads (a jinit model or its ``apply``, Flax linen
    with ``params`` its variables, NNX or Equinox with ``params=None`` for the model's own).
    ``stacked=True``: ``params`` carry a leading seed axis, and every statistic gets one.
    One jitted program, compiled once per model, shapes and options.

    A model with BatchNorm or Dropout runs in ``mode``: ``"eval"`` (default: running
    averages, here the model's initial ones, and no dropout) or ``"train"`` (the statistics
    of the batch ``x``; dropout masks from ``jax.random.key(0)``); its norm layers' outputs
    are read where the model's tap reads blocks (linen, Haiku, Equinox submodules). Before any
    training step an Equinox ``BatchNorm(mode="ema")`` holds empty running statistics and
    Haiku's zero-debiased averages are not (0, 1): their evaluation mode at init is what the
    model computes, often huge activations; ``mode="train"`` shows the normalized net.

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import probe
        >>> net = jinit.models.MLP([8, 16, 3], activation="tanh", output="softmax")
        >>> params = net.init(jax.random.key(0), jinit.xavier_normal)
        >>> x = jax.random.normal(jax.random.key(1), (32, 8))
        >>> y = jax.numpy.arange(32) % 3
        >>> r = probe(net, params, x, y)
        >>> sorted(r.stats)[:3]
        ['channel_var', 'frac_dead', 'frac_saturated']
        >>> r.stats["grad_z_std"].shape
        (2,)
    """
    x = jnp.asarray(x)
    mode = _check_mode(mode, "probe")
    tp, params, names = tap_and_names(model, params, x, stacked, "probe", mode)
    loss_fn = _resolve_loss(tp, model, y, loss)
    act = activation_name(activation if activation is not None else tp.activation)
    out = _probe_jit(tp, params, x, y, loss=loss_fn, activation=act, stacked=stacked)
    out = jax.device_get(out)
    order = [*FORWARD_STATS, "w_std", *BACKWARD_STATS]
    return ProbeResult(
        layers=names,
        stats={k: np.asarray(out["layers"][k]) for k in order if k in out["layers"]},
        inputs={k: np.asarray(v) for k, v in out["inputs"].items()},
        loss=None if "loss" not in out else np.asarray(out["loss"]),
        seeded=stacked,
    )


# --------------------------------------------------------------------------- drawing


def _is_weight_law(init: Callable) -> bool:
    try:
        sig = inspect.signature(init)
    except (TypeError, ValueError):
        return False
    required = [
        p
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(required) >= 2


def _draw_jinit(model: MLP | ConvNet, init: Callable, bias_init: Callable, keys: Array) -> Any:
    """``vmap(lambda k: model.init(k, init, bias_init))(keys)``, bit for bit, drawn layer by
    layer with :func:`jinit.draw`, whose compile is cached per (init, shape): a deep net of
    equal layers compiles one kernel instead of one program with a copy per layer."""
    shapes: dict[str, list] = {"kernel": [], "bias": []}

    def recorder(kind: str) -> Callable:
        def record(key, shape, dtype=jnp.float32):
            shapes[kind].append((tuple(shape), dtype))
            return jax.random.key_data(key)

        return record

    layer_keys = jax.vmap(lambda k: model.init(k, recorder("kernel"), recorder("bias")))(keys)
    params = []
    for i, layer in enumerate(layer_keys):
        drawn = {}
        for kind, fn in (("kernel", init), ("bias", bias_init)):
            shape, dtype = shapes[kind][i]
            drawn[kind] = draw(fn, jax.vmap(jax.random.wrap_key_data)(layer[kind]), shape, dtype)
        params.append(drawn)
    return params


@functools.lru_cache(maxsize=32)
def _vmapped_init(init: Callable) -> Callable:
    return jax.jit(jax.vmap(init))


def init_params(model: Any, init: Callable, keys: Array, *, bias_init: Callable = zeros) -> Any:
    """Parameters for each key, stacked on a leading axis.

    For a jinit model ``init`` may be a weight initializer ``(key, shape, dtype)``: row i
    is then ``model.init(keys[i], init, bias_init)`` bit for bit. Otherwise ``init`` is a
    function ``key -> params`` (in the form :func:`probe` takes for ``model``), vmapped.
    """
    if isinstance(model, MLP | ConvNet) and _is_weight_law(init):
        return _draw_jinit(model, init, bias_init, keys)
    try:
        return _vmapped_init(init)(keys)
    except TypeError as err:
        if "unhashable" not in str(err):
            raise
        return jax.jit(jax.vmap(init))(keys)


def _run_keys(seeds: Any, name: str) -> Array:
    """``run_key(s, name)`` per seed; an array of keys (typed, or raw ``(n, 2)`` uint32) is
    used as given."""
    if isinstance(seeds, jax.Array | np.ndarray) and (
        jax.dtypes.issubdtype(seeds.dtype, jax.dtypes.prng_key) or seeds.ndim == 2
    ):
        return as_keys(seeds, "probe_seeds")
    return _keys.run_keys(_keys.check_seeds(seeds, "probe_seeds: seeds"), name)


def _framework_model(model: Any, x: Array, what: str) -> Model:
    try:
        return as_model(model, x[:1])
    except TypeError:
        raise TypeError(
            f"{what}: drawing with an initializer needs a model with init (a jinit model, an "
            "(init_fn, apply_fn) pair, or a Flax linen, NNX, Equinox or Haiku model); for a "
            f"{type(model).__name__} pass init as a function key -> params."
        ) from None


def draw_params(
    model: Any,
    init: Callable | Mapping | Sequence,
    x: Array,
    keys: Array,
    *,
    bias_init: Callable = zeros,
    dtype: Any = jnp.float32,
) -> tuple[Any, Any]:
    """``(params stacked on keys, the model the probe reads)`` for :func:`probe_seeds`.

    - ``init`` a weight law: row i is ``as_model(model).init(keys[i], init, bias_init,
      dtype)``, exactly what :func:`jinit.sweep` draws (a jinit MLP/ConvNet through
      :func:`init_params`, the same bits with fewer compiles);
    - ``init`` rules ``{pattern: law}``: ``model.init(keys[i], rules)``, that is
      ``jinit.reinit(keys[i], template, rules)`` (a jinit model's template: its parameters
      with zero weights), what :func:`jinit.sweep` draws for a rules entry;
    - ``init`` a function ``key -> params``: vmapped as it is.
    """
    what = "probe_seeds"
    if is_rules(init):  # every Model's init takes rules (jinit models: reinit of its tree)
        m = _framework_model(model, x, what)
        return jax.vmap(lambda k: m.init(k, init, bias_init, dtype))(keys), m
    if not _is_weight_law(init):
        return init_params(model, init, keys, bias_init=bias_init), model
    if isinstance(model, MLP | ConvNet) and jnp.dtype(dtype) == jnp.float32:
        return _draw_jinit(model, init, bias_init, keys), model
    m = _framework_model(model, x, what)
    return jax.vmap(lambda k: m.init(k, init, bias_init, dtype))(keys), m


def probe_seeds(
    model: Any,
    init: Callable | Mapping | Sequence,
    x: Array,
    seeds: int | Sequence[int] | Array,
    y: Array | None = None,
    *,
    loss: str | Callable | None = None,
    activation: str | Callable | None = None,
    bias_init: Callable = zeros,
    name: str | None = None,
    dtype: Any = jnp.float32,
    mode: str = "eval",
) -> ProbeResult:
    """:func:`probe` over many seeds at once, with the parameters :func:`jinit.sweep` starts
    from: seed ``s`` draws with ``jinit.keys.run_key(s, name)`` (``name`` defaults to
    ``jinit.name_of(init)``), so ``probe_seeds(model, init, x, [3], name="he")`` reads
    exactly the weights of seed 3 of ``jinit.sweep(model, {"he": init}, ...)``.

    ``model``: a jinit model, an ``(init_fn, apply_fn)`` pair, or a Flax linen, NNX,
    Equinox or Haiku model (linen and Haiku are built on ``x[:1]``). ``init``: a weight
    initializer (biases draw ``bias_init``), rules ``{pattern: law}`` for a framework model
    (as :func:`jinit.reinit` takes; pass ``name=``, the sweep's name for them), or a
    function ``key -> params``. ``seeds``: a count n (seeds ``0..n-1``), a list of distinct
    seeds in ``[0, 2**32 - 1]``, or an array of keys (used as given). Every statistic gets
    a leading seed axis, and :meth:`ProbeResult.table` shows mean±std. ``mode``: as for
    :func:`probe` (a model with BatchNorm or Dropout: ``"eval"`` or ``"train"``).

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import probe_seeds
        >>> net = jinit.models.MLP([8, 16, 16, 2], output="softmax")
        >>> x = jax.random.normal(jax.random.key(0), (32, 8))
        >>> r = probe_seeds(net, jinit.he_normal, x, seeds=range(4))
        >>> r.stats["std"].shape, r.mean("std").shape
        ((4, 3), (3,))
    """
    x = jnp.asarray(x)
    _check_mode(mode, "probe_seeds")
    if name is None:
        if is_rules(init):
            raise ValueError(
                "probe_seeds: with rules, pass name= (the init's name in jinit.sweep), which "
                "chooses the keys: seed s draws with jinit.keys.run_key(s, name)."
            )
        name = name_of(init)
    keys = _run_keys(seeds, name)
    params, read = draw_params(model, init, x, keys, bias_init=bias_init, dtype=dtype)
    return probe(read, params, x, y, loss=loss, activation=activation, stacked=True, mode=mode)
