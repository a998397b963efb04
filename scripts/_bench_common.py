"""Round-by-round measurement shared by the benchmark scripts (``bench_sweep.py``,
``bench_engine_parts.py``).

On a small shared machine one timing can move by 1.7x between two runs minutes apart, so a
comparison of two measurements taken apart says little. These helpers measure every variant
once per round, all variants in turn (interleaved), so that machine noise hits all alike, and
take a ratio only WITHIN a round (the two variants measured next to each other); over the
rounds they report the median and the [lowest-highest].
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import NamedTuple


def rounds[T](
    thunks: dict[str, Callable[[], T]], reps: int, warmup: bool = False
) -> dict[str, list[T]]:
    """``reps`` rounds of every thunk in turn (round r calls each once, in order); with
    ``warmup``, one untimed call of each first. Returns each thunk's results, round by round."""
    if reps < 1:
        raise ValueError(f"reps must be a positive number of rounds, got {reps}")
    if warmup:
        for run in thunks.values():
            run()
    out: dict[str, list[T]] = {name: [] for name in thunks}
    for _ in range(reps):
        for name, run in thunks.items():
            out[name].append(run())
    return out


def _measured(values: Sequence[float]) -> list[float]:
    """The values that were measured: NaN marks a round whose measurement failed."""
    return [v for v in values if not math.isnan(v)]


class Spread(NamedTuple):
    """Median and range of one quantity over the rounds that measured it (NaN: not measured;
    all NaN: a NaN spread, printed "n/a")."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("values must hold at least one round, got none")
        ok = _measured(values)
        if not ok:
            return cls(math.nan, math.nan, math.nan)
        return cls(statistics.median(ok), min(ok), max(ok))

    def text(self, fmt: str = ".2f", unit: str = "x") -> str:
        """``"1.23x [1.10-1.40]"`` (median [lowest-highest]); ``"1.23x"`` where every round
        gave the same value as printed (as one round does); ``"n/a"`` if never measured."""
        if math.isnan(self.median):
            return "n/a"
        low, high = f"{self.low:{fmt}}", f"{self.high:{fmt}}"
        return f"{self.median:{fmt}}{unit}" + ("" if low == high else f" [{low}-{high}]")


def round_ratios(num: Sequence[float], den: Sequence[float]) -> list[float]:
    """``num[r] / den[r]`` for every round r: each ratio of two values measured side by side."""
    return [a / b for a, b in zip(num, den, strict=True)]


class Verdict(NamedTuple):
    """A target ``ratio >= goal`` judged on per-round ratios: ``met`` if the median meets it
    (rounds whose ratio is NaN, i.e. not measured, are left out)."""

    spread: Spread
    goal: float
    met_rounds: int
    n_rounds: int

    @classmethod
    def judge(cls, ratios: Sequence[float], goal: float) -> Verdict:
        ok = _measured(ratios)
        return cls(Spread.of(ratios), goal, sum(r >= goal for r in ok), len(ok))

    @property
    def met(self) -> bool:
        return self.spread.median >= self.goal

    def text(self) -> str:
        """``"2.1x [1.9-2.4] (>= 3x: NOT met; met in 0 of 3 rounds)"``."""
        if not self.n_rounds:
            return f"n/a (>= {self.goal:g}x: not measured in any round)"
        word = "met" if self.met else "NOT met"
        n = f"{self.met_rounds} of {self.n_rounds} round{'s' * (self.n_rounds > 1)}"
        return f"{self.spread.text('.1f')} (>= {self.goal:g}x: {word}; met in {n})"
