"""The sweep engine: faithful numbers, one compilation, seed identity, divergence, resume."""

from __future__ import annotations

import functools
import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.stats

import jinit
from jinit.data import Dataset
from jinit.engine import run_key, sweep

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(REPO, "tests")


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def circles() -> Dataset:
    return jinit.data.circles(n_train=128, n_test=64, noise=0.05, seed=0)


NET = jinit.models.MLP([2, 8, 4, 1], activation="relu", output="sigmoid")


# --------------------------------------------------------------------------- compilation


def _chunk_compiles(**kwargs) -> int:
    r = sweep(NET, {"he": jinit.he_normal, "xavier": jinit.xavier_normal}, **kwargs)
    return r.timing["compiles"]  # counted with jax.monitoring (jinit.engine.compiles)


def test_one_compilation_whatever_the_seeds_and_chunks(circles):
    common = dict(data=circles, optimizer=optax.sgd(0.1), eval_every=10)
    assert _chunk_compiles(seeds=2, steps=30, **common) == 1
    assert _chunk_compiles(seeds=9, steps=95, **common) == 1  # masked last chunk
    assert _chunk_compiles(seeds=3, steps=40, batch_size=16, **common) == 1


def test_a_second_compile_of_the_training_program_is_counted(monkeypatch, circles):
    sweep_module = importlib.import_module("jinit.engine.sweep")  # the package exports sweep()
    indices, calls = sweep_module._Compiled.indices, []

    def recompiling(self, c, n_chunks):  # a new jit(chunk) program before every chunk
        def chunk(x):
            return x * 2

        calls.append(jax.jit(chunk)(jnp.float32(c)))
        return indices(self, c, n_chunks)

    monkeypatch.setattr(sweep_module._Compiled, "indices", recompiling)
    n = _chunk_compiles(data=circles, optimizer=optax.sgd(0.1), eval_every=10, seeds=2, steps=30)
    assert len(calls) == 4 and n == 1 + len(calls)


def test_compile_count_counts_backend_compiles_of_the_named_program():
    from jinit.engine.compiles import CompileCount

    def chunk(x):
        return x + 1

    with CompileCount("chunk") as count:
        jax.jit(chunk)(jnp.ones(3))
        jax.jit(chunk)(jnp.ones(3))  # cached: no compile
        jax.jit(chunk)(jnp.ones(5))
        jax.jit(lambda x: x - 1)(jnp.ones(3))  # another program
    jax.jit(chunk)(jnp.ones(7))  # outside the block
    assert count.n == 2


# --------------------------------------------------------------------------- determinism


def test_seed_identity_across_sweep_sizes(circles):
    kw = dict(optimizer=optax.sgd(0.1), steps=200, eval_every=50)
    inits = {"he": jinit.he_normal, "lecun": jinit.lecun_normal}
    big = sweep(NET, inits, circles, seeds=10, **kw)
    one = sweep(NET, inits, circles, seeds=[7], **kw)
    two = sweep(NET, {"lecun": jinit.lecun_normal}, circles, seeds=[7, 3], **kw)
    np.testing.assert_allclose(
        one.metrics["train_loss"][:, 0], big.metrics["train_loss"][:, 7], rtol=1e-5
    )
    np.testing.assert_allclose(
        two.metrics["train_loss"][0, 0], big.metrics["train_loss"][1, 7], rtol=1e-5
    )
    np.testing.assert_allclose(two.metrics["test_acc"][0, 1], big.metrics["test_acc"][1, 3])
    again = sweep(NET, inits, circles, seeds=10, **kw)
    np.testing.assert_array_equal(again.metrics["train_loss"], big.metrics["train_loss"])


def test_initial_params_come_from_seed_and_name(circles):
    r = sweep(NET, {"he": jinit.he_normal}, circles, steps=0, seeds=[5], keep_params=True)
    expected = NET.init(run_key(5, "he"), jinit.he_normal)
    for got, want in zip(r.params, expected, strict=True):
        np.testing.assert_array_equal(got["kernel"][0, 0], want["kernel"])


