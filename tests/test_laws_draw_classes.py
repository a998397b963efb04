"""Draws by size class (``jinit._sampling.by_size_class``): the same bits as the direct draw,
one compiled program per size class, and the direct draw wherever the prefix property does not
hold."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import _sampling
from jinit.engine.compiles import CompileCount

SHAPES = [(1,), (2, 10), (5, 1), (33, 17), (3, 3, 16, 32), (4097,), (64, 64)]


def _truncated(key, shape, dtype):
    return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)


@pytest.mark.parametrize(
    "shape, dtype", [(s, jnp.float32) for s in SHAPES] + [((33, 17), jnp.bfloat16)]
)
def test_a_draw_is_the_prefix_of_its_size_class(shape, dtype):
    keys = jax.random.split(jax.random.key(7), 3)
    for sample in (jax.random.uniform, _truncated):
        direct = jax.vmap(lambda k, s=sample: s(k, shape, dtype))(keys)

        def classed_draw(k, s=sample):
            return _sampling.by_size_class(s, k, shape, dtype)

        classed = jax.vmap(classed_draw)(keys)
        jitted = jax.jit(jax.vmap(classed_draw))(keys)
        np.testing.assert_array_equal(np.asarray(classed), np.asarray(direct))
        np.testing.assert_array_equal(np.asarray(jitted), np.asarray(direct))


def test_one_uniform_program_for_the_layers_of_a_size_class():
    keys = jax.random.split(jax.random.key(0), 13)  # a batch size no other test draws
    with CompileCount("_uniform") as count:
        for shape in [(2, 11), (11, 7), (7, 3)]:
            jax.vmap(lambda k, s=shape: jinit.he_normal(k, s))(keys)
    assert count.n <= 1  # one per shape (3) before size classes


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_vmapped_draws_of_odd_shapes_equal_jax_nn_for_many_keys(distribution):
    """Eagerly vmapped over 30 and 100 keys (as a sweep draws its seeds), small odd shapes:
    jinit's draws equal jax.nn.initializers' bit for bit. (Applying erfinv on the size-class
    draw before the cut gave 1-ulp differences on (5, 1) x 30 keys: XLA:CPU's elementwise
    code is not shape-independent; the transforms run on the cut, as jax.nn's do.)"""
    mine = functools.partial(jinit.variance_scaling, distribution=distribution)
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_in", distribution)
    for shape in [(5, 1), (10, 5), (2, 10), (13, 7)]:
        for n_keys in (30, 100):
            keys = jax.random.split(jax.random.key(n_keys), n_keys)
            got = jax.vmap(lambda k, s=shape: mine(k, s))(keys)
            want = jax.vmap(lambda k, s=shape: theirs(k, s))(keys)
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("distribution", ["normal", "truncated_normal", "uniform"])
def test_a_jitted_draw_equals_the_eager_one(distribution):
    """Under ``jit`` (a user's jitted model init) the draws are the eager ones, which are
    jax.nn.initializers' eager draws. Before the barriers of ``_sampling._finish``, XLA fused
    the cut into erfinv: a (5, 1) leaf vmapped over 30 keys differed in the last bit of 6
    entries. (jax.nn's own jitted draw differs from its eager one over 257 keys.)"""
    mine = functools.partial(jinit.variance_scaling, distribution=distribution)
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_in", distribution)
    for shape in [(5, 1), (3, 7)]:
        for n_keys in (30, 257):
            keys = jax.random.split(jax.random.key(30), n_keys)
            jitted = jax.jit(jax.vmap(lambda k, s=shape: mine(k, s)))(keys)
            eager = jax.vmap(lambda k, s=shape: theirs(k, s))(keys)
            np.testing.assert_array_equal(np.asarray(jitted), np.asarray(eager))
        one = jax.jit(lambda k, s=shape: mine(k, s))(keys[0])
        np.testing.assert_array_equal(np.asarray(one), np.asarray(theirs(keys[0], shape)))


def test_the_cut_and_the_transform_are_one_program_per_shape():
    """The first n entries of a size-class draw, reshaped, erfinv'd and scaled, compile as
    one program per layer shape (the slice, the reshape, erfinv and the product compiled one
    each before); the scale (a square root, a product) is computed on the host."""
    keys = jax.random.split(jax.random.key(1), 17)  # a batch size no other test draws
    shapes = [(3, 13), (13, 9), (9, 4)]
    ops = ("_finish", "reshape", "dynamic_slice", "slice", "erf_inv", "multiply", "sqrt")
    with CompileCount(*ops) as count:
        for shape in shapes:
            jax.vmap(lambda k, s=shape: jinit.lecun_normal(k, s))(keys)
    assert count.by_name["jit(_finish)"] == len(shapes) and count.n == len(shapes), count.by_name


def test_other_key_implementations_draw_directly():
    key = jax.random.key(3, impl="rbg")
    assert not _sampling.prefix_stable(key)
    np.testing.assert_array_equal(
        np.asarray(jinit.he_uniform(key, (33, 17))),
        np.asarray(jax.nn.initializers.he_uniform()(key, (33, 17))),
    )


def test_the_non_partitionable_scheme_draws_directly():
    key = jax.random.key(3)
    with jax.threefry_partitionable(False):
        assert not _sampling.prefix_stable(key)
        np.testing.assert_array_equal(
            np.asarray(jinit.xavier_uniform(key, (33, 17))),
            np.asarray(jax.nn.initializers.xavier_uniform()(key, (33, 17))),
        )
    assert _sampling.prefix_stable(key)
