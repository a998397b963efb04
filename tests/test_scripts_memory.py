"""scripts/bench_memory.py: the grouped sweep and its bit-equality check (which must fail on
a different result)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "scripts"))
import bench_memory

ARGS = ["--seeds", "4", "--steps", "3", "--block", "6", "--max-memory", "4e6"]
# each: two sweeps, one compile per group size (5-15 s on 2 cores)
slow = pytest.mark.slow


@slow
def test_a_seed_is_the_same_run_bit_for_bit(capsys):
    assert bench_memory.main(ARGS) == 0
    out = capsys.readouterr().out
    assert int(out.split("groups ")[1].split(",")[0]) >= 1, out
    assert out.count("bit-equal") == 3


@slow
def test_a_different_result_fails_the_check(monkeypatch, capsys):
    real = bench_memory.sweep

    def off_by_one_ulp(seeds, args, max_memory):
        r = real(seeds, args, max_memory)
        if isinstance(seeds, list):  # the 3-seed sweep
            loss = r.metrics["train_loss"]
            r.metrics["train_loss"] = np.nextafter(loss, np.inf)
        return r

    monkeypatch.setattr(bench_memory, "sweep", off_by_one_ulp)
    assert bench_memory.main(ARGS) == 1
    assert "DIFFERENT" in capsys.readouterr().out