def test_minibatch_order_depends_on_seed_only(circles):
    kw = dict(optimizer=optax.sgd(0.05), steps=60, eval_every=20, batch_size=16)
    a = sweep(NET, {"he": jinit.he_normal}, circles, seeds=4, **kw)
    b = sweep(NET, {"he": jinit.he_normal}, circles, seeds=[2], **kw)
    np.testing.assert_allclose(
        b.metrics["train_loss"][0, 0], a.metrics["train_loss"][0, 2], rtol=1e-5
    )
    # different seeds shuffle differently: identical weights, different data order
    same = {"fixed": jax.tree_util.tree_map(
        lambda x: jnp.repeat(x[None], 2, axis=0), NET.init(jax.random.key(0), jinit.he_normal)
    )}  # fmt: skip
    r = sweep(NET, same, circles, seeds=2, **kw)
    assert r.metrics["train_loss"][0, 0, 0] == r.metrics["train_loss"][0, 1, 0]
    assert r.metrics["train_loss"][0, 0, -1] != r.metrics["train_loss"][0, 1, -1]


def _run_in_subprocess(code: str, env: dict | None = None, timeout: float = 300):
    full_env = {**os.environ, "PYTHONPATH": REPO, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def sweep_9_runs(batch_size: int | None, devices=None) -> jinit.SweepResult:
    """3 inits x 3 seeds of a small circles net (the multi-device test's sweep)."""
    return sweep(jinit.models.MLP([2, 8, 4, 1]),
                 {"he": jinit.he_normal, "xavier": jinit.xavier_uniform, "small": jinit.normal},
                 jinit.data.circles(n_train=128, n_test=64), optimizer=optax.sgd(0.1),
                 steps=100, seeds=3, eval_every=25, batch_size=batch_size,
                 devices=devices)  # fmt: skip


SHARD_SCRIPT = """
    import json, sys, jax
    sys.path.insert(0, TESTS)
    from test_sweep import sweep_9_runs
    r = sweep_9_runs(BATCH)
    print(json.dumps({"devices": len(jax.devices()), "shards": r.config["devices"],
                      "loss": r.metrics["train_loss"].tolist(),
                      "acc": r.metrics["test_acc"].tolist()}))
"""


@pytest.mark.parametrize("batch", [None, pytest.param(32, marks=pytest.mark.slow)])
def test_same_results_on_one_and_four_devices(batch):
    """The 4-device sweep (a fresh process with 4 host devices) against the same sweep on
    one device, computed here (this process's first device)."""
    code = SHARD_SCRIPT.replace("BATCH", repr(batch)).replace("TESTS", repr(TESTS))
    env = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    proc = _run_in_subprocess(code, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    four = json.loads(proc.stdout.strip().splitlines()[-1])
    assert four["devices"] == 4 and four["shards"] == 4  # 9 runs padded to 12
    one = sweep_9_runs(batch, devices=jax.devices()[:1])
    assert one.config["devices"] == 1
    np.testing.assert_allclose(one.metrics["train_loss"], four["loss"], rtol=1e-6)
    np.testing.assert_array_equal(one.metrics["test_acc"], four["acc"])


# --------------------------------------------------------------------------- divergence


def test_divergent_runs_are_marked_and_isolated(circles):
    net = jinit.models.MLP([2, 16, 1], activation="relu", output="linear")
    data = circles._replace(y_train=circles.y_train * 3, y_test=circles.y_test * 3)
    inits = {"he": jinit.he_normal, "huge": functools.partial(jinit.normal, stddev=30.0)}
    kw = dict(optimizer=optax.sgd(0.1), steps=100, eval_every=10, seeds=3)
    r = sweep(net, inits, data, **kw)
    alone = sweep(net, {"he": jinit.he_normal}, data, **kw)
    assert (r.diverged_step[1] >= 0).all() and (r.diverged_step[1] < 100).all()
    assert (r.diverged_step[0] == -1).all()
    np.testing.assert_allclose(
        r.metrics["train_loss"][0], alone.metrics["train_loss"][0], rtol=1e-6
    )
    rows = {row["init"]: row for row in r.summary()}
    assert rows["huge"]["diverged"] == 3 and rows["he"]["diverged"] == 0
    assert rows["huge"]["train_loss"]["n"] == 0  # diverged runs are left out of the statistics


def test_summary_statistics_against_scipy(circles):
    r = sweep(NET, {"zeros": jinit.zeros, "he": jinit.he_normal}, circles,
              optimizer=optax.sgd(0.1), steps=50, seeds=6, eval_every=25)  # fmt: skip
    rows = {row["init"]: row for row in r.summary()}
    acc = r.final("test_acc")[1].astype(np.float64)
    lo, hi = scipy.stats.t.interval(0.95, len(acc) - 1, loc=acc.mean(), scale=scipy.stats.sem(acc))
    assert rows["he"]["test_acc"]["ci_low"] == pytest.approx(lo, rel=2e-3)
    assert rows["he"]["test_acc"]["ci_high"] == pytest.approx(hi, rel=2e-3)
    assert rows["he"]["test_acc"]["median"] == pytest.approx(np.median(acc))
    assert rows["zeros"]["stuck"] == 0 or rows["zeros"]["train_loss"]["std"] < 1e-6
    assert "he" in r.table() and "zeros" in r.table()


def test_zeros_init_is_stuck():
    data = jinit.data.coursera_circles()
    r = sweep(jinit.models.MLP([2, 10, 5, 1]), {"zeros": jinit.zeros}, data, steps=300, seeds=3)
    assert r.stuck().all()
    assert r.summary()[0]["stuck"] == 3 and r.summary()[0]["failed"] == 3


# --------------------------------------------------------------------------- files and resume


def test_json_and_csv(tmp_path, circles):
    r = sweep(NET, {"he": jinit.he_normal}, circles, steps=20, seeds=2, eval_every=10)
    data = json.loads(open(r.to_json(tmp_path / "r.json")).read())
    assert data["inits"] == ["he"] and len(data["metrics"]["train_loss"][0]) == 2
    lines = open(r.to_csv(tmp_path / "r.csv")).read().splitlines()
    assert lines[0].startswith("init,seed,step,train_loss")
    assert len(lines) == 1 + 2 * 3


RESUME_SCRIPT = """
    import sys, json, optax, jinit
    r = jinit.sweep(jinit.models.MLP([2, 32, 32, 1]),
                    {"he": jinit.he_normal, "xavier": jinit.xavier_normal},
                    jinit.data.circles(n_train=600, n_test=100), optimizer=optax.sgd(0.05),
                    steps=STEPS, seeds=4, eval_every=200, out_dir=sys.argv[1], resume=True)
    print(json.dumps(r.metrics["train_loss"].tolist()))
"""


@pytest.mark.slow  # also covered fast: tests/test_engine_reliability.py, test_cli SIGINT
def test_resume_after_kill_gives_the_same_numbers(tmp_path):
    script = RESUME_SCRIPT.replace("STEPS", "6000")
    ref = _run_in_subprocess(script.replace("sys.argv[1]", repr(str(tmp_path / "ref"))))
    assert ref.returncode == 0, ref.stderr[-3000:]
    out = tmp_path / "killed"
    code = script.replace("sys.argv[1]", repr(str(out)))
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "PYTHONPATH": REPO}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    ckpt = out / "sweep_checkpoint.npz"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    with np.load(ckpt) as f:
        assert 0 < int(f["chunk"]) < 30  # interrupted part-way
    resumed = _run_in_subprocess(code)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout.splitlines()[-1]) == json.loads(ref.stdout.splitlines()[-1])


