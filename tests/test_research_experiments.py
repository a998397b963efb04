"""The research experiments register, and their checks fail on a wrong measurement."""

import numpy as np
import pytest

from jinit import experiments, stats
from jinit.experiments import research_lsuv, research_mup


def test_research_experiments_are_registered():
    names = {"lsuv", "mup-coordcheck", "residual-no-norm", "zero-init", "metainit", "gradinit",
             "mup-transfer", "transformer-depth"}
    assert names <= set(experiments.available())


def test_lsuv_checks_fail_when_variance_is_off_or_orthogonal_trains_as_well():
    good = research_lsuv.lsuv_checks(np.ones((3, 31)), stats.compare(
        np.array([0.9, 0.92, 0.91]), np.array([0.08, 0.07, 0.08]), method="t"), 0.1)  # fmt: skip
    assert [c.passed for c in good] == [True, True]
    bad = research_lsuv.lsuv_checks(np.full((3, 31), 1.5), stats.compare(
        np.array([0.9, 0.92, 0.91]), np.array([0.89, 0.9, 0.92]), method="t"), 0.1)  # fmt: skip
    assert [c.passed for c in bad] == [False, False]


def test_mup_slope_and_checks_fail_when_mup_logits_grow_like_sp():
    widths = [64, 128, 256, 512]
    grows = np.array([[1.0, 2.0, 4.0, 8.0], [1.1, 2.1, 4.2, 8.1]])
    flat = np.array([[1.0, 1.0, 1.01, 0.99], [1.0, 1.02, 1.0, 1.0]])
    assert research_mup.slope(widths, grows) == pytest.approx([1.0, 0.97], abs=0.05)
    ok = research_mup.mup_checks(
        research_mup.slope(widths, grows), research_mup.slope(widths, flat)
    )
    assert [c.passed for c in ok] == [True, True]
    wrong = research_mup.mup_checks(research_mup.slope(widths, flat),
                                    research_mup.slope(widths, grows))  # fmt: skip
    assert [c.passed for c in wrong] == [False, False]


@pytest.mark.slow
def test_lsuv_experiment_runs_and_passes():
    report = experiments.run("lsuv", seeds=2, steps=400)
    assert report.passed, report.checks_table()


@pytest.mark.slow
def test_mup_coordcheck_runs_and_passes():
    report = experiments.run("mup-coordcheck", seeds=2, widths=(64, 256, 1024))
    assert report.passed, report.checks_table()


def test_residual_checks_fail_when_he_does_not_explode_or_a_method_lags_batch_norm():
    from jinit.experiments import research_residual as rr

    good = np.array([0.97, 0.98])
    growth = {"he": [1e6, 1e7], "fixup": [1.0, 1.0], "skipinit": [1.0, 1.0], "rezero": [1, 1]}
    acc = {"he": np.array([0.1, 0.1]), "fixup": good, "skipinit": good, "rezero": good,
           "batchnorm": np.array([0.98, 0.98])}  # fmt: skip
    ok = rr.residual_checks(growth, acc)
    assert len(ok) == 9 and all(c.passed for c in ok)
    bad_growth = {"he": [3.0, 4.0], "fixup": [1.5, 1.0], "skipinit": [1.0, 2.0], "rezero": [9, 1]}
    bad_acc = {"he": np.array([0.9, 0.9]), "fixup": np.array([0.5, 0.6]),
               "skipinit": np.array([np.nan, 0.9]), "rezero": np.array([0.4, 0.3]),
               "batchnorm": np.array([0.98, 0.5])}  # fmt: skip
    bad = rr.residual_checks(bad_growth, bad_acc)
    assert not any(c.passed for c in bad)
    diverged = rr.residual_checks(growth, acc | {"he": np.array([np.nan, 0.1])})
    assert diverged[4].passed  # a diverged run (nan accuracy) counts as failing, not as unknown


@pytest.mark.slow
def test_residual_no_norm_runs_and_passes():
    report = experiments.run("residual-no-norm", seeds=2, depth=30, steps=200)
    assert report.passed, report.checks_table()


