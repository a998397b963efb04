"""Per-layer diagnostics at initialization: what an init does to the signal, going forward
and coming back.

- :func:`layer_stats`: statistics of one layer's pre-activations ``z`` and activations ``h``.
- :func:`probe`: those statistics for every layer of a model, and with labels and a loss the
  spread of the gradients with respect to each layer's pre-activations and weights; one
  jitted program. :func:`probe_seeds` draws the parameters for many seeds and vmaps the
  probe over them, so that every statistic comes with its spread over seeds.
- :func:`symmetry`: how many hidden units are really distinct (a zero init has one).
- :func:`jacobian_spectrum`: singular values of the input-output Jacobian (dynamical
  isometry).
- :func:`activation_histograms`: per-layer histograms (Glorot & Bengio 2010, Figs. 6-7).

Models are read through a :class:`Tap`, built by :func:`tap` from a jinit model
(or its ``apply``), a Flax linen module, a Flax NNX module, or an Equinox ``MLP`` /
``Sequential``. A tap's forward pass returns the model output and, per layer (each
dense or conv layer, in call order), its pre-activation ``z`` and activation ``h``, with an
additive perturbation on ``z`` whose gradient is the gradient with respect to ``z``.

Example:
    >>> import jax, jinit
    >>> from jinit.diagnostics import probe
    >>> net = jinit.models.MLP([16, 32, 32, 4], output="softmax")
    >>> params = net.init(jax.random.key(0), jinit.he_normal)
    >>> x = jax.random.normal(jax.random.key(1), (64, 16))
    >>> result = probe(net, params, x)
    >>> result.layers
    ('1', '2', '3')
    >>> bool(result.mean("frac_dead")[0] == 0.0)
    True
"""

from __future__ import annotations

import bisect
import contextvars
import dataclasses
import functools
import inspect
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit import losses as _losses
from jinit.draw import as_keys, draw
from jinit.laws import zeros
from jinit.models import ACTIVATIONS, MLP, ConvNet
from jinit.trees import _is_float_array

Array = jax.Array
Layers = list[dict[str, Array]]
Selector = Callable[[Any], Array]
Forward = Callable[[Any, Array, Sequence[Array] | None], tuple[Array, Layers, list]]

FORWARD_STATS = (
    "mean",
    "std",
    "z_std",
    "frac_saturated",
    "frac_dead",
    "sq_channel_mean",
    "channel_var",
)
"""Statistics of :func:`layer_stats`, in table order."""
BACKWARD_STATS = ("grad_z_std", "grad_w_std")
"""Gradient statistics :func:`probe` adds when given labels and a loss."""

_TANH_LIKE = frozenset({"tanh", "hard_tanh", "soft_sign"})
_SIGMOID_LIKE = frozenset({"sigmoid", "hard_sigmoid"})
_SATURATION = 0.99


# --------------------------------------------------------------------------- statistics


def activation_name(activation: str | Callable | None) -> str | None:
    """The name of an activation: a name is returned as is; a callable is looked up among
    ``jinit.models.ACTIVATIONS`` and otherwise named by its ``__name__``."""
    if activation is None or isinstance(activation, str):
        return activation
    for name, fn in ACTIVATIONS.items():
        if fn is activation:
            return name
    return getattr(activation, "__name__", None)


def _saturation(h: Array, name: str | None) -> Array:
    if name in _TANH_LIKE:
        return jnp.mean(jnp.abs(h) > _SATURATION)
    if name in _SIGMOID_LIKE:
        return jnp.mean((h < 1 - _SATURATION) | (h > _SATURATION))
    return jnp.zeros((), h.dtype)


def _as_stat_dtype(a: Array) -> Array:
    a = jnp.asarray(a)
    return a.astype(jnp.promote_types(a.dtype, jnp.float32))


def _scale(a: Array, axis: tuple[int, ...] | None) -> Array:
    """max |a| over ``axis`` (kept), 1 where that is 0 or not finite."""
    m = jnp.max(jnp.abs(a), axis=axis, keepdims=True)
    return jnp.where((m > 0) & jnp.isfinite(m), m, jnp.ones_like(m))