# --------------------------------------------------------------------------- inputs


def test_user_model_pair(circles):
    def init_fn(key, w_init, b_init):
        return {"w": w_init(key, (2, 1)), "b": b_init(key, (1,))}

    def apply_fn(params, x):
        return x @ params["w"] + params["b"]

    r = sweep((init_fn, apply_fn), {"lecun": jinit.lecun_normal}, circles,
              loss="binary_cross_entropy", steps=10, seeds=2, eval_every=5)  # fmt: skip
    assert r.metrics["train_loss"].shape == (1, 2, 3)
    with pytest.raises(ValueError, match="pass loss"):
        sweep((init_fn, apply_fn), {"lecun": jinit.lecun_normal}, circles, steps=1, seeds=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(seeds=0), ValueError, "seed count must be >= 1"),
        (dict(seeds=[1, 1]), ValueError, "distinct"),
        (dict(steps=-1), ValueError, "steps must be"),
        (dict(loss="hinge"), ValueError, "unknown loss"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(inits={}), TypeError, "non-empty dict"),
        (dict(inits={"bad": 3}), TypeError, "neither an initializer"),
        (dict(inits={"short": [{"kernel": jnp.zeros((2, 2, 8)), "bias": jnp.zeros((2, 8))}]}),
         ValueError, "structure"),
        (dict(data=(1, 2, 3, 4)), TypeError, "Dataset"),
    ],
)  # fmt: skip
def test_bad_input_is_reported(circles, kwargs, error, match):
    args = dict(inits={"he": jinit.he_normal}, data=circles, steps=1, seeds=1) | kwargs
    with pytest.raises(error, match=match):
        sweep(NET, **args)


