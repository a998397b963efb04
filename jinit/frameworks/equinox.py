"""Equinox: a module as a :class:`~jinit.frameworks.base.Model`, and its probe tap."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.extend.core as jex_core

from jinit.frameworks import base, detection

_WEIGHT = "a `weight` of 2+ dimensions"


def _is_weight_matrix(path: str, leaf: Any) -> bool:
    """An Equinox ``weight`` of two or more dimensions (a LayerNorm's 1-D weight is not)."""
    return path.endswith(".weight") and jax.numpy.ndim(leaf) >= 2


# --------------------------------------------------------------------------- tap


@functools.cache
def _call_each() -> Any:
    import equinox as eqx

    return eqx.filter_vmap(lambda fn, z: fn(z))


def _apply_each(fn: Any, z: jax.Array) -> jax.Array:
    """``fn`` on a batch ``z``: per example, and per unit where ``fn`` carries per-unit
    arrays (Equinox's MLP stores its activation vmapped over units)."""
    import equinox as eqx

    if not jax.tree_util.tree_leaves(eqx.filter(fn, eqx.is_array)):
        return fn(z)
    return jax.vmap(lambda zi: _call_each()(fn, zi))(z)


def _eqx_mlp(model, x, perturbations):
    import equinox as eqx

    def index(tree, i):
        return jax.tree_util.tree_map(lambda a: a[i] if eqx.is_array(a) else a, tree)

    layers_attr, weight = base.Attr("layers"), base.Attr("weight")
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
        z = base.perturb(jax.vmap(layer)(h), perturbations, i)
        if i + 1 < len(stack):
            h = _apply_each(index(model.activation, i), z)
        elif model.out_size == "scalar":
            h = jax.vmap(model.final_activation)(z)
        else:
            h = _apply_each(model.final_activation, z)
        layers.append({"z": z, "h": h})
        info.append((f"layers/{i}", base.selector(*path)))
    return h, layers, info


def _eqx_sequential(model, x, perturbations):
    import equinox as eqx

    kinds = (eqx.nn.Linear, eqx.nn.Conv)
    h, layers, info, z = x, [], [], None
    for j, layer in enumerate(model.layers):
        if isinstance(layer, kinds):
            if z is not None:
                layers.append({"z": z, "h": h})
            z = base.perturb(jax.vmap(layer)(h), perturbations, len(layers))
            h = z
            info.append((f"layers/{j}", base.selector(base.Attr("layers"), j, base.Attr("weight"))))
        else:
            h = jax.vmap(layer)(h)
    if z is not None:
        layers.append({"z": z, "h": h})
    return h, layers, info


def tap_equinox(model: Any) -> base.Tap:
    """A tap for an Equinox ``eqx.nn.MLP`` (scan or not) or ``eqx.nn.Sequential``; params
    are its float arrays, ``eqx.partition(model, eqx.is_inexact_array)[0]`` (the template of
    :func:`from_equinox`).

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

    activation = getattr(model, "activation", None)
    return base.Tap(
        forward, key=("equinox", base.fingerprint(static)), params=params, activation=activation
    )


# --------------------------------------------------------------------------- base.adapter


def from_equinox(
    model: Any,
    rules: base.RulesFn | None = None,
    *,
    output: str | None = None,
    state: Any = None,
) -> base.Model:
    """An ``equinox.Module`` acting on one example as a sweep model.

    ``params, static = eqx.partition(model, eqx.is_inexact_array)``: the template is
    ``params`` (an Equinox module, so :func:`jinit.reinit` uses the torch layout: each law
    is drawn in the JAX layout and transposed, and ``Linear.weight`` ``(out, in)`` gets
    fan_in = in). Default rules: every ``weight`` of 2+ dimensions gets ``weight_init``,
    every ``*bias`` ``bias_init``. Every float array is trained. A model without state or
    dropout trains with ``apply(params, x) = jax.vmap(eqx.combine(params, static))(x)``.

    Models with state or dropout, written as Equinox's examples write them, get a train
    mode; the supported call is ``model(x, state, *, key)`` -> ``(y, state)`` for a
    stateful model (``eqx.nn.BatchNorm``, anything with an ``eqx.nn.StateIndex``; build it
    with ``model, state = eqx.nn.make_with_state(Model)(...)`` and pass ``state=state``)
    and ``model(x, *, key)`` -> ``y`` for a model with ``eqx.nn.Dropout`` but no state.
    ``key`` is one example's key (the engine's key split over the batch); if ``__call__``
    also takes ``inference``, it is passed too. Training calls the model as it is
    (``BatchNorm``/``Dropout`` with ``inference=False``), evaluation calls
    ``eqx.nn.inference_mode(model)`` (running averages, no dropout); both vmap over the
    batch with ``axis_name`` = the models' ``BatchNorm`` axis name (``"batch"``).

    Example:
        >>> import equinox as eqx, jax, jinit, jinit.adapters
        >>> mlp = eqx.nn.MLP(2, 1, 16, 1, key=jax.random.key(0))
        >>> net = jinit.adapters.from_equinox(mlp)
        >>> params = net.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
        >>> params.layers[0].weight.shape, net.apply(params, jax.numpy.ones((5, 2))).shape
        ((16, 2), (5, 1))
    """
    what = "jinit.adapters.from_equinox"
    user_rules, output = base.check_args(
        model, detection.is_equinox, "an equinox Module", what, rules, output
    )
    import equinox as eqx

    params, static = eqx.partition(model, eqx.is_inexact_array)
    if not base.has_float_leaves(params):
        raise ValueError(f"{what}: the module has no float arrays to train.")
    mode = _train_mode(model, state, what)
    rules_fn = user_rules or base.default_rules(params, (_is_weight_matrix, _WEIGHT), "*bias", what)

    def apply(p: Any, x: jax.Array) -> jax.Array:
        return jax.vmap(eqx.combine(p, static))(x)

    walkable = isinstance(model, eqx.nn.MLP | eqx.nn.Sequential) and mode is None
    blocks = tap_equinox_blocks(model, state, "eval") if _children(model) else None
    return base.adapter(
        "equinox", model, params, rules_fn, None if mode else apply,
        output=output, user_rules=user_rules, tap=tap_equinox(model) if walkable else blocks,
        mode=mode,
    )  # fmt: skip


def _layers(model: Any, kind: type) -> list:
    """Every ``kind`` instance in ``model``'s tree."""
    leaves = jax.tree_util.tree_leaves(model, is_leaf=lambda x: isinstance(x, kind))
    return [leaf for leaf in leaves if isinstance(leaf, kind)]