def _mean_std(a: Array, axis: tuple[int, ...] | None = None) -> tuple[Array, Array]:
    """Mean and std of ``a`` over ``axis``, computed on ``a / max|a|`` and scaled back, so
    that the sum of squares neither underflows (activations of 1e-20 at depth keep their
    std) nor overflows (1e17 does not turn into inf) in float32."""
    s = _scale(a, axis)
    u = a / s
    s = s.reshape(()) if axis is None else jnp.squeeze(s, axis)
    return s * u.mean(axis), s * u.std(axis)


def layer_stats(
    z: Array, h: Array, *, activation: str | Callable | None = None
) -> dict[str, Array]:
    """Forward statistics of one layer from its pre-activation ``z`` and activation ``h``.

    Both are shaped ``(batch, ..., channels)`` (a dense layer's units are its channels).
    Pure and jittable; every value is a scalar array.

    - ``mean``, ``std``: of h over all entries. ``z_std``: of z.
    - ``frac_saturated``: fraction of entries of h in the flat tails of the activation:
      |h| > 0.99 for tanh-like activations (``tanh``, ``hard_tanh``, ``soft_sign``),
      h < 0.01 or h > 0.99 for sigmoid-like ones (``sigmoid``, ``hard_sigmoid``) (Glorot &
      Bengio 2010, Fig. 2); 0 for other or unnamed activations.
    - ``frac_dead``: fraction of channels whose activation is exactly zero on the whole
      batch (dead ReLUs).
    - ``sq_channel_mean``: average over channels of the squared channel mean, mean_c
      (E_{n,hw}[h])^2, and ``channel_var``: average channel variance, mean_c Var_{n,hw}[h]
      (the two curves of Brock et al. 2021, "Characterizing signal propagation to close
      the performance gap in unnormalized ResNets", Fig. 1).

    Example:
        >>> import jax.numpy as jnp
        >>> from jinit.diagnostics import layer_stats
        >>> z = jnp.array([[1.0, -2.0], [3.0, -1.0]])
        >>> s = layer_stats(z, jnp.maximum(z, 0), activation="relu")
        >>> float(s["frac_dead"]), float(s["sq_channel_mean"])
        (0.5, 2.0)
    """
    z, h = _as_stat_dtype(z), _as_stat_dtype(h)
    if h.ndim == 1:
        z, h = z.reshape(-1, 1), h.reshape(-1, 1)
    if h.ndim < 2 or h.shape[0] == 0:
        raise ValueError(
            f"layer_stats: need activations shaped (batch, ..., channels) with a non-empty "
            f"batch, got shape {h.shape}."
        )
    axes = tuple(range(h.ndim - 1))
    mean, std = _mean_std(h)
    channel_mean, channel_std = _mean_std(h, axes)
    return {
        "mean": mean,
        "std": std,
        "z_std": _mean_std(z)[1],
        "frac_saturated": _saturation(h, activation_name(activation)).astype(h.dtype),
        "frac_dead": jnp.mean(jnp.all(h == 0, axis=axes)).astype(h.dtype),
        "sq_channel_mean": jnp.mean(channel_mean**2),
        "channel_var": jnp.mean(channel_std**2),
    }


# --------------------------------------------------------------------------- taps


