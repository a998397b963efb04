"""Test-suite wiring: the slowest tests of files owned elsewhere are marked ``slow`` here by
node id, so the default run (``-m 'not slow'`` in pyproject's addopts) stays short; run them
with ``python -m pytest -m slow``."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

_CREATED_CACHE: list[str] = []


# JAX reads these options from the environment at import: every process of the session
# (xdist workers, the CLI, README and notebook subprocesses) shares one persistent cache.
JAX_CACHE_ENV = {
    "JAX_COMPILATION_CACHE_DIR": None,  # the session's directory, set below
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
}
_JAX_OPTION_TYPES = (str, float, int)  # of the options above, in order


def pytest_configure(config: pytest.Config) -> None:
    """The ``jinit`` command's compilation cache goes to one temporary directory per test
    session (shared by xdist workers, which inherit the environment), not the user's.

    Every other JAX program of the session is cached there too: most of the suite's time is
    XLA compiling small programs (each eager op, each init draw), many of them the same in
    both workers and in the subprocesses. The directory starts empty in every session, so a
    run is as cold as a fresh clone's; tests of the cache itself drop these variables."""
    if not os.environ.get("JINIT_CACHE_DIR"):
        os.environ["JINIT_CACHE_DIR"] = tempfile.mkdtemp(prefix="jinit-test-xla-")
        _CREATED_CACHE.append(os.environ["JINIT_CACHE_DIR"])
    env = JAX_CACHE_ENV | {"JAX_COMPILATION_CACHE_DIR": os.environ["JINIT_CACHE_DIR"]}
    for name, value in env.items():
        os.environ.setdefault(name, value)
    if "jax" in sys.modules:  # imported by a plugin before this hook: too late for the env
        import jax

        for name, kind in zip(env, _JAX_OPTION_TYPES, strict=True):
            jax.config.update(name.lower(), kind(os.environ[name]))


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _CREATED_CACHE:
        shutil.rmtree(path, ignore_errors=True)


# Measured with `python -m pytest -q -p no:cacheprovider --durations=30 tests/FILE`, one file
# at a time (busy 2-core machine): deep-relu training 196 s, the next slowest test in
# test_experiments/test_sweep/test_notebooks/test_integration 64 s. The probe tests of
# test_diagnostics keep covering deep ReLU nets in the default run.
SLOW = {
    "tests/test_experiments.py::test_deep_relu_signal_and_training",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid in SLOW:
            item.add_marker(pytest.mark.slow)


def constants_of_shape(text: str, shape: tuple[int, ...], dtype: str = "f32") -> list[str]:
    """The lines of a lowered program's text (``jit(f).lower(...).as_text()``) that hold a
    constant of ``shape`` and ``dtype``: an array captured by a closure instead of passed as
    an argument (XLA folds it into the program)."""
    tensor = "x".join(map(str, shape)) + f"x{dtype}"
    return [line for line in text.splitlines() if "constant" in line and tensor in line]


@pytest.fixture
def jit_programs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lowered text of every program that a ``jax.jit`` made during the test runs (the
    spy wraps ``jax.jit`` itself; functions jitted at import are not seen)."""
    import jax

    texts: list[str] = []
    real = jax.jit

    def spy(fn, *args, **kwargs):
        jitted = real(fn, *args, **kwargs)

        def call(*a, **kw):
            texts.append(jitted.lower(*a, **kw).as_text())
            return jitted(*a, **kw)

        return call

    monkeypatch.setattr(jax, "jit", spy)
    return texts