def test_plot_writes_a_png(tmp_path, circles):
    pytest.importorskip("matplotlib")
    r = sweep(NET, {"he": jinit.he_normal, "zeros": jinit.zeros}, circles, steps=20, seeds=3,
              eval_every=10)  # fmt: skip
    path = r.plot(tmp_path / "curves.png")
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_steps_0_compiles_no_training_program(circles):
    """A sweep of 0 steps (initial parameters and the first evaluation, as a probe uses it)
    does not compile the training program it would never run."""
    r = sweep(NET, {"he": jinit.he_normal}, circles, steps=0, seeds=[5], keep_params=True)
    assert r.timing["compiles"] == 0
    assert list(r.eval_steps) == [0] and r.metrics["train_loss"].shape == (1, 1, 1)


def test_key_free_leaves_are_stacked_without_a_compile():
    """A leaf that does not depend on the key (zero biases, a constant) is stacked on the host:
    eager vmap would compile one broadcast per shape (the same values)."""
    from jinit.engine.compiles import CompileCount
    from jinit.engine.inits import stack_draws

    keys = jax.random.split(jax.random.key(0), 7)
    fixed = np.arange(6, dtype=np.float32).reshape(2, 3) + 0.5

    def draw(k):
        return {"w": jax.random.key_data(k), "b": fixed}

    with CompileCount("broadcast_in_dim") as count:
        got = stack_draws(draw, keys)
    assert count.n == 0
    np.testing.assert_array_equal(np.asarray(got["b"]), np.broadcast_to(fixed, (7, 2, 3)))
    np.testing.assert_array_equal(np.asarray(got["w"]), np.asarray(jax.random.key_data(keys)))


