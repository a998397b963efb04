"""``jinit compare --model path.to.module:factory[:key=value,...]`` with a user's own Flax
model, and ``--model resnet:...`` / ``transformer:...`` end to end; bad input: rc 2, one line
naming --model."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from jinit import models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USER_MODULE = textwrap.dedent(
    """
    import flax.linen as nn


    class MLP(nn.Module):
        width: int = 16

        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(nn.relu(nn.Dense(self.width)(x)))


    def mlp(width=16):
        return MLP(width)


    def not_a_model():
        return 3
    """
)


def run_cli(cwd, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.run([sys.executable, "-m", "jinit.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


@pytest.fixture
def user_dir(tmp_path):
    (tmp_path / "mymodels.py").write_text(USER_MODULE)
    return tmp_path


def _usage_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jinit: error: --model"), proc.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def test_load_factory_and_its_errors(user_dir, monkeypatch):
    monkeypatch.chdir(user_dir)
    assert models.is_factory("mymodels:mlp") and models.is_factory("a.b:f:k=1")
    assert not any(map(models.is_factory, ("resnet:8x8x1:4", "rnn:2", "mlp:2,3", "x", "a-b:f")))
    assert models.load_factory("mymodels:mlp:width=8").width == 8
    assert models.load_factory("jinit.models:MLP:widths=(2,3,1),activation=tanh").activation == (
        "tanh")  # fmt: skip
    for spec, fragment in (("mymodels:nothere", "no function 'nothere'"),
                           ("nomodule_xyz:f", "cannot import"),
                           ("mymodels:mlp:width", "expected key=value"),
                           ("mymodels:mlp:depth=3", "unexpected keyword")):  # fmt: skip
        with pytest.raises(ValueError, match=fragment):
            models.load_factory(spec)


def test_compare_model_errors_are_one_line_naming_model(user_dir):
    _usage_error(run_cli(user_dir, "compare", "--model", "mymodels:not_a_model"),
                 "mymodels:not_a_model", "model must have init")  # fmt: skip


@pytest.mark.slow
def test_compare_with_a_users_flax_model(user_dir):
    proc = run_cli(user_dir, "compare", "--model", "mymodels:mlp:width=8", "--inits",
                   "he_normal,zeros", "--seeds", "2", "--steps", "20", "--no-cache")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "model mymodels:mlp:width=8" in proc.stdout and "he_normal" in proc.stdout
    _usage_error(run_cli(user_dir, "compare", "--model", "mymodels:nothere"), "nothere")
    _usage_error(run_cli(user_dir, "compare", "--model", "nomodule_xyz:f"), "cannot import")


@pytest.mark.slow
@pytest.mark.parametrize("spec, data", [("resnet:8x8x1:4,8:1:batch", "digits-images"),
                                        ("transformer:24,3:16,2,2", "modular-addition")])
def test_compare_builtin_resnet_and_transformer(tmp_path, spec, data):
    proc = run_cli(tmp_path, "compare", "--model", spec, "--data", data, "--inits",
                   "he_normal", "--seeds", "2", "--steps", "10", "--batch-size", "64",
                   "--optimizer", "adam", "--lr", "0.003", "--no-cache")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"model {spec}" in proc.stdout
