"""Sweeps across processes (issue 15): ``jinit compare --processes 2`` (two local processes of
one ``jax.distributed`` job, gloo CPU collectives) gives the numbers of one process with two
devices, bit for bit (each device computes the same runs); only process 0 writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jinit import cli
from jinit.distributed import join, without_processes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["compare", "--seeds", "0:4", "--steps", "20", "--eval-every", "10", "--batch-size",
        "16", "--json", "--no-cache"]  # fmt: skip


def _jinit(*args: str, **env: str) -> dict:
    full = {**os.environ, "PYTHONPATH": REPO, "JAX_PLATFORMS": "cpu", **env}
    full.pop("XLA_FLAGS", None)
    done = subprocess.run([sys.executable, "-m", "jinit.cli", *args], env=full,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["result"]


SCRIPT = """
import json, sys, optax, jinit
jinit.distributed.initialize(f"localhost:{sys.argv[1]}", 2, int(sys.argv[2]))
r = jinit.sweep(jinit.models.MLP([2, 8, 1]), {"he": jinit.he_normal},
                jinit.data.circles(n_train=64, n_test=32, seed=0), optimizer=optax.sgd(0.1),
                steps=20, eval_every=10, seeds=8, batch_size=16)
print(json.dumps({"devices": r.config["devices"], "loss": r.metrics["train_loss"].tolist()}))
"""


def test_each_process_gets_every_run_as_one_process_computes_it():
    """2 processes of one device each: device 0 trains seeds 0-3, device 1 seeds 4-7; both
    processes return all 8 runs, bit for bit what one process computes for each half."""
    import jax.numpy as jnp
    import numpy as np
    import optax

    import jinit
    from jinit.distributed import free_port

    env = {**os.environ, "PYTHONPATH": REPO, "JAX_PLATFORMS": "cpu", "JINIT_CPU_CORES": "1"}
    env.pop("XLA_FLAGS", None)
    port = str(free_port())
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, port, str(i)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    got = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert got[0] == got[1] and got[0]["devices"] == 2
    halves = [
        jinit.sweep(jinit.models.MLP([2, 8, 1]), {"he": jinit.he_normal},
                    jinit.data.circles(n_train=64, n_test=32, seed=0), optimizer=optax.sgd(0.1),
                    steps=20, eval_every=10, seeds=seeds, batch_size=16, dtype=jnp.float32)
        for seeds in ([0, 1, 2, 3], [4, 5, 6, 7])
    ]  # fmt: skip
    one = np.concatenate([h.metrics["train_loss"] for h in halves], axis=1)
    np.testing.assert_array_equal(np.asarray(got[0]["loss"], np.float32), one)


@pytest.mark.slow  # three jinit commands: about 20 s on a quiet 2-core machine, 70 s busy
def test_two_processes_give_the_numbers_of_one_process_bit_for_bit(tmp_path):
    out = tmp_path / "two"
    two = _jinit(*ARGS, "--processes", "2", "--out", str(out), JINIT_CPU_CORES="2")
    one = _jinit(*ARGS, JINIT_CPU_CORES="2")
    assert two["config"]["devices"] == one["config"]["devices"] == 2
    assert two["seeds"] == one["seeds"] == [0, 1, 2, 3]
    assert two["metrics"] == one["metrics"] and two["diverged_step"] == one["diverged_step"]
    assert (out / "results.json").exists() and (out / "report.md").exists()
    assert (out / "checkpoint" / "sweep_checkpoint.npz").exists()
    assert not (out / "checkpoint" / "sweep.lock").exists()


def test_the_launcher_drops_only_its_own_flag():
    argv = ["compare", "--processes", "2", "--seeds", "4", "--processes=3", "--out", "d"]
    assert without_processes(argv) == ["compare", "--seeds", "4", "--out", "d"]


@pytest.mark.parametrize(
    "flags, match",
    [
        ((None, 2, 0), "--coordinator, --num-processes and --process-id go together"),
        (("localhost", 2, 0), "--coordinator: expected HOST:PORT"),
        (("localhost:1234", 2, 2), r"--process-id: expected an int in \[0, 1\], got 2"),
    ],
)
def test_cluster_flags_are_checked_before_joining(flags, match):
    with pytest.raises(ValueError, match=match):
        join(*flags)
    assert join(None, None, None) is False  # one process (no SLURM step here)


def test_cluster_flag_errors_are_one_line(capsys):
    assert cli.main(["compare", "--coordinator", "somewhere:99", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("jinit: error: --coordinator, --num-processes and --process-id")
    assert len(err.splitlines()) == 1
