"""Draws by size class (``jinit._sampling.by_size_class``): the same bits as the direct draw,
one compiled program per size class, and the direct draw wherever the prefix property does not
hold."""

from __future__ import annotations

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


def test_the_transforms_compile_once_per_size_class():
    """The normal laws' erfinv and scaling run on the size-class draw, then one cut per shape:
    three layer shapes of one class compile one erf_inv and one multiply (each once per shape
    before), and every draw still equals jax.nn.initializers' bit for bit."""
    keys = jax.random.split(jax.random.key(1), 17)  # a batch size no other test draws
    shapes = [(3, 13), (13, 9), (9, 4)]
    with CompileCount("erf_inv", "multiply", "_prefix") as count:
        drawn = [jax.vmap(lambda k, s=s: jinit.lecun_normal(k, s))(keys) for s in shapes]
    assert count.by_name["jit(erf_inv)"] == 1
    assert count.by_name["jit(_prefix)"] == len(shapes)
    jax_law = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")
    for shape, got in zip(shapes, drawn, strict=True):
        want = jax.vmap(lambda k, s=shape: jax_law(k, s))(keys)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


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
