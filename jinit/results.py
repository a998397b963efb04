"""The results of a sweep: metrics per (init, seed, eval point), summaries, paired
comparisons, files.

"Failed" has one definition everywhere (tables, reports, the command line): a run failed if
it diverged (its loss became NaN or inf), stayed stuck at its initial loss, or, for a
classifier, ended below 90% final train accuracy (:data:`FAIL_BELOW`).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jinit import _format, losses, stats
from jinit._format import plural
from jinit._validate import did_you_mean

FINAL_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")
FAIL_BELOW = 0.9
"""Default final train accuracy below which a classifier's run counts as failed."""
SPLITS = ("train", "val", "test")
_BUILTIN_LOSSES = frozenset(fn.__name__ for fn in losses.LOSSES.values())
# Metric names whose range and direction are known: (bounds, higher_is_better).
_KNOWN = {
    "acc": ((0.0, 1.0), True),
    "accuracy": ((0.0, 1.0), True),
    "loss": ((0.0, math.inf), False),
    "mse": ((0.0, math.inf), False),
    "mae": ((0.0, math.inf), False),
}


class Metric(NamedTuple):
    """A metric name parsed once: ``"test_acc"`` is split ``"test"``, name ``"acc"``, bounds
    ``(0, 1)``, higher is better. Unknown names have bounds ``(-inf, inf)`` and direction
    None (unknown).

    Example:
        >>> from jinit.results import Metric
        >>> Metric.parse("train_loss")
        Metric(split='train', name='loss', bounds=(0.0, inf), higher_is_better=False)
    """

    split: str | None
    name: str
    bounds: tuple[float, float]
    higher_is_better: bool | None

    @classmethod
    def parse(cls, metric: str, loss_nonnegative: bool = True) -> Metric:
        """Parse ``"<split>_<name>"`` (split one of train, val, test, or absent).
        ``loss_nonnegative=False`` (a user's loss function) leaves a loss unbounded."""
        split, sep, name = metric.partition("_")
        if not sep or split not in SPLITS:
            split, name = None, metric
        bounds, higher = _KNOWN.get(name, ((-math.inf, math.inf), None))
        if name == "loss" and not loss_nonnegative:
            bounds = (-math.inf, math.inf)
        return cls(split, name, bounds, higher)

    @property
    def key(self) -> str:
        """The metric's name in ``SweepResult.metrics``."""
        return f"{self.split}_{self.name}" if self.split else self.name

    @property
    def worst(self) -> float:
        """The worst value of the range: what a failed (diverged) run counts as."""
        if self.higher_is_better is None:
            raise ValueError(
                f"metric {self.key!r}: unknown direction; pass higher_is_better=True/False."
            )
        return self.bounds[0] if self.higher_is_better else self.bounds[1]


