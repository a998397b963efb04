"""The results of a sweep: metrics per (init, seed, eval point), summaries, files."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from typing import Any

import numpy as np

from jinit import stats

FINAL_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


@dataclasses.dataclass
class SweepResult:
    """What :func:`jinit.sweep` returns.

    Attributes:
      inits: init names, in order (axis 0 of every metric).
      specs: a readable description of each init.
      seeds: the seeds (axis 1).
      eval_steps: the number of updates done at each eval point (axis 2).
      metrics: ``{name: array [n_inits, n_seeds, n_evals]}``: ``train_loss``, ``train_acc``,
        ``test_loss``, ``test_acc`` and any extra metrics.
      diverged_step: ``[n_inits, n_seeds]``, the step whose loss was first NaN/inf, or -1.
      tracked: what ``track`` returned, with leading axes ``[n_inits, n_seeds, n_evals]``.
      params: final parameters ``[n_inits, n_seeds, ...]`` if ``keep_params=True``.
      config, timing: how the sweep was run and how long it took.
    """

    inits: list[str]
    specs: list[str]
    seeds: np.ndarray
    eval_steps: np.ndarray
    metrics: dict[str, np.ndarray]
    diverged_step: np.ndarray
    tracked: Any = None
    params: Any = None
    config: dict = dataclasses.field(default_factory=dict)
    timing: dict = dataclasses.field(default_factory=dict)

    # ------------------------------------------------------------------ per-run facts

    def final(self, metric: str) -> np.ndarray:
        """``[n_inits, n_seeds]`` values of ``metric`` at the last eval point."""
        return self._metric(metric)[:, :, -1]

    def _metric(self, metric: str) -> np.ndarray:
        if metric not in self.metrics:
            raise KeyError(f"no metric {metric!r}; available: {', '.join(self.metrics)}.")
        return self.metrics[metric]

    @property
    def diverged(self) -> np.ndarray:
        """``[n_inits, n_seeds]`` True where a run's loss became NaN or inf."""
        return self.diverged_step >= 0

    def stuck(self, rtol: float = 1e-3) -> np.ndarray:
        """``[n_inits, n_seeds]`` True where the final train loss is within ``rtol`` of the
        initial one (the run never learned: zeros init, saturated units)."""
        loss = self._metric("train_loss")
        first, last = loss[:, :, 0], loss[:, :, -1]
        with np.errstate(invalid="ignore"):
            return ~self.diverged & (np.abs(last - first) <= rtol * np.abs(first))

    def failed(self, fail_below: float | None = None, metric: str = "train_acc") -> np.ndarray:
        """Runs that diverged, got stuck, or (if ``fail_below`` is given) ended with
        ``metric`` below it."""
        bad = self.diverged | self.stuck()
        if fail_below is not None:
            with np.errstate(invalid="ignore"):
                bad |= ~(self.final(metric) >= fail_below)
        return bad

    # ------------------------------------------------------------------ summaries

    def summary(
        self,
        metrics: tuple[str, ...] = FINAL_METRICS,
        *,
        confidence: float = 0.95,
        fail_below: float | None = None,
    ) -> list[dict[str, Any]]:
        """One row per init: for each final metric its n, mean, std, median, min, max and a
        Student-t confidence interval of the mean over the runs that did not diverge (clipped
        to [0, 1] for accuracies); plus the counts of diverged, stuck and failed runs."""
        rows = []
        stuck, failed = self.stuck(), self.failed(fail_below)
        for i, name in enumerate(self.inits):
            row: dict[str, Any] = {"init": name, "spec": self.specs[i], "runs": len(self.seeds)}
            ok = ~self.diverged[i]
            for m in metrics:
                if m in self.metrics:
                    bounds = (0.0, 1.0) if m.endswith("_acc") else None
                    row[m] = stats.describe(self.final(m)[i][ok], confidence, bounds)
            row["diverged"] = int(self.diverged[i].sum())
            row["stuck"] = int(stuck[i].sum())
            row["failed"] = int(failed[i].sum())
            row["fail_fraction"] = float(failed[i].mean())
            rows.append(row)
        return rows

    def table(
        self, metrics: tuple[str, ...] = ("train_loss", "train_acc", "test_acc"), **kwargs: Any
    ) -> str:
        """The summary as an aligned text table (mean [95% CI], median, min-max)."""
        rows = self.summary(metrics, **kwargs)
        present = [m for m in metrics if m in self.metrics]
        header = ["init", *present, "diverged", "stuck", "failed"]
        body = []
        for row in rows:
            cells = [row["init"]]
            for m in present:
                d = row[m]
                cells.append(_fmt_stat(d))
            cells += [str(row["diverged"]), str(row["stuck"]), str(row["failed"])]
            body.append(cells)
        title = (
            f"{plural(len(self.seeds), 'seed')} x {plural(len(self.inits), 'init')}, "
            f"{self.config.get('steps')} steps; "
            "final metrics: mean [95% CI] (median; min..max)"
        )
        return title + "\n" + _align([header, *body])

    # ------------------------------------------------------------------ files

    def to_dict(self) -> dict[str, Any]:
        """Everything but parameters, as JSON-ready Python types (NaN/inf become None)."""
        return _jsonable(
            {
                "inits": self.inits,
                "specs": self.specs,
                "seeds": self.seeds,
                "eval_steps": self.eval_steps,
                "metrics": self.metrics,
                "diverged_step": self.diverged_step,
                "summary": self.summary(),
                "config": self.config,
                "timing": self.timing,
            }
        )

    def to_json(self, path: str | os.PathLike) -> str:
        """Write :meth:`to_dict` as JSON; returns the path."""
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return os.fspath(path)

    def to_csv(self, path: str | os.PathLike) -> str:
        """Write one row per (init, seed, eval point) with every metric; returns the path."""
        names = list(self.metrics)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["init", "seed", "step", *names, "diverged_step"])
            for i, init in enumerate(self.inits):
                for s, seed in enumerate(self.seeds):
                    for e, step in enumerate(self.eval_steps):
                        vals = [repr(float(self.metrics[m][i, s, e])) for m in names]
                        w.writerow(
                            [init, int(seed), int(step), *vals, int(self.diverged_step[i, s])]
                        )
        return os.fspath(path)

    def plot(
        self, path: str | os.PathLike, metrics: tuple[str, ...] = ("train_loss", "test_acc")
    ) -> str:
        """Curves (median and 10-90% band over seeds) and final distributions; a PNG."""
        from jinit.plots import plot_sweep

        return plot_sweep(self, path, metrics)


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or math.isnan(x):
        return "nan"
    return f"{x:.{digits}g}"


def _fmt_stat(d: dict[str, float]) -> str:
    if d["n"] == 0:
        return "-"
    ci = f" [{_fmt(d['ci_low'], 3)}, {_fmt(d['ci_high'], 3)}]" if d["n"] > 1 else ""
    spread = f"{_fmt(d['median'], 3)}; {_fmt(d['min'], 3)}..{_fmt(d['max'], 3)}"
    return f"{_fmt(d['mean'], 3)}{ci} ({spread})"


def _align(rows: list[list[str]]) -> str:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def plural(n: int, word: str) -> str:
    """``'1 seed'``, ``'3 seeds'``."""
    return f"{n} {word}{'' if n == 1 else 's'}"
