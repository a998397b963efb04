"""Reproductions: Coursera (circles, planar) and the depth experiments, at small sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jinit import experiments


def test_registry_lists_every_experiment():
    names = experiments.available()
    for name in ("coursera-init", "planar", "deep-relu", "saturation", "deep-linear"):
        assert name in names
    with pytest.raises(ValueError, match="Did you mean 'planar'"):
        experiments.get("planr")


def test_coursera_faithful_passes_every_check():
    rep = experiments.run("coursera-init", faithful=True)
    assert rep.passed, rep.text()
    labels = {c.label: c for c in rep.checks}
    assert labels["He: cost at iteration 14000"].measured == pytest.approx(0.0735790, abs=1e-3)
    assert math.isinf(labels["random x10: cost at iteration 0"].measured)


def test_coursera_sweep_counts_failures_per_init():
    rep = experiments.run("coursera-init", seeds=4, steps=200)
    rows = {row["init"]: row for row in rep.result.summary(fail_below=rep.fail_below)}
    assert set(rows) == {"zeros", "small x0.01", "large x10", "lecun", "xavier", "he"}
    assert rows["zeros"]["failed"] == 4 and rows["zeros"]["stuck"] == 4
    for row in rows.values():
        assert 0 <= row["fail_fraction"] <= 1
    assert "failed" in rep.text()


def test_planar_faithful_zeros_never_breaks_symmetry():
    rep = experiments.run("planar", faithful=True)
    assert rep.passed, rep.text()
    labels = {c.label: c for c in rep.checks}
    assert labels["zeros: distinct hidden units after training"].measured == 1
    assert labels["randn*0.01: distinct hidden units after training"].measured == 4
    cost = rep.result.metrics["train_course_cost"][1, 0]
    np.testing.assert_allclose(cost, 0.693147, atol=1e-6)


def test_deep_relu_signal_and_training():
    rep = experiments.run("deep-relu", seeds=2, depths=(30,), steps=300, width=256)
    assert rep.passed, rep.text()
    checks = {c.label.split(":")[0]: c for c in rep.checks}
    assert checks["xavier, depth 30"].measured < 1e-3
    assert 1 / 3 < checks["he, depth 30"].measured < 3
    assert checks["depth 30"].measured > 0.2  # He's test accuracy beats Xavier's


def test_saturation_tracks_layers_during_training():
    rep = experiments.run("saturation", seeds=2, steps=200, width=64)
    sat = rep.result.tracked["frac_saturated"]
    assert sat.shape[:2] == (2, 2) and sat.shape[-1] == 5  # inits, seeds, evals, layers
    assert ((sat >= 0) & (sat <= 1)).all()
    assert "fraction of saturated units" in rep.text()


def test_deep_linear_orthogonal_is_depth_independent():
    rep = experiments.run("deep-linear", seeds=2, depths=(2, 32), steps=1500)
    assert rep.passed, rep.text()


def test_deep_linear_too_few_steps_fails_instead_of_passing():
    """With 10 steps no depth reaches the target: no learning time to compare, so both
    checks fail with a note, rather than a 0 or inf ratio passing."""
    rep = experiments.run("deep-linear", seeds=1, depths=(2, 4), steps=10)
    assert not rep.passed
    assert all(math.isnan(c.measured) for c in rep.checks)
    assert any("run with more steps" in note for note in rep.notes)
