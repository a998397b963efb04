"""``jinit.use_cpu_cores``: the public ``jax_num_cpu_devices`` option, the user's choice first
(each case in a fresh interpreter, since the split must happen before JAX starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = """
    import json, jax, jinit
    first = jinit.use_cpu_cores()
    count = jax.device_count()
    late = jinit.use_cpu_cores(3)  # the backend has started: nothing changes
    print(json.dumps({"first": first, "count": count, "late": late,
                      "option": jax.config.jax_num_cpu_devices, "after": jax.device_count()}))
"""


@pytest.mark.parametrize(
    "extra, first, count",
    [
        ({"JINIT_CPU_CORES": "3"}, True, 3),  # the public option, not XLA_FLAGS
        ({"XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JINIT_CPU_CORES": "3"},
         False, 2),  # the user chose in XLA_FLAGS
    ],
)  # fmt: skip
def test_use_cpu_cores_public_option_and_user_choice(extra, first, count):
    out = _run_with(extra)
    assert out["first"] is first and out["count"] == count
    assert out["late"] is False and out["after"] == count
    assert out["option"] == (count if first else -1)


def test_use_cpu_cores_default_is_one_device_per_core():
    out = _run_with({})
    cores = os.cpu_count() or 1
    assert out["count"] == cores and out["first"] is (cores > 1)
    assert out["late"] is False and out["after"] == cores  # too late: the backend started


def _run_with(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JINIT_CPU_CORES")}
    full = {**env, "PYTHONPATH": REPO, "JAX_PLATFORMS": "cpu", **extra}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], env=full,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("bad", [-1, 2.5, "2", True])
def test_use_cpu_cores_refuses_bad_counts(bad):
    from jinit.devices import use_cpu_cores

    with pytest.raises(ValueError, match="use_cpu_cores: n must be an int"):
        use_cpu_cores(bad)


def test_jinit_cpu_cores_zero_keeps_one_device(monkeypatch):
    from jinit.devices import cores_wanted, use_cpu_cores

    monkeypatch.setenv("JINIT_CPU_CORES", "0")
    assert cores_wanted() == 0 and use_cpu_cores() is False
    monkeypatch.setenv("JINIT_CPU_CORES", "many")
    with pytest.raises(ValueError, match="JINIT_CPU_CORES='many' is not a number"):
        cores_wanted()