class Tap:
    """How :func:`probe` reads a model's layers.

    ``forward(params, x, perturbations)`` returns ``(output, layers, info)``: ``layers`` one
    ``{"z": pre-activation, "h": activation}`` dict per dense/conv layer in call order (the
    last layer's ``h`` is the model output), with ``perturbations[i]`` (or nothing, for
    ``None``) added to layer i's ``z``; ``info`` one ``(name, kernel)`` pair per layer,
    ``kernel`` a function picking that layer's weight out of a pytree shaped like
    ``params`` (or ``None``). ``params`` are the model's own parameters where it carries
    them (NNX, Equinox), ``activation`` its hidden activation where known.

    Taps compare and hash by ``key`` (the model and anything the forward pass closes over),
    so :func:`probe` compiles once per model, shapes and options.
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


class _Attr(str):
    """A path step taken with getattr (Equinox modules) rather than indexing."""


def _pick(path: tuple, tree: Any) -> Array:
    for k in path:
        tree = getattr(tree, k) if isinstance(k, _Attr) else tree[k]
    return tree.get_value() if hasattr(tree, "get_value") else tree


def _selector(*path) -> Selector:
    return functools.partial(_pick, tuple(path))


def _fingerprint(tree: Any) -> Any:
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


def tap_jinit(model: MLP | ConvNet | Callable) -> Tap:
    """A tap for a jinit model, or any ``apply(params, x, *, capture, perturbations)``
    following :meth:`jinit.models.MLP.apply` (params a list of ``{"kernel", ...}``)."""
    apply = model.apply if isinstance(model, MLP | ConvNet) else model

    def forward(params, x, perturbations):
        out, layers = apply(params, x, capture=True, perturbations=perturbations)
        has_kernels = isinstance(params, Sequence) and all(
            isinstance(p, Mapping) and "kernel" in p for p in params
        )
        info = [
            (str(i + 1), _selector(i, "kernel") if has_kernels else None)
            for i in range(len(layers))
        ]
        return out, layers, info

    activation = getattr(model, "activation", None)
    if activation is None and isinstance(getattr(model, "__self__", None), MLP | ConvNet):
        activation = model.__self__.activation
    return Tap(forward, key=("jinit", model), activation=activation)


def _assemble(calls: list, output: Array) -> Layers:
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


def tap_flax(module: Any, **apply_kwargs: Any) -> Tap:
    """A tap for a Flax linen module; params are its variables ``{"params": ...}`` or the
    ``params`` collection alone (the template of :func:`jinit.adapters.from_flax`).

    Every call of a ``Dense``, ``DenseGeneral``, ``Conv`` or ``ConvTranspose`` is intercepted
    (``flax.linen.intercept_methods``): its output is the layer's z (plus the perturbation),
    and its activation h is the next such layer's input, so any elementwise activation in
    ``__call__`` is taken as the model computes it. ``apply_kwargs`` go to ``module.apply``.
    """
    import flax.linen as nn

    kinds = (nn.Dense, nn.DenseGeneral, nn.Conv, nn.ConvTranspose)

    def forward(params, x, perturbations):
        wrapped = not (isinstance(params, Mapping) and "params" in params)
        variables = {"params": params} if wrapped else params
        prefix = () if wrapped else ("params",)
        calls, info = [], []

        def interceptor(next_fun, args, kwargs, context):
            if context.method_name != "__call__" or not isinstance(context.module, kinds):
                return next_fun(*args, **kwargs)
            z = next_fun(*args, **kwargs)
            if perturbations is not None:
                z = z + perturbations[len(calls)]
            path = tuple(context.module.scope.path)
            calls.append((args[0] if args else kwargs["inputs"], z))
            info.append(("/".join(path), _selector(*prefix, *path, "kernel")))
            return z

        with nn.intercept_methods(interceptor):
            out = module.apply(variables, x, **apply_kwargs)
        return out, _assemble(calls, out), info

    return Tap(forward, key=("flax", module, _fingerprint(apply_kwargs)))


_NNX_RECORDER: contextvars.ContextVar[Callable | None] = contextvars.ContextVar(
    "jinit_probe_nnx_recorder", default=None
)


@functools.cache
def _recording(cls: type) -> type:
    """A subclass of an NNX layer class whose ``__call__`` reports (self, input, output)."""

    def __call__(self, inputs, *args, **kwargs):
        z = super(sub, self).__call__(inputs, *args, **kwargs)
        record = _NNX_RECORDER.get()
        return z if record is None else record(self, inputs, z)

    sub = type(cls.__name__, (cls,), {"__call__": __call__, "__module__": cls.__module__})
    return sub


def tap_nnx(model: Any) -> Tap:
    """A tap for a Flax NNX module; params are its ``nnx.Param`` state (the template of
    :func:`jinit.adapters.from_nnx`), other state is held fixed.

    Each forward pass builds a private copy (``nnx.merge``) whose ``nnx.Linear``,
    ``LinearGeneral``, ``Conv`` and ``ConvTranspose`` layers get a recording subclass (the
    model and its classes are left untouched); layers are read as for :func:`tap_flax`.
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
            if perturbations is not None:
                z = z + perturbations[len(calls)]
            path = paths[id(mod)]
            calls.append((inputs, z))
            info.append(("/".join(map(str, path)), _selector(*path, "kernel")))
            return z

        token = _NNX_RECORDER.set(record)
        try:
            out = copy(x)
        finally:
            _NNX_RECORDER.reset(token)
        return out, _assemble(calls, out), info

    return Tap(forward, key=("nnx", graphdef, _fingerprint(rest)), params=params)


