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


@pytest.fixture
def on_device(monkeypatch):
    """Uniform draws of concrete keys through XLA's size classes, not the host."""
    monkeypatch.setattr(_sampling, "HOST_DRAW_MAX", 0)


@pytest.mark.parametrize("where", ["host", "device"])
@pytest.mark.parametrize(
    "shape, dtype", [(s, jnp.float32) for s in SHAPES] + [((33, 17), jnp.bfloat16)]
)
def test_a_draw_is_the_prefix_of_its_size_class(shape, dtype, where, monkeypatch):
    if where == "device":
        monkeypatch.setattr(_sampling, "HOST_DRAW_MAX", 0)
    keys = jax.random.split(jax.random.key(7), 3)
    for sample in (jax.random.uniform, _truncated):
        direct = jax.vmap(lambda k, s=sample: s(k, shape, dtype))(keys)

        def classed_draw(k, s=sample):
            return _sampling.by_size_class(s, k, shape, dtype)

        classed = jax.vmap(classed_draw)(keys)
        jitted = jax.jit(jax.vmap(classed_draw))(keys)
        np.testing.assert_array_equal(np.asarray(classed), np.asarray(direct))
        np.testing.assert_array_equal(np.asarray(jitted), np.asarray(direct))


def test_one_uniform_program_for_the_layers_of_a_size_class(on_device):
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


def test_the_cut_and_the_transform_are_one_program_per_shape(on_device):
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


def test_small_uniform_draws_of_concrete_keys_compile_no_draw():
    """Up to ``HOST_DRAW_MAX`` entries, keys x entries, the uniform draw of concrete threefry
    keys is hashed on the host (``jinit._threefry``), also under an eager ``vmap``: one
    program per shape scales and transforms it, no draw program is compiled (before: the
    size class's uniform draw, 0.1 s cold), and the bits are jax.nn's."""
    keys = jax.random.split(jax.random.key(2), 19)  # a batch size no other test draws
    shapes = [(3, 14), (14, 9), (9, 5)]
    theirs = jax.nn.initializers.variance_scaling(1.0, "fan_in", "normal")  # jinit's lecun
    with CompileCount("_uniform", "_finish", "_from_unit", "threefry2x32") as count:
        got = [jax.vmap(lambda k, s=shape: jinit.lecun_normal(k, s))(keys) for shape in shapes]
    for g, shape in zip(got, shapes, strict=True):
        want = jax.vmap(lambda k, s=shape: theirs(k, s))(keys)
        np.testing.assert_array_equal(np.asarray(g), np.asarray(want))
    assert count.by_name["jit(_from_unit)"] == len(shapes) and count.n == len(shapes), count.by_name


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16, jnp.float64])
def test_the_host_and_the_device_draw_the_same_bits(dtype, monkeypatch):
    """Each law that draws uniformly, on the host and through XLA, for every real dtype
    (float64 with x64 on; without it, JAX draws float32 and so does the host)."""
    keys = jax.random.split(jax.random.key(4), 23)
    laws = (jinit.he_uniform, jinit.lecun_normal, functools.partial(jinit.normal, stddev=3.0),
            functools.partial(jinit.uniform, scale=0.5))  # fmt: skip
    with jax.enable_x64(dtype == jnp.float64):
        for law in laws:
            host = jax.vmap(lambda k, law=law: law(k, (7, 6), dtype))(keys)
            with monkeypatch.context() as m:
                m.setattr(_sampling, "HOST_DRAW_MAX", 0)
                device = jax.vmap(lambda k, law=law: law(k, (7, 6), dtype))(keys)
            assert host.dtype == device.dtype
            np.testing.assert_array_equal(np.asarray(host), np.asarray(device))


def test_draws_under_grad_nested_vmap_and_closed_over_keys_equal_jax_nn():
    """The host path applies only to concrete keys outside a trace: under ``grad`` (a scale
    differentiated), in nested ``vmap`` and with a concrete key closed over by a ``jit``
    (JAX traces ops on it), the draws and gradients are jax.nn's."""
    keys = jax.random.split(jax.random.key(0), 5)

    def theirs(k, s):
        return jax.nn.initializers.normal(s)(k, (3, 4))

    def mine(k, s):
        return jinit.normal(k, (3, 4), stddev=s)

    def grad_as_argument(f):  # the scale an unbatched argument of the vmapped function
        return jax.grad(lambda s: jax.vmap(f, in_axes=(0, None))(keys, s).sum())(2.0)

    def grad_closed_over(f):
        return jax.grad(lambda s: jax.vmap(lambda k: f(k, s))(keys).sum())(2.0)

    assert grad_as_argument(mine) == grad_as_argument(theirs)
    assert grad_closed_over(mine) == grad_closed_over(theirs)
    grid = jax.random.split(jax.random.key(1), (3, 4))
    nested = jax.vmap(jax.vmap(lambda k: jinit.he_normal(k, (5, 6))))(grid)
    he = jax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
    np.testing.assert_array_equal(
        np.asarray(nested), np.asarray(jax.vmap(jax.vmap(lambda k: he(k, (5, 6))))(grid))
    )
    closed = jax.jit(lambda: jax.vmap(lambda k: jinit.he_normal(k, (5, 6)))(keys))()
    np.testing.assert_array_equal(
        np.asarray(closed), np.asarray(jax.vmap(lambda k: he(k, (5, 6)))(keys))
    )


def test_grad_through_a_scale_with_a_traced_key():
    """Inside ``jit`` or ``scan`` the key is traced and a small draw goes through a
    ``custom_vmap``, which has no reverse mode: a differentiated scale takes the plain
    program instead (found by an outside review; raised "Linearization failed" before)."""
    k = jax.random.key(0)
    ks = jax.random.split(k, 3)

    def total(law):
        return jax.lax.scan(lambda c, kk: (c + law(kk).sum(), None), 0.0, ks)[0]

    mine = jax.grad(lambda s: total(lambda kk: jinit.normal(kk, (4,), stddev=s)))(0.1)
    theirs = jax.grad(lambda s: total(lambda kk: jax.nn.initializers.normal(s)(kk, (4,))))(0.1)
    assert mine == theirs
    g = jax.grad(jax.jit(lambda s, kk: jinit.uniform(kk, (3,), scale=s).sum()))(0.1, k)
    assert np.isfinite(g)
