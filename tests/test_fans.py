"""jinit.fans: fan-in and fan-out for every layout.

Expected values come from the definitions (products of dimensions written out by hand),
from an independent NumPy formula in this file, and from JAX's own ``_compute_fans``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax._src.nn.initializers import _compute_fans as jax_compute_fans

import jinit


def numpy_fans(shape, in_axis=-2, out_axis=-1, batch_axis=()):
    """Fans by masks over the axes: receptive field = every axis not named."""
    dims = np.array(shape, dtype=np.int64)
    ndim = dims.size

    def mask(axes):
        m = np.zeros(ndim, dtype=bool)
        m[np.atleast_1d(np.asarray(axes, dtype=np.int64)) % ndim] = True
        return m

    ins, outs, batch = mask(in_axis), mask(out_axis), mask(batch_axis)
    receptive = int(np.prod(dims[~(ins | outs | batch)]))
    return int(np.prod(dims[ins])) * receptive, int(np.prod(dims[outs])) * receptive


CASES = [
    # (shape, kwargs, expected) with expected written out from the definition
    ((784, 30), {}, (784, 30)),  # dense (in, out)
    ((3, 3, 64, 128), {}, (3 * 3 * 64, 3 * 3 * 128)),  # 2-D conv HWIO
    ((5, 16, 32), {}, (5 * 16, 5 * 32)),  # 1-D conv WIO
    ((3, 3, 3, 8, 16), {}, (27 * 8, 27 * 16)),  # 3-D conv DHWIO
    ((30, 784), {"in_axis": -1, "out_axis": -2}, (784, 30)),  # course (out, in)
    ((128, 64, 3, 3), {"in_axis": 1, "out_axis": 0}, (64 * 9, 128 * 9)),  # PyTorch OIHW
    ((128, 64), {"in_axis": 1, "out_axis": 0}, (64, 128)),  # PyTorch nn.Linear(64, 128)
    ((10, 784, 30), {"batch_axis": 0}, (784, 30)),  # a stack of 10 dense kernels
    ((4, 3, 3, 8, 16), {"batch_axis": 0}, (9 * 8, 9 * 16)),
    ((2, 3, 4, 5), {"in_axis": (0, 1), "out_axis": (2, 3)}, (6, 20)),  # tuple axes
    ((2, 3, 4, 5), {"in_axis": (0, 2), "out_axis": -1}, (8 * 3, 5 * 3)),
    ((2, 3, 4, 5), {"in_axis": [-4], "out_axis": (-1,), "batch_axis": (1,)}, (2 * 4, 5 * 4)),
    ((7,), {"in_axis": 0, "out_axis": ()}, (7, 1)),  # a vector's length as its fan-in
]


@pytest.mark.parametrize(("shape", "kwargs", "expected"), CASES)
def test_known_fans(shape, kwargs, expected):
    assert jinit.fans(shape, **kwargs) == expected
    assert numpy_fans(shape, **kwargs) == expected


def test_conv_kernel_doc_example():
    assert jinit.fans((3, 3, 64, 128)) == (576, 1152)


@pytest.mark.parametrize(("shape", "kwargs", "expected"), CASES[:-1])
def test_matches_jax_compute_fans(shape, kwargs, expected):
    fan_in, fan_out = jax_compute_fans(shape, **kwargs)
    assert jinit.fans(shape, **kwargs) == (int(fan_in), int(fan_out))
    assert float(fan_in).is_integer() and float(fan_out).is_integer()


def test_returns_python_ints():
    fan_in, fan_out = jinit.fans((3, 3, 64, 128))
    assert type(fan_in) is int and type(fan_out) is int


@pytest.mark.parametrize("shape", [(), (5,)])
def test_0d_and_1d_need_explicit_axes(shape):
    with pytest.raises(ValueError, match=r"in_axis.*bias|bias.*in_axis") as info:
        jinit.fans(shape)
    assert f"{len(shape)}-D" in str(info.value)
    assert "jinit.zeros" in str(info.value)


@pytest.mark.parametrize(
    ("shape", "kwargs", "match"),
    [
        ((3, 4), {"in_axis": 2}, r"in_axis=2 is out of range.*accepted axes are -2\.\.1"),
        ((3, 4), {"out_axis": -3}, r"out_axis=-3 is out of range"),
        ((3, 4, 5), {"batch_axis": 3}, r"batch_axis=3 is out of range"),
        ((3, 4), {"in_axis": 0, "out_axis": 0}, r"must name different axes"),
        ((3, 4), {"in_axis": 0, "out_axis": -2}, r"must name different axes"),
        ((3, 4, 5), {"batch_axis": -1}, r"must name different axes"),
        ((3, 4, 5), {"in_axis": (0, -3)}, r"names an axis twice"),
        ((7,), {"in_axis": 0}, r"must name different axes"),  # out_axis=-1 is axis 0 too
    ],
)
def test_bad_axes(shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        jinit.fans(shape, **kwargs)


@pytest.mark.parametrize("axis", [1.0, "0", True, (0, None)])
def test_axis_must_be_int(axis):
    with pytest.raises(TypeError, match="must be an int or a tuple of ints"):
        jinit.fans((3, 4, 5), in_axis=axis)


@pytest.mark.parametrize("shape", [5, [3, 2.5], (3, -1), "ab", None])
def test_bad_shape(shape):
    with pytest.raises((TypeError, ValueError), match="tuple of non-negative ints"):
        jinit.fans(shape)


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((0, 5), (0, 5)),
        ((5, 0), (5, 0)),
        ((0, 0), (0, 0)),
        ((0, 3, 4, 5), (0, 0)),  # an empty receptive field
        ((3, 3, 0, 8), (0, 72)),
    ],
)
def test_zero_size_dims(shape, expected):
    # No ZeroDivisionError; a fan that spans a zero-size axis is 0.
    assert jinit.fans(shape) == expected == numpy_fans(shape)


@st.composite
def shapes_and_axes(draw):
    ndim = draw(st.integers(2, 5))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    perm = draw(st.permutations(range(ndim)))
    n_in = draw(st.integers(1, ndim - 1))
    n_out = draw(st.integers(1, ndim - n_in))
    n_batch = draw(st.integers(0, ndim - n_in - n_out))
    ins = perm[:n_in]
    outs = perm[n_in : n_in + n_out]
    batch = perm[n_in + n_out : n_in + n_out + n_batch]
    # Mix positive and negative spellings, and ints for single axes.
    neg = draw(st.booleans())
    spell = (lambda axes: tuple(a - ndim for a in axes)) if neg else tuple
    ins, outs, batch = spell(ins), spell(outs), spell(batch)
    in_axis = ins[0] if len(ins) == 1 and draw(st.booleans()) else ins
    out_axis = outs[0] if len(outs) == 1 and draw(st.booleans()) else outs
    return shape, in_axis, out_axis, batch


@settings(max_examples=200, deadline=None)
@given(shapes_and_axes())
def test_property_random_shapes(case):
    shape, in_axis, out_axis, batch_axis = case
    got = jinit.fans(shape, in_axis, out_axis, batch_axis)
    assert got == numpy_fans(shape, in_axis, out_axis, batch_axis)
    jf_in, jf_out = jax_compute_fans(shape, in_axis, out_axis, batch_axis)
    assert got == (round(jf_in), round(jf_out))
    # Invariants of the definition: fan_in * out_size * batch_size == prod(shape), and the
    # ratio of the fans is the ratio of the in and out sizes.
    ndim = len(shape)
    in_size = math.prod(shape[a % ndim] for a in np.atleast_1d(in_axis))
    out_size = math.prod(shape[a % ndim] for a in np.atleast_1d(out_axis))
    batch_size = math.prod(shape[a] for a in batch_axis)
    assert got[0] * out_size * batch_size == math.prod(shape)
    assert got[0] * out_size == got[1] * in_size


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=2, max_size=5))
def test_property_default_layout(dims):
    shape = tuple(dims)
    receptive = math.prod(shape[:-2])
    assert jinit.fans(shape) == (shape[-2] * receptive, shape[-1] * receptive)
