"""jinit.stats against direct scipy.stats computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from jinit import stats


@pytest.mark.parametrize("df", [1, 2, 3, 5, 30])
@pytest.mark.parametrize("p", [0.9, 0.975, 0.995])
def test_t_quantile_is_scipy(p, df):
    # The old Cornish-Fisher expansion was off by 1.2e-3 at df=3, p=0.975.
    assert stats.t_quantile(p, df) == pytest.approx(st.t.ppf(p, df), rel=1e-12)


def test_describe_t_interval_and_iqm_match_scipy():
    rng = np.random.default_rng(1)
    v = rng.normal(0.8, 0.05, 12)
    d = stats.describe(v)
    lo, hi = st.t.interval(0.95, v.size - 1, loc=v.mean(), scale=st.sem(v))
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((lo, hi), rel=1e-12)
    assert d["iqm"] == pytest.approx(st.trim_mean(v, 0.25), rel=1e-12)
    assert d["median"] == np.median(v) and d["n"] == 12


def test_intervals_are_clipped_to_the_metric_range():
    loss = [0.0001, 0.0002, 0.0003, 0.11]  # the t interval of the mean reaches below 0
    assert st.t.interval(0.95, 3, loc=np.mean(loss), scale=st.sem(loss))[0] < 0
    assert stats.describe(loss, bounds=(0.0, math.inf))["ci_low"] == 0.0
    acc = [0.99, 1.0, 1.0, 0.9]
    assert stats.describe(acc, bounds=(0.0, 1.0))["ci_high"] == 1.0
    for method in ("percentile", "bca"):
        lo, hi = stats.mean_interval(loss, method=method, bounds=(0.0, math.inf))
        assert 0.0 <= lo <= hi


@pytest.mark.parametrize("method", ["percentile", "basic", "bca"])
def test_bootstrap_interval_is_scipy_bootstrap(method):
    v = np.random.default_rng(2).exponential(1.0, 20)
    ref = st.bootstrap(
        (v,), np.mean, method="BCa" if method == "bca" else method,
        rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    got = stats.mean_interval(v, method=method)
    assert got == pytest.approx((ref.low, ref.high), rel=1e-10)


def test_describe_edge_cases():
    assert stats.describe([])["n"] == 0
    one = stats.describe([0.5, math.nan, math.inf])
    assert one["n"] == 1 and math.isnan(one["ci_low"])
    with pytest.raises(ValueError, match="unknown interval method"):
        stats.mean_interval([1.0, 2.0], method="wald")
    with pytest.raises(ValueError, match="confidence"):
        stats.mean_interval([1.0, 2.0], confidence=95)


def test_compare_matches_scipy():
    rng = np.random.default_rng(3)
    b = rng.normal(0.90, 0.02, 15)
    a = b + rng.normal(0.01, 0.01, 15)
    c = stats.compare(a, b)
    assert c.n_pairs == 15 and c.diff == pytest.approx(np.mean(a - b), rel=1e-12)
    assert c.p_value == pytest.approx(st.wilcoxon(a - b).pvalue, rel=1e-12)
    u = st.mannwhitneyu(a, b).statistic
    assert c.prob_improvement == pytest.approx(u / 15**2, rel=1e-12)
    ref = st.bootstrap(
        (a, b), lambda x, y, axis=-1: np.mean(x - y, axis=axis), paired=True,
        rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    assert c.diff_ci == pytest.approx((ref.low, ref.high), rel=1e-10)
    lo, hi = c.prob_improvement_ci
    assert 0 <= lo <= c.prob_improvement <= hi <= 1
    t = stats.compare(a, b, method="t")
    ref_t = st.t.interval(0.95, 14, loc=np.mean(a - b), scale=st.sem(a - b))
    assert t.diff_ci == pytest.approx(ref_t, rel=1e-12)


def test_identical_inits_compare_as_a_coin_flip():
    v = np.random.default_rng(4).normal(0.9, 0.03, 10)
    c = stats.compare(v, v.copy())
    assert c.diff == 0 and c.diff_ci == (0.0, 0.0) and c.p_value == 1.0
    assert c.prob_improvement == 0.5 and c.prob_improvement_ci[0] <= 0.5 <= c.prob_improvement_ci[1]
    # Two independent samples of one law: both intervals cover the null values.
    rng = np.random.default_rng(5)
    c = stats.compare(rng.normal(0.9, 0.03, 30), rng.normal(0.9, 0.03, 30))
    assert c.diff_ci[0] <= 0 <= c.diff_ci[1]
    assert c.prob_improvement_ci[0] <= 0.5 <= c.prob_improvement_ci[1]
    assert c.p_value > 0.05


def test_known_shift_is_detected():
    rng = np.random.default_rng(6)
    b = rng.normal(0.85, 0.03, 20)
    a = rng.normal(0.85, 0.03, 20) + 0.05
    c = stats.compare(a, b)
    assert c.diff_ci[0] > 0 and c.p_value < 0.05
    assert c.prob_improvement_ci[0] > 0.5
    worse = stats.compare(b, a)
    assert worse.diff_ci[1] < 0 and worse.prob_improvement_ci[1] < 0.5
    assert "pairs" in str(c) and "P(improvement)" in str(c) and "Wilcoxon" in str(c)


def test_compare_with_failed_runs_at_infinity():
    a = np.array([0.1, 0.2, 0.15, 0.12, math.inf])  # loss; the last run diverged
    b = np.array([0.3, 0.25, 0.35, 0.3, 0.4])
    c = stats.compare(a, b)
    assert c.prob_improvement == pytest.approx(st.mannwhitneyu(a, b).statistic / 25)
    assert c.diff == math.inf and math.isnan(c.diff_ci[0]) and c.n_pairs == 5
    both = stats.compare(a, np.where(np.isinf(a), math.inf, b))  # both failed: a tie
    assert math.isfinite(both.diff) and math.isfinite(both.diff_ci[0])
    with pytest.raises(ValueError, match="NaN"):
        stats.compare([1.0, math.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="paired"):
        stats.compare([1.0, 2.0], [1.0, 2.0, 3.0])


def test_holm_against_its_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.2])
    m = p.size
    order = np.argsort(p)
    expected = np.empty(m)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[j]))
        expected[j] = running
    np.testing.assert_allclose(stats.holm(p), expected)
    assert stats.holm([0.5, 0.9]).tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="holm"):
        stats.holm([0.1, 1.5])
