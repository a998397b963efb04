"""Statistics across seeds on ``scipy.stats``: summaries, confidence intervals, paired
comparisons of two inits, and Holm's correction for many comparisons.

Anchors: Agarwal et al. (2021), "Deep Reinforcement Learning at the Edge of the Statistical
Precipice" (rliable: interquartile mean, bootstrap confidence intervals, probability of
improvement), and the paired tests of ``scipy.stats``. Every interval can be clipped to the
range the metric cannot leave (``bounds``: a loss is >= 0, an accuracy in [0, 1]). Bootstrap
resampling uses a fixed seed (``seed=0``), so every number here is reproducible.

Example:
    >>> import numpy as np
    >>> from jinit import stats
    >>> a = np.array([0.91, 0.93, 0.95, 0.92, 0.94, 0.96, 0.93, 0.95])
    >>> c = stats.compare(a, a - 0.02)
    >>> round(c.diff, 4), c.prob_improvement > 0.5, c.n_pairs
    (0.02, True, 8)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

# scipy.stats loads on first use (it takes ~0.4 s to import): ``import jinit`` stays fast.

Bounds = tuple[float, float] | None
Method = Literal["t", "percentile", "basic", "bca"]
METHODS = ("t", "percentile", "basic", "bca")
_RESAMPLES = 9999


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t distribution with ``df`` degrees of freedom
    (``scipy.stats.t.ppf``)."""
    if not df >= 1:
        raise ValueError(f"t_quantile: df must be >= 1, got {df}.")
    from scipy import stats as _st

    return float(_st.t.ppf(p, df))


def interquartile_mean(values: Any) -> float:
    """The mean of the middle 50% of the values (``scipy.stats.trim_mean(v, 0.25)``): robust
    to outlying runs, more efficient than the median (Agarwal et al. 2021)."""
    from scipy import stats as _st

    v = np.asarray(values, np.float64).ravel()
    return float(_st.trim_mean(v, 0.25)) if v.size else math.nan


def _clip(lo: float, hi: float, bounds: Bounds) -> tuple[float, float]:
    if bounds is None:
        return lo, hi
    return float(np.clip(lo, *bounds)), float(np.clip(hi, *bounds))


def _check(confidence: float, method: str) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}.")
    if method not in METHODS:
        raise ValueError(f"unknown interval method {method!r}; accepted: {', '.join(METHODS)}.")


def _bootstrap(
    data: tuple[np.ndarray, ...],
    statistic: Callable,
    confidence: float,
    method: str,
    seed: int,
    paired: bool = False,
) -> tuple[float, float]:
    """scipy.stats.bootstrap's interval; where every resample gives the same value (no
    spread, e.g. identical samples) the interval is that value."""
    from scipy import stats as _st

    with warnings.catch_warnings():  # a degenerate BCa interval is handled below
        warnings.simplefilter("ignore", _st.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _st.bootstrap(
            data, statistic, n_resamples=_RESAMPLES, confidence_level=confidence,
            paired=paired, method="BCa" if method == "bca" else method, vectorized=True,
            batch=500, rng=np.random.default_rng(seed),
        )  # fmt: skip
    dist = res.bootstrap_distribution
    if np.ptp(dist) == 0:
        return float(dist.flat[0]), float(dist.flat[0])
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(lo) and math.isfinite(hi)):  # BCa undefined: fall back to percentiles
        alpha = (1 - confidence) / 2
        lo, hi = (float(x) for x in np.quantile(dist, [alpha, 1 - alpha]))
    return lo, hi


def mean_interval(
    values: Any,
    confidence: float = 0.95,
    method: Method = "t",
    bounds: Bounds = None,
    seed: int = 0,
) -> tuple[float, float]:
    """A confidence interval of the mean of finite ``values``: Student's t (``"t"``) or a
    bootstrap (``"percentile"``, ``"basic"``, ``"bca"``: ``scipy.stats.bootstrap``, 9999
    resamples), clipped to ``bounds``. NaN bounds with fewer than two values.

    Example:
        >>> from jinit.stats import mean_interval
        >>> lo, hi = mean_interval([0.2, 0.4, 0.5, 0.9], method="t")
        >>> round(lo, 4), round(hi, 4)
        (0.0316, 0.9684)
    """
    _check(confidence, method)
    v = np.asarray(values, np.float64).ravel()
    if v.size < 2:
        return math.nan, math.nan
    if method == "t":
        mean, sem = float(v.mean()), float(v.std(ddof=1)) / math.sqrt(v.size)
        half = t_quantile(0.5 + confidence / 2, v.size - 1) * sem
        lo, hi = mean - half, mean + half
    else:
        lo, hi = _bootstrap((v,), _mean_last, confidence, method, seed)
    return _clip(lo, hi, bounds)


