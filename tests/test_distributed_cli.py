"""Processes and Ctrl-C (issue 15): ``jinit reproduce --processes N`` gives the numbers of
one process; SIGINT in a job of several processes is recorded and answered at a chunk
boundary that every process agrees on (:func:`jinit.distributed.stop_requested`), so the
checkpoint is consistent and the same command resumes to the numbers of an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import optax
import pytest
from test_cli import interrupt_after_first_chunk

import jinit
from jinit.distributed import interrupts_at_chunks, launch_local, stop_requested
from jinit.engine import SweepInterrupted

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
main_thread_only = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers can only be set in the main thread",
)


@pytest.fixture(autouse=True)
def _sigint_raises():
    """Ctrl-C as in a terminal for every test here, also when the suite itself runs with
    SIGINT ignored (started by a shell with ``&`` or ``nohup``: the ignore is inherited by the
    test processes and their children, and the gate rightly leaves an ignored SIGINT alone).
    Children started meanwhile begin with the default disposition."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _sigint_now() -> None:
    """SIGINT to this process; its Python handler has run when this returns."""
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.01)  # the handler runs between bytecodes; give it the chance


@main_thread_only
def test_sigint_under_the_gate_is_recorded_and_answered_at_the_boundary():
    with interrupts_at_chunks(active=True):
        assert stop_requested() is False
        _sigint_now()  # no KeyboardInterrupt here, wherever the process is
        assert stop_requested() is True
    # answered: leaving raises nothing; outside, Ctrl-C raises at once again
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert stop_requested() is False
    with pytest.raises(KeyboardInterrupt):
        _sigint_now()


@main_thread_only
def test_a_second_sigint_stops_at_once_and_an_unanswered_one_is_not_lost():
    with pytest.raises(KeyboardInterrupt), interrupts_at_chunks(active=True):
        _sigint_now()
        _sigint_now()
        pytest.fail("the second SIGINT must raise")  # pragma: no cover
    with pytest.raises(KeyboardInterrupt), interrupts_at_chunks(active=True):
        _sigint_now()  # after the last chunk boundary: raised on leaving
    with interrupts_at_chunks(active=False), pytest.raises(KeyboardInterrupt):
        _sigint_now()  # inactive (one process): nothing changes


CHILD = """
import os, signal, sys, time
me = os.path.join(os.environ["JINIT_TEST_DIR"], sys.argv[sys.argv.index("--process-id") + 1])
def stop(*_):
    open(me + ".got", "w").write(str(os.getpgid(0)))
    sys.exit(130)
signal.signal(signal.SIGINT, stop)
open(me + ".ready", "w").close()
time.sleep(20)
"""


@main_thread_only
def test_the_launcher_forwards_sigint_once_to_every_process(tmp_path, monkeypatch):
    """``kill -INT`` of the launcher alone reaches every process (they run in a process
    group of their own, so a terminal's Ctrl-C, sent to the foreground group, reaches them
    only through the launcher too: once); the launcher returns 130."""
    (tmp_path / "sigint_child.py").write_text(CHILD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("JINIT_TEST_DIR", str(tmp_path))
    ready = [tmp_path / f"{i}.ready" for i in range(2)]

    def interrupt_when_ready():
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_when_ready, daemon=True).start()
        t = time.monotonic()
        assert launch_local([], 2, module="sigint_child") == 130
        assert time.monotonic() - t < 15  # stopped by the signal, not by the end of sleep
    finally:
        signal.signal(signal.SIGINT, previous)
    groups = [int((tmp_path / f"{i}.got").read_text()) for i in range(2)]
    assert os.getpgid(0) not in groups


LAGGING_LEADER = """
import os, sys, time
i = sys.argv[sys.argv.index("--process-id") + 1]
if i == "0":  # process 0 writes the report after the others are done
    time.sleep(6)
    open(os.path.join(os.environ["JINIT_TEST_DIR"], "report"), "w").close()
sys.exit(1)  # a check failed: every process ends with 1
"""


def test_a_failed_check_waits_for_process_0_to_write(tmp_path, monkeypatch):
    (tmp_path / "lagging_leader.py").write_text(LAGGING_LEADER)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("JINIT_TEST_DIR", str(tmp_path))
    assert launch_local([], 2, module="lagging_leader") == 1
    assert (tmp_path / "report").exists()


def _small_sweep(out_dir, resume: bool = False):
    return jinit.sweep(jinit.models.MLP([2, 8, 1]), {"he": jinit.he_normal},
                       jinit.data.circles(n_train=64, n_test=32, seed=0),
                       optimizer=optax.sgd(0.1), steps=40, eval_every=10, seeds=2,
                       out_dir=out_dir, resume=resume)  # fmt: skip