_each = None


def _apply_each(fn: Any, z: Array) -> Array:
    """``fn`` on a batch ``z``: per example, and per unit where ``fn`` carries per-unit
    arrays (Equinox's MLP stores its activation vmapped over units)."""
    import equinox as eqx

    global _each
    if not jax.tree_util.tree_leaves(eqx.filter(fn, eqx.is_array)):
        return fn(z)
    if _each is None:
        _each = eqx.filter_vmap(lambda a, b: a(b))
    return jax.vmap(lambda zi: _each(fn, zi))(z)


def _eqx_mlp(model, x, perturbations):
    import equinox as eqx

    def index(tree, i):
        return jax.tree_util.tree_map(lambda a: a[i] if eqx.is_array(a) else a, tree)

    layers_attr, weight = _Attr("layers"), _Attr("weight")
    if model.scan and model.depth > 1:
        first, hidden, last = model.layers
        stack = [(first, (layers_attr, 0, weight))]
        stack += [(index(hidden, j), (layers_attr, 1, weight, j)) for j in range(model.depth - 1)]
        stack.append((last, (layers_attr, 2, weight)))
    else:
        stack = [(m, (layers_attr, i, weight)) for i, m in enumerate(model.layers)]
    h = x
    layers, info = [], []
    for i, (layer, path) in enumerate(stack):
        z = jax.vmap(layer)(h)
        if perturbations is not None:
            z = z + perturbations[i]
        if i + 1 < len(stack):
            h = _apply_each(index(model.activation, i), z)
        elif model.out_size == "scalar":
            h = jax.vmap(model.final_activation)(z)
        else:
            h = _apply_each(model.final_activation, z)
        layers.append({"z": z, "h": h})
        info.append((f"layers/{i}", _selector(*path)))
    return h, layers, info


def _eqx_sequential(model, x, perturbations):
    import equinox as eqx

    kinds = (eqx.nn.Linear, eqx.nn.Conv)
    h, layers, info, z = x, [], [], None
    for j, layer in enumerate(model.layers):
        if isinstance(layer, kinds):
            if z is not None:
                layers.append({"z": z, "h": h})
            z = jax.vmap(layer)(h)
            if perturbations is not None:
                z = z + perturbations[len(layers)]
            h = z
            info.append((f"layers/{j}", _selector(_Attr("layers"), j, _Attr("weight"))))
        else:
            h = jax.vmap(layer)(h)
    if z is not None:
        layers.append({"z": z, "h": h})
    return h, layers, info


def tap_equinox(model: Any) -> Tap:
    """A tap for an Equinox ``eqx.nn.MLP`` (scan or not) or ``eqx.nn.Sequential``; params
    are its float arrays, ``eqx.partition(model, eqx.is_inexact_array)[0]`` (the template of
    :func:`jinit.adapters.from_equinox`).

    The model is walked layer by layer, each layer and activation called as the model calls
    them, vmapped over the batch: z is a ``Linear``/``Conv`` output, h what goes on from it
    (for an MLP its ``activation``; after the last layer, ``final_activation``).
    """
    import equinox as eqx

    if isinstance(model, eqx.nn.MLP):
        walk = _eqx_mlp
    elif isinstance(model, eqx.nn.Sequential):
        walk = _eqx_sequential
    else:
        raise TypeError(
            f"probe: Equinox models are read by walking eqx.nn.MLP or eqx.nn.Sequential; "
            f"got {type(model).__name__}. Write a jinit.diagnostics.Tap for other models."
        )
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def forward(params, x, perturbations):
        return walk(eqx.combine(params, static), x, perturbations)

    activation = activation_name(getattr(model, "activation", None))
    return Tap(forward, key=("equinox", _fingerprint(static)), params=params, activation=activation)


def _module_of(name: str, cls: str, model: Any) -> bool:
    mod = sys.modules.get(name)
    return mod is not None and isinstance(model, getattr(mod, cls))