class Pair(NamedTuple):
    """One row of :meth:`SweepResult.compare_all`: ``a`` against ``b``, with the
    Holm-adjusted p-value over all the rows compared together."""

    a: str
    b: str
    comparison: stats.Comparison
    p_holm: float


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
      config, timing: how the sweep was run and how long it took (``timing["compiles"]``: the
        compilations of its training program, :mod:`jinit.engine.compiles`).
      model_state: final model state ``[n_inits, n_seeds, ...]`` (batch statistics) if
        ``keep_params=True`` and the model has state.
      configs: with a hyperparameter axis (``jinit.sweep(..., hparams=...)``), the list of
        hyperparameter dicts; every metric then has shape ``[n_inits, n_configs, n_seeds,
        n_evals]`` (``diverged_step``: ``[n_inits, n_configs, n_seeds]``) until
        :meth:`select` or :meth:`tune` takes one config per init. None otherwise.
      chosen: after :meth:`tune`, ``{init: config}``, the config each init was tuned to.
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
    model_state: Any = None
    configs: list[dict[str, Any]] | None = None
    chosen: dict[str, dict[str, Any]] | None = None

    # ------------------------------------------------------------------ per-run facts

    def final(self, metric: str) -> np.ndarray:
        """``[n_inits, n_seeds]`` values of ``metric`` at the last eval point."""
        return self._metric(metric)[:, :, -1]

    def _metric(self, metric: str) -> np.ndarray:
        self._check_3d(f"metric {metric!r}")
        if metric not in self.metrics:
            raise KeyError(f"no metric {metric!r}; available: {', '.join(self.metrics)}.")
        return self.metrics[metric]

    def _index(self, init: str) -> int:
        if init not in self.inits:
            raise did_you_mean(init, self.inits, "init", accepted="In this result")
        return self.inits.index(init)

    def _check_3d(self, what: str) -> None:
        if self.configs is not None:
            n = plural(len(self.configs), "config")
            raise ValueError(
                f"{what}: this result has a hyperparameter axis ({n}); take one config per "
                "init first with result.select(...) or result.tune(...)."
            )

    # ------------------------------------------------------------------ hyperparameters

    def select(self, **values: Any) -> SweepResult:
        """The 3-D result (``[n_inits, n_seeds, n_evals]``) of the one config whose
        hyperparameters equal ``values`` (numbers compared to float round-off; a name left
        out may take any value, but exactly one config must match).

        Example: ``result.select(learning_rate=1e-2).table()``.
        """
        if self.configs is None:
            raise ValueError("select: this result has no hyperparameter axis (no hparams).")
        for name in values:
            if name not in self.configs[0]:
                raise did_you_mean(name, list(self.configs[0]), "hyperparameter")
        hits = [j for j, c in enumerate(self.configs) if _matches(c, values)]
        if len(hits) != 1:
            listed = "; ".join(_config_label(c) for c in self.configs)
            raise ValueError(
                f"select: {_config_label(values)} matches {len(hits)} configs, not one; the "
                f"configs are: {listed}."
            )
        return self._take([hits[0]] * len(self.inits), {"hparams": _plain(self.configs[hits[0]])})

    def tune(
        self, metric: str = "val_loss", mode: str | None = None, *, at: str = "final"
    ) -> SweepResult:
        """Each init at its best config, chosen on ``metric`` (a validation metric, never a
        test one; a train metric is accepted when there is no validation split): the config
        with the best median over seeds of the metric at the final eval point (``at="final"``)
        or at each run's best eval point (``at="best"``). Diverged runs (and NaN values)
        count at the worst value, so a config that diverges on most seeds is not chosen.
        Ties go to the first config. ``mode``: ``"min"`` or ``"max"`` (default: from the
        metric, lower loss, higher accuracy). The 3-D result records ``chosen`` ({init:
        config}) and the specs name each init's config.

        Example: ``result.tune("val_loss").comparison_table("test_acc")``.
        """
        if self.configs is None:
            raise ValueError("tune: this result has no hyperparameter axis (no hparams).")
        m = self._tuning_metric(metric)
        if mode is None:
            mode = {True: "max", False: "min", None: None}[m.higher_is_better]
        if mode not in ("min", "max"):
            raise ValueError(f"tune: mode must be 'min' or 'max', got {mode!r}.")
        if at not in ("final", "best"):
            raise ValueError(f"tune: at must be 'final' or 'best', got {at!r}.")
        sign = 1.0 if mode == "min" else -1.0
        values = sign * self.metrics[metric].astype(np.float64)  # lower is better from here
        values = np.where(np.isnan(values) | self.diverged[..., None], np.inf, values)
        per_run = values[..., -1] if at == "final" else values.min(axis=-1)
        score = np.median(per_run, axis=-1)  # [inits, configs]
        best = [int(np.argmin(row)) for row in score]
        out = self._take(best, {"tuned_on": metric, "tune_mode": mode, "tune_at": at})
        out.chosen = {name: self.configs[j] for name, j in zip(self.inits, best, strict=True)}
        out.specs = [
            f"{spec} @ {_config_label(self.configs[j])}"
            for spec, j in zip(self.specs, best, strict=True)
        ]
        return out

    def _tuning_metric(self, metric: str) -> Metric:
        m = self.metric(metric)
        has_val = any(k.startswith("val_") for k in self.metrics)
        if m.split == "val" or (m.split == "train" and not has_val):
            return m
        raise ValueError(
            f"tune: refusing to select hyperparameters on {metric!r}: tune on a validation "
            "metric (val_loss, val_acc; split one off with Dataset.split_validation) so the "
            "test split stays an unbiased estimate."
        )

    def _take(self, config_index: list[int], note: dict[str, Any]) -> SweepResult:
        """The 3-D result holding config ``config_index[i]`` of init ``i``."""
        rows = np.arange(len(self.inits))
        cols = np.asarray(config_index)

        def take(a: Any) -> Any:
            return None if a is None else np.asarray(a)[rows, cols]

        return dataclasses.replace(
            self,
            metrics={k: take(v) for k, v in self.metrics.items()},
            diverged_step=take(self.diverged_step),
            tracked=_tree_map(take, self.tracked),
            params=_tree_map(take, self.params),
            model_state=_tree_map(take, self.model_state),
            config=self.config | note,
            configs=None,
            chosen=None,
            specs=list(self.specs),
        )

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
        """``[n_inits, n_seeds]`` True where a run failed: it diverged, got stuck (see
        :meth:`stuck`), or ended with ``metric`` below ``fail_below``. ``fail_below=None``
        means :data:`FAIL_BELOW` (0.9) when ``metric`` was measured (a classifier's
        ``train_acc``) and no threshold otherwise; ``fail_below=0`` counts only diverged and
        stuck runs."""
        bad = self.diverged | self.stuck()
        threshold = self._fail_below(fail_below, metric)
        if threshold is not None:
            with np.errstate(invalid="ignore"):
                bad |= ~(self.final(metric) >= threshold)
        return bad

    def _fail_below(self, fail_below: float | None, metric: str) -> float | None:
        if fail_below is None:
            return FAIL_BELOW if metric in self.metrics else None
        self._metric(metric)
        return fail_below

    def fail_definition(self, fail_below: float | None = None, metric: str = "train_acc") -> str:
        """What "failed" means for :meth:`failed` with these arguments, in words."""
        threshold = self._fail_below(fail_below, metric)
        below = f", or final {metric} < {threshold:g}" if threshold else ""
        return f"failed = diverged, stuck at the initial loss{below}"

    def metric(self, name: str) -> Metric:
        """``name`` parsed into a :class:`Metric` (a loss is bounded below by 0 unless the
        sweep trained a loss function of the user's, which may be negative)."""
        if name not in self.metrics:
            raise KeyError(f"no metric {name!r}; available: {', '.join(self.metrics)}.")
        loss = self.config.get("loss")
        return Metric.parse(name, loss_nonnegative=loss is None or loss in _BUILTIN_LOSSES)

    # ------------------------------------------------------------------ summaries

    def summary(
        self,
        metrics: tuple[str, ...] = FINAL_METRICS,
        *,
        confidence: float = 0.95,
        fail_below: float | None = None,
        ci: stats.Method = "t",
    ) -> list[dict[str, Any]]:
        """One row per init: for each final metric its n, mean, std, median, interquartile
        mean, min, max and a confidence interval of the mean (``ci``: Student's t, or a
        bootstrap: ``"percentile"``, ``"basic"``, ``"bca"``) over the runs that did not
        diverge, clipped to the metric's range (losses >= 0, accuracies in [0, 1]); plus the
        counts of diverged, stuck and failed runs (:meth:`failed`)."""
        rows = []
        stuck, failed = self.stuck(), self.failed(fail_below)
        for i, name in enumerate(self.inits):
            row: dict[str, Any] = {"init": name, "spec": self.specs[i], "runs": len(self.seeds)}
            ok = ~self.diverged[i]
            for m in metrics:
                if m in self.metrics:
                    bounds = self.metric(m).bounds
                    row[m] = stats.describe(self.final(m)[i][ok], confidence, bounds, ci)
            row["diverged"] = int(self.diverged[i].sum())
            row["stuck"] = int(stuck[i].sum())
            row["failed"] = int(failed[i].sum())
            row["fail_fraction"] = float(failed[i].mean())
            rows.append(row)
        return rows

    def table(
        self, metrics: tuple[str, ...] = ("train_loss", "train_acc", "test_acc"), **kwargs: Any
    ) -> str:
        """The summary as an aligned text table (mean [95% CI], median, min-max), under a
        title that states what "failed" means."""
        rows = self.summary(metrics, **kwargs)
        present = [m for m in metrics if m in self.metrics]
        header = ["init", *present, "diverged", "stuck", "failed"]
        body = []
        for row in rows:
            cells = [row["init"], *(_format.stat(row[m]) for m in present)]
            cells += [str(row["diverged"]), str(row["stuck"]), str(row["failed"])]
            body.append(cells)
        pct = f"{kwargs.get('confidence', 0.95):.0%}"
        title = (
            f"{plural(len(self.seeds), 'seed')} x {plural(len(self.inits), 'init')}, "
            f"{self.config.get('steps')} steps; "
            f"final metrics: mean [{pct} CI] (median; min..max); "
            f"{self.fail_definition(kwargs.get('fail_below'))}"
        )
        return title + "\n" + _format.table([header, *body])

    # ------------------------------------------------------------------ comparisons

    def _paired_values(self, metric: Metric, higher_is_better: bool | None) -> np.ndarray:
        """Final values ``[n_inits, n_seeds]`` with failed-to-finish runs (diverged, or a NaN
        value) set to the worst value of the metric's range."""
        values = self.final(metric.key).astype(np.float64)
        bad = self.diverged | np.isnan(values)
        if bad.any():
            worst = metric._replace(higher_is_better=higher_is_better).worst
            values = np.where(bad, worst, values)
        return values

    def compare(
        self,
        a: str,
        b: str,
        metric: str = "test_acc",
        *,
        confidence: float = 0.95,
        method: stats.Method = "bca",
        higher_is_better: bool | None = None,
    ) -> stats.Comparison:
        """Init ``a`` against init ``b`` on the final ``metric``, paired by seed
        (:func:`jinit.stats.compare`): ``diff`` is mean(a - b) in the metric's units (for a
        loss, negative means a is better), ``prob_improvement`` is the probability that a
        run of ``a`` does *better* than a run of ``b`` (higher accuracy, lower loss; ties
        count 1/2), with the Wilcoxon signed-rank p-value.

        Divergent runs are not dropped: they count as failures, at the worst value of the
        metric's range (accuracy 0, loss +inf, which makes the mean difference infinite
        while the rank statistics stay defined). ``higher_is_better`` gives the direction of
        a metric jinit does not know (an extra metric).

        Example:
            >>> import numpy as np
            >>> from jinit.results import SweepResult
            >>> acc = np.array([[0.95, 0.97, 0.96, 0.98], [0.90, 0.93, 0.91, 0.92]])
            >>> r = SweepResult(["he", "xavier"], ["he", "xavier"], np.arange(4),
            ...                 np.array([100]), {"test_acc": acc[:, :, None]},
            ...                 np.full((2, 4), -1))
            >>> c = r.compare("he", "xavier", metric="test_acc")
            >>> round(c.diff, 3), c.prob_improvement, c.n_pairs
            (0.05, 1.0, 4)
        """
        m = self.metric(metric)
        higher = m.higher_is_better if higher_is_better is None else higher_is_better
        values = self._paired_values(m, higher)
        va, vb = values[self._index(a)], values[self._index(b)]
        if higher is None:
            raise ValueError(
                f"compare: metric {metric!r} has no known direction; pass "
                "higher_is_better=True or False."
            )
        c = stats.compare(va, vb, confidence, method)
        if higher:
            return c
        better = stats.compare(vb, va, confidence, method)  # P(a better) = P(b > a) for a loss
        return c._replace(
            prob_improvement=better.prob_improvement,
            prob_improvement_ci=better.prob_improvement_ci,
        )

    def compare_all(
        self,
        metric: str = "test_acc",
        baseline: str | None = None,
        **kwargs: Any,
    ) -> list[Pair]:
        """:meth:`compare` for every pair of inits (``baseline=None``: each pair once, in
        init order) or every init against ``baseline``, with Holm-corrected p-values over
        the family (:func:`jinit.stats.holm`). ``kwargs`` go to :meth:`compare`."""
        if baseline is not None:
            self._index(baseline)
            pairs = [(x, baseline) for x in self.inits if x != baseline]
        else:
            pairs = [(x, y) for i, x in enumerate(self.inits) for y in self.inits[i + 1 :]]
        if not pairs:
            return []
        comps = [self.compare(x, y, metric, **kwargs) for x, y in pairs]
        adjusted = stats.holm([c.p_value for c in comps])
        return [
            Pair(x, y, c, float(p)) for (x, y), c, p in zip(pairs, comps, adjusted, strict=True)
        ]

    def comparison_rows(
        self, metric: str = "test_acc", baseline: str | None = None
    ) -> tuple[str, list[str], list[list[str]]]:
        """:meth:`compare_all` as ``(title, header, rows)`` of formatted cells."""
        header = ["a", "b", "diff [95% CI]", "P(a better) [95% CI]", "p (Wilcoxon)", "p (Holm)"]
        body = []
        for pair in self.compare_all(metric, baseline):
            c = pair.comparison
            num = _format.number
            body.append([
                pair.a, pair.b,
                f"{num(c.diff)} [{num(c.diff_ci[0])}, {num(c.diff_ci[1])}]",
                f"{c.prob_improvement:.3f} [{c.prob_improvement_ci[0]:.3f}, "
                f"{c.prob_improvement_ci[1]:.3f}]",
                f"{c.p_value:.3g}", f"{pair.p_holm:.3g}",
            ])  # fmt: skip
        seeds = plural(len(self.seeds), "seed")
        title = f"{metric}, paired by seed ({seeds}); failed runs count at the worst value"
        return title, header, body

    def comparison_table(self, metric: str = "test_acc", baseline: str | None = None) -> str:
        """:meth:`compare_all` as an aligned text table."""
        title, header, body = self.comparison_rows(metric, baseline)
        return title + "\n" + _format.table([header, *body])

    # ------------------------------------------------------------------ joining

    @classmethod
    def concat(cls, results: Sequence[SweepResult], axis: str = "seeds") -> SweepResult:
        """One result from results of the same sweep (model, data, optimizer, steps, eval
        points: the same ``config`` but for the device count) over other seeds
        (``axis="seeds"``: same inits, no seed twice) or other inits (``axis="inits"``: same
        seeds, no init twice), joined in the order given. Runs are named by (init, seed)
        (:mod:`jinit.keys`), so the result equals one sweep over all of them, bit for bit.
        ``params``, ``tracked`` and ``model_state`` are kept when every part has them.
        Partial (interrupted) results and, on the seeds axis, tuned results (each part tuned
        on its own seeds) are refused.

        Example:
            >>> import optax, jinit
            >>> kw = dict(optimizer=optax.sgd(0.1), steps=10, eval_every=5)
            >>> net, data = jinit.models.MLP([2, 4, 1]), jinit.data.circles(n_train=32)
            >>> a = jinit.sweep(net, {"he": jinit.he_normal}, data, seeds=[0, 1], **kw)
            >>> b = jinit.sweep(net, {"he": jinit.he_normal}, data, seeds=[2], **kw)
            >>> jinit.SweepResult.concat([a, b]).seeds.tolist()
            [0, 1, 2]
        """
        parts = _check_concat(results, axis)
        first = parts[0]
        on = 0 if axis == "inits" else (1 if first.configs is None else 2)

        def join(*xs: Any) -> Any:
            return np.concatenate(xs, axis=on)

        def tree(name: str) -> Any:
            trees = [getattr(r, name) for r in parts]
            return None if any(t is None for t in trees) else jax.tree_util.tree_map(join, *trees)

        by_inits = axis == "inits"
        chosen = [r.chosen for r in parts]
        timing = {k: sum(r.timing.get(k, 0) for r in parts) for k, v in first.timing.items()
                  if isinstance(v, int | float)}  # fmt: skip
        return cls(
            inits=[n for r in parts for n in r.inits] if by_inits else list(first.inits),
            specs=[x for r in parts for x in r.specs] if by_inits else list(first.specs),
            seeds=first.seeds if by_inits else np.concatenate([r.seeds for r in parts]),
            eval_steps=first.eval_steps,
            metrics={k: join(*(r.metrics[k] for r in parts)) for k in first.metrics},
            diverged_step=join(*(r.diverged_step for r in parts)),
            tracked=tree("tracked"), params=tree("params"), model_state=tree("model_state"),
            config=dict(first.config), timing=timing, configs=first.configs,
            chosen=None if chosen[0] is None else {k: v for c in chosen for k, v in c.items()},
        )  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepResult:
        """The result :meth:`to_dict` wrote (``results.json``; non-finite numbers as ``None``
        or ``"nan"``, ``"inf"``, ``"-inf"``), without parameters. Metrics come back as
        float32 when every value is a float32 (what a float32 sweep computes), else float64:
        the values are exact either way."""
        try:
            return cls(
                inits=list(d["inits"]), specs=list(d["specs"]),
                seeds=np.asarray(d["seeds"], np.int64),
                eval_steps=np.asarray(d["eval_steps"], np.int64),
                metrics={k: _floats(v) for k, v in d["metrics"].items()},
                diverged_step=np.asarray(d["diverged_step"], np.int64),
                config=dict(d.get("config") or {}), timing=dict(d.get("timing") or {}),
                configs=d.get("configs"), chosen=d.get("chosen"),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise ValueError(
                f"SweepResult.from_dict: not a sweep result ({type(err).__name__}: {err})."
            ) from None

    # ------------------------------------------------------------------ files

    def to_dict(self) -> dict[str, Any]:
        """Everything but parameters, as JSON-ready Python types (NaN/inf become None)."""
        return _format.jsonable(
            {
                "inits": self.inits,
                "specs": self.specs,
                "seeds": self.seeds,
                "eval_steps": self.eval_steps,
                "metrics": self.metrics,
                "diverged_step": self.diverged_step,
                "summary": None if self.configs is not None else self.summary(),
                "config": self.config,
                "timing": self.timing,
                "configs": None if self.configs is None else [_plain(c) for c in self.configs],
                "chosen": {k: _plain(c) for k, c in (self.chosen or {}).items()} or None,
            }
        )

    def to_json(self, path: str | os.PathLike) -> str:
        """Write :meth:`to_dict` as JSON; returns the path."""
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        return os.fspath(path)

    def to_csv(self, path: str | os.PathLike) -> str:
        """Write one row per (init, seed, eval point) with every metric; returns the path."""
        self._check_3d("to_csv")
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


_CONCAT_FREE = ("devices", "groups", "partial", "block_size")  # how, not what, was run


def _check_concat(results: Sequence[Any], axis: str) -> list[Any]:
    """The parts of :meth:`SweepResult.concat`, checked: one sweep split by seeds or inits."""
    parts = list(results) if not isinstance(results, SweepResult) else [results]
    if not parts or not all(isinstance(r, SweepResult) for r in parts):
        raise TypeError("SweepResult.concat: results must be a non-empty list of SweepResults.")
    if axis not in ("seeds", "inits"):
        raise ValueError(f"SweepResult.concat: axis must be 'seeds' or 'inits', got {axis!r}.")
    first = parts[0]
    same = {k: v for k, v in first.config.items() if k not in _CONCAT_FREE}
    for i, r in enumerate(parts):
        if r.config.get("partial"):
            raise ValueError(f"SweepResult.concat: result {i} is partial (interrupted); "
                             "resume it to the end first.")  # fmt: skip
        theirs = {k: v for k, v in r.config.items() if k not in _CONCAT_FREE}
        if theirs != same or r.configs != first.configs:
            diff = sorted(k for k in set(theirs) | set(same) if theirs.get(k) != same.get(k))
            what = ", ".join(diff) or "hparams"
            raise ValueError(f"SweepResult.concat: result {i} is another sweep (config differs "
                             f"in {what}); join only parts of one sweep.")  # fmt: skip
        if not np.array_equal(r.eval_steps, first.eval_steps) or set(r.metrics) != set(
            first.metrics
        ):
            raise ValueError(f"SweepResult.concat: result {i} has other eval points or metrics "
                             "than result 0; join only parts of one sweep.")  # fmt: skip
    _check_axis(parts, axis)
    return parts


def _check_axis(parts: list[Any], axis: str) -> None:
    first = parts[0]
    if axis == "inits":
        names = [n for r in parts for n in r.inits]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"SweepResult.concat: init {twice[0]!r} is in more than one part; "
                             "each init once.")  # fmt: skip
        if any(not np.array_equal(r.seeds, first.seeds) for r in parts):
            raise ValueError("SweepResult.concat: joining inits needs the same seeds, in the "
                             "same order, in every part.")  # fmt: skip
        return
    if any(r.chosen is not None for r in parts):
        raise ValueError(
            "SweepResult.concat: tuned results (each part tuned on its own seeds) do not join "
            "into one tuned sweep; join the grids, then tune."
        )
    if any(r.inits != first.inits or r.specs != first.specs for r in parts):
        raise ValueError("SweepResult.concat: joining seeds needs the same inits (names and "
                         "specs, in order) in every part.")  # fmt: skip
    seeds = np.concatenate([r.seeds for r in parts])
    values, counts = np.unique(seeds, return_counts=True)
    if (counts > 1).any():
        twice = values[counts > 1]
        raise ValueError(f"SweepResult.concat: seeds {twice[:5].tolist()} are in more than one "
                         "part (overlapping shards); each seed once.")  # fmt: skip