@main_thread_only
def test_the_sweep_stops_after_the_chunk_in_which_the_interrupt_came(tmp_path):
    """The engine asks :func:`stop_requested` after every chunk: an interrupt recorded
    before the first chunk stops the sweep after it (checkpointed), and resuming gives the
    numbers of an uninterrupted sweep."""
    with interrupts_at_chunks(active=True):
        _sigint_now()
        with pytest.raises(SweepInterrupted) as info:
            _small_sweep(tmp_path / "cut")
    partial = info.value.partial
    assert partial.config["partial"] is True and list(partial.eval_steps) == [0, 10]
    resumed = _small_sweep(tmp_path / "cut", resume=True)
    whole = _small_sweep(None)
    np.testing.assert_array_equal(resumed.metrics["train_loss"], whole.metrics["train_loss"])


# --------------------------------------------------------------------------- across processes


def _env(**extra: str) -> dict:
    env = {**os.environ, "PYTHONPATH": REPO, "JAX_PLATFORMS": "cpu", **extra}
    env.pop("XLA_FLAGS", None)
    return env


AGREE = """
import json, os, signal, sys, time
import jinit
from jinit.distributed import interrupts_at_chunks, stop_requested
me = int(sys.argv[2])
jinit.distributed.initialize(f"localhost:{sys.argv[1]}", 2, me)
with interrupts_at_chunks():  # active: a job of 2 processes
    first = stop_requested()
    if me == 1:  # only process 1 is interrupted (kill -INT of one process)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    second = stop_requested()
print(json.dumps([first, second]))
"""


def test_every_process_agrees_to_stop_when_one_is_interrupted():
    from jinit.distributed import free_port

    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, "-c", AGREE, port, str(i)],
                              env=_env(JINIT_CPU_CORES="1"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for i in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    assert [json.loads(out.strip().splitlines()[-1]) for out, _ in outs] == [[False, True]] * 2


def _jinit_json(*args: str, cores: str = "2") -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "jinit.cli", *args, "--json", "--no-cache"],
                          env=_env(JINIT_CPU_CORES=cores), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _numbers(report: dict) -> dict:
    """A report's content without its timings (they differ run to run)."""
    result = {k: v for k, v in report["result"].items() if k != "timing"}
    return {**report, "result": result}


REPRODUCE = ["reproduce", "planar", "--seeds", "3", "--steps", "20"]


@pytest.mark.slow  # two jinit commands: 15 s (33 s on a busier 2-core machine)
def test_reproduce_in_two_processes_gives_the_numbers_of_one_process():
    """Process 0 prints the report; it is the one-process report (2 devices) bit for bit."""
    two = _jinit_json(*REPRODUCE, "--processes", "2")
    one = _jinit_json(*REPRODUCE)
    assert len(two) == len(one) == 1  # the other process stays silent
    assert two[0]["result"]["config"]["devices"] == one[0]["result"]["config"]["devices"] == 2
    assert _numbers(two[0]) == _numbers(one[0])


COMPARE = ["compare", "--inits", "zeros,he_normal", "--seeds", "4", "--steps", "30000",
           "--eval-every", "300", "--lr", "0.1", "--no-cache"]  # fmt: skip


@pytest.mark.slow  # three jinit commands, two of them of 2 processes: 53 s
def test_sigint_to_the_launcher_stops_every_process_at_one_chunk_and_resumes(tmp_path):
    out = tmp_path / "run"
    proc = interrupt_after_first_chunk([*COMPARE, "--processes", "2"], out,
                                       _env(JINIT_CPU_CORES="2"))  # fmt: skip
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    partial = json.loads((out / "results.json").read_text())
    assert partial["partial"] is True
    n_done = len(partial["result"]["eval_steps"])
    assert 1 < n_done < 101  # some chunks finished, not all
    assert not (out / "checkpoint" / "sweep.lock").exists()

    env = _env(JINIT_CPU_CORES="2")
    resumed = subprocess.run([sys.executable, "-m", "jinit.cli", *COMPARE, "--processes", "2",
                              "--out", str(out)], env=env, capture_output=True, text=True,
                             timeout=600)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (whole,) = _jinit_json(*COMPARE)
    a = json.loads((out / "results.json").read_text())
    assert "partial" not in a
    assert a["result"]["metrics"] == whole["result"]["metrics"]
    assert a["result"]["eval_steps"] == whole["result"]["eval_steps"]


def test_reproduce_takes_the_cluster_flags_checked_in_one_line(capsys):
    from jinit import cli

    assert cli.main(["reproduce", "planar", "--coordinator", "somewhere:99", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jinit: error: --coordinator, --num-processes and --process-id")
    assert len(err.splitlines()) == 1
