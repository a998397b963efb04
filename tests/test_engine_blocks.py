"""Blocked execution: runs trained in cache-sized blocks (``sweep(..., block_size=)``) are the
same runs, with the same numbers to float round-off, in any block size, on any device count,
full batch or mini-batch, with dropout; one chunk program per sweep."""

import json
import logging
import os
import subprocess
import sys
import textwrap
import types

import jax
import numpy as np
import optax
import pytest

import jinit
from jinit.engine import plan

NET = jinit.models.MLP([2, 8, 4, 1])
INITS = {"he": jinit.he_normal, "xavier": jinit.xavier_uniform, "small": jinit.normal}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def circles():
    return jinit.data.circles(n_train=96, n_test=32)


def _sweep(data, **kw):
    kw = dict(optimizer=optax.sgd(0.1), steps=30, eval_every=10, keep_params=True) | kw
    return jinit.sweep(NET, INITS, data, **kw)


def _close(a, b, rtol=1e-5, atol=1e-6):
    for k, v in a.metrics.items():
        np.testing.assert_allclose(v, b.metrics[k], rtol=rtol, atol=atol, err_msg=k)
    np.testing.assert_array_equal(a.diverged_step, b.diverged_step)
    for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params),
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


@pytest.mark.parametrize("batch_size, size, got", [(None, 4, 4), (32, 7, 7)])
def test_blocks_equal_all_runs_at_once(circles, batch_size, size, got):
    """5 seeds x 3 inits in blocks of 4 (15 runs padded to 16) and of 7 (padded to 21):
    the numbers of the unblocked sweep (the per-seed batches of a mini-batch sweep follow
    each run into its block)."""
    whole = _sweep(circles, seeds=5, batch_size=batch_size, block_size=None)
    assert whole.config["block_size"] == 15
    blocked = _sweep(circles, seeds=5, batch_size=batch_size, block_size=size)
    assert blocked.config["block_size"] == got
    assert blocked.metrics["train_loss"].shape == (3, 5, 4)
    _close(blocked, whole)


def test_seed_of_he_is_the_same_run_in_any_block_size(circles):
    """Seed 7 of "he" alone and among 6 seeds in blocks of 5 (18 runs padded to 20)."""
    alone = jinit.sweep(NET, {"he": jinit.he_normal}, circles, optimizer=optax.sgd(0.1),
                        steps=30, eval_every=10, seeds=[7], keep_params=True)  # fmt: skip
    seeds = [3, 7, 11, 12, 20, 31]
    for size in (5,):
        r = _sweep(circles, seeds=seeds, block_size=size)
        for k, v in alone.metrics.items():
            np.testing.assert_allclose(r.metrics[k][0, 1], v[0, 0], rtol=1e-5, atol=1e-6)
        first = jax.tree_util.tree_leaves(r.params)[0]
        np.testing.assert_allclose(first[0, 1], jax.tree_util.tree_leaves(alone.params)[0][0, 0],
                                   rtol=1e-5, atol=1e-6)  # fmt: skip