@pytest.mark.parametrize("where", ["host", "program"])
def test_the_data_order_is_each_seeds_epoch_permutation_bit_for_bit(where, monkeypatch):
    """The mini-batch order, shuffled on the host (``jinit._threefry.permutation``; nothing
    compiled) or, for large orders, by a program compiled unoptimized on CPU (an integer
    program: random bits and a sort), is ``permutation(fold_in(data_key(s), epoch), n)``
    exactly, as eager JAX gives it."""
    from jinit.engine import order as order_module
    from jinit.engine.compiles import CompileCount
    from jinit.keys import data_key

    if where == "program":
        monkeypatch.setattr(order_module, "HOST_ORDER_MAX", 0)
    seeds, n, batch = np.array([0, 3, 2**32 - 1]), 37, 5
    order = order_module.data_order(seeds, n, batch, chunk_len=20)  # 7 batches an epoch
    with CompileCount("epoch_permutations") as count:
        idx = np.asarray(order.indices(1))  # steps 20-39: epochs 2-5
    assert count.n == 0 or where == "program"
    for i, s in enumerate(seeds):
        for step in (20, 27, 39):
            epoch, slot = divmod(step, n // batch)
            key = jax.random.fold_in(data_key(int(s)), epoch)
            perm = np.asarray(jax.random.permutation(key, n))
            np.testing.assert_array_equal(idx[i, step - 20], perm[slot * batch:(slot + 1) * batch])


def test_a_training_sweep_compiles_one_program_its_first_chunk_evaluates_the_start(circles):
    """The initial evaluation comes from the first chunk (no evaluation program of its own:
    it cost a quarter of a sweep's compile); a sweep of 0 steps compiles the evaluation
    alone. The initial metrics equal the evaluation of the drawn parameters."""
    from jinit.engine.compiles import CompileCount

    kw = dict(optimizer=optax.sgd(0.1), seeds=3, eval_every=5)
    with CompileCount("evaluate_runs", "chunk") as count:
        trained = sweep(NET, {"he": jinit.he_normal}, circles, steps=10, **kw)
    assert count.by_name["jit(evaluate_runs)"] == 0 and count.by_name["jit(chunk)"] == 1
    with CompileCount("evaluate_runs", "chunk") as count:
        start = sweep(NET, {"he": jinit.he_normal}, circles, steps=0, **kw)
    assert count.by_name["jit(evaluate_runs)"] == 1 and count.by_name["jit(chunk)"] == 0
    for name in ("train_loss", "test_acc"):
        np.testing.assert_allclose(trained.metrics[name][..., 0], start.metrics[name][..., 0],
                                   rtol=1e-6)  # fmt: skip
    assert trained.metrics["train_loss"].shape == (1, 3, 3)


def test_ctrl_c_in_the_first_chunk_keeps_the_initial_evaluation(circles, monkeypatch, tmp_path):
    """Interrupted before the first chunk's evaluations reach the host, the partial result
    still holds the initial evaluation (computed then by the evaluation program, the same
    numbers), checkpointed: a resume continues to the uninterrupted sweep's numbers."""
    sweep_module = importlib.import_module("jinit.engine.sweep")
    compiled = sweep_module._Compiled
    real = compiled.indices

    def interrupt_after_the_first_chunk(self, c, n_chunks):
        if c == 1:
            raise KeyboardInterrupt
        return real(self, c, n_chunks)

    kw = dict(optimizer=optax.sgd(0.1), seeds=2, eval_every=5, steps=10)
    full = sweep(NET, {"he": jinit.he_normal}, circles, **kw)
    monkeypatch.setattr(compiled, "indices", interrupt_after_the_first_chunk)
    with pytest.raises(sweep_module.SweepInterrupted) as stop:
        sweep(NET, {"he": jinit.he_normal}, circles, out_dir=tmp_path, **kw)
    partial = stop.value.partial
    assert list(partial.eval_steps) == [0] and partial.config["partial"]
    for name, values in partial.metrics.items():
        np.testing.assert_array_equal(values, full.metrics[name][..., :1])
    monkeypatch.setattr(compiled, "indices", real)
    resumed = sweep(NET, {"he": jinit.he_normal}, circles, out_dir=tmp_path, resume=True, **kw)
    for name, values in resumed.metrics.items():
        np.testing.assert_array_equal(values, full.metrics[name])


def test_constant_laws_are_drawn_without_a_compile():
    """jinit's zeros, ones and constant laws are made on the host when the engine draws
    (eagerly, ``jnp.zeros`` compiles a program per shape): the same values, no program."""
    from jinit.engine.compiles import CompileCount
    from jinit.engine.inits import as_inits, initial_params
    from jinit.engine.model import as_model, template

    net = as_model(jinit.models.MLP([3, 19, 1]))  # shapes no other test draws
    half = functools.partial(jinit.constant, value=0.5)
    inits = as_inits({"zeros": jinit.zeros, "ones": (jinit.ones, half)})
    count = CompileCount()
    with count:
        params = initial_params(net, inits, np.arange(3), jnp.float32,
                                template(net, jnp.float32))  # fmt: skip
    assert count.by_name["jit(broadcast_in_dim)"] == 0, count.by_name
    assert not [k for k in count.by_name if "join" in k], count.by_name  # joined on the host
    kernels = [np.asarray(layer["kernel"]) for layer in params]
    biases = [np.asarray(layer["bias"]) for layer in params]
    assert all((k[:3] == 0).all() and (k[3:] == 1).all() for k in kernels)
    assert all((b[:3] == 0).all() and (b[3:] == 0.5).all() for b in biases)
    assert kernels[0].shape == (6, 3, 19) and kernels[0].dtype == np.float32


@pytest.mark.parametrize("optimizer, programs", [(optax.sgd(0.1), 0), (optax.adam(0.01), 1)])
def test_the_first_state_is_made_on_the_host_for_a_stateless_optimizer(circles, optimizer,
                                                                         programs):
    """Plain SGD on a model without state: the first state is only ``diverged`` (-1), made
    on the host (no ``first_state`` program); Adam's slots come from one program for all
    blocks of runs. Both train as a sweep must (the loss falls)."""
    from jinit.engine.compiles import CompileCount

    with CompileCount() as count:
        r = sweep(NET, {"he": jinit.he_normal}, circles, optimizer=optimizer, steps=20,
                  seeds=6, block_size=2, devices=jax.devices()[:1])  # fmt: skip
    assert count.by_name["jit(first_state)"] == programs, count.by_name
    assert (r.diverged_step == -1).all()
    assert (r.metrics["train_loss"][..., -1] < r.metrics["train_loss"][..., 0]).all()


@pytest.mark.parametrize("optimizer", [optax.sgd(0.1), optax.adam(0.01)])
def test_the_training_program_compiles_while_the_runs_are_drawn(circles, optimizer):
    """The chunk program is lowered from the parameters' shapes and compiled in a second
    thread, so its XLA compile overlaps the draws (whose own compiles run here); the
    program then takes the drawn state, with one compile, and trains as before."""
    import threading

    from jinit.engine.compiles import BACKEND_COMPILE_EVENT

    where = []

    def listen(event, duration, **kw):
        if event == BACKEND_COMPILE_EVENT and kw.get("fun_name") == "jit(chunk)":
            where.append(threading.current_thread() is threading.main_thread())

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        net = jinit.models.MLP([2, 7, 3, 1], activation="relu", output="sigmoid")  # new shapes
        r = sweep(net, {"he": jinit.he_normal}, circles, optimizer=optimizer, steps=20,
                  seeds=4, devices=jax.devices()[:1])  # fmt: skip
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert where == [False] and r.timing["compiles"] == 1
    assert (r.metrics["train_loss"][..., -1] < r.metrics["train_loss"][..., 0]).all()


def test_a_state_unlike_its_shapes_compiles_again_for_the_real_one(circles, monkeypatch):
    """Should the first state differ from the shapes the program was compiled for (a weak
    type, here forced), the engine lowers and compiles again for the real state: the same
    numbers, never a call that fails or converts."""
    sweep_module = importlib.import_module("jinit.engine.sweep")
    kw = dict(optimizer=optax.sgd(0.1), steps=10, seeds=3, devices=jax.devices()[:1])
    plain = sweep(NET, {"he": jinit.he_normal}, circles, **kw)
    real = sweep_module._abstract_state

    def weak(*args):
        state = real(*args)
        d = state.diverged
        return state._replace(diverged=jax.ShapeDtypeStruct(d.shape, d.dtype, weak_type=True))

    lowered = []

    class Counted(sweep_module._Background):
        def __init__(self, fn, args):
            lowered.append(args[0].diverged.weak_type)
            super().__init__(fn, args)

    monkeypatch.setattr(sweep_module, "_abstract_state", weak)
    monkeypatch.setattr(sweep_module, "_Background", Counted)
    again = sweep(NET, {"he": jinit.he_normal}, circles, **kw)
    assert lowered == [True, False]  # the shapes, then the real state
    for name, values in again.metrics.items():
        np.testing.assert_array_equal(values, plain.metrics[name])



def test_the_data_is_an_argument_of_the_training_program_not_a_constant(circles, monkeypatch):
    """A dataset captured as a constant is folded into the program by XLA (a 60,000-image
    MNIST sweep compiled in 3.8-4.0 s instead of 1.0-1.1 s) and its arithmetic simplified at compile
    time; the chunk takes the arrays as an argument instead."""
    from conftest import constants_of_shape

    sweep_module = importlib.import_module("jinit.engine.sweep")
    texts = []

    class Lowered(sweep_module._Background):
        def __init__(self, fn, args):
            texts.append(jax.jit(fn).lower(*args).as_text())
            super().__init__(fn, args)

    monkeypatch.setattr(sweep_module, "_Background", Lowered)
    sweep(NET, {"he": jinit.he_normal}, circles, optimizer=optax.sgd(0.1), steps=10, seeds=2,
          devices=jax.devices()[:1])  # fmt: skip
    n = len(circles.x_train)
    (text,) = texts
    (main,) = [line for line in text.splitlines() if "func.func public @main" in line]
    assert f"tensor<{n}x2xf32>" in main  # an argument of the program
    assert not constants_of_shape(text, (n, 2))


@pytest.mark.parametrize("n", [16, 21, 9, 3])  # whole blocks, a last block overlapping, one block
def test_evaluation_blocks_are_slices_of_the_data(monkeypatch, n):
    """``block_logits`` computes every example once, in blocks sliced from the data (the
    last one ends at the last example), and gives the logits of the whole split."""
    program = importlib.import_module("jinit.engine.program")
    monkeypatch.setattr(program, "EVAL_BLOCK", 8)
    x = jnp.arange(n * 3, dtype=jnp.float32).reshape(n, 3)
    w = jnp.linspace(-1.0, 1.0, 6).reshape(3, 2)
    calls = []

    def apply(params, xb):
        calls.append(xb.shape)
        return xb @ params

    out = jax.jit(lambda p, x: program.block_logits(apply, p, x))(w, x)
    # to round-off: a row's product may round differently in another block position
    np.testing.assert_allclose(out, x @ w, rtol=1e-6)
    assert calls == [(min(n, 8), 3)]  # one block shape, traced once
    jaxpr = jax.make_jaxpr(lambda p, x: program.block_logits(apply, p, x))(w, x).jaxpr
    copies = [v.aval.shape for e in jaxpr.eqns for v in e.outvars
              if v.aval.shape[-1:] == (3,) and v.aval.size > x.size]  # fmt: skip
    assert not copies  # no padded copy of the data
