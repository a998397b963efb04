"""A tuned comparison's report draws the learning-rate sensitivity and the performance profile,
and report.md shows them."""

import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")


def test_tuned_compare_writes_sensitivity_and_profile(tmp_path):
    out = tmp_path / "tuned"
    done = subprocess.run(
        [sys.executable, "-m", "jinit.cli", "compare", "--model", "mlp:2,10,5,1", "--data",
         "circles", "--inits", "xavier_normal,he_normal", "--seeds", "3", "--steps", "60",
         "--lr", "0.03,0.3", "--out", str(out), "--no-cache"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name in ("sensitivity_learning_rate.png", "performance_profile.png"):
        assert (out / name).stat().st_size > 1000
    md = (out / "report.md").read_text()
    assert "![sensitivity_learning_rate](sensitivity_learning_rate.png)" in md
    assert "![performance_profile](performance_profile.png)" in md
