"""Figures for hyperparameter axes: sensitivity of the final metric to a hyperparameter
(per init, median over seeds with a 10-90% band) and performance profiles.

Performance profiles (Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the
Statistical Precipice"): for each init, the fraction of its runs whose final metric is better
than tau, as a function of tau; one curve above another everywhere is stochastic dominance.
Like :mod:`jinit.plots`, figures are drawn on a standalone matplotlib ``Figure``; every
function saves a PNG and returns its path.
"""

from __future__ import annotations

import numpy as np

from jinit.plots import _figure
from jinit.results import SweepResult, plural


def plot_sensitivity(
    result: SweepResult, path: str, metric: str = "val_loss", hparam: str = "learning_rate"
) -> str:
    """The final ``metric`` against ``hparam`` (log axis when all values are positive), one
    line per init (median over seeds, band 10-90%), for a result with a hyperparameter axis
    varying only ``hparam``; the chosen config of :meth:`SweepResult.tune` is the minimum or
    maximum of each line."""
    if result.configs is None:
        raise ValueError("plot_sensitivity: the result has no hyperparameter axis.")
    if metric not in result.metrics:
        raise KeyError(f"no metric {metric!r}; available: {', '.join(result.metrics)}.")
    if any(set(c) != {hparam} for c in result.configs):
        raise ValueError(
            f"plot_sensitivity: every config must vary only {hparam!r}; select the others first "
            f"(configs: {result.configs[:3]}...)."
        )
    xs = np.array([float(c[hparam]) for c in result.configs])
    order = np.argsort(xs)
    final = result.metrics[metric][..., -1].astype(float)  # [inits, configs, seeds]
    final = np.where(result.diverged, np.nan, final)
    fig = _figure(figsize=(6, 4))
    ax = fig.subplots()
    for i, name in enumerate(result.inits):
        with np.errstate(all="ignore"):
            lo, med, hi = np.nanpercentile(final[i][order], [10, 50, 90], axis=1)
        (line,) = ax.plot(xs[order], med, marker="o", label=name)
        ax.fill_between(xs[order], lo, hi, color=line.get_color(), alpha=0.2)
    if (xs > 0).all():
        ax.set_xscale("log")
    ax.set_xlabel(hparam)
    ax.set_ylabel(f"final {metric}")
    seeds = plural(len(result.seeds), "seed")
    ax.set_title(f"{metric} vs {hparam}: median, 10-90% of {seeds} (diverged runs left out)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def performance_profile(result: SweepResult, metric: str = "test_acc") -> tuple[np.ndarray, dict]:
    """``(taus, {init: fraction of runs better than tau})``: for a higher-is-better metric
    the fraction with a final value > tau, for a lower-is-better one the fraction < tau;
    diverged runs count as never better (the one failure convention of :meth:`compare`)."""
    m = result.metric(metric)
    if m.higher_is_better is None:
        raise ValueError(f"performance_profile: metric {metric!r} has no known direction.")
    values = result.final(metric).astype(float)
    values = np.where(result.diverged | np.isnan(values), m.worst, values)
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    taus = np.linspace(lo, hi, 200)
    if m.higher_is_better:
        frac = {n: (values[i][:, None] > taus).mean(0) for i, n in enumerate(result.inits)}
    else:
        frac = {n: (values[i][:, None] < taus).mean(0) for i, n in enumerate(result.inits)}
    return taus, frac


def plot_performance_profile(result: SweepResult, path: str, metric: str = "test_acc") -> str:
    """:func:`performance_profile` as a PNG."""
    taus, frac = performance_profile(result, metric)
    fig = _figure(figsize=(6, 4))
    ax = fig.subplots()
    for name, f in frac.items():
        ax.step(taus, f, where="post", label=name)
    better = ">" if result.metric(metric).higher_is_better else "<"
    ax.set_xlabel(f"tau ({metric})")
    ax.set_ylabel(f"fraction of runs with {metric} {better} tau")
    ax.set_title(f"performance profile over {plural(len(result.seeds), 'seed')}")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def hparam_figures(report, out_dir) -> dict:
    """Learning-rate sensitivity of each grid in ``report.grids`` and the performance profile
    of the (tuned) ``report.result``, when the report has grids."""
    import os

    figures = {}
    for name, grid in report.grids.items():
        key = f"sensitivity_{name}" if name else "sensitivity"
        path = os.path.join(out_dir, f"{key}.png")
        figures[key] = plot_sensitivity(grid, path, "val_loss")
    if report.grids and report.result is not None:
        metric = "test_acc" if "test_acc" in report.result.metrics else "test_loss"
        path = os.path.join(out_dir, "performance_profile.png")
        figures["performance_profile"] = plot_performance_profile(report.result, path, metric)
    return figures
