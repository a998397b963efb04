"""Equinox: a module as a :class:`~jinit.frameworks.base.Model`, and its probe tap."""

from __future__ import annotations

import functools
from typing import Any

import jax

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
    model: Any, rules: base.RulesFn | None = None, *, output: str | None = None
) -> base.Model:
    """An ``equinox.Module`` acting on one example as a sweep model.

    ``params, static = eqx.partition(model, eqx.is_inexact_array)``: the template is
    ``params`` (an Equinox module, so :func:`jinit.reinit` uses the torch layout: each law
    is drawn in the JAX layout and transposed, and ``Linear.weight`` ``(out, in)`` gets
    fan_in = in); ``apply(params, x)`` is ``jax.vmap(eqx.combine(params, static))(x)``.
    Default rules: every ``weight`` of 2+ dimensions gets ``weight_init``, every ``*bias``
    ``bias_init``. Every float array is trained. A stateful layer (``eqx.nn.BatchNorm``,
    anything with an ``eqx.nn.StateIndex``) raises ``ValueError``.

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

    state_index = eqx.nn.StateIndex
    nodes = jax.tree_util.tree_leaves(model, is_leaf=lambda x: isinstance(x, state_index))
    if any(isinstance(n, state_index) for n in nodes):
        raise ValueError(
            f"{what}: the module has stateful layers (eqx.nn.StateIndex, e.g. eqx.nn.BatchNorm); "
            "jinit.sweep trains parameters only and does not thread eqx.nn.State yet. Remove "
            "those layers (or use eqx.nn.LayerNorm)."
        )
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if not base.has_float_leaves(params):
        raise ValueError(f"{what}: the module has no float arrays to train.")
    rules_fn = user_rules or base.default_rules(params, (_is_weight_matrix, _WEIGHT), "*bias", what)

    def apply(p: Any, x: jax.Array) -> jax.Array:
        return jax.vmap(eqx.combine(p, static))(x)

    walkable = isinstance(model, eqx.nn.MLP | eqx.nn.Sequential)
    tap = (
        tap_equinox(model) if walkable else tap_equinox_blocks(model) if _children(model) else None
    )
    return base.adapter(
        "equinox", model, params, rules_fn, apply,
        output=output, user_rules=user_rules, tap=tap,
    )  # fmt: skip


def check_example(model: base.Model, example_x: Any) -> None:
    """Trace ``model.apply`` on ``example_x`` (a batch); an Equinox conv net that fails on
    channels-last examples raises ``ValueError`` saying the layout it expects."""
    x = jax.numpy.asarray(example_x)
    try:
        jax.eval_shape(model.apply, model.template, x[:1])
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


def tap_equinox_blocks(model: Any) -> base.Tap:
    """A tap for any Equinox module acting on one example: the output of each direct
    submodule (a field, or an item of a list field: residual blocks, norms, linear layers),
    in call order, is one layer with ``z = h`` = that output, read by tracing the call with
    each submodule wrapped in a recorder (vmapped over the batch). ``w_std`` is a
    ``Linear``/``Conv`` block's own weight's."""
    import equinox as eqx

    params, static = eqx.partition(model, eqx.is_inexact_array)
    children = _children(model)
    if not children:
        raise TypeError(
            f"probe: the Equinox module {type(model).__name__} has no submodules to read; "
            "write a jinit.diagnostics.Tap for it."
        )

    class _Record(eqx.Module):
        inner: Any
        name: str = eqx.field(static=True)
        record: Any = eqx.field(static=True)

        def __call__(self, *args, **kwargs):
            return self.record(self.name, self.inner(*args, **kwargs))

    def forward(params, x, perturbations):
        m = eqx.combine(params, static)
        names: list[str] = []

        def one(xi, pert):
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
            return wrapped(xi), outs

        out, outs = jax.vmap(one)(x, perturbations)
        order = names[: len(outs)]
        layers = [{"z": z, "h": z} for z in outs]
        kinds = dict(children)
        info = []
        for name in order:
            own = isinstance(kinds[name](m), eqx.nn.Linear | eqx.nn.Conv)
            info.append((name, _weight_selector(name) if own else None))
        return out, layers, info

    return base.Tap(forward, key=("equinox-blocks", base.fingerprint(static)), params=params)


def _weight_selector(name: str) -> Any:
    field, _, index = name.partition("/")
    path = (base.Attr(field), int(index)) if index else (base.Attr(field),)
    return base.selector(*path, base.Attr("weight"))
