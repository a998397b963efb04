"""The persistent compilation cache: where it lives, and that the jinit command fills it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from jinit import cache

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# conftest turns JAX's persistent cache on for the whole test session through these
# variables; the command's own cache (and --no-cache) is tested without them
JAX_CACHE_VARS = ("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE")


def test_default_dir_env_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("JINIT_CACHE_DIR", str(tmp_path / "mine"))
    assert cache.default_cache_dir() == str(tmp_path / "mine")
    monkeypatch.delenv("JINIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir() == str(tmp_path / "xdg" / "jinit" / "xla")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.default_cache_dir() == str(tmp_path / "home" / ".cache" / "jinit" / "xla")


def test_uncreatable_dir_is_a_named_value_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match="cannot create the cache directory"):
        cache.enable_compilation_cache(afile / "xla")


def _probe(tmp_path, cache_dir, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jinit.cli", "probe", "--model", "mlp:4,8,2", "--seeds", "2",
         "--batch", "4", "--inits", "he_normal", *extra],
        capture_output=True, text=True, timeout=300,
        env={**{k: v for k, v in os.environ.items() if not k.startswith(JAX_CACHE_VARS)},
             "PYTHONPATH": REPO, "JINIT_CACHE_DIR": str(cache_dir)},
    )  # fmt: skip


def test_command_fills_the_cache_and_no_cache_turns_it_off(tmp_path):
    """Even the small, fast-compiling programs of a probe are stored (JAX's defaults would
    skip programs compiling in under a second); --no-cache stores nothing."""
    on, off = tmp_path / "on", tmp_path / "off"
    assert _probe(tmp_path, on).returncode == 0
    assert len(os.listdir(on)) > 0
    assert _probe(tmp_path, off, "--no-cache").returncode == 0
    assert not off.exists() or os.listdir(off) == []


SAME_SHAPES = """
    import os, sys, optax, jinit
    jinit.enable_compilation_cache(sys.argv[1])
    for seed in (0, 1):  # two datasets of the same shapes
        data = jinit.data.circles(n_train=64, n_test=32, noise=0.1, seed=seed)
        jinit.sweep(jinit.models.MLP([2, 6, 1]), {"he": jinit.he_normal}, data,
                    optimizer=optax.sgd(0.1), steps=5, seeds=2)
        print(sorted(f for f in os.listdir(sys.argv[1]) if f.startswith("jit_chunk")))
"""


def test_a_sweep_on_new_data_of_the_same_shapes_loads_its_program_from_the_cache(tmp_path):
    """The data are an argument of the training program, not constants in it, so the
    program (and its cache entry) does not depend on their values."""
    code = textwrap.dedent(SAME_SHAPES)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(JAX_CACHE_VARS)},
           "PYTHONPATH": REPO}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "xla")],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = proc.stdout.strip().splitlines()[-2:]
    assert first == second and first != "[]", (first, second)
