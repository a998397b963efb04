"""The host's threefry (``jinit._threefry``) against Random123's known answers and against
``jax.random``, and the key derivations of ``jinit.keys`` that use it."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import _threefry, keys
from jinit.engine.compiles import CompileCount
from jinit.engine.inits import stack_draws

# Random123 1.14, examples/kat_vectors: "threefry2x32 20 <ctr0> <ctr1> <key0> <key1> <out0> <out1>"
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
]


def bits(key):
    return np.asarray(jax.random.key_data(key))


@pytest.mark.parametrize(("ctr", "key", "want"), KAT)
def test_the_hash_gives_random123s_known_answers(ctr, key, want):
    got = _threefry.hash2x32(*key, *ctr)
    assert [int(w) for w in got] == list(want)


def test_a_wrong_round_count_misses_the_known_answers():
    """The check can fail: the hash with one round fewer in its last group differs."""
    ctr, key, want = KAT[2]
    rotations = _threefry._ROTATIONS
    try:
        _threefry._ROTATIONS = (rotations[0][:3], rotations[1])
        assert [int(w) for w in _threefry.hash2x32(*key, *ctr)] != list(want)
    finally:
        _threefry._ROTATIONS = rotations


@pytest.mark.parametrize("data", [0, 1, 12345, 2**31 - 1, 2**32 - 1])
def test_fold_in_and_split_equal_jax_random(data):
    stack = jax.random.split(jax.random.key(3), 7)
    want = jax.vmap(lambda k: jax.random.fold_in(k, np.uint32(data)))(stack)
    np.testing.assert_array_equal(_threefry.fold_in(bits(stack), data), bits(want))
    want = jax.vmap(lambda k: jax.random.split(k, 3))(stack)
    np.testing.assert_array_equal(_threefry.split(bits(stack), 3), bits(want))
    one = jax.random.key(data)
    np.testing.assert_array_equal(_threefry.split(bits(one)), bits(jax.random.split(one)))


@pytest.mark.parametrize("width", [8, 16, 32, 64])
def test_random_bits_equal_jax_random_bits(width):
    stack = jax.random.split(jax.random.key(6), 4)
    uint = {8: jnp.uint8, 16: jnp.uint16, 32: jnp.uint32, 64: jnp.uint64}[width]
    with jax.enable_x64(width == 64):
        want = jax.vmap(lambda k: jax.random.bits(k, (300,), uint))(stack)
        np.testing.assert_array_equal(_threefry.random_bits(bits(stack), 300, width),
                                      np.asarray(want))


def test_host_words_only_for_concrete_threefry_keys_on_one_device():
    typed, raw = jax.random.key(1), jax.random.PRNGKey(1)
    np.testing.assert_array_equal(_threefry.host_words(typed), _threefry.host_words(raw))
    assert _threefry.host_words(jax.random.key(1, impl="rbg")) is None
    assert _threefry.host_words(jnp.zeros((2,), jnp.int32)) is None  # not a raw key
    seen = []
    jax.jit(lambda k: seen.append(_threefry.host_words(k)) or k)(typed)
    assert seen == [None]
    jax.config.update("jax_threefry_partitionable", False)
    try:
        assert _threefry.host_words(typed, split=True) is None
        assert _threefry.host_words(typed) is not None  # fold_in does not depend on it
    finally:
        jax.config.update("jax_threefry_partitionable", True)


@pytest.mark.parametrize("kind", ["typed", "raw"])
def test_derived_keys_keep_the_kind_and_the_bits(kind):
    key = jax.random.key(5) if kind == "typed" else jax.random.PRNGKey(5)
    got = keys.path_key(key, "['w']")
    want = jax.random.fold_in(key, jinit.stable_hash("['w']"))
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(got)), bits(want))
    for got, want in zip(keys.layer_keys(key, 4), jax.random.split(jax.random.fold_in(key, 4)),
                         strict=True):  # fmt: skip
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(jax.random.key_data(got)), bits(want))


def test_seed_and_step_keys_equal_jax_random_and_compile_nothing():
    with CompileCount() as count:
        got = [keys.seed_key(9), keys.data_key(9), keys.step_key(9, 17), keys.run_key(9, "he")]
    assert sum(count.by_name.values()) == 0, count.by_name
    base = jax.random.key(9)
    want = [base, jax.random.fold_in(base, keys.DATA_STREAM),
            jax.random.fold_in(jax.random.fold_in(base, keys.STEP_STREAM), 17),
            jax.random.fold_in(base, jinit.stable_hash("he"))]  # fmt: skip
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(bits(g), bits(w))


def test_without_the_partitionable_scheme_layer_keys_go_through_jax_random():
    jax.config.update("jax_threefry_partitionable", False)
    try:
        stack = keys.seed_keys(np.arange(5))
        got = jax.vmap(lambda k: keys.layer_keys(k, 2))(stack)
        want = jax.vmap(lambda k: tuple(jax.random.split(jax.random.fold_in(k, 2))))(stack)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(bits(g), bits(w))
    finally:
        jax.config.update("jax_threefry_partitionable", True)


def test_path_keys_under_an_eager_vmap_are_derived_on_the_host():
    """A layered model (Transformer, ResNet) draws each leaf with ``path_key`` of the run's
    key, under the sweep's eager ``vmap``: the fold-ins are made on the host (before: a
    compiled ``fold_in``, 0.06 s cold)."""
    stack = keys.seed_keys(np.arange(7))
    with CompileCount("fold_in", "_fold_in", "batchable") as count:
        got = jax.vmap(lambda k: keys.path_key(k, "['w']"))(stack)
    assert count.n == 0, count.by_name
    want = jax.vmap(lambda k: jax.random.fold_in(k, jinit.stable_hash("['w']")))(stack)
    np.testing.assert_array_equal(bits(got), bits(want))


def test_a_layered_models_norm_constants_compile_nothing():
    """The norm layers' ones and zeros are made on the host (``jnp.ones`` compiled a
    broadcast per shape)."""
    model = jinit.models.Transformer(vocab_size=5, seq_len=3, n_classes=4)
    bias = functools.partial(jinit.normal, stddev=0.1)
    stack = keys.seed_keys(np.arange(3))
    with CompileCount("broadcast_in_dim", "full", "ones", "zeros") as count:  # as a sweep draws
        params = stack_draws(lambda k: model.init(k, jinit.xavier_normal, bias), stack)
    scales = [x for p, x in jax.tree_util.tree_leaves_with_path(params) if "scale" in str(p)]
    assert scales and all(np.all(np.asarray(x) == 1) for x in scales)
    assert count.n == 0, count.by_name


def test_the_host_is_used_with_this_jax_release_only_if_checked(monkeypatch):
    """This JAX release is one the comparisons above checked (else: re-run them and add it to
    ``CHECKED_JAX``); under an unchecked release the host steps aside and the draws and
    keys come from ``jax.random`` itself, with the same bits."""
    assert _threefry._JAX_RELEASE in _threefry.CHECKED_JAX
    key = jax.random.key(8)
    monkeypatch.setattr(_threefry, "CHECKED_JAX", frozenset())
    assert _threefry.host_words(key) is None
    stack = keys.seed_keys(np.arange(4))
    got = jax.vmap(lambda k: jinit.he_normal(k, (3, 5)))(stack)
    he = jax.nn.initializers.variance_scaling(2.0, "fan_in", "normal")
    np.testing.assert_array_equal(np.asarray(got),
                                  np.asarray(jax.vmap(lambda k: he(k, (3, 5)))(stack)))
    np.testing.assert_array_equal(bits(keys.path_key(key, "p")),
                                  bits(jax.random.fold_in(key, jinit.stable_hash("p"))))


def test_results_are_committed_to_a_device_as_jax_randoms_are():
    """Made on the host, draws and keys are committed to the key's device only where
    ``jax.random``'s would be: a user's jitted step called with freshly drawn (uncommitted)
    parameters and then with its own outputs compiles once, not twice."""
    free = jax.random.key(1)
    pinned = jax.device_put(jax.random.key(1), jax.devices()[0])
    stack = keys.seed_keys(np.arange(3))
    for key in (free, pinned):
        assert jinit.he_normal(key, (3, 4)).committed == jax.random.normal(key, (3, 4)).committed
        assert keys.path_key(key, "p").committed == jax.random.fold_in(key, 3).committed
    drawn = jax.vmap(lambda k: jinit.he_normal(k, (3, 4)))(stack)
    assert not drawn.committed
    step = jax.jit(lambda w: w * 0.5)
    with CompileCount("<lambda>") as count:
        step(step(jinit.he_normal(free, (6, 7))))
    assert count.n == 1, count.by_name


@pytest.mark.parametrize("derive", [lambda k: jinit.path_key(k, "['w']"),
                                    lambda k: jinit.keys.layer_keys(k, 1)])  # fmt: skip
def test_a_stack_of_keys_is_refused_where_one_key_is_derived(derive):
    """jax.random.fold_in refuses a stack of keys; the host path used to derive every key of
    the stack instead. A stack under vmap is one key per call and still works."""
    keys = jax.random.split(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"key: one key was expected .* got shape \(3,\)"):
        derive(keys)
    with pytest.raises(ValueError, match=r"got shape \(3, 2\)"):
        derive(jax.random.key_data(keys))
    one = jax.tree_util.tree_leaves(jax.vmap(derive)(keys))[0]
    assert one.shape == (3,)