def test_dropout_keys_follow_runs_into_blocks():
    """A model with dropout: every run's step key (its seed's stream) is the same in blocks."""
    import flax.linen as nn

    class Dropout(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            h = nn.relu(nn.Dense(8)(x))
            return nn.Dense(10)(nn.Dropout(0.5, deterministic=not train)(h))

    data = jinit.data.digits().subset(n_train=64, n_test=32)
    kw = dict(optimizer=optax.sgd(0.1), steps=20, eval_every=10, seeds=3, keep_params=True)
    inits = {"he": jinit.he_normal, "xavier": jinit.xavier_normal}
    kw |= dict(loss="softmax_cross_entropy")
    whole = jinit.sweep(Dropout(), inits, data, block_size=None, **kw)
    blocked = jinit.sweep(Dropout(), inits, data, block_size=2, **kw)
    assert blocked.config["block_size"] == 2
    _close(blocked, whole)


def test_blocked_sweep_compiles_one_chunk_program(circles):
    """One program, for one block: the engine calls it once a block (12 runs in blocks of
    3: its parameters are [3, ...]); a program of all runs with a loop over the blocks in
    it compiled half as fast again (the circles net, 600 runs on 2 devices)."""

    class Count(logging.Handler):
        n, text = 0, ""

        def emit(self, record):
            if record.getMessage().startswith("Compiling jit(chunk)"):
                Count.n, Count.text = Count.n + 1, record.getMessage()

    handler, log = Count(logging.DEBUG), logging.getLogger("jax")
    old = log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            _sweep(circles, seeds=4, steps=25, block_size=3,  # 3 chunks, the last shorter
                   devices=jax.devices()[:1])
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    assert Count.n == 1
    assert "float32[3,8]" in Count.text and "float32[12," not in Count.text, Count.text


def test_plan_blocks_layout():
    assert plan.plan_blocks(600, 1, 100) == plan.Blocks(1, 6, 100)
    assert plan.plan_blocks(600, 2, 100) == plan.Blocks(2, 3, 100)
    assert plan.plan_blocks(601, 2, 100) == plan.Blocks(2, 4, 76)  # near-equal, pad 7
    assert plan.plan_blocks(90, 2, 100) == plan.Blocks(2, 1, 45)  # fits: no blocking
    assert plan.plan_blocks(15, 1, None) == plan.Blocks(1, 1, 15)
    assert plan.plan_blocks(15, 1, 4).runs == 16
    assert plan.plan_blocks(601, 2, 100, exact=True) == plan.Blocks(2, 4, 100)
    assert plan.plan_blocks(6, 1, 8, exact=True) == plan.Blocks(1, 1, 8)  # padded up


# The default run keeps the mini-batch case (the full-batch program plus the per-seed batches
# that follow each run into its block); full batch runs under -m slow, and blocked full-batch
# sweeps stay in the default run in test_blocks_equal_all_runs_at_once.
@pytest.mark.parametrize("batch_size", [pytest.param(None, marks=pytest.mark.slow), 32])
def test_a_given_block_size_makes_a_seed_the_same_run_bit_for_bit(circles, batch_size):
    """With block_size=int every block has exactly that many runs, so seed 5 of every init
    is the same run, bit for bit, among 20 seeds, 3 seeds or alone (a shard's merge equals
    the whole sweep); first evaluation included (it runs in the same blocks)."""
    runs = {n: _sweep(circles, seeds=s, batch_size=batch_size, block_size=4)
            for n, s in [(20, list(range(20))), (3, [4, 5, 6]), (1, [5])]}  # fmt: skip
    for m, whole in runs[20].metrics.items():
        np.testing.assert_array_equal(runs[3].metrics[m][:, 1], whole[:, 5], err_msg=m)
        np.testing.assert_array_equal(runs[1].metrics[m][:, 0], whole[:, 5], err_msg=m)


def test_auto_block_size_follows_the_working_set_and_the_device(circles):
    assert plan.auto_block(250_000, cache=32 * 2**20) == 134
    assert plan.auto_block(10**9, cache=32 * 2**20) == plan.MIN_BLOCK
    assert plan.cache_bytes() > 0
    config = types.SimpleNamespace(
        devices=jax.devices()[:1], formulation="vmap", block_size="auto", model=NET,
        loss_fn=jinit.losses.get("binary_cross_entropy"), optimizer=optax.sgd(0.1),
        template=NET.init(jax.random.key(0), jinit.he_normal), data=circles, batch_size=None,
        dtype=np.float32, eval_every=10,
    )  # fmt: skip
    blocks = plan.sweep_blocks(config, 100_000)
    assert 1 < blocks.per_group and blocks.block >= plan.MIN_BLOCK
    gpu = types.SimpleNamespace(platform="gpu")
    on_gpu = types.SimpleNamespace(**config.__dict__ | {"devices": [gpu]})
    assert plan.sweep_blocks(on_gpu, 100_000) == plan.Blocks(1, 1, 100_000)
    conv = types.SimpleNamespace(**config.__dict__ | {"formulation": "map"})
    assert plan.sweep_blocks(conv, 100_000) == plan.Blocks(1, 1, 100_000)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "big", True])