def test_zero_checks_fail_on_seed_dependent_init_or_worse_accuracy():
    from jinit.experiments import research_zero as rz

    he = np.array([0.97, 0.98, 0.975])
    assert [c.passed for c in rz.zero_checks(0.0, he + 0.001, he)] == [True, True]
    assert [c.passed for c in rz.zero_checks(0.1, he - 0.2, he)] == [False, False]


@pytest.mark.slow
def test_zero_init_runs_and_passes():
    report = experiments.run("zero-init", seeds=2, steps=200)
    assert report.passed, report.checks_table()


def test_tuning_checks_fail_when_the_bad_init_trains_or_the_method_does_not():
    from jinit.experiments import research_tuning as rt

    he = np.array([0.975, 0.98, 0.97])
    ok = rt.training_checks("metainit", {"bad": np.full(3, 0.1), "metainit": he - 0.01,
                                         "he": he}, "src")  # fmt: skip
    assert [c.passed for c in ok] == [True, True, True]
    # the bad init trains, the method lags He and gains little over the bad init
    bad = rt.training_checks("gradinit", {"bad": np.array([0.8, 0.85, 0.9]),
                                          "gradinit": np.array([0.85, 0.7, 0.9]), "he": he},
                             "src")  # fmt: skip
    assert [c.passed for c in bad] == [False, False, False]
    # a diverged method (nan accuracy) counts as 0, never as unknown
    nan = rt.training_checks("metainit", {"bad": np.full(3, 0.1), "metainit": np.full(
        3, np.nan), "he": he}, "src")  # fmt: skip
    assert [c.passed for c in nan] == [True, False, False]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["metainit", "gradinit"])
def test_tuning_experiments_run_and_pass(name):
    report = experiments.run(name, seeds=2)
    assert report.passed, report.checks_table()


def test_mup_transfer_optimum_and_checks_fail_when_mup_shifts_or_sp_does_not():
    from jinit.experiments import research_mup_transfer as mt

    x = np.arange(-8.0, 0.0)
    curve = np.exp((x + 4.3) ** 2)  # log loss a parabola with its vertex at -4.3
    assert mt.optimum(x, curve) == pytest.approx(-4.3)
    # the best point beside a diverged (NaN) rate: no parabola, the grid point itself
    assert mt.optimum(x, np.where(x > -2, np.nan, 1.0 / np.exp(x))) == -2.0
    assert mt.optimum(x, np.exp(x)) == -8.0  # at the grid's end
    ok = mt.transfer_checks(np.array([2.0, 2.5, 1.8]), np.array([0.1, -0.3, 0.2]))
    assert [c.passed for c in ok] == [True, True]
    wrong = mt.transfer_checks(np.array([0.1, -0.3, 0.2]), np.array([2.0, 2.5, 1.8]))
    assert [c.passed for c in wrong] == [False, False]


@pytest.mark.slow
def test_mup_transfer_runs_and_passes():
    report = experiments.run("mup-transfer", seeds=2)
    assert report.passed, report.checks_table()


def test_depth_checks_fail_when_the_default_stays_flat_or_a_scaling_grows():
    from jinit.experiments import research_transformer as rt

    flat, grows = np.array([0.01, -0.02, 0.0]), np.array([0.5, 0.55, 0.48])
    ok = rt.depth_checks({"default": grows, "gpt2": flat, "deepnorm": flat, "tfixup": flat})
    assert [c.passed for c in ok] == [True, True, True, True]
    wrong = rt.depth_checks({"default": flat, "gpt2": grows, "deepnorm": grows,
                             "tfixup": -grows})  # fmt: skip
    assert [c.passed for c in wrong] == [False, False, False, False]


@pytest.mark.slow
def test_transformer_depth_runs_and_passes():
    report = experiments.run("transformer-depth", seeds=2, steps=50)
    assert report.passed, report.checks_table()