def _mean_last(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def describe(
    values: Any,
    confidence: float = 0.95,
    bounds: Bounds = None,
    method: Method = "t",
) -> dict[str, float]:
    """n, mean, std, median, interquartile mean, min, max and a confidence interval of the
    mean (:func:`mean_interval`; Student's t by default, clipped to ``bounds``).

    Non-finite values are left out (count them separately, e.g. as diverged runs). With a
    single value no spread can be estimated: the interval bounds are NaN. ``bounds``: the
    range the metric cannot leave (``(0, 1)`` for an accuracy, ``(0, inf)`` for a loss).

    Example:
        >>> from jinit.stats import describe
        >>> d = describe([0.5, 1.0, 1.0], bounds=(0.0, 1.0))
        >>> round(d["mean"], 4), round(d["ci_low"], 4), d["ci_high"]
        (0.8333, 0.1162, 1.0)
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = v.size
    if n == 0:
        nan = math.nan
        keys = ("mean", "std", "median", "iqm", "min", "max", "ci_low", "ci_high")
        return dict(n=0, **dict.fromkeys(keys, nan))
    lo, hi = mean_interval(v, confidence, method, bounds)
    return dict(
        n=n,
        mean=float(v.mean()),
        std=float(v.std(ddof=1)) if n > 1 else math.nan,
        median=float(np.median(v)),
        iqm=interquartile_mean(v),
        min=float(v.min()),
        max=float(v.max()),
        ci_low=lo,
        ci_high=hi,
    )


# --------------------------------------------------------------------------- paired comparison


class Comparison(NamedTuple):
    """Two inits compared on one metric, paired by seed (:func:`compare`).

    Attributes:
      diff: mean over seeds of ``a - b``.
      diff_ci: its paired bootstrap confidence interval.
      p_value: two-sided Wilcoxon signed-rank p-value of ``a - b`` (1.0 if all pairs tie).
      prob_improvement: P(a > b) + P(a = b) / 2 for a run of each (ties count 1/2).
      prob_improvement_ci: its paired bootstrap confidence interval.
      n_pairs: the number of seeds compared.
      confidence: the level of both intervals.
    """

    diff: float
    diff_ci: tuple[float, float]
    p_value: float
    prob_improvement: float
    prob_improvement_ci: tuple[float, float]
    n_pairs: int
    confidence: float = 0.95

    def __str__(self) -> str:
        pct = f"{self.confidence:.0%}"
        lo, hi = self.diff_ci
        plo, phi = self.prob_improvement_ci
        return (
            f"diff {self.diff:+.4g} [{pct} CI {lo:+.4g}, {hi:+.4g}], "
            f"P(improvement) {self.prob_improvement:.3f} [{plo:.3f}, {phi:.3f}], "
            f"Wilcoxon p = {self.p_value:.3g}, {self.n_pairs} pairs"
        )


def _prob_improvement(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2, X a value of ``a``, Y of ``b`` (the Mann-Whitney U / (n m))."""
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    x, y = a[..., :, None], b[..., None, :]
    return np.mean((x > y) + 0.5 * (x == y), axis=(-2, -1))


def _paired_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(a == b, 0.0, a - b)  # inf - inf (both runs failed) is a tie


def _wilcoxon(d: np.ndarray) -> float:
    if not np.any(d != 0):
        return 1.0
    from scipy import stats as _st

    return float(_st.wilcoxon(d).pvalue)


def _diff_stat(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(_paired_diff(a, b), axis=axis)


def compare(
    a: Any,
    b: Any,
    confidence: float = 0.95,
    method: Method = "bca",
    seed: int = 0,
) -> Comparison:
    """Compare ``a`` with ``b``, two arrays of one metric paired by seed (``a[s]``, ``b[s]``
    from the same seed, data order and step randomness).

    - ``diff``: the mean paired difference ``mean(a - b)``, with a paired bootstrap interval
      (``scipy.stats.bootstrap(paired=True)``, ``method`` percentile, basic or BCa; ``"t"``
      gives the paired t interval).
    - ``p_value``: the Wilcoxon signed-rank test of ``a - b`` (``scipy.stats.wilcoxon``,
      two-sided; zero differences dropped, as scipy's default).
    - ``prob_improvement``: P(a > b) with ties counting 1/2, over all (run of a, run of b)
      pairs: the Mann-Whitney U statistic over ``n^2`` (Agarwal et al. 2021); its interval
      resamples seeds with their pairs.

    Values may be +-inf (a failed run set to the worst value of an unbounded metric): the
    rank statistics stay defined; the mean difference is then infinite or NaN and its
    interval NaN. NaN values are refused: decide first what a missing run counts as.

    Example:
        >>> import numpy as np
        >>> from jinit.stats import compare
        >>> c = compare(np.arange(10.0), np.arange(10.0))
        >>> c.diff, c.diff_ci, c.prob_improvement, c.p_value
        (0.0, (0.0, 0.0), 0.5, 1.0)
    """
    _check(confidence, method)
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"compare: a and b must be paired (same length), got {a.size} and {b.size}."
        )
    if a.size < 2:
        raise ValueError(f"compare: need at least 2 pairs, got {a.size}.")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("compare: NaN values; count a failed run as the metric's worst value.")
    d = _paired_diff(a, b)
    finite = bool(np.isfinite(d).all())
    if not finite:
        diff_ci = (math.nan, math.nan)
    elif method == "t":
        diff_ci = mean_interval(d, confidence, "t")
    else:
        diff_ci = _bootstrap((a, b), _diff_stat, confidence, method, seed, paired=True)
    p_method = "percentile" if method == "t" else method
    prob_ci = _bootstrap((a, b), _prob_improvement, confidence, p_method, seed, paired=True)
    return Comparison(
        diff=float(np.mean(d)),
        diff_ci=diff_ci,
        p_value=_wilcoxon(d),
        prob_improvement=float(_prob_improvement(a, b)),
        prob_improvement_ci=_clip(*prob_ci, (0.0, 1.0)),
        n_pairs=int(a.size),
        confidence=confidence,
    )


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979): sort p ascending, multiply the i-th
    smallest (from 0) by ``m - i``, take running maxima, cap at 1. Controls the family-wise
    error rate for any dependence between the tests.

    Example:
        >>> from jinit.stats import holm
        >>> holm([0.01, 0.04, 0.03]).round(4).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, np.float64).ravel()
    if np.any((p < 0) | (p > 1) | np.isnan(p)):
        raise ValueError(f"holm: p-values must lie in [0, 1], got {p.tolist()}.")
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out
