"""jinit.draw: one stacked draw per seed or key, equal to the single draws bit for bit."""

from __future__ import annotations

import contextlib
import functools
import importlib
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit

draw_module = importlib.import_module("jinit.draw")

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@contextlib.contextmanager
def count_compiles():
    """Count XLA backend compilations inside the block."""
    events = []

    def listener(event, duration, **kwargs):
        if event == BACKEND_COMPILE_EVENT:
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def assert_bits_equal(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def single(init, key, shape, dtype=jnp.float32):
    return init(key, shape, dtype)


MNIST = (784, 30)
INITS = [
    (jinit.he_normal, MNIST),
    (functools.partial(jinit.normal, stddev=10.0), (30, 10)),
    (jinit.orthogonal, (16, 12)),
    (jinit.sparse, (20, 6)),
    (jinit.zeros, (5,)),
]


@pytest.mark.parametrize(("init", "shape"), INITS, ids=[jinit.name_of(i) for i, _ in INITS])
def test_count(init, shape):
    out = jinit.draw(init, 5, shape)
    assert out.shape == (5, *shape) and out.dtype == jnp.float32
    for i in range(5):
        assert_bits_equal(out[i], single(init, jax.random.key(i), shape))


def test_rows_differ():
    out = jinit.draw(jinit.he_normal, 3, MNIST)
    assert not np.array_equal(out[0], out[1]) and not np.array_equal(out[1], out[2])


@pytest.mark.parametrize(
    "seeds", [[7, 0, 123456, 2**32 - 1], (3, 3), np.array([5, 1], dtype=np.int64), range(2)]
)
def test_seed_list(seeds):
    out = jinit.draw(jinit.he_normal, seeds, MNIST)
    assert out.shape == (len(seeds), *MNIST)
    for i, seed in enumerate(seeds):
        assert_bits_equal(out[i], jinit.he_normal(jax.random.key(int(seed)), MNIST))


def test_typed_keys():
    keys = jax.random.split(jax.random.key(42), 4)
    out = jinit.draw(jinit.he_normal, keys, MNIST)
    for i in range(4):
        assert_bits_equal(out[i], jinit.he_normal(keys[i], MNIST))


@pytest.mark.parametrize("as_numpy", [False, True])
def test_raw_uint32_keys(as_numpy):
    seeds = [0, 9, 31]
    raw = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    assert raw.shape == (3, 2) and raw.dtype == jnp.uint32
    if as_numpy:
        raw = np.asarray(raw)
    out = jinit.draw(jinit.he_normal, raw, MNIST)
    for i, seed in enumerate(seeds):
        assert_bits_equal(out[i], jinit.he_normal(jax.random.key(seed), MNIST))
        assert_bits_equal(out[i], jinit.he_normal(jax.random.PRNGKey(seed), MNIST))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, "float32"])
def test_dtype(dtype):
    out = jinit.draw(jinit.he_normal, [1, 2], MNIST, dtype)
    assert out.dtype == jnp.dtype(dtype)
    for i, seed in enumerate([1, 2]):
        assert_bits_equal(out[i], jinit.he_normal(jax.random.key(seed), MNIST, dtype))


def test_keys_from_seeds_matches_key():
    keys = jinit.keys_from_seeds([0, 1, 2**31, 2**32 - 1])
    for k, seed in zip(keys, [0, 1, 2**31, 2**32 - 1], strict=True):
        assert_bits_equal(jax.random.key_data(k), jax.random.key_data(jax.random.key(seed)))


def test_cached_no_recompile():
    init = functools.partial(jinit.uniform, scale=0.5)  # a fresh partial: a fresh cache entry
    shape = (17, 13)
    draw_module._compiled.cache_clear()
    with count_compiles() as first:
        a = jinit.draw(init, 4, shape)
        a.block_until_ready()
    assert len(first) >= 1  # the listener does see compilations
    info = draw_module._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 0)
    with count_compiles() as second:
        b = jinit.draw(init, 4, shape)
        c = jinit.draw(init, [10, 11, 12, 13], shape)
        b.block_until_ready()
        c.block_until_ready()
    assert second == []
    info = draw_module._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    assert_bits_equal(a, b)
    # A new shape or dtype is a new entry.
    jinit.draw(init, 4, (13, 17))
    jinit.draw(init, 4, shape, jnp.bfloat16)
    assert draw_module._compiled.cache_info().misses == 3


@pytest.mark.parametrize(
    ("seeds", "error", "match"),
    [
        (0, ValueError, "seed count must be >= 1"),
        (-3, ValueError, "seed count must be >= 1"),
        ([1, -2], ValueError, "non-negative"),
        ([2**32], ValueError, r"in \[0, 2\*\*32 - 1\]"),
        ([1.5, 2.0], TypeError, "1-D sequence of integer seeds"),
        ([[1, 2], [3, 4]], TypeError, "1-D sequence of integer seeds"),
        ([], TypeError, "1-D sequence of integer seeds"),
        ("abc", TypeError, "1-D sequence of integer seeds"),
        (True, TypeError, "seed count, a sequence of integer seeds, or an array of PRNG keys"),
        (2.0, TypeError, "seed count, a sequence of integer seeds, or an array of PRNG keys"),
        (None, TypeError, "seed count, a sequence of integer seeds, or an array of PRNG keys"),
    ],
)
def test_bad_seeds(seeds, error, match):
    with pytest.raises(error, match=match):
        jinit.draw(jinit.he_normal, seeds, (4, 4))