def test_bad_block_size_is_refused(circles, bad):
    with pytest.raises(ValueError, match=r"block_size must be 'auto', None .* or a positive int"):
        _sweep(circles, seeds=2, block_size=bad)


SCRIPT = """
    import json, jax, optax, jinit
    r = jinit.sweep(jinit.models.MLP([2, 8, 4, 1]),
                    {"he": jinit.he_normal, "xavier": jinit.xavier_uniform, "small": jinit.normal},
                    jinit.data.circles(n_train=96, n_test=32), optimizer=optax.sgd(0.1),
                    steps=30, seeds=3, eval_every=10, batch_size=32, block_size=BLOCK)
    print(json.dumps({"devices": r.config["devices"], "block": r.config["block_size"],
                      "loss": r.metrics["train_loss"].tolist()}))
"""


@pytest.mark.slow  # two subprocesses: about 20 s on a loaded 2-core machine
def test_blocks_on_two_devices_equal_one_device_unblocked():
    """9 runs on 2 devices in blocks of 2 (3 blocks per device, padded to 12)."""
    out = {}
    for n, block in [(1, "None"), (2, "2")]:
        env = {**os.environ, "PYTHONPATH": REPO,
               "XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"}  # fmt: skip
        code = textwrap.dedent(SCRIPT.replace("BLOCK", block))
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[n] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out[2]["devices"] == 2 and out[2]["block"] == 2
    np.testing.assert_allclose(out[1]["loss"], out[2]["loss"], rtol=1e-5)


def test_the_run_layout_pads_and_places_without_compiling():
    """On CPU the run axis is padded and placed through the host: no program per leaf shape
    (eagerly, each shape compiled a concatenation and, over a mesh, a slicing program)."""
    import jax.numpy as jnp

    from jinit.engine.compiles import CompileCount
    from jinit.engine.sharding import RunLayout

    layout = RunLayout(1, 3, jax.devices()[:1], multiple=4)  # 3 runs padded to 4
    tree = {"w": jnp.arange(105, dtype=jnp.float32).reshape(3, 7, 5), "b": jnp.ones((3, 11))}
    count = CompileCount()
    with count:
        placed = layout.shard(tree)
    assert sum(count.by_name.values()) == 0, count.by_name
    np.testing.assert_array_equal(np.asarray(placed["w"][:3]), np.asarray(tree["w"]))
    np.testing.assert_array_equal(np.asarray(placed["w"][3]), np.asarray(tree["w"][2]))
    assert placed["b"].shape == (4, 11)


def test_blocks_of_runs_split_and_join_without_compiling():
    """The run axis split into blocks (block k: every device's k-th block of runs) and
    joined back in the run order, through the host: the same values, no program."""
    import jax.numpy as jnp

    from jinit.engine.compiles import CompileCount
    from jinit.engine.sharding import RunLayout

    layout = RunLayout(1, 7, jax.devices()[:1], multiple=4, n_blocks=2)  # 7 runs padded to 8
    tree = {"w": jnp.arange(7 * 6, dtype=jnp.float32).reshape(7, 2, 3), "n": np.arange(7)}
    count = CompileCount()
    with count:
        blocks = layout.shard_blocks(tree)
        joined = layout.join(blocks)
    assert sum(count.by_name.values()) == 0, count.by_name
    assert [b["w"].shape for b in blocks] == [(4, 2, 3), (4, 2, 3)]
    np.testing.assert_array_equal(np.asarray(blocks[1]["n"]), [4, 5, 6, 6])  # padded: last run
    np.testing.assert_array_equal(joined["w"][:7], np.asarray(tree["w"]))
    np.testing.assert_array_equal(joined["n"], [0, 1, 2, 3, 4, 5, 6, 6])
    with pytest.raises(ValueError, match="3 blocks do not divide 4 runs"):
        RunLayout(1, 7, jax.devices()[:1], multiple=4, n_blocks=3)
