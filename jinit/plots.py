"""Figures: training curves across seeds, final-value distributions, per-layer statistics.

matplotlib is an optional extra (``pip install jinit[plot]``); it is imported when a figure is
made. Figures are drawn on a standalone ``matplotlib.figure.Figure``, not through pyplot, so
the caller's backend (a notebook's inline plots, say) is left alone; every function saves a
PNG and returns its path.
"""

from __future__ import annotations

# plots draws only: it imports nothing from jinit (results, report and the experiments import
# plots lazily, when a figure is asked for).


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- sweep results


def _figure(*, figsize: tuple[float, float]):
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install jinit[plot]") from err
    return Figure(figsize=figsize)


def plot_sweep(result, path, metrics=("train_loss", "test_acc")) -> str:
    """Curves of ``metrics`` over training (median over seeds, 10-90% band) and the
    distribution of each init's final value (one dot per seed); one PNG."""
    import numpy as np

    metrics = [m for m in metrics if m in result.metrics]
    fig = _figure(figsize=(5 * (len(metrics) + 1), 4))
    axes = fig.subplots(1, len(metrics) + 1)
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
        ax.set_title(f"{m}: median and 10-90% of {plural(len(result.seeds), 'seed')}")
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
    return str(path)


def plot_report(report, out_dir) -> dict:
    """The figures of a reproduction report: training curves with seed bands and final
    distributions (``report.result`` and each of ``report.results``), and the per-layer
    profiles (``report.profiles``: one line per init and depth, one figure per statistic).
    Everything drawn is already in the report: nothing is computed here."""
    import os

    import numpy as np

    figures = {}
    named = {"": report.result} if report.result is not None else {}
    for name, result in (named | dict(report.results)).items():
        metrics = tuple(m for m in ("train_loss", "test_acc", "test_loss") if m in result.metrics)
        key = f"curves_{name}" if name else "curves"
        figures[key] = plot_sweep(result, os.path.join(out_dir, f"{key}.png"), metrics[:2])
    for stat in dict.fromkeys(p.stat for p in report.profiles):
        fig = _figure(figsize=(6, 4))
        ax = fig.subplots()
        for p in (p for p in report.profiles if p.stat == stat):
            ax.plot(np.arange(1, len(p.values) + 1), p.values, marker=".", label=p.label)
        ax.set_yscale("log")
        ax.set_xlabel("hidden layer")
        ax.set_ylabel(f"{stat} at init (mean over seeds)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        name = f"layer_{stat}"
        figures[name] = os.path.join(out_dir, f"{name}.png")
        fig.savefig(figures[name], dpi=110)
    return figures


# --------------------------------------------------------------------------- probes


def _band(ax, depth, mean, std, label, marker="."):
    """A line at ``mean`` with a ``mean ± std`` band, kept positive for log axes."""
    import numpy as np

    (line,) = ax.plot(depth, mean, marker=marker, label=label)
    if np.any(std > 0):
        positive = mean[mean > 0]
        floor = positive.min() * 1e-3 if positive.size else 1e-30
        ax.fill_between(
            depth, np.maximum(mean - std, floor), mean + std, color=line.get_color(), alpha=0.2
        )
    return line


def _layer_curve(result, stat: str, include_input: bool):
    """Depth, per-layer mean over seeds and spread, optionally starting at the input (0)."""
    import numpy as np

    mean, std = result.mean(stat), result.std(stat)
    depth = np.arange(1, mean.size + 1)
    if include_input and stat in result.inputs:
        v = np.asarray(result.inputs[stat], float)
        m0 = v.mean() if result.seeded else float(v)
        s0 = v.std(ddof=1) if result.seeded and v.size > 1 else 0.0
        depth = np.concatenate([[0], depth])
        mean, std = np.concatenate([[m0], mean]), np.concatenate([[s0], std])
    return depth, mean, std


def plot_layer_stat(
    results: dict,
    path,
    stat: str = "std",
    *,
    log: bool = True,
    hidden_only: bool = True,
    include_input: bool = True,
    title: str | None = None,
) -> str:
    """One :class:`jinit.diagnostics.ProbeResult` statistic per layer vs depth, one line per init
    (``results``: name -> result), mean over seeds with a ±std band; the input at depth 0.
    ``hidden_only`` leaves out the output layer. Saves a PNG to ``path``, returns it."""
    fig = _figure(figsize=(6.5, 4.2))
    ax = fig.subplots()
    for name, result in results.items():
        depth, mean, std = _layer_curve(result, stat, include_input)
        if hidden_only and len(result.layers) > 1:
            depth, mean, std = depth[:-1], mean[:-1], std[:-1]
        _band(ax, depth, mean, std, name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer (0 = input)" if include_input else "layer")
    ax.set_ylabel(stat)
    seeds = {r.n_seeds for r in results.values()}
    spread = ""
    if len(seeds) == 1 and None not in seeds:
        spread = f", mean ± std over {plural(seeds.pop(), 'seed')}"
    ax.set_title(f"{title or stat + ' per layer at initialization'}{spread}", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def plot_layer_std(results: dict, path, *, log: bool = True) -> str:
    """Activation std per hidden layer vs depth, one line per init (log y): the deep-net
    figure of He et al. (2015) and Glorot & Bengio (2010). See :func:`plot_layer_stat`."""
    return plot_layer_stat(results, path, "std", log=log, title="activation std per layer")


def plot_signal_propagation(results: dict, path) -> str:
    """Signal propagation plot (Brock et al. 2021, Fig. 1): the average squared channel
    mean and the average channel variance of each layer's activations vs depth, one line
    per init, log y, mean ± std over seeds. Saves a PNG to ``path`` and returns it."""
    fig = _figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2)
    for ax, stat, label in (
        (axes[0], "sq_channel_mean", "average channel squared mean"),
        (axes[1], "channel_var", "average channel variance"),
    ):
        for name, result in results.items():
            _band(ax, *_layer_curve(result, stat, include_input=True), name)
        ax.set_yscale("log")
        ax.set_xlabel("layer (0 = input)")
        ax.set_ylabel(label)
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def plot_activation_histograms(histograms, path, *, max_layers: int = 8) -> str:
    """Activation histograms per layer (Glorot & Bengio 2010, Figs. 6-7): one panel per
    init (``histograms``: a :class:`jinit.diagnostics.Histograms` or name -> Histograms, from
    :func:`jinit.diagnostics.activation_histograms`), one line per layer (at most ``max_layers``,
    evenly spread over depth). Saves a PNG to ``path`` and returns it."""
    import numpy as np

    if not isinstance(histograms, dict):
        histograms = {"": histograms}
    n = len(histograms)
    fig = _figure(figsize=(5.5 * n, 4))
    axes = fig.subplots(1, n, squeeze=False)
    for ax, (name, hist) in zip(axes[0], histograms.items(), strict=True):
        centers = (hist.edges[:-1] + hist.edges[1:]) / 2
        count = len(hist.layers)
        picks = np.unique(np.linspace(0, count - 1, min(max_layers, count)).round().astype(int))
        for i in picks:
            ax.plot(centers, hist.fractions[i], label=f"layer {hist.layers[i]}")
        ax.set_xlabel("activation value")
        ax.set_ylabel("fraction of entries")
        if name:
            ax.set_title(name, fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)


def plot_phase_diagram(activation, sw2_grid, sb2_grid, path, *, chi=None) -> str:
    """Order-to-chaos phase diagram (Poole et al. 2016; Schoenholz et al. 2017, Fig. 1):
    log chi_1 over (sigma_w^2, sigma_b^2) with the critical line chi_1 = 1 from
    :func:`jinit.meanfield.critical_weight_variance`. ``chi``: a precomputed
    :func:`jinit.meanfield.phase_diagram`. Saves a PNG to ``path`` and returns it."""
    import numpy as np

    from jinit import meanfield

    sw2 = np.asarray(sw2_grid, float)
    sb2 = np.asarray(sb2_grid, float)
    chi = meanfield.phase_diagram(activation, sw2, sb2) if chi is None else np.asarray(chi)
    if chi.shape != (sw2.size, sb2.size):
        raise ValueError(
            f"plot_phase_diagram: chi must have shape (len(sw2_grid), len(sb2_grid)) = "
            f"{(sw2.size, sb2.size)}, got {chi.shape}."
        )
    critical = []
    for b in sb2:
        try:
            critical.append(meanfield.critical_weight_variance(activation, float(b)))
        except ValueError:
            critical.append(np.nan)
    fig = _figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    with np.errstate(divide="ignore"):
        log_chi = np.log(chi.T)
    bound = np.nanmax(np.abs(log_chi[np.isfinite(log_chi)])) if np.isfinite(log_chi).any() else 1
    mesh = ax.pcolormesh(sw2, sb2, log_chi, cmap="RdBu_r", vmin=-bound, vmax=bound, shading="auto")
    fig.colorbar(mesh, ax=ax, label="log chi_1  (< 0 ordered, > 0 chaotic)")
    ax.plot(critical, sb2, "k-", lw=2, label="critical line chi_1 = 1")
    ax.set_xlim(sw2.min(), sw2.max())
    ax.set_xlabel("sigma_w^2")
    ax.set_ylabel("sigma_b^2")
    name = activation if isinstance(activation, str) else getattr(activation, "__name__", "phi")
    ax.set_title(f"mean-field phase diagram, {name}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return str(path)
