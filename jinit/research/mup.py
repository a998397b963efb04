"""muP, the maximal-update parametrization (Yang & Hu 2021; Yang et al. 2022, Tensor Programs V).

Each kernel is classified by which of its dimensions grow with width, comparing its shape
with the same leaf in a *base* model (the ``mup`` package's ``set_base_shapes``):

=========  ===================  ==============  =============  ============
role       grows                init variance   Adam lr        SGD lr
=========  ===================  ==============  =============  ============
input      fan_out only         1/fan_in        eta            eta * m
hidden     fan_in and fan_out   1/fan_in        eta / m        eta
output     fan_in only          0 or 1/(fan_in m)  eta / m     eta / m
vector     1-D, grows (biases)  0               eta            eta * m
fixed      nothing              as drawn        eta            eta
=========  ===================  ==============  =============  ============

``m = width / base width`` of the growing dimension (fan_in for hidden and output, fan_out
for input and vectors). This is Table 3 of Tensor Programs V written relative to the base
shapes, so at ``m = 1`` muP *is* the standard parametrization and a learning rate tuned on
the base model transfers. The output layer's ``1/(fan_in m)`` variance (or zero init) with
an unscaled forward pass is the multiplier-free form of the ``mup`` package's readout
multiplier ``1/m`` (Table 8).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jinit.keys import path_key

ROLES = ("input", "hidden", "output", "vector", "fixed")


class MupInfo(NamedTuple):
    """muP metadata of one leaf: its ``role`` and width multiplier ``mult`` (>= 1 for widths
    above the base) and fan-in."""

    role: str
    mult: float
    fan_in: int


def _fan(shape: tuple[int, ...]) -> tuple[int, int]:
    return math.prod(shape[:-1]), shape[-1]


def _info(leaf: jax.Array, base: jax.Array, delta: jax.Array) -> MupInfo:
    shape, base_shape, delta_shape = (tuple(a.shape) for a in (leaf, base, delta))
    if not len(shape) == len(base_shape) == len(delta_shape):
        raise ValueError(
            f"mup_info: a leaf of shape {shape} has base shape {base_shape} and delta shape "
            f"{delta_shape}; each leaf needs the same number of dimensions in all three."
        )
    if len(shape) < 2:
        grows = bool(shape) and base_shape[0] != delta_shape[0]
        return MupInfo("vector" if grows else "fixed", shape[0] / base_shape[0] if grows else 1.0,
                       1)  # fmt: skip
    (fan_in, fan_out), (base_in, base_out), (d_in, d_out) = map(
        _fan, (shape, base_shape, delta_shape))  # fmt: skip
    grow_in, grow_out = base_in != d_in, base_out != d_out
    if grow_in and grow_out:
        return MupInfo("hidden", fan_in / base_in, fan_in)
    if grow_in:
        return MupInfo("output", fan_in / base_in, fan_in)
    if grow_out:
        return MupInfo("input", fan_out / base_out, fan_in)
    return MupInfo("fixed", 1.0, fan_in)


def mup_info(params: Any, base_params: Any, delta_params: Any = None) -> Any:
    """A tree like ``params`` of :class:`MupInfo`. A dimension grows with width when it
    differs between ``base_params`` (the model at its base width) and ``delta_params`` (the
    model at another width; default ``params`` itself), as in the ``mup`` package's
    ``set_base_shapes(model, base, delta=...)``; the multiplier is the dimension over its base
    value. Shapes are enough (``jax.eval_shape`` of the init). Give ``delta_params`` to use
    the muP roles (zero readout, ...) at the base width itself.

    Example:
        >>> import jax, jinit
        >>> from jinit.research import mup_info
        >>> wide = jinit.models.MLP([8, 256, 256, 3]).init(jax.random.key(0), jinit.he_normal)
        >>> base = jinit.models.MLP([8, 64, 64, 3]).init(jax.random.key(0), jinit.he_normal)
        >>> [(i.role, i.mult) for i in (m["kernel"] for m in mup_info(wide, base))]
        [('input', 4.0), ('hidden', 4.0), ('output', 4.0)]
    """
    delta_params = params if delta_params is None else delta_params
    structures = {jax.tree.structure(t) for t in (params, base_params, delta_params)}
    if len(structures) != 1:
        raise ValueError(
            "mup_info: params, base_params and delta_params must have the same tree structure."
        )
    return jax.tree.map(_info, params, base_params, delta_params)


def _is_info(x: Any) -> bool:
    return isinstance(x, MupInfo)


def _std(inf: MupInfo, readout: str) -> float | None:
    if inf.role == "output":
        return 0.0 if readout == "zero" else (inf.fan_in * inf.mult) ** -0.5
    if inf.role in ("input", "hidden"):
        return inf.fan_in**-0.5
    return 0.0 if inf.role == "vector" else None


def mup_init(
    key: jax.Array, params: Any, info: Any, *, readout: Literal["zero", "small"] = "zero"
) -> Any:
    """muP init: input and hidden kernels ``N(0, 1/fan_in)``, vectors (biases) zero, output
    kernels zero (``readout="zero"``) or ``N(0, 1/(fan_in m))`` (``"small"``); fixed leaves as
    given. The leaf at path ``p`` draws with ``jinit.path_key(key, keystr(p))``.

    Example:
        >>> import jax, jinit
        >>> from jinit.research import mup_info, mup_init
        >>> wide = jinit.models.MLP([8, 256, 3]).init(jax.random.key(0), jinit.he_normal)
        >>> base = jinit.models.MLP([8, 64, 3]).init(jax.random.key(0), jinit.he_normal)
        >>> p = mup_init(jax.random.key(1), wide, mup_info(wide, base))
        >>> float(abs(p[1]["kernel"]).max())
        0.0
    """
    if readout not in ("zero", "small"):
        raise ValueError(f"mup_init: readout must be 'zero' or 'small', got {readout!r}.")
    infos = jax.tree.leaves(info, is_leaf=_is_info)
    pairs, treedef = jax.tree_util.tree_flatten_with_path(params)
    out = []
    for (path, leaf), inf in zip(pairs, infos, strict=True):
        std = _std(inf, readout)
        if std is None:
            out.append(leaf)
            continue
        k = path_key(key, jax.tree_util.keystr(path))
        out.append((jax.random.normal(k, leaf.shape, jnp.float32) * std).astype(leaf.dtype))
    return jax.tree.unflatten(treedef, out)


def lr_multipliers(info: Any, optimizer: Literal["adam", "sgd"] = "adam") -> Any:
    """Per-leaf learning-rate multipliers (the table in the module docstring)."""
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"lr_multipliers: optimizer must be 'adam' or 'sgd', got {optimizer!r}.")
    adam = {"input": 0, "hidden": -1, "output": -1, "vector": 0, "fixed": 0}
    sgd = {"input": 1, "hidden": 0, "output": -1, "vector": 1, "fixed": 0}
    power = adam if optimizer == "adam" else sgd
    return jax.tree.map(lambda i: i.mult ** power[i.role], info, is_leaf=_is_info)


def scale_by_mup(
    info: Any, optimizer: Literal["adam", "sgd"] = "adam"
) -> optax.GradientTransformation:
    """An optax transform multiplying each leaf's update by its muP learning-rate multiplier;
    chain it after the optimizer: ``optax.chain(optax.adam(lr), scale_by_mup(info))``.

    Example:
        >>> import jax, optax, jinit
        >>> from jinit.research import mup_info, scale_by_mup
        >>> wide = jinit.models.MLP([8, 256, 3]).init(jax.random.key(0), jinit.he_normal)
        >>> base = jinit.models.MLP([8, 64, 3]).init(jax.random.key(0), jinit.he_normal)
        >>> opt = optax.chain(optax.adam(1e-3), scale_by_mup(mup_info(wide, base)))
        >>> state = opt.init(wide)
    """
    mults = lr_multipliers(info, optimizer)

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, c: u * jnp.asarray(c, u.dtype), updates, mults), state

    return optax.GradientTransformation(init_fn, update_fn)
