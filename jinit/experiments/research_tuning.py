"""MetaInit (Dauphin & Schoenholz 2019) and GradInit (Zhu et al. 2021) repair a bad init: a
10-layer ReLU MLP on the 8x8 digits drawn from N(0, 0.3^2) (1.7x He's std: the signal grows
~1.7x per layer) does not train with SGD; rescaled by either method it trains like He init.
Each method's defining property is checked on its own batch: MetaInit lowers the gradient
quotient, GradInit meets its gradient-norm bound and lowers the loss after one step."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jinit import data as data_lib
from jinit import laws, losses, stats
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.keys import run_keys
from jinit.models import MLP
from jinit.report import Check, Report, Table, sweep_mode
from jinit.research.gradinit import gradinit, step_loss
from jinit.research.metainit import gradient_quotient, metainit

METAINIT_SOURCE = (
    "Dauphin & Schoenholz 2019, 'MetaInit: Initializing learning by learning to initialize' "
    "(NeurIPS), Sec. 3-4 and Algorithm 1: tuning the weight norms to minimize the gradient "
    "quotient repairs bad initializations, which then train like good ones"
)
GRADINIT_SOURCE = (
    "Zhu et al. 2021, 'GradInit: Learning to Initialize Neural Networks for Stable and "
    "Efficient Training' (NeurIPS), Sec. 3 and Algorithm 1: per-tensor scales minimizing the "
    "loss after one step under ||g|| <= gamma make badly scaled nets trainable"
)
#: The smallest lower 95% bound of the paired test-accuracy gain (method - bad init) that counts
#: as "the bad init fails, the method trains".
MIN_GAIN = 0.5
#: How far below He's mean test accuracy the repaired init may end.
MAX_GAP = 0.05
#: Tuning batch: the first rows of the training set.
TUNE_ROWS = 512


def _setup(o: Options, std: float, method: str, tune: Callable):
    """The digits, the net, the bad draws of every seed and ``tune(keys, params, x, y)``'s
    rescaled draws (vmapped over seeds), with the tuning batch."""
    data = data_lib.digits()
    net = MLP([data.n_features] + [o.width] * o.depth + [data.n_classes], output="softmax")
    bad = functools.partial(laws.normal, stddev=std)
    bad_params = jax.vmap(lambda k: net.init(k, bad))(run_keys(o.seed_list, "bad"))
    x, y = jnp.asarray(data.x_train[:TUNE_ROWS]), jnp.asarray(data.y_train[:TUNE_ROWS])
    tuned = jax.jit(jax.vmap(lambda k, p, x, y: tune(net, k, p, x, y), (0, 0, None, None)))(
        run_keys(o.seed_list, method), bad_params, x, y)  # fmt: skip
    return data, net, bad, bad_params, tuned, (x, y)


def _train(o: Options, data, net, bad, tuned, method: str):
    """Test accuracy per seed of the bad init, the method and He, trained alike."""
    r = o.sweep(net, {"bad": bad, method: tuned, "he": laws.he_normal}, data, method,
                evals=3, momentum=0.9)  # fmt: skip
    acc = r.final("test_acc")
    return r, {name: acc[i] for i, name in enumerate(r.inits)}


def training_checks(method: str, acc: dict[str, np.ndarray], source: str) -> list[Check]:
    """The bad init fails; the method's paired gain over it is large; it is within
    :data:`MAX_GAP` of He (``acc``: test accuracy per seed for bad, ``method`` and he)."""
    clean = {k: np.nan_to_num(np.asarray(v, float), nan=0.0) for k, v in acc.items()}
    gain = stats.compare(clean[method], clean["bad"], method="t")
    vs_he = stats.compare(clean[method], clean["he"], method="t")
    lo, hi = vs_he.diff_ci
    return [
        Check("bad init N(0, 0.3^2): final test accuracy (max over seeds; diverged = 0)",
              "fails", float(np.max(clean["bad"])), below=0.5, kind="derived",
              source="signal grows ~1.7x per layer"),
        Check(f"{method} - bad init: test accuracy gain, lower end of the 95% CI",
              "repairs the bad init", float(gain.diff_ci[0]), above=MIN_GAIN,
              kind="published", source=source),
        Check(f"{method} - He: test accuracy (mean, 95% CI [{lo:.3f}, {hi:.3f}])",
              "as good as a standard init", vs_he.diff, above=-MAX_GAP, kind="published",
              source=source),
    ]  # fmt: skip


def _report(o: Options, method: str, std: float, checks: list[Check], r, acc: dict,
            objective: tuple[str, float, float], note: str) -> Report:
    """The report of one method: its checks, the sweep, a table of test accuracy and the tuned
    objective ``(name, bad start, tuned)``, and the setup note."""
    name, before, after = objective
    rows = [[n, float(np.nanmean(a)), *((before, after) if n == method else (np.nan,) * 2)]
            for n, a in acc.items()]  # fmt: skip
    table = Table("final test accuracy and the tuned objective (means over seeds)",
                  ["init", "test acc", f"{name} (bad start)", f"{name} (tuned)"], rows)
    source = METAINIT_SOURCE if method == "metainit" else GRADINIT_SOURCE
    setup = (f"8x8 digits, width {o.width}, SGD momentum 0.9, lr {o.lr}, batch {o.batch_size}, "
             f"{o.steps} steps. ")  # fmt: skip
    label = {"metainit": "MetaInit", "gradinit": "GradInit"}[method]
    return Report(method, sweep_mode(len(o.seed_list)), f"{label} repairs a {o.depth}-layer "
                  f"ReLU MLP drawn from N(0, {std}^2)", source, checks=checks, result=r,
                  tables=[table], notes=[setup + note])  # fmt: skip


def _loss_fn(net: MLP, x, y):
    return lambda p: losses.softmax_cross_entropy(net.apply(p, x), y)


@functools.partial(jax.jit, static_argnums=0)
@functools.partial(jax.vmap, in_axes=(None, 0, None, None))
def _quotients(net: MLP, params, x, y):
    """The gradient quotient of every run (``params`` stacked on a run axis) on the batch
    ``x, y``: an argument of the program, not a constant folded into it."""
    return gradient_quotient(_loss_fn(net, x, y), params)


@functools.partial(jax.jit, static_argnums=(0, 4))
@functools.partial(jax.vmap, in_axes=(None, 0, None, None, None))
def _step_terms(net: MLP, params, x, y, lr: float):
    """GradInit's terms (:func:`step_loss`) of every run on the batch ``x, y`` (arguments)."""
    return step_loss(net, params, x, y, lr=lr)


