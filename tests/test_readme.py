"""The README's Python examples run as written (each block in a fresh interpreter)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path):
    script = tmp_path / f"block_{index}.py"
    script.write_text(BLOCKS[index])
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env,
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, f"README block {index} failed:\n{BLOCKS[index]}\n{done.stderr}"


def test_ci_runs_the_readme_test_command():
    """`.ci/run` runs exactly the test command the README gives (after the same setup)."""
    text = README.read_text()
    readme_cmd = re.search(r"bash scripts/setup\.sh dev && (.*pytest.*)\n", text).group(1)
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()
    assert "bash scripts/setup.sh dev" in ci
    assert ci[-1] == readme_cmd
