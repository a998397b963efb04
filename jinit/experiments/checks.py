"""Helpers shared by the experiments' checks."""

from __future__ import annotations

import numpy as np
import scipy.stats


def prediction_halfwidth(values: np.ndarray, confidence: float = 0.95) -> float:
    """Half-width of the ``confidence`` prediction interval for one more draw from the
    distribution the ``values`` (one per seed, n >= 2) came from:
    ``t_{(1+confidence)/2, n-1} s sqrt(1 + 1/n)`` (Student t, ``scipy.stats.t``).

    A single published run (the book's, the paper's) is such a draw: it passes when it lies
    within this distance of the seeds' mean.

    Example:
        >>> round(prediction_halfwidth(np.array([1.0, 2.0, 3.0])), 3)
        4.968
    """
    values = np.asarray(values, float)
    n = values.size
    if n < 2:
        raise ValueError(f"prediction_halfwidth: needs at least 2 values, got {n}.")
    t = scipy.stats.t.ppf(0.5 + confidence / 2, n - 1)
    return float(t * values.std(ddof=1) * np.sqrt(1 + 1 / n))