def _axis_name(model: Any, what: str) -> Any:
    """The one ``axis_name`` of the model's ``BatchNorm`` layers (``"batch"`` if none)."""
    import equinox as eqx

    names = {repr(bn.axis_name): bn.axis_name for bn in _layers(model, eqx.nn.BatchNorm)}
    if len(names) > 1:
        raise ValueError(
            f"{what}: the model's BatchNorm layers use different axis names "
            f"({', '.join(sorted(names))}); jinit vmaps the batch over one axis name."
        )
    return next(iter(names.values()), "batch")


def _train_mode(model: Any, state: Any, what: str) -> base.TrainMode | None:
    """The train mode of a model with ``eqx.nn.StateIndex`` or ``eqx.nn.Dropout`` layers."""
    import inspect

    import equinox as eqx

    stateful = bool(_layers(model, eqx.nn.StateIndex))
    stochastic = any(d.p > 0 for d in _layers(model, eqx.nn.Dropout))
    if stateful and not isinstance(state, eqx.nn.State):
        raise ValueError(
            f"{what}: the model has stateful layers (eqx.nn.StateIndex, e.g. eqx.nn.BatchNorm); "
            "pass its state: model, state = eqx.nn.make_with_state(Model)(...); "
            f"from_equinox(model, state=state). Got state={type(state).__name__}."
        )
    if state is not None and not stateful:
        raise ValueError(f"{what}: state= given, but the model has no eqx.nn.StateIndex.")
    if not (stateful or stochastic):
        return None
    takes = inspect.signature(model.__call__).parameters
    if "key" not in takes:
        form = "(x, state, *, key)" if stateful else "(x, *, key)"
        raise TypeError(
            f"{what}: a model with state or dropout is called as model{form} (key: one "
            f"example's PRNG key); {type(model).__name__}.__call__ takes ({', '.join(takes)})."
        )
    axis = _axis_name(model, what)
    _, train_static = eqx.partition(model, eqx.is_inexact_array)
    _, eval_static = eqx.partition(eqx.nn.inference_mode(model), eqx.is_inexact_array)

    def call(static, inference, p, s, x, key):
        m = eqx.combine(p, static)
        kw = {"inference": inference} if "inference" in takes else {}
        keys = jax.random.split(key, x.shape[0]) if key is not None else None

        def one(xi, ki, si):
            if stateful:
                return m(xi, si, key=ki, **kw)
            return m(xi, key=ki, **kw), si

        in_axes = (0, None if keys is None else 0, None)
        return jax.vmap(one, in_axes=in_axes, out_axes=(0, None), axis_name=axis)(x, keys, s)

    @_traced_without_mesh
    def apply_train(params, state, x, key):
        return call(train_static, False, params, state, x, key)

    @_traced_without_mesh
    def apply_eval(params, state, x):
        return call(eval_static, True, params, state, x, None)[0]

    return base.TrainMode(state if stateful else {}, apply_train, apply_eval, stochastic)


