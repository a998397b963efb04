"""Figures: training curves across seeds, final-value distributions, per-layer statistics.

matplotlib is an optional extra (``pip install jinit[plot]``); it is imported when a figure is
made, with the Agg backend, and every function saves a PNG and returns its path.
"""

from __future__ import annotations

# --------------------------------------------------------------------------- sweep results


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install jinit[plot]") from err
    return plt


def plot_sweep(result, path, metrics=("train_loss", "test_acc")) -> str:
    """Curves of ``metrics`` over training (median over seeds, 10-90% band) and the
    distribution of each init's final value (one dot per seed); one PNG."""
    import numpy as np

    plt = _pyplot()
    metrics = [m for m in metrics if m in result.metrics]
    fig, axes = plt.subplots(1, len(metrics) + 1, figsize=(5 * (len(metrics) + 1), 4))
    steps = result.eval_steps
    for ax, m in zip(axes, metrics, strict=False):
        for i, name in enumerate(result.inits):
            vals = result.metrics[m][i].astype(float)
            with np.errstate(all="ignore"):
                lo, med, hi = np.nanpercentile(vals, [10, 50, 90], axis=0)
            (line,) = ax.plot(steps, med, label=name)
            ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2)
        ax.set_xlabel("step")
        ax.set_ylabel(m)
        if m.endswith("loss"):
            ax.set_yscale("log")
        ax.set_title(f"{m}: median and 10-90% of {len(result.seeds)} seeds")
    final_metric = metrics[-1]
    ax = axes[-1]
    rng = np.random.default_rng(0)
    vals = result.final(final_metric)
    for i in range(len(result.inits)):
        jitter = rng.uniform(-0.15, 0.15, vals.shape[1])
        ax.scatter(i + jitter, vals[i], s=8, alpha=0.6)
        ax.hlines(np.nanmedian(vals[i]), i - 0.3, i + 0.3, color="k")
    ax.set_xticks(range(len(result.inits)), result.inits, rotation=30, ha="right")
    ax.set_ylabel(f"final {final_metric}")
    ax.set_title("final value per seed (bar: median)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def plot_report(report, out_dir) -> dict:
    """The figures of a reproduction report: training curves with seed bands and final
    distributions, and activation std per layer where the report measured it."""
    import os

    import numpy as np

    figures = {}
    if report.result is not None:
        metrics = tuple(
            m for m in ("train_loss", "test_acc", "test_loss") if m in report.result.metrics
        )[:2]
        figures["curves"] = plot_sweep(report.result, os.path.join(out_dir, "curves.png"), metrics)
    layer = {k: np.asarray(v) for k, v in report.extra.items() if k.startswith("layer_std_")}
    if layer:
        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, stds in layer.items():
            ax.plot(np.arange(1, len(stds) + 1), stds, marker=".", label=key[len("layer_std_") :])
        ax.set_yscale("log")
        ax.set_xlabel("hidden layer")
        ax.set_ylabel("activation std at init (mean over seeds)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        figures["layer_std"] = os.path.join(out_dir, "layer_std.png")
        fig.savefig(figures["layer_std"], dpi=110)
        plt.close(fig)
    return figures
