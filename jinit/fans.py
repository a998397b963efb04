"""Fan-in and fan-out of a weight array, for any layout."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from jinit._validate import check_shape

Axes = int | Sequence[int]


def _normalize_axes(axes: Axes, ndim: int, what: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    bad = TypeError(f"fans: {what} must be an int or a tuple of ints, got {axes!r}.")
    if isinstance(axes, int | np.integer):
        seq = (axes,)
    elif isinstance(axes, Iterable) and not isinstance(axes, str):
        seq = tuple(axes)
    else:
        raise bad
    out = []
    for a in seq:
        if isinstance(a, bool) or not isinstance(a, int | np.integer):
            raise bad
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(
                f"fans: {what}={axes!r} is out of range for a {ndim}-D shape {shape}; "
                f"accepted axes are {-ndim}..{ndim - 1}."
            )
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"fans: {what}={axes!r} names an axis twice.")
    return tuple(out)


def _is_int(axes: Axes, value: int) -> bool:
    return isinstance(axes, int | np.integer) and not isinstance(axes, bool) and axes == value


def fans(
    shape: Sequence[int],
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight array of this shape.

    Axes that are not in ``in_axis``, ``out_axis`` or ``batch_axis`` form the receptive
    field (a convolution's spatial axes); both fans are multiplied by its size. Batch axes
    (e.g. a stack of independent matrices) are ignored.

    The default is JAX's layout, kernels ``(*spatial, in, out)``. The course/NumPy layout
    ``(out, in)`` is ``in_axis=-1, out_axis=-2``; PyTorch's ``(out, in, *spatial)`` is
    ``in_axis=1, out_axis=0``. A vector has no fans by itself: pass ``in_axis=0,
    out_axis=()`` to treat its length as the fan-in.

    Example:
        >>> import jinit
        >>> jinit.fans((3, 3, 64, 128))          # a 3x3 conv kernel, HWIO
        (576, 1152)
        >>> jinit.fans((128, 64), in_axis=1, out_axis=0)   # PyTorch nn.Linear(64, 128)
        (64, 128)
    """
    shape = check_shape(shape, "fans")
    ndim = len(shape)
    if ndim < 2 and _is_int(in_axis, -2) and _is_int(out_axis, -1):
        raise ValueError(
            f"fans: a {ndim}-D shape {shape} has no input and output axes by default. "
            "Fan-based initializers need a weight of at least 2 dimensions; for a bias use "
            "jinit.zeros (or jinit.torch_default_bias), or pass in_axis=0, out_axis=() to "
            "use the vector's length as its fan-in."
        )
    ins = _normalize_axes(in_axis, ndim, "in_axis", shape)
    outs = _normalize_axes(out_axis, ndim, "out_axis", shape)
    batch = _normalize_axes(batch_axis, ndim, "batch_axis", shape)
    named = ins + outs + batch
    if len(set(named)) != len(named):
        raise ValueError(
            f"fans: in_axis={in_axis!r}, out_axis={out_axis!r} and batch_axis={batch_axis!r} "
            f"must name different axes of the {ndim}-D shape {shape}."
        )
    receptive = math.prod(d for i, d in enumerate(shape) if i not in named)
    fan_in = math.prod(shape[i] for i in ins) * receptive
    fan_out = math.prod(shape[i] for i in outs) * receptive
    return fan_in, fan_out
