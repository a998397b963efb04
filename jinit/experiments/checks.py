"""Helpers shared by the experiments' checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats

from jinit.report import Table


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


def accuracy_table(result: Any, spread: str = "worst seed") -> Table:
    """The final test accuracy of every init of ``result`` (a ``SweepResult``): its mean over
    seeds and ``spread``, ``"worst seed"`` (the minimum) or ``"std over seeds"``."""
    how = {"worst seed": np.min, "std over seeds": np.std}
    if spread not in how:
        raise ValueError(f"accuracy_table: spread must be one of {', '.join(how)}, got {spread!r}.")
    acc = result.final("test_acc")
    rows = [[n, float(np.mean(acc[i])), float(how[spread](acc[i]))]
            for i, n in enumerate(result.inits)]  # fmt: skip
    return Table("final test accuracy", ["init", "mean", spread], rows)