def tap(model: Any) -> Tap:
    """The :class:`Tap` for a model: a tap is returned as is; jinit models (or their bound
    ``apply``), Flax linen modules, Flax NNX modules and Equinox MLP/Sequential are
    recognized; any other callable is taken to follow jinit's ``apply`` protocol."""
    if isinstance(model, Tap):
        return model
    if isinstance(model, MLP | ConvNet):
        return tap_jinit(model)
    owner = getattr(model, "__self__", None)
    if isinstance(owner, MLP | ConvNet) and getattr(model, "__name__", "") == "apply":
        return tap_jinit(owner)
    if _module_of("flax.linen", "Module", model):
        return tap_flax(model)
    if _module_of("flax.nnx", "Module", model):
        return tap_nnx(model)
    if _module_of("equinox", "Module", model):
        return tap_equinox(model)
    if callable(model):
        return tap_jinit(model)
    raise TypeError(
        f"probe: cannot read layers from {type(model).__name__}; pass a jinit model, a Flax "
        "(linen or NNX) or Equinox model, or a jinit.diagnostics.Tap."
    )


def _default_params(tp: Tap, params: Any, name: str) -> Any:
    if params is not None:
        return params
    if tp.params is None:
        raise ValueError(f"{name}: this model keeps no parameters of its own; pass params.")
    return tp.params


# --------------------------------------------------------------------------- the probe


def _stacked_stats(arrays: list[Array], fn: Callable[[Array], dict[str, Array]]) -> dict:
    """``fn`` on each array, stacked per statistic; runs of equal shapes are stacked and
    vmapped, so a deep net's statistics compile to a few ops, not a few per layer."""
    if not arrays:
        return {}
    groups: list[list[int]] = []
    for i, a in enumerate(arrays):
        if groups and arrays[groups[-1][0]].shape == a.shape:
            groups[-1].append(i)
        else:
            groups.append([i])
    parts = [jax.vmap(fn)(jnp.stack([arrays[i] for i in g])) for g in groups]
    return {k: jnp.concatenate([p[k] for p in parts]) for k in parts[0]}


def _forward_stats(layers: Layers, info: list, params: Any, activation) -> dict:
    hidden = functools.partial(_pair_stats, activation=activation)
    stats = _stacked_stats([jnp.stack([lay["z"], lay["h"]]) for lay in layers[:-1]], hidden)
    last = layer_stats(layers[-1]["z"], layers[-1]["h"], activation="linear")
    if stats:
        stats = {k: jnp.concatenate([stats[k], last[k][None]]) for k in FORWARD_STATS}
    else:
        stats = {k: last[k][None] for k in FORWARD_STATS}
    weights = [None if sel is None else sel(params) for _, sel in info]
    stats["w_std"] = _std_or_nan(weights)
    return stats


def _pair_stats(zh: Array, activation) -> dict[str, Array]:
    return layer_stats(zh[0], zh[1], activation=activation)


def _std_or_nan(arrays: list[Array | None]) -> Array:
    """Per-array std (float32 at least), NaN for ``None``; equal shapes are stacked."""
    present = [a for a in arrays if a is not None]
    if not present:
        return jnp.full((len(arrays),), jnp.nan, jnp.float32)
    stds = iter(_stacked_stats(present, lambda a: {"std": _mean_std(_as_stat_dtype(a))[1]})["std"])
    return jnp.stack([jnp.asarray(jnp.nan if a is None else next(stds), jnp.float32)
                      for a in arrays])  # fmt: skip


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
    stats["grad_z_std"] = _std_or_nan(list(g_z))
    stats["grad_w_std"] = _std_or_nan([None if sel is None else sel(grads) for _, sel in info])
    return {"layers": stats, "inputs": inputs, "loss": value}


@functools.partial(jax.jit, static_argnames=("tp", "loss", "activation", "stacked"))
def _probe_jit(tp, params, x, y, *, loss, activation, stacked):
    def core(p):
        return _probe_core(tp, p, x, y, loss, activation)

    return jax.vmap(core)(params) if stacked else core(params)


