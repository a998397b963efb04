"""No finished work lost and every bad input a one-line error (issue 12): the out_dir lock,
unreadable checkpoints, bfloat16/float16 resume, Ctrl-C (SweepInterrupted) and argument checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit.data import Dataset
from jinit.engine import SweepInterrupted, progress, sweep

NET = jinit.models.MLP([2, 4, 1])
INITS = {"he": jinit.he_normal, "xavier": jinit.xavier_normal}
KW = dict(optimizer=optax.sgd(0.1), steps=30, seeds=2, eval_every=5)


@pytest.fixture(scope="module")
def circles() -> Dataset:
    return jinit.data.circles(n_train=32, n_test=16, seed=0)


# --------------------------------------------------------------------------- lock


def test_a_live_lock_refuses_and_a_stale_one_is_taken_over(tmp_path, circles):
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "sweep.lock").write_text(str(live.pid))
        with pytest.raises(RuntimeError, match=rf"in use by process {live.pid}"):
            sweep(NET, INITS, circles, out_dir=tmp_path, **KW)
    finally:
        live.kill()
        live.wait()
    (tmp_path / "sweep.lock").write_text(str(live.pid))  # now dead: stale
    sweep(NET, INITS, circles, out_dir=tmp_path, **KW)
    assert not (tmp_path / "sweep.lock").exists()


# --------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("kind", ["garbage", "truncated", "pickle"])
def test_an_unreadable_checkpoint_says_so(tmp_path, circles, kind):
    ckpt = tmp_path / "sweep_checkpoint.npz"
    if kind == "garbage":
        ckpt.write_bytes(b"not a checkpoint")
    elif kind == "truncated":
        sweep(NET, INITS, circles, out_dir=tmp_path, **KW)
        ckpt.write_bytes(ckpt.read_bytes()[:300])
    else:
        np.savez(ckpt, fingerprint=np.array([{"a": 1}], dtype=object))
    msg = rf"checkpoint {ckpt} is unreadable; remove it or use another out_dir"
    for resume in (True, False):
        with pytest.raises(ValueError, match=msg):
            sweep(NET, INITS, circles, out_dir=tmp_path, resume=resume, **KW)


def _interrupt_at(monkeypatch, chunk: int) -> None:
    """Raise KeyboardInterrupt from the progress update after ``chunk`` chunks."""
    update = progress.Progress.update

    def interrupting(self, done, note=""):
        update(self, done, note)
        if done == chunk:
            raise KeyboardInterrupt

    monkeypatch.setattr(progress.Progress, "update", interrupting)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_interrupt_then_resume_gives_the_same_numbers(tmp_path, monkeypatch, circles, dtype):
    full = sweep(NET, INITS, circles, dtype=dtype, **KW)
    _interrupt_at(monkeypatch, 2)
    with pytest.raises(SweepInterrupted) as info:
        sweep(NET, INITS, circles, dtype=dtype, out_dir=tmp_path, resume=True, **KW)
    partial = info.value.partial
    assert isinstance(info.value, KeyboardInterrupt)
    assert partial.config["partial"] is True and list(partial.eval_steps) == [0, 5, 10]
    np.testing.assert_array_equal(
        partial.metrics["train_loss"], full.metrics["train_loss"][:, :, :3]
    )
    with np.load(tmp_path / "sweep_checkpoint.npz") as f:
        assert int(f["chunk"]) == 2
    assert not (tmp_path / "sweep.lock").exists()
    monkeypatch.undo()
    resumed = sweep(NET, INITS, circles, dtype=dtype, out_dir=tmp_path, resume=True, **KW)
    assert "partial" not in resumed.config
    for name, values in full.metrics.items():
        np.testing.assert_array_equal(resumed.metrics[name], values, err_msg=name)
    np.testing.assert_array_equal(resumed.diverged_step, full.diverged_step)


def test_checkpoint_bytes_per_chunk_do_not_grow_with_the_chunk_index(tmp_path, monkeypatch,
                                                                      circles):  # fmt: skip
    """Each chunk writes its own evaluation and the state: the same bytes at chunk 2 and 12
    (the old checkpoint rewrote every past evaluation, growing with the chunk index)."""
    from jinit.engine import checkpoint

    written, write = [], checkpoint._write

    def recording(path, arrays):
        n = write(path, arrays)
        written.append((os.path.basename(path), n))
        return n

    monkeypatch.setattr(checkpoint, "_write", recording)
    kw = KW | dict(steps=60)  # 12 chunks
    r = sweep(NET, INITS, circles, out_dir=tmp_path, **kw)
    per_chunk, current = [], 0
    for name, n in written:
        current += n
        if name == checkpoint.CHECKPOINT:
            per_chunk.append(current)
            current = 0
    assert len(per_chunk) == 12
    assert len(set(per_chunk[1:])) == 1, per_chunk  # the first also writes evaluation 0
    assert sorted(os.listdir(tmp_path / checkpoint.EVALS))[-1] == "eval_00012.npz"
    again = sweep(NET, INITS, circles, out_dir=tmp_path, resume=True, **kw)  # all on disk
    np.testing.assert_array_equal(again.metrics["test_loss"], r.metrics["test_loss"])


def test_a_checkpoint_of_the_one_file_layout_still_resumes(tmp_path, monkeypatch, circles):
    from jinit.engine import checkpoint

    full = sweep(NET, INITS, circles, **KW)
    _interrupt_at(monkeypatch, 2)
    with pytest.raises(SweepInterrupted):
        sweep(NET, INITS, circles, out_dir=tmp_path, resume=True, **KW)
    monkeypatch.undo()
    ckpt = tmp_path / checkpoint.CHECKPOINT
    with np.load(ckpt) as f:  # rewrite it as before: evaluations inside, no "layout"
        old = {k: f[k] for k in f.files if k != "layout"}
    for i in range(int(old["n_evals"])):
        with np.load(checkpoint.eval_path(str(ckpt), i)) as f:
            old |= {k.replace("eval_", f"eval_{i}_", 1): f[k] for k in f.files if k[:5] == "eval_"}
    np.savez(ckpt, **old)
    (tmp_path / checkpoint.EVALS).rename(tmp_path / "moved")
    resumed = sweep(NET, INITS, circles, out_dir=tmp_path, resume=True, **KW)
    np.testing.assert_array_equal(resumed.metrics["train_loss"], full.metrics["train_loss"])
    assert len(os.listdir(tmp_path / checkpoint.EVALS)) == 7  # moved out, then appended
    again = sweep(NET, INITS, circles, out_dir=tmp_path, resume=True, **KW)
    np.testing.assert_array_equal(again.metrics["train_loss"], full.metrics["train_loss"])


def test_interrupt_without_out_dir_keeps_the_partial_result(monkeypatch, circles):
    _interrupt_at(monkeypatch, 1)
    with pytest.raises(SweepInterrupted) as info:
        sweep(NET, INITS, circles, **KW)
    assert info.value.partial.metrics["test_acc"].shape == (2, 2, 2)


# --------------------------------------------------------------------------- bad input


def test_model_input_size_differs_from_the_data(circles):
    with pytest.raises(ValueError, match=r"shape \(2,\); its first weight \[0\]\['kernel'\] "
                       r"has shape \(3, 8\)"):  # fmt: skip
        sweep(jinit.models.MLP([3, 8, 1]), INITS, circles, **KW)


def test_an_init_of_the_wrong_shape_or_dtype_is_named(circles):
    def square(key, shape, dtype=jnp.float32):
        return jnp.zeros((3, 3), dtype)

    def integer(key, shape, dtype=jnp.float32):
        return jnp.zeros(shape, jnp.int32)

    with pytest.raises(ValueError, match=r"inits\['sq'\].*shape \(3, 3\).*\[0\]\['kernel'\]; "
                       r"the model expects \(2, 4\)"):  # fmt: skip
        sweep(NET, {"sq": square}, circles, **KW)
    with pytest.raises(TypeError, match=r"inits\['int'\].*int32.*expects float32"):
        sweep(NET, {"int": integer}, circles, **KW)


def test_a_raw_dataset_with_fewer_labels_than_examples(circles):
    x = np.zeros((64, 2), np.float32)
    data = Dataset(x, np.zeros(50, np.int32), x[:8], np.zeros(8, np.int32))
    with pytest.raises(ValueError, match="64 examples vs 50 labels"):
        sweep(NET, INITS, data, **KW)


@pytest.mark.parametrize(
    ("optimizer", "hint"),
    [("adam", "optax.adam"), (optax.adam, "optax.adam"), (lambda p: p, "optax.adam"),
     ("sgd", "optax.sgd")],
)  # fmt: skip
def test_an_optimizer_that_is_not_a_transformation(circles, optimizer, hint):
    with pytest.raises(TypeError, match=rf"not an optax GradientTransformation \(did you mean "
                       rf"{hint}\(1e-3\)\?\)"):  # fmt: skip
        sweep(NET, INITS, circles, **(KW | dict(optimizer=optimizer)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(eval_every=0), "eval_every must be an int >= 1"),
        (dict(eval_every=-1), "eval_every must be an int >= 1"),
        (dict(steps="10"), "steps must be an int >= 0"),
        (dict(steps=True), "steps must be an int >= 0"),
        (dict(batch_size=2.5), "batch_size must be a positive int or None"),
        (dict(batch_size=-3), "batch_size must be a positive int or None"),
        (dict(devices=[]), "devices must name at least one device"),
    ],
)
def test_schedule_arguments_are_checked(circles, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(NET, INITS, circles, **(KW | kwargs))


def test_out_dir_that_is_a_file_is_refused_before_training(tmp_path, circles):
    path = tmp_path / "afile"
    path.write_text("")
    with pytest.raises(ValueError, match=r"out_dir .* is not a usable directory"):
        sweep(NET, INITS, circles, out_dir=path, **KW)


# --------------------------------------------------------------------------- progress


def test_progress_falls_back_to_a_stderr_bar(monkeypatch, capsys, circles):
    monkeypatch.setattr(progress, "tqdm_class", lambda: None)
    sweep(NET, INITS, circles, progress=True, **KW)
    assert "6/6 chunks" in capsys.readouterr().err


def test_progress_uses_tqdm_when_installed(monkeypatch, circles):
    seen = []

    class FakeTqdm:
        def __init__(self, total, **kw):
            self.n, self.total = 0, total

        def update(self, k):
            self.n += k
            seen.append(self.n)

        def set_postfix_str(self, s):
            pass

        def close(self):
            seen.append("closed")

    monkeypatch.setattr(progress, "tqdm_class", lambda: FakeTqdm)
    sweep(NET, INITS, circles, progress=True, **KW)
    assert seen == [1, 2, 3, 4, 5, 6, "closed"]


def test_progress_is_on_in_a_jupyter_kernel(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", type(sys)("ipykernel"))
    assert progress.default_enabled()
    monkeypatch.delitem(sys.modules, "ipykernel")
    monkeypatch.setattr(sys, "stderr", open(os.devnull, "w"))
    assert not progress.default_enabled()


# --------------------------------------------------------------------------- a real Ctrl-C

SIGINT_SCRIPT = """
import json, sys, optax, jinit
try:
    r = jinit.sweep(jinit.models.MLP([2, 32, 32, 1]),
                    {"he": jinit.he_normal, "xavier": jinit.xavier_normal},
                    jinit.data.circles(n_train=600, n_test=100), optimizer=optax.sgd(0.05),
                    steps=20000, seeds=4, eval_every=200, out_dir=sys.argv[1], resume=True)
except jinit.engine.SweepInterrupted as err:
    print("partial", int(err.partial.eval_steps[-1]), err.partial.config["partial"])
    sys.exit(130)
print(json.dumps(r.metrics["train_loss"].tolist()))
"""


@pytest.mark.slow
def test_sigint_keeps_the_finished_chunks_and_a_rerun_completes_them(tmp_path):
    import signal
    import time

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": repo}

    def start(out):
        return subprocess.Popen(
            [sys.executable, "-c", SIGINT_SCRIPT, str(out)], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip

    ref = start(tmp_path / "ref").communicate(timeout=600)[0]
    proc = start(tmp_path / "cut")
    ckpt = tmp_path / "cut" / "sweep_checkpoint.npz"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err[-3000:]
    _, steps, partial = out.split()
    assert 0 < int(steps) < 20000 and partial == "True"
    assert not (tmp_path / "cut" / "sweep.lock").exists()
    resumed = start(tmp_path / "cut").communicate(timeout=600)[0]
    assert json.loads(resumed.splitlines()[-1]) == json.loads(ref.splitlines()[-1])