def test_keys_must_be_1d():
    keys = jax.random.split(jax.random.key(0), (2, 2))
    with pytest.raises(ValueError, match="1-D array of keys"):
        jinit.draw(jinit.he_normal, keys, (4, 4))


def test_bad_shape_dtype_and_options_fail_clearly():
    with pytest.raises(TypeError, match="draw: shape must be a tuple of non-negative ints"):
        jinit.draw(jinit.he_normal, 2, 5)
    with pytest.raises(TypeError, match="draw: dtype int32 is not supported"):
        jinit.draw(jinit.he_normal, 2, (4, 4), jnp.int32)
    for float8 in (jnp.float8_e4m3fn, jnp.float8_e5m2):  # jax.random raised KeyError: 8
        with pytest.raises(TypeError, match=r"dtype float8_e.* is not supported.*float16, bf"):
            jinit.xavier_uniform(jax.random.key(0), (4, 5), float8)
    with pytest.raises(ValueError, match="normal: stddev must be a finite number > 0"):
        jinit.draw(functools.partial(jinit.normal, stddev=-1.0), 2, (4, 4))
    with pytest.raises(ValueError, match="fans: a 1-D shape"):
        jinit.draw(jinit.he_normal, 2, (4,))


def test_stable_hash():

    assert jinit.stable_hash("he_normal") == zlib.crc32(b"he_normal") & 0x7FFFFFFF
    assert 0 <= jinit.stable_hash("") < 2**31
    with pytest.raises(TypeError, match="expected a str"):
        jinit.stable_hash(3)


def test_a_stack_too_large_for_memory_fails_before_allocating():
    # Each draw fits (400 MB); the stack of n is just over the memory limit of this machine.
    limit = jinit._validate.memory_limit()
    n = int(limit // 4e8) + 1
    with pytest.raises(ValueError, match=r"draw: shape \(\d+, 10000, 10000\) of float32 needs"):
        jinit.draw(jinit.he_normal, n, (10_000, 10_000))


def test_seed_keys_are_jax_random_key_and_compile_nothing():
    """``jinit.keys.seed_keys`` makes threefry keys on the host (the data ``[0, s]``): the
    same keys as ``jax.random.key(s)``, without a compiled program (before: a conversion and
    ``_threefry_seed``); another key implementation goes through ``jax.random.key``."""
    from jinit.engine.compiles import CompileCount
    from jinit.keys import seed_keys

    seeds = [0, 1, 7, 2**31, 2**32 - 1]
    count = CompileCount()
    with count:
        seed_keys(np.array([*seeds, 11, 13, 17, 19, 23, 29, 31], np.int64))  # a fresh shape
    assert sum(count.by_name.values()) == 0, count.by_name
    keys = seed_keys(seeds)
    assert keys.shape == (5,) and str(jax.random.key_impl(keys)) == "threefry2x32"
    for k, seed in zip(keys, seeds, strict=True):
        assert_bits_equal(jax.random.key_data(k), jax.random.key_data(jax.random.key(seed)))
    jax.config.update("jax_default_prng_impl", "rbg")
    try:
        rbg = seed_keys(seeds)
        assert str(jax.random.key_impl(rbg)) == "rbg"
        assert_bits_equal(jax.random.key_data(rbg[3]), jax.random.key_data(jax.random.key(2**31)))
    finally:
        jax.config.update("jax_default_prng_impl", "threefry2x32")


def test_key_derivations_give_the_jax_random_bits_and_compile_nothing():
    """``layer_keys``, ``path_key`` and the vmapped fold-ins of ``run_keys`` give the bits of
    the ``jax.random`` calls, eagerly, under ``vmap`` and inside ``jit``. For concrete keys,
    also under an eager ``vmap`` (a sweep's initial draws), they are computed on the host
    (``jinit._threefry``): an eager vmapped MLP init compiles no key program (before:
    ``_split_folded``, earlier ``_threefry_fold_in``, ``_threefry_split`` and ``unstack``)."""
    from jinit.engine.compiles import CompileCount
    from jinit.keys import layer_keys, path_key, run_keys, seed_keys

    seeds = np.arange(11)  # a batch size no other test derives keys for
    base = seed_keys(seeds)

    def reference(k, i):
        return tuple(jax.random.split(jax.random.fold_in(k, i)))

    for i in (0, 2):
        for derive in (jax.vmap, lambda f: jax.jit(jax.vmap(f))):
            got = derive(lambda k, i=i: layer_keys(k, i))(base)
            want = jax.vmap(lambda k, i=i: reference(k, i))(base)
            for g, w in zip(got, want, strict=True):
                assert_bits_equal(jax.random.key_data(g), jax.random.key_data(w))
    path = "['params']['Dense_0']['kernel']"
    for got in (path_key(base[3], path), jax.jit(lambda k: path_key(k, path))(base[3])):
        want = jax.random.fold_in(base[3], zlib.crc32(path.encode()) & 0x7FFFFFFF)
        assert_bits_equal(jax.random.key_data(got), jax.random.key_data(want))
    want = jax.vmap(lambda k: jax.random.fold_in(k, jinit.stable_hash("he")))(base)
    assert_bits_equal(jax.random.key_data(run_keys(seeds, "he")), jax.random.key_data(want))
    names = ("_split_folded", "_threefry_split", "_threefry_fold_in", "unstack")
    with CompileCount(*names) as count:
        jax.vmap(lambda k: jinit.models.MLP([3, 4, 2]).init(k, jinit.he_normal))(
            seed_keys(np.arange(13))
        )
    assert count.n == 0, count.by_name