def _layer_names(tp: Tap, params: Any, x: Array, stacked: bool) -> tuple[str, ...]:
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
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        if self.loss is not None:
            lines.append(f"loss: {cell(self.loss)}")
        return "\n".join(lines)

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
    tp = tap(model)
    params = _default_params(tp, params, "probe")
    loss_fn = _resolve_loss(tp, model, y, loss)
    act = activation_name(activation if activation is not None else tp.activation)
    x = jnp.asarray(x)
    names = _layer_names(tp, params, x, stacked)
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


def probe_seeds(
    model: Any,
    init: Callable,
    x: Array,
    seeds: int | Sequence[int] | Array,
    y: Array | None = None,
    *,
    loss: str | Callable | None = None,
    activation: str | Callable | None = None,
    bias_init: Callable = zeros,
) -> ProbeResult:
    """:func:`probe` over many seeds at once: parameters drawn by :func:`init_params` for
    ``jax.random.key(seed)`` of each seed (``seeds``: a count n for seeds 0..n-1, a list of
    seeds, or an array of keys), the probe vmapped over them.
    Every statistic gets a leading seed axis, and :meth:`ProbeResult.table` shows mean±std.

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import probe_seeds
        >>> net = jinit.models.MLP([8, 16, 16, 2], output="softmax")
        >>> x = jax.random.normal(jax.random.key(0), (32, 8))
        >>> r = probe_seeds(net, jinit.he_normal, x, seeds=range(4))
        >>> r.stats["std"].shape, r.mean("std").shape
        ((4, 3), (3,))
    """
    keys = as_keys(seeds, "probe_seeds")
    params = init_params(model, init, keys, bias_init=bias_init)
    return probe(model, params, x, y, loss=loss, activation=activation, stacked=True)


# --------------------------------------------------------------------------- symmetry


def _as_pairs(params: Any) -> list[tuple[np.ndarray, np.ndarray | None]]:
    pairs = []
    for i, layer in enumerate(params):
        if isinstance(layer, Mapping):
            if "kernel" not in layer:
                raise ValueError(f"symmetry: layer {i} has no 'kernel' (keys: {list(layer)}).")
            w, b = layer["kernel"], layer.get("bias")
        elif isinstance(layer, Sequence) and len(layer) in (1, 2):
            w, b = layer[0], (layer[1] if len(layer) == 2 else None)
        else:
            raise TypeError(
                "symmetry: params must be a list of {'kernel', 'bias'} dicts or (W, b) pairs; "
                f"layer {i} is {type(layer).__name__}."
            )
        pairs.append((np.asarray(w, np.float64), None if b is None else np.asarray(b, np.float64)))
    return pairs


def _distinct(vectors: np.ndarray, tol: float) -> int:
    """Greedy count of rows not within ``tol`` (max-abs) of an earlier distinct row.

    Rows are visited in order of a fixed projection p = v . r (|r_i| <= 1): two rows within
    tol have |p - p'| <= tol * sum|r|, so each row is compared only with the representatives
    in that window."""
    d = vectors.shape[1]
    r = np.cos(np.arange(d) * 2.399963229728653 + 0.5)
    p = vectors @ r
    window = tol * np.abs(r).sum() * (1 + 1e-9) + 1e-300
    order = np.argsort(p, kind="stable")
    rep_p: list[float] = []
    reps: list[np.ndarray] = []
    for j in order:
        lo = bisect.bisect_left(rep_p, p[j] - window)
        if not any(np.max(np.abs(reps[k] - vectors[j])) <= tol for k in range(lo, len(reps))):
            rep_p.append(p[j])
            reps.append(vectors[j])
    return len(reps)


