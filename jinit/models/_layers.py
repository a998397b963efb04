"""Building blocks of the named-parameter models (:mod:`jinit.models.residual`,
:mod:`jinit.models.transformer`): a parameter *layout* tree, its drawing, and the layers.

A layout is a nested dict/list whose leaves are :class:`Leaf` ``(shape, role)``. ``draw``
turns it into parameters: the leaf at tree path ``p`` draws with
``jinit.path_key(key, jax.tree_util.keystr(p))`` (for example
``"['blocks'][0]['attn']['query']['kernel']"``), the same key :func:`jinit.reinit` gives that
leaf. So ``model.init(key, w, b)`` equals ``jinit.reinit(key, params, {"*kernel": w,
"*embedding": w, "*fc*bias": b, ...})`` leaf for leaf, and a leaf's draw does not depend on
which other layers exist.

Roles: ``"weight"`` (dense/conv kernels, embeddings) draw from ``weight_init``; ``"bias"``
from ``bias_init``; ``"ones"`` (norm scales) and ``"zeros"`` (norm biases) are constants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jinit.keys import path_key
from jinit.laws import zeros
from jinit.models._core import Initializer, output_transform
from jinit.ops import conv2d

NORMS = (None, "layer", "batch")
EPS = 1e-5


class Leaf(NamedTuple):
    """One parameter of a layout: its shape and role (weight, bias, ones or zeros)."""

    shape: tuple[int, ...]
    role: str


def _is_leaf(node: Any) -> bool:
    return isinstance(node, Leaf)


def dense(n_in: int, n_out: int) -> dict[str, Leaf]:
    """A dense layer ``x @ kernel + bias``, kernel ``(in, out)``."""
    return {"kernel": Leaf((n_in, n_out), "weight"), "bias": Leaf((n_out,), "bias")}


def conv(k: int, c_in: int, c_out: int) -> dict[str, Leaf]:
    """A ``k x k`` convolution with an HWIO kernel and a ``(out,)`` bias."""
    return {"kernel": Leaf((k, k, c_in, c_out), "weight"), "bias": Leaf((c_out,), "bias")}


def norm(n: int) -> dict[str, Leaf]:
    """A norm layer's affine parameters: ``scale`` ones and ``bias`` zeros."""
    return {"scale": Leaf((n,), "ones"), "bias": Leaf((n,), "zeros")}


def embedding(n: int, d: int) -> dict[str, Leaf]:
    """An embedding table ``(n, d)`` (drawn by the weight law)."""
    return {"embedding": Leaf((n, d), "weight")}


def draw(layout: Any, key: jax.Array, weight_init: Callable, bias_init: Callable, dtype) -> Any:
    """Parameters for ``layout``: each leaf drawn with its path key (see the module doc)."""

    def one(path, leaf: Leaf) -> jax.Array:
        if leaf.role in ("ones", "zeros"):
            return constant(leaf.shape, leaf.role == "ones", dtype)
        law = weight_init if leaf.role == "weight" else bias_init
        return law(path_key(key, jax.tree_util.keystr(path)), leaf.shape, dtype)

    return jax.tree_util.tree_map_with_path(one, layout, is_leaf=_is_leaf)


def constant(shape: tuple[int, ...], value: float, dtype: Any) -> jax.Array:
    """``jnp.full(shape, value, dtype)`` made on the host (``jnp.ones`` and ``jnp.zeros``
    compile a program per shape)."""
    return jax.device_put(np.full(shape, value, jnp.dtype(dtype)))


def check_norm(norm_name: Any, owner: str, accepted: tuple = NORMS) -> None:
    if norm_name not in accepted:
        raise ValueError(
            f"{owner}: norm must be one of {', '.join(map(repr, accepted))}, got {norm_name!r}."
        )


def check_positive(owner: str, **values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}.")


def apply_dense(p: dict, x: jax.Array) -> jax.Array:
    return x @ p["kernel"] + p["bias"]


def apply_conv(p: dict, x: jax.Array, stride: int = 1) -> jax.Array:
    """NHWC convolution with :func:`jinit.ops.conv2d` (fast gradients inside ``lax.scan``)."""
    return conv2d(x, p["kernel"], (stride, stride), "SAME") + p["bias"]


def layer_norm(p: dict, x: jax.Array) -> jax.Array:
    """Layer norm over the last axis (features / channels): ``(x - mean) / sqrt(var + 1e-5)
    * scale + bias`` (Ba et al. 2016; as ``flax.linen.LayerNorm``)."""
    mean = x.mean(-1, keepdims=True)
    var = jnp.square(x - mean).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + EPS) * p["scale"] + p["bias"]


def batch_norm(p: dict, x: jax.Array, stats: tuple[jax.Array, jax.Array] | None = None):
    """Batch norm (Ioffe & Szegedy 2015) over every axis but the last, with the batch's own
    statistics (training mode) or given ``stats = (mean, var)`` (evaluation mode).
    Returns ``(y, (mean, var))``: the statistics used."""
    if stats is None:
        axes = tuple(range(x.ndim - 1))
        mean = x.mean(axes)
        stats = mean, jnp.square(x - mean).mean(axes)
    mean, var = stats
    return (x - mean) * jax.lax.rsqrt(var + EPS) * p["scale"] + p["bias"], stats


class Recorder:
    """The probe's tap points of a named model's forward pass: ``rec(name, value, weight)``
    adds ``perturbations[i]`` to the ``i``-th point's value (the probe reads gradients with
    respect to it there) and records ``(name, value, weight)``, ``weight`` the parameter
    path of the point's own kernel (or ``None``). A model calls it where it wants a point
    read: residual streams, branch outputs, attention outputs, norm outputs, the logits."""

    def __init__(self, perturbations: Any = None):
        self.perturbations = perturbations
        self.points: list[tuple[str, jax.Array, tuple | None]] = []

    def __call__(self, name: str, value: jax.Array, weight: tuple | None = None) -> jax.Array:
        if self.perturbations is not None:
            value = value + self.perturbations[len(self.points)]
        self.points.append((name, value, weight))
        return value


class NamedModel:
    """Mixin of the named-parameter models: ``init`` draws ``self.layout()`` (see the module
    docstring) and ``predict`` applies the output nonlinearity to ``self.apply``."""

    def init(
        self, key: jax.Array, weight_init: Initializer, bias_init: Initializer = zeros,
        dtype: Any = jnp.float32,
    ) -> dict[str, Any]:  # fmt: skip
        """Parameters: weights from ``weight_init``, biases from ``bias_init``, norm scales
        ones and norm biases zeros, each leaf with its path key."""
        return draw(self.layout(), key, weight_init, bias_init, dtype)

    def predict(self, params: dict[str, Any], x: jax.Array) -> jax.Array:
        """Probabilities (sigmoid/softmax) or values (linear)."""
        return output_transform(self.output)(self.apply(params, x))
