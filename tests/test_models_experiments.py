"""The resnet-depth and transformer-init experiments: checks that pass on the right
measurements and fail on wrong ones; tiny end-to-end runs (slow)."""

from __future__ import annotations

import numpy as np
import pytest
from test_experiments_checks import assert_every_criterion_can_fail

from jinit import experiments
from jinit.experiments import resnet_depth, transformer_init
from jinit.report import Report


def _stream(growth_per_block: float, blocks: int, seeds: int = 3) -> np.ndarray:
    steps = np.arange(blocks) * np.log2(growth_per_block)
    return np.tile(2.0**steps, (seeds, 1)) * (1 + 0.01 * np.arange(seeds))[:, None]


def _resnet_measurements(he_rate: float = np.sqrt(2), zero_rate: float = 1.0, acc: float = 0.95):
    depths = (8, 20, 56)
    he = {d: _stream(he_rate, (d - 2) // 2) for d in depths}
    zero = {d: _stream(zero_rate, (d - 2) // 2) for d in depths}
    failed = np.full(3, acc < 0.9)
    return he, zero, {"he+bn": (failed, np.array([acc, acc + 0.01, acc - 0.01])),
                      "zero-gamma+bn": (failed, np.full(3, acc))}  # fmt: skip


def test_resnet_depth_checks_pass_on_the_law_and_fail_otherwise():
    checks = resnet_depth.depth_checks(*_resnet_measurements())
    assert all(c.passed for c in checks), [c.label for c in checks if not c.passed]
    assert_every_criterion_can_fail(Report("resnet-depth", "sweep", "t", "s", checks=checks))
    flat_he = resnet_depth.depth_checks(*_resnet_measurements(he_rate=1.0))
    assert [c.passed for c in flat_he[:2]] == [False, False]  # no explosion measured
    growing_zero = resnet_depth.depth_checks(*_resnet_measurements(zero_rate=1.01))
    assert growing_zero[2].passed is False
    untrained = resnet_depth.depth_checks(*_resnet_measurements(acc=0.5))
    assert [c.passed for c in untrained[3:]] == [False, False]


def _transformer_measurements(scaled_rate: float = 1.0, small_rate: float = 1.1,
                              drop: float = 0.3):  # fmt: skip
    depths = (2, 4, 8, 16)
    streams = {
        "xavier": {d: _stream(1.2, d) for d in depths},
        "gpt2-0.02": {d: _stream(small_rate, d) for d in depths},
        "gpt2-scaled": {d: _stream(scaled_rate, d) for d in depths},
    }
    curve = np.array([[3.0, 2.0, 3.0 * drop]] * 3)
    return streams, {name: curve for name in streams}


def test_transformer_init_checks_pass_on_the_claim_and_fail_otherwise():
    checks = transformer_init.transformer_checks(*_transformer_measurements())
    assert all(c.passed for c in checks), [c.label for c in checks if not c.passed]
    assert_every_criterion_can_fail(Report("transformer-init", "sweep", "t", "s", checks=checks))
    assert transformer_init.transformer_checks(
        *_transformer_measurements(scaled_rate=1.1))[0].passed is False  # fmt: skip
    assert transformer_init.transformer_checks(
        *_transformer_measurements(small_rate=1.0))[1].passed is False  # fmt: skip
    stuck = transformer_init.transformer_checks(*_transformer_measurements(drop=1.5))
    assert not any(c.passed for c in stuck[2:])


def test_both_are_registered():
    assert {"resnet-depth", "transformer-init"} <= set(experiments.available())


@pytest.mark.slow
def test_resnet_depth_tiny_run():
    rep = experiments.get("resnet-depth").run(seeds=2, steps=4, depths=(4, 6), channels=4,
                                              n_probe=16)  # fmt: skip
    assert len(rep.checks) == 5 and len(rep.profiles) == 4
    zero = next(c for c in rep.checks if c.label.startswith("zero-branch"))
    assert zero.passed  # exact at any size


@pytest.mark.slow
def test_transformer_init_tiny_run():
    rep = experiments.get("transformer-init").run(seeds=2, steps=4, depths=(1, 2), d_model=8,
                                                  p=5, n_probe=8)  # fmt: skip
    assert len(rep.checks) == 5 and rep.result.metrics["train_loss"].shape[:2] == (3, 2)