def symmetry(params: Any, *, tol: float = 1e-6, layout: str = "jax") -> list[int]:
    """Number of distinct hidden units in each hidden layer.

    A hidden unit is its incoming weights, its bias and its outgoing weights; units within
    ``tol`` of each other (max absolute difference) on all three count once. Units that
    agree on all three compute the same function and receive the same gradient, so gradient
    descent keeps them identical forever: a zero (or constant) init has 1 distinct unit per
    layer, a random one has the full width.

    ``params``: a list of ``{"kernel", "bias"}`` dicts (a jinit MLP/ConvNet; conv channels
    are units) or of ``(W, b)`` pairs. ``layout="jax"``: kernels ``(*spatial, in, out)``;
    ``"torch"``: ``(out, in, *spatial)`` (also the courses' ``(out, in)``).

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import symmetry
        >>> net = jinit.models.MLP([4, 8, 8, 1])
        >>> symmetry(net.init(jax.random.key(0), jinit.zeros))
        [1, 1]
        >>> symmetry(net.init(jax.random.key(0), jinit.he_normal))
        [8, 8]
    """
    if layout not in ("jax", "torch"):
        raise ValueError(f"symmetry: layout must be 'jax' or 'torch', got {layout!r}.")
    if not (isinstance(tol, int | float) and tol >= 0):
        raise ValueError(f"symmetry: tol must be a number >= 0, got {tol!r}.")
    pairs = _as_pairs(params)
    counts = []
    for i in range(len(pairs) - 1):
        (w, b), (w_next, _) = pairs[i], pairs[i + 1]
        if layout == "jax":
            incoming = np.moveaxis(w, -1, 0).reshape(w.shape[-1], -1)
            outgoing = np.moveaxis(w_next, -2, 0).reshape(w_next.shape[-2], -1)
        else:
            incoming = w.reshape(w.shape[0], -1)
            outgoing = np.moveaxis(w_next, 1, 0).reshape(w_next.shape[1], -1)
        n = incoming.shape[0]
        if outgoing.shape[0] != n or (b is not None and b.shape != (n,)):
            raise ValueError(
                f"symmetry: layer {i} has {n} units but its bias has shape "
                f"{None if b is None else b.shape} and layer {i + 1} takes "
                f"{outgoing.shape[0]} inputs (layout={layout!r})."
            )
        parts = [incoming, outgoing] if b is None else [incoming, b[:, None], outgoing]
        counts.append(_distinct(np.concatenate(parts, axis=1), float(tol)))
    return counts


# --------------------------------------------------------------------------- Jacobian


def _output_of(out: Array, layers: Layers, output: str | int) -> Array:
    if output == "output":
        return out
    if output == "last_hidden":
        if len(layers) < 2:
            raise ValueError("jacobian_spectrum: output='last_hidden' needs a hidden layer.")
        return layers[-2]["h"]
    return layers[output]["h"]


@functools.partial(jax.jit, static_argnames=("tp", "output"))
def _jacobian_jit(tp: Tap, params: Any, x: Array, *, output) -> dict[str, Array]:
    def f(xi):
        out, layers, _ = tp.forward(params, xi[None], None)
        return _output_of(out, layers, output).reshape(-1)

    jac = jax.vmap(jax.jacfwd(f))(x)
    jac = jac.reshape(x.shape[0], jac.shape[1], -1)
    s = jnp.linalg.svd(jac, compute_uv=False)
    return {
        "singular_values": s,
        "mean": s.mean(),
        "std": s.std(),
        "max": s.max(),
        "min": s.min(),
        "condition": jnp.mean(s.max(axis=-1) / s.min(axis=-1)),
    }


def jacobian_spectrum(
    model: Any, params: Any, x: Array, *, output: str | int = "last_hidden"
) -> dict[str, Array]:
    """Singular values of the input-output Jacobian at each input (rows of ``x``; pass a
    few), the dynamical-isometry view of an init.

    ``output="last_hidden"`` (default): the Jacobian of the last hidden layer's activation
    with respect to the input, the deep stack whose singular values Pennington et al. (2017,
    "Resurrecting the sigmoid in deep learning through dynamical isometry") want all near 1
    (orthogonal weights at criticality); ``"output"``: of the model output (logits); an int:
    of that layer's activation. Glorot & Bengio (2010) report the mean singular value of the
    layer-to-layer Jacobian: about 0.5 with their old init, 0.8 with the normalized one.

    Returns ``singular_values`` (inputs, k) and their overall ``mean``, ``std``, ``max``,
    ``min``, and ``condition`` (mean over inputs of max/min). Jitted.

    Example:
        >>> import functools, jax, jinit
        >>> from jinit.diagnostics import jacobian_spectrum
        >>> net = jinit.models.MLP([32] * 6, activation="linear", output="linear")
        >>> params = net.init(jax.random.key(0), jinit.orthogonal)
        >>> x = jax.random.normal(jax.random.key(1), (4, 32))
        >>> s = jacobian_spectrum(net, params, x)
        >>> round(float(s["min"]), 4), round(float(s["max"]), 4)
        (1.0, 1.0)
    """
    tp = tap(model)
    params = _default_params(tp, params, "jacobian_spectrum")
    if not (output in ("last_hidden", "output") or isinstance(output, int)):
        raise ValueError(
            f"jacobian_spectrum: output must be 'last_hidden', 'output' or a layer index, "
            f"got {output!r}."
        )
    x = jnp.asarray(x)
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"jacobian_spectrum: x must be a non-empty batch, got shape {x.shape}.")
    return _jacobian_jit(tp, params, x, output=output)