def _floats(values: Any) -> np.ndarray:
    """JSON numbers (``None``/``"nan"``/``"inf"`` for non-finite) as float32 when that holds
    every value exactly, else float64."""

    def one(v: Any) -> Any:
        return np.nan if v is None else v

    wide = np.asarray(jax.tree_util.tree_map(one, values, is_leaf=lambda v: v is None),
                      np.float64)  # fmt: skip
    narrow = wide.astype(np.float32)
    return narrow if np.array_equal(narrow, wide, equal_nan=True) else wide


def _tree_map(fn: Any, tree: Any) -> Any:
    if tree is None:
        return None
    return jax.tree_util.tree_map(fn, tree)


def _matches(config: dict[str, Any], values: dict[str, Any]) -> bool:
    for k, v in values.items():
        have = config[k]
        if callable(have) or callable(v) or isinstance(have, str | bool) or isinstance(v, str):
            if have is not v and have != v:
                return False
        elif not np.isclose(float(have), float(v), rtol=1e-9, atol=0.0):
            return False
    return True


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """A config for JSON and ``result.config``: a schedule by its name."""
    return {k: getattr(v, "__name__", repr(v)) if callable(v) else v for k, v in config.items()}


def _config_label(config: dict[str, Any]) -> str:
    def show(v: Any) -> str:
        if callable(v):
            return getattr(v, "__name__", "schedule")
        return _format.number(v) if isinstance(v, float) else repr(v)

    return ", ".join(f"{k}={show(v)}" for k, v in config.items())


# Old private names, kept until report and the experiments import jinit._format.
_fmt = _format.number
_fmt_stat = _format.stat
_align = _format.table
_jsonable = _format.jsonable
__all__ = ["FAIL_BELOW", "FINAL_METRICS", "Metric", "Pair", "SweepResult", "plural"]
