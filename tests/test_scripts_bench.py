"""``scripts/bench_engine_parts.py`` runs and prints its rows (``--quick``; no timing checks)."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "bench_engine_parts.py"
LOSS_ROWS = [f"{loss} loss, {how}" for loss in ("optax", "jinit")
             for how in ("grad only", "value + divergence")]  # fmt: skip
ENGINE_ROWS = [
    "bare blocked scan (value + divergence)",
    "engine chunk (_Compiled.chunk)",
    "engine chunk, per-run loss value zeroed",
    'jinit.sweep (timing["run_s"])',
]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_engine_parts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rates(out: str, row: str) -> list[float]:
    """The model-steps/s printed on ``row``'s line (each repetition, the median, the best)."""
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(row))
    cells = line.strip()[len(row) :].replace("median", "").replace("best", "").split()
    return [float(c.replace(",", "")) for c in cells]


def test_loss_section_prints_its_rows(capsys):
    _bench().main(["--quick", "--section", "loss"])
    out = capsys.readouterr().out
    for row in LOSS_ROWS:
        rates = _rates(out, row)
        assert len(rates) == 3 and all(r > 0 for r in rates), (row, rates)
    assert "jinit/optax loss, grad only: " in out
    assert "== engine" not in out and "== setup" not in out


def test_bad_arguments_are_refused(capsys):
    bench = _bench()
    for argv, words in [
        (["--runs", "13"], "--runs must be a positive multiple of 6"),
        (["--runs", "12", "--block", "5"], "--block must be a positive divisor"),
    ]:
        with pytest.raises(SystemExit):
            bench.parse(argv)
        assert words in capsys.readouterr().err


@pytest.mark.slow  # about 50 s on 2 busy cores: two fresh processes and five sweep compiles
def test_whole_script_quick_in_a_fresh_process():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                         text=True, check=True, cwd=SCRIPT.parents[1]).stdout  # fmt: skip
    for row in LOSS_ROWS + ENGINE_ROWS:
        rates = _rates(out, row)
        assert len(rates) == 3 and all(r > 0 for r in rates), (row, rates)
    assert "engine chunk/bare scan: " in out
    for row in ["initial draws (initial_params)", "compile (chunk and evaluate)", "run_s"]:
        assert row in out
