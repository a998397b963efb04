"""Summary statistics across seeds: means with Student-t confidence intervals, medians."""

from __future__ import annotations

import math

import numpy as np


def _normal_quantile(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation, ~1e-9 relative)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        num = ((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]
        return num / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
    if p > 1 - lo:
        return -_normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    num = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
    return num / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)


def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t distribution with ``df`` degrees of freedom.

    Exact for df = 1 and 2; otherwise the Cornish-Fisher expansion of Abramowitz & Stegun
    26.7.5 about the normal quantile (relative error below 1e-3 for df >= 3 at p = 0.975).
    """
    if df < 1:
        raise ValueError(f"t_quantile: df must be >= 1, got {df}.")
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = _normal_quantile(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def describe(
    values: np.ndarray,
    confidence: float = 0.95,
    bounds: tuple[float, float] | None = None,
) -> dict[str, float]:
    """n, mean, std, median, min, max and the t confidence interval of the mean.

    Non-finite values are left out (count them separately, e.g. as diverged runs). With a
    single value no spread can be estimated: the interval bounds are NaN. ``bounds``: the
    range the metric cannot leave (``(0, 1)`` for an accuracy); the interval is clipped to it.

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
        nan = float("nan")
        return dict(n=0, mean=nan, std=nan, median=nan, min=nan, max=nan, ci_low=nan, ci_high=nan)
    mean = float(v.mean())
    std = float(v.std(ddof=1)) if n > 1 else float("nan")
    if n > 1:
        half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
        lo, hi = mean - half, mean + half
        if bounds is not None:
            lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    else:
        lo = hi = float("nan")
    return dict(
        n=n,
        mean=mean,
        std=std,
        median=float(np.median(v)),
        min=float(v.min()),
        max=float(v.max()),
        ci_low=lo,
        ci_high=hi,
    )