# --------------------------------------------------------------------------- histograms


@dataclasses.dataclass(frozen=True)
class Histograms:
    """Per-layer histograms: ``fractions[i, k]`` of layer ``layers[i]``'s entries fall in
    ``[edges[k], edges[k + 1])`` (the last bin is closed)."""

    layers: tuple[str, ...]
    edges: np.ndarray
    fractions: np.ndarray


@functools.partial(jax.jit, static_argnames=("tp", "bins", "which", "hidden_only"))
def _histogram_jit(tp, params, x, value_range, *, bins, which, hidden_only):
    _, layers, _ = tp.forward(params, x, None)
    layers = layers[:-1] if hidden_only and len(layers) > 1 else layers
    values = [_as_stat_dtype(lay[which]).ravel() for lay in layers]
    if value_range is None:
        lo = jnp.min(jnp.stack([v.min() for v in values]))
        hi = jnp.max(jnp.stack([v.max() for v in values]))
        hi = jnp.where(hi > lo, hi, lo + 1)
    else:
        lo, hi = value_range
    edges = jnp.linspace(lo, hi, bins + 1)
    counts = jnp.stack([jnp.histogram(v, edges)[0] / v.size for v in values])
    return edges, counts


def activation_histograms(
    model: Any,
    params: Any,
    x: Array,
    *,
    bins: int = 50,
    value_range: tuple[float, float] | None = None,
    which: str = "h",
    hidden_only: bool = True,
) -> Histograms:
    """Histograms of each layer's activations (``which="h"``) or pre-activations (``"z"``)
    on the batch ``x``, on shared bins (``value_range``, default: the overall min to max),
    for plots in the style of Glorot & Bengio (2010), Figs. 6-7. The output layer is left
    out unless ``hidden_only=False``.

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import activation_histograms
        >>> net = jinit.models.MLP([8, 16, 16, 2], activation="tanh")
        >>> params = net.init(jax.random.key(0), jinit.xavier_uniform)
        >>> x = jax.random.normal(jax.random.key(1), (64, 8))
        >>> hist = activation_histograms(net, params, x, bins=10, value_range=(-1, 1))
        >>> hist.fractions.shape, round(float(hist.fractions.sum()), 4)
        ((2, 10), 2.0)
    """
    if which not in ("h", "z"):
        raise ValueError(f"activation_histograms: which must be 'h' or 'z', got {which!r}.")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"activation_histograms: bins must be a positive int, got {bins!r}.")
    tp = tap(model)
    params = _default_params(tp, params, "activation_histograms")
    x = jnp.asarray(x)
    names = _layer_names(tp, params, x, False)
    if hidden_only and len(names) > 1:
        names = names[:-1]
    vr = None if value_range is None else tuple(float(v) for v in value_range)
    if vr is not None and not (len(vr) == 2 and math.isfinite(vr[0]) and vr[0] < vr[1]):
        raise ValueError(
            f"activation_histograms: value_range must be (lo, hi) with lo < hi, got "
            f"{value_range!r}."
        )
    edges, fractions = _histogram_jit(
        tp, params, x, vr, bins=bins, which=which, hidden_only=hidden_only
    )
    return Histograms(names, np.asarray(edges), np.asarray(fractions))


__all__ = [
    "BACKWARD_STATS",
    "FORWARD_STATS",
    "Histograms",
    "ProbeResult",
    "Tap",
    "activation_histograms",
    "activation_name",
    "init_params",
    "jacobian_spectrum",
    "layer_stats",
    "probe",
    "probe_seeds",
    "symmetry",
    "tap",
    "tap_equinox",
    "tap_flax",
    "tap_jinit",
    "tap_nnx",
]