@options(seeds=3, steps=600, lr=0.01, batch_size=64, width=64, depth=10)
def _metainit(o: Options, std: float = 0.3, tune_steps: int = 100) -> Report:
    def tune(net, k, p, x, y):
        return metainit(k, net, p, x[:256], y[:256], steps=tune_steps)

    data, net, bad, bad_params, tuned, (x, y) = _setup(o, std, "metainit", tune)
    rows = (x[:256], y[:256])
    before, after = (np.asarray(_quotients(net, p, *rows)) for p in (bad_params, tuned))
    r, acc = _train(o, data, net, bad, tuned, "metainit")
    checks = [Check("MetaInit: gradient quotient tuned / bad start (max over seeds)",
                    "lowered", float(np.max(after / before)), below=0.5, kind="derived",
                    source="Algorithm 1 minimizes it"),
              *training_checks("metainit", acc, METAINIT_SOURCE)]  # fmt: skip
    note = (f"MetaInit: {tune_steps} signSGD steps (lr 0.1, momentum 0.9, eps 1e-5) on the "
            "weight norms, on the first 256 training rows (full batch).")  # fmt: skip
    objective = ("GQ", float(before.mean()), float(after.mean()))
    return _report(o, "metainit", std, checks, r, acc, objective, note)


@options(seeds=3, steps=600, lr=0.01, batch_size=64, width=64, depth=10)
def _gradinit(o: Options, std: float = 0.3, tune_steps: int = 300, gamma: float = 1.0) -> Report:
    def tune(net, k, p, x, y):
        return gradinit(k, net, p, x, y, lr=o.lr, gamma=gamma, steps=tune_steps, batch_size=128)

    data, net, bad, bad_params, tuned, (x, y) = _setup(o, std, "gradinit", tune)
    before, after = (_step_terms(net, p, x, y, o.lr) for p in (bad_params, tuned))
    ratio = np.asarray(after.loss_after) / np.asarray(before.loss_after)
    r, acc = _train(o, data, net, bad, tuned, "gradinit")
    checks = [Check(f"GradInit: ||g||_2 on the {TUNE_ROWS} tuning rows (max over seeds)",
                    f"<= gamma = {gamma} (x1.5: the bound holds per mini-batch)",
                    float(np.max(after.grad_norm)), below=1.5 * gamma, kind="derived",
                    source="Algorithm 1's constraint"),
              Check("GradInit: loss after one SGD step, tuned / bad start (max over seeds)",
                    "lowered", float(np.max(ratio)), below=1.0, kind="derived",
                    source="Algorithm 1's objective"),
              *training_checks("gradinit", acc, GRADINIT_SOURCE)]  # fmt: skip
    note = (f"GradInit: target SGD with lr {o.lr}, gamma {gamma}, {tune_steps} Adam steps (lr "
            f"0.01) on per-tensor scales (>= 0.01), mini-batches of 128 of the first {TUNE_ROWS} "
            "training rows.")  # fmt: skip
    objective = ("||g||_2", float(np.mean(before.grad_norm)), float(np.mean(after.grad_norm)))
    return _report(o, "gradinit", std, checks, r, acc, objective, note)


TITLES = {"metainit": "Dauphin & Schoenholz 2019: MetaInit repairs a bad init",
          "gradinit": "Zhu et al. 2021: GradInit repairs a bad init"}
register(Experiment("metainit", TITLES["metainit"], METAINIT_SOURCE, None, _metainit,
                    default_seeds=3))  # fmt: skip
register(Experiment("gradinit", TITLES["gradinit"], GRADINIT_SOURCE, None, _gradinit,
                    default_seeds=3))  # fmt: skip