def _traced_without_mesh(fn: Any) -> Any:
    """``fn`` traced at its arguments' shapes and dtypes alone, outside any mesh, and its
    operations evaluated in the caller's trace: the same operations, the same numbers.

    Why: inside ``jax.shard_map`` (the engine splits the runs over devices with it) every
    traced value's abstract value carries the manual mesh, but a constant's does not, and
    ``eqx.nn.State.set`` raises when the new value's abstract value differs from the old
    one's; ``eqx.nn.BatchNorm`` sets its ``first_time`` flag to ``jnp.array(False)``.
    Traced without the mesh, old and new values are both plain."""

    @functools.wraps(fn)
    def wrapped(*args: Any) -> Any:
        leaves, tree = jax.tree_util.tree_flatten(args)
        avals = [jax.typeof(leaf) for leaf in leaves]
        specs = [jax.ShapeDtypeStruct(a.shape, a.dtype, weak_type=a.weak_type) for a in avals]

        def flat(*flat_args: Any) -> Any:
            return fn(*jax.tree_util.tree_unflatten(tree, flat_args))

        with jax.sharding.use_abstract_mesh(jax.sharding.AbstractMesh((), ())):
            closed, shape = jax.make_jaxpr(flat, return_shape=True)(*specs)
        out = jex_core.jaxpr_as_fun(closed)(*leaves)
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape), out)

    return wrapped


def is_with_state(obj: Any) -> bool:
    """An ``(equinox module, eqx.nn.State)`` pair, as ``eqx.nn.make_with_state`` returns."""
    if not (isinstance(obj, tuple) and len(obj) == 2 and detection.is_equinox(obj[0])):
        return False
    import equinox as eqx

    return isinstance(obj[1], eqx.nn.State)


def check_example(model: base.Model, example_x: Any) -> None:
    """Trace ``model.apply`` on ``example_x`` (a batch); an Equinox conv net that fails on
    channels-last examples raises ``ValueError`` saying the layout it expects."""
    x = jax.numpy.asarray(example_x)
    try:
        jax.eval_shape(model.apply, model.template, x[:1])
        base.check_train_mode(model, x, "jinit.adapters.from_equinox")
    except (ValueError, TypeError) as err:
        if x.ndim < 3 or "conv" not in str(err).lower():
            raise
        raise ValueError(
            f"jinit.adapters.from_equinox: the model fails on examples of shape "
            f"{tuple(x.shape[1:])}: Equinox convolutions take one example channels first, "
            f"(C, H, W) for eqx.nn.Conv2d; for NHWC data move the channels first "
            f"(jnp.moveaxis(x, -1, 1) on the batch). ({err})"
        ) from None


# --------------------------------------------------------------------------- blocks


def _children(model: Any) -> list[tuple[str, Any]]:
    """``(name, getter)`` of each direct submodule: a field holding an ``eqx.Module``, or
    each module in a list/tuple field (``blocks/0``)."""
    import dataclasses

    import equinox as eqx

    out = []
    for field in dataclasses.fields(model):
        value = getattr(model, field.name, None)
        if isinstance(value, eqx.Module):
            out.append((field.name, lambda m, f=field.name: getattr(m, f)))
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, eqx.Module):
                    out.append((f"{field.name}/{i}", lambda m, f=field.name, i=i: getattr(m, f)[i]))
    return out


