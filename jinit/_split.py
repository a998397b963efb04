"""Deterministic stratified splits (the validation split of :class:`jinit.data.Dataset`)."""

from __future__ import annotations

from typing import Any

import numpy as np


def validation_mask(y: Any, fraction: float, seed: int = 0) -> np.ndarray:
    """``[n]`` True for the examples moved to validation: ``round(fraction * n_c)`` of the
    ``n_c`` examples of each class ``c`` (at least one where a class has two or more, never
    a whole class), drawn by ``numpy.random.default_rng(seed)``. Labels that are not
    integers (regression targets) form one stratum.

    Example:
        >>> validation_mask(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.5).sum()
        np.int64(4)
    """
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, float | int)
        or not (0 < fraction < 1)
    ):
        raise ValueError(
            f"split_validation: fraction must be a number in (0, 1), got {fraction!r}."
        )
    y = np.asarray(y)
    labels = y.reshape(len(y), -1)[:, 0]
    strata = labels if labels.dtype.kind in "iub" else np.zeros(len(y), int)
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(y), bool)
    for c in np.unique(strata):
        members = np.flatnonzero(strata == c)
        take = round(fraction * len(members))
        take = min(max(take, 1 if len(members) > 1 else 0), len(members) - 1)
        is_val[rng.permutation(members)[:take]] = True
    if not is_val.any():
        raise ValueError(
            f"split_validation: fraction {fraction} of {len(y)} training examples leaves no "
            "validation example."
        )
    return is_val