def tap_equinox_blocks(model: Any, state: Any = None, mode: str | None = None) -> base.Tap:
    """A tap for any Equinox module acting on one example: the output of each direct
    submodule (a field, or an item of a list field: residual blocks, norms, linear layers),
    in call order, is one layer with ``z = h`` = that output, read by tracing the call with
    each submodule wrapped in a recorder (vmapped over the batch). ``w_std`` is a
    ``Linear``/``Conv`` block's own weight's.

    A model with state or dropout (see :func:`from_equinox`) is called as
    ``model(x, state, *, key)`` with ``mode`` ``"eval"`` (``eqx.nn.inference_mode``:
    running averages, no dropout; the default) or ``"train"`` (batch statistics over the
    batch axis, dropout keys split from ``jax.random.key(0)``; the new state is dropped);
    a submodule returning ``(output, state)`` (``BatchNorm``) is read at its output."""
    import equinox as eqx

    params, static = eqx.partition(model, eqx.is_inexact_array)
    children = _children(model)
    if not children:
        raise TypeError(
            f"probe: the Equinox module {type(model).__name__} has no submodules to read; "
            "write a jinit.diagnostics.Tap for it."
        )
    call = _block_call(model, state, mode)

    class _Record(eqx.Module):
        inner: Any
        name: str = eqx.field(static=True)
        record: Any = eqx.field(static=True)

        def __call__(self, *args, **kwargs):
            out = self.inner(*args, **kwargs)
            if isinstance(out, tuple):  # (output, state) of a stateful layer
                return (self.record(self.name, out[0]), *out[1:])
            return self.record(self.name, out)

    def forward(params, x, perturbations):
        m = eqx.combine(params, static)
        names: list[str] = []

        def one(xi, pert, ki):
            outs = []

            def record(name, out):
                out = base.perturb(out, pert, len(outs))
                outs.append(out)
                names.append(name)
                return out

            getters = [get for _, get in children]
            wrapped = eqx.tree_at(
                lambda t: [get(t) for get in getters],
                m,
                [_Record(get(m), name, record) for name, get in children],
            )
            return call(wrapped, xi, ki), outs

        keys = jax.random.split(jax.random.key(0), x.shape[0])
        out, outs = jax.vmap(one, axis_name=_axis_name(model, "probe"))(x, perturbations, keys)
        order = names[: len(outs)]
        layers = [{"z": z, "h": z} for z in outs]
        kinds = dict(children)
        info = []
        for name in order:
            own = isinstance(kinds[name](m), eqx.nn.Linear | eqx.nn.Conv)
            info.append((name, _weight_selector(name) if own else None))
        return out, layers, info

    key = ("equinox-blocks", base.fingerprint(static), base.fingerprint(state), mode)
    return base.Tap(forward, key=key, params=params)


def _block_call(model: Any, state: Any, mode: str | None) -> Any:
    """``call(module, x, key) -> output`` of one example: ``module(x)``, or for a model with
    state or dropout the evaluation (``mode`` ``"eval"``/``None``) or training call."""
    import inspect

    import equinox as eqx

    stateful = bool(_layers(model, eqx.nn.StateIndex))
    takes = inspect.signature(model.__call__).parameters
    if not stateful and "key" not in takes:
        return lambda m, xi, ki: m(xi)
    train = mode == "train"

    def call(m, xi, ki):
        m = m if train else eqx.nn.inference_mode(m)
        # a fresh State object per call: Equinox marks a State stale once a layer sets it
        state_now = jax.tree_util.tree_unflatten(*_flat(state))
        kw = {"inference": not train} if "inference" in takes else {}
        if "key" in takes:
            kw["key"] = ki if train else None
        return m(xi, state_now, **kw)[0] if stateful else m(xi, **kw)

    return call


def _flat(tree: Any) -> tuple[Any, list]:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, leaves


def _weight_selector(name: str) -> Any:
    field, _, index = name.partition("/")
    path = (base.Attr(field), int(index)) if index else (base.Attr(field),)
    return base.selector(*path, base.Attr("weight"))
