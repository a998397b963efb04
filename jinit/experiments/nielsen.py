"""Nielsen, *Neural Networks and Deep Learning*, ch. 3: weights N(0, 1/n_in) vs N(0, 1) on MNIST.

The book trains 784-30-10 and 784-100-10 sigmoid nets with the cross-entropy cost, mini-batches
of 10, eta 0.1 and L2 weight decay (lambda 5.0, n = 50000) for 30 epochs, and plots the
validation accuracy per epoch for ``default_weight_initializer`` (weights ``randn / sqrt(n_in)``)
and ``large_weight_initializer`` (weights ``randn``); biases are ``randn`` in both. The
1/sqrt(n_in) weights start far better (no saturated hidden units) and end about the same.

MNIST is not shipped with jinit: pass ``mnist=DIR`` (``jinit reproduce nielsen --mnist DIR``) or
set ``$JINIT_MNIST``. Without it the experiments fall back to the 8x8 digits that ship with
jinit, where the book's numbers do not apply (see the report's notes).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import optax

from jinit import data as data_lib
from jinit import laws, losses
from jinit.experiments._mnist import Setup
from jinit.experiments._mnist import mnist_directory as mnist_directory  # re-exported
from jinit.experiments.checks import prediction_halfwidth
from jinit.experiments.options import Options, options
from jinit.experiments.registry import Experiment, register
from jinit.models import MLP
from jinit.report import Check, Report, Table, sweep_report
from jinit.results import SweepResult

SOURCE = (
    "Nielsen, Neural Networks and Deep Learning, ch. 3 'Weight initialization' (seed 002): "
    "784-30-10 and 784-100-10 sigmoid nets, cross-entropy, mini-batch 10, eta 0.1, L2 lambda "
    "5.0 (n = 50000), 30 epochs; validation accuracy on the last 10000 MNIST training images"
)
ETA = 0.1
LMBDA = 5.0
BATCH = 10
EPOCHS = 30
N_CLASSES = 10

#: The book's figure data: validation images correct out of 10000 (epoch 1, best, epoch 30).
BOOK: dict[int, dict[str, tuple[int, int, int]]] = {
    30: {"1/sqrt(n_in)": (9270, 9653, 9650), "N(0,1)": (8643, 9648, 9637)},
    100: {"1/sqrt(n_in)": (9295, 9781, 9781), "N(0,1)": (8994, 9755, 9742)},
}
BOOK_FIGURES = (
    "Nielsen, NNDL ch. 3, 'Weight initialization': the validation-accuracy-per-epoch figures "
    "for 30 and 100 hidden neurons (data of the book's fig/weight_initialization.py runs)"
)
#: The qualitative claim on MNIST: 1/sqrt(n_in) leads N(0,1) at epoch 1 by more than this many
#: points (about half the book's lead: 6.27 points at 30 hidden, 3.01 at 100).
MIN_EPOCH1_LEAD = {30: 3.0, 100: 1.5}
#: The book's counts are one run: they are checked against the seeds' 95% prediction interval
#: for one more run, which needs at least this many seeds.
MIN_SEEDS_FOR_INTERVAL = 3
CONFIDENCE = 0.95

_N01 = functools.partial(laws.normal, stddev=1.0)
INITS: dict[str, tuple[Any, Any]] = {
    "1/sqrt(n_in)": (laws.lecun_normal, _N01),  # default_weight_initializer
    "N(0,1)": (_N01, _N01),  # large_weight_initializer
}
GOOD, LARGE = INITS


# --------------------------------------------------------------------------- data


class _Setup(Setup):
    @property
    def n_train(self) -> int:
        return len(self.data.x_train)

    @property
    def steps_per_epoch(self) -> int:
        return self.n_train // BATCH


def _load(mnist: str | os.PathLike[str] | None) -> _Setup:
    """Nielsen's MNIST split (50000 train, 10000 validation, pixels x/256), else digits."""
    return _Setup.load(mnist, lambda d: data_lib.mnist(d, split="nielsen", scale=1 / 256))


# --------------------------------------------------------------------------- training


def _kernels_only(params: Any) -> Any:
    """The weight-decay mask: True for kernels, False for biases (Nielsen decays weights only)."""
    return [{name: name == "kernel" for name in layer} for layer in params]


def nielsen_optimizer(eta: float = ETA, lmbda: float = LMBDA, n: int = 50000):
    """network2's update ``w <- (1 - eta lmbda / n) w - eta grad``, ``b <- b - eta grad``.

    ``add_decayed_weights(lmbda / n)`` on kernels then ``sgd(eta)`` is exactly that, with grad
    the mean gradient of the mini-batch's cross-entropy.
    """
    return optax.chain(optax.add_decayed_weights(lmbda / n, mask=_kernels_only), optax.sgd(eta))


def _model(n_in: int, hidden: int) -> MLP:
    # The net returns the 10 output pre-activations; sigmoid_cross_entropy applies a sigmoid per
    # unit (Nielsen's output layer) and accuracy is their argmax, as network2.evaluate.
    return MLP((n_in, hidden, N_CLASSES), activation="sigmoid", output="linear")


def _train(o: Options, setup: _Setup, hidden: int, label: str) -> SweepResult:
    """The book's SGD (network2: mini-batches of 10, L2), evaluated every epoch."""
    return o.sweep(_model(setup.data.n_features, hidden), INITS, setup.data,
                   f"nielsen-{label}-{hidden}", optimizer=nielsen_optimizer(n=setup.n_train),
                   loss=losses.sigmoid_cross_entropy, batch_size=BATCH,
                   eval_every=max(1, min(setup.steps_per_epoch, o.steps)))  # fmt: skip


def merge(results: Mapping[int, SweepResult]) -> SweepResult:
    """One result for one or more widths: inits become ``"<width> hidden, <init>"`` rows.

    All results must share seeds and eval points (same steps and schedule).
    """
    parts = list(results.items())
    first = parts[0][1]
    for _, r in parts[1:]:
        if list(r.seeds) != list(first.seeds) or list(r.eval_steps) != list(first.eval_steps):
            raise ValueError("merge: results must share seeds and eval points.")
    metrics = {name: np.concatenate([r.metrics[name] for _, r in parts]) for name in first.metrics}
    timing = {k: sum(r.timing[k] for _, r in parts) for k in first.timing}
    return SweepResult(
        inits=[f"{h} hidden, {name}" for h, r in parts for name in r.inits],
        specs=[spec for _, r in parts for spec in r.specs],
        seeds=first.seeds,
        eval_steps=first.eval_steps,
        metrics=metrics,
        diverged_step=np.concatenate([r.diverged_step for _, r in parts]),
        config=first.config | {"model": "; ".join(r.config["model"] for _, r in parts)},
        timing=timing,
    )


def _schedule(setup: _Setup, steps: int | None, epochs: int) -> int:
    if steps is None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"nielsen: epochs must be an int >= 0, got {epochs!r}.")
        return epochs * setup.steps_per_epoch
    return steps


def _widths(hidden: int | Sequence[int] | None, on_mnist: bool) -> tuple[int, ...]:
    if hidden is None:
        return tuple(BOOK) if on_mnist else (30,)
    widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    if not widths or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in widths):
        raise ValueError(f"nielsen: hidden must be positive ints, got {hidden!r}.")
    return widths


def _epoch_index(r: SweepResult, setup: _Setup, epoch: int) -> int | None:
    """The eval point after ``epoch`` full epochs, if there is one."""
    hits = np.flatnonzero(r.eval_steps == epoch * setup.steps_per_epoch)
    return int(hits[0]) if hits.size else None


def _correct(r: SweepResult, n_test: int) -> np.ndarray:
    """Validation images correct ``[n_inits, n_seeds, n_evals]`` (integers, as the book)."""
    return np.rint(r.metrics["test_acc"] * n_test)


def _context_notes(setup: _Setup) -> list[str]:
    notes = [
        "Nielsen's L2 weight decay w <- (1 - eta lambda / n) w - eta grad is optax "
        "add_decayed_weights(lambda / n) on kernels (not biases) followed by sgd(eta); n is the "
        f"training-set size ({setup.n_train}).",
        "Output: 10 sigmoid units trained with the cross-entropy summed over units "
        "(jinit.losses.sigmoid_cross_entropy); prediction is the argmax, as network2.evaluate. "
        "'test' in the tables is the held-out set: the validation set on MNIST.",
        "Biases are N(0, 1) under both inits, as in network2 (only the weights differ).",
    ]
    if not setup.on_mnist:
        notes.insert(
            0,
            f"{setup.origin}. Fell back to the 8x8 digits shipped with jinit (1437 train / 360 "
            f"test, 64 inputs), with n = {setup.n_train} in the weight decay and "
            f"{setup.steps_per_epoch} mini-batches per epoch. The book's numbers are for "
            "784-input MNIST and do not apply: with n_in = 64, N(0, 1) weights give hidden "
            "pre-activations of standard deviation about 4 (sqrt(|x|^2 + 1)) instead of 9 on "
            "MNIST, so far fewer hidden units start saturated, and the epoch-1 advantage of "
            "1/sqrt(n_in) is known to reverse there. The book's numbers are shown for "
            f"context only. Pass mnist=DIR (or set ${data_lib.MNIST_ENV}) for the real comparison.",
        )
    else:
        notes.insert(0, f"{setup.origin} (Nielsen's split: first 50000 training images to "
                     "train, the last 10000 to validate; pixels x/256).")  # fmt: skip
    return notes


def _lead_check(setup: _Setup, hidden: int, label: str, lead: float) -> Check:
    """The epoch-1 lead of 1/sqrt(n_in) over N(0,1) beside the book's, in points."""
    book = BOOK.get(hidden)
    expected = (book[GOOD][0] - book[LARGE][0]) / 100 if book else "a clear lead"
    check = functools.partial(Check, label, expected, lead, kind="published", source=BOOK_FIGURES)
    if not setup.on_mnist:
        return check(note="not applicable on 8x8 digits")
    if hidden not in MIN_EPOCH1_LEAD:
        return check(note="the book has no run of this width")
    return check(above=MIN_EPOCH1_LEAD[hidden])


def book_in_seed_interval(label: str, book: int, counts: np.ndarray) -> Check:
    """The book's count (one run) beside the mean over seeds; it passes when the book lies in
    the seeds' 95% prediction interval for one more run, mean +- t_{0.975, n-1} s
    sqrt(1 + 1/n) (``scipy.stats.t``), so the tolerance comes from the seed spread."""
    counts = np.asarray(counts, float)
    n = counts.size
    spread = f"seeds' range {counts.min():.0f}..{counts.max():.0f} over {n}"
    if n < MIN_SEEDS_FOR_INTERVAL:
        return Check(label, book, float(counts.mean()), note=spread, kind="published",
                     source=BOOK_FIGURES, not_run=f"{n} seed(s): the interval needs "
                     f"{MIN_SEEDS_FOR_INTERVAL}")  # fmt: skip
    half = prediction_halfwidth(counts, CONFIDENCE)
    return Check(label, book, float(counts.mean()), half, spread, kind="published",
                 source=BOOK_FIGURES)  # fmt: skip


# --------------------------------------------------------------------------- faithful


def _book_checks(r: SweepResult, setup: _Setup, hidden: int, full: bool) -> list[Check]:
    """The book's epoch-1, best and epoch-30 counts beside this run's (all seeds): judged by
    :func:`book_in_seed_interval` (context only with fewer seeds than it needs)."""
    book = BOOK.get(hidden)
    if not setup.on_mnist or book is None:
        return []
    correct = _correct(r, len(setup.data.x_test))  # [inits, seeds, evals]
    e1 = _epoch_index(r, setup, 1)
    points = [("epoch 1", 0, e1)] if e1 is not None else []
    if full:
        points += [("best epoch", 1, None), ("epoch 30", 2, -1)]
    checks = []
    for i, name in enumerate(r.inits):
        for what, col, e in points:
            counts = correct[i, :, 1:].max(axis=-1) if e is None else correct[i, :, e]
            label = f"{hidden} hidden, {name}: {what} (correct of {len(setup.data.x_test)})"
            if counts.size < MIN_SEEDS_FOR_INTERVAL:
                checks.append(Check(label, book[name][col], float(counts.mean()), kind="published",
                                    source=BOOK_FIGURES, note="one run beside one run: "
                                    "context; the sweep mode judges it over seeds"))  # fmt: skip
            else:
                checks.append(book_in_seed_interval(label + ", mean over seeds", book[name][col],
                                                    counts))  # fmt: skip
    return checks


class _Runs(NamedTuple):
    setup: _Setup
    total: int  # training steps
    results: dict[int, SweepResult]  # per hidden width
    full: bool  # the book's schedule


def _run_widths(o: Options, epochs: int, hidden: int | Sequence[int] | None, label: str) -> _Runs:
    setup = _load(o.mnist)
    widths = _widths(hidden, setup.on_mnist)
    total = _schedule(setup, o.steps, epochs)
    results = {h: _train(o.replace(steps=total), setup, h, label) for h in widths}
    return _Runs(setup, total, results, total == EPOCHS * setup.steps_per_epoch)


def _checks(runs: _Runs, lead_checks: Callable[[int, np.ndarray], list[Check]]) -> list[Check]:
    """Per width: :func:`_book_checks`, then ``lead_checks(hidden, leads)`` with the epoch-1
    lead of 1/sqrt(n_in) over N(0,1) in points per seed (if epoch 1 was evaluated)."""
    n_test = len(runs.setup.data.x_test)
    checks: list[Check] = []
    for h, r in runs.results.items():
        checks += _book_checks(r, runs.setup, h, runs.full)
        e1 = _epoch_index(r, runs.setup, 1)
        if e1 is not None:
            correct = _correct(r, n_test)
            checks += lead_checks(h, (correct[0, :, e1] - correct[1, :, e1]) / n_test * 100)
    return checks


@options(mnist=None, steps=None)
def _nielsen_faithful(
    o: Options, epochs: int = EPOCHS, hidden: int | Sequence[int] | None = None, seed: int = 0
) -> Report:
    """One seed per (width, init), as the book; its counts beside the book's figure data."""
    runs = _run_widths(o.replace(seeds=[seed]), epochs, hidden, "faithful")
    setup, total, results, full = runs

    def lead_checks(h: int, leads: np.ndarray) -> list[Check]:
        label = f"{h} hidden: epoch-1 lead of 1/sqrt(n_in) over N(0,1) (points)"
        return [_lead_check(setup, h, label, leads[0])]

    checks = _checks(runs, lead_checks)
    notes = _context_notes(setup)
    if setup.on_mnist:
        notes.append(
            f"jinit draws the weights with the JAX PRNG (seed {seed}) and uses its own "
            "mini-batch order; the book's run is one draw of NumPy's and Python's generators. "
            "One run beside one run decides nothing about the counts: the sweep mode checks "
            "the book's counts against the 95% prediction interval of its seeds. (Over seeds "
            "0-5 the epoch-1 counts lay within 1.23 points of the book and the best and "
            "epoch-30 counts within 0.61 points.) The epoch-1 leads over seeds 0-5 were "
            "4.9-7.1 points at 30 hidden (book 6.27) and 2.5-3.6 at 100 (book 3.01), hence "
            "the thresholds of 3 and 1.5 points.",
        )
    if not full:
        notes.append(
            f"{total} steps is not the book's {EPOCHS} epochs "
            f"({EPOCHS * setup.steps_per_epoch} steps): best and epoch-30 checks are left out."
        )
    return Report(
        "nielsen",
        "faithful",
        "Nielsen ch. 3: 1/sqrt(n_in) vs N(0,1) weights, validation accuracy per epoch",
        SOURCE,
        checks=checks,
        result=merge(results),
        notes=notes,
        tables=[_curves(results, setup, "validation correct per epoch")],
    )


def _curves(results: Mapping[int, SweepResult], setup: _Setup, title: str) -> Table:
    """Validation images correct at every epoch (median over seeds)."""
    n_test = len(setup.data.x_test)
    any_r = next(iter(results.values()))
    header = ["epoch", *(f"{s / setup.steps_per_epoch:g}" for s in any_r.eval_steps[1:])]
    rows = []
    for h, r in results.items():
        med = np.median(_correct(r, n_test), axis=1)  # [inits, evals]
        rows += [[f"{h} hidden, {name}", *med[i, 1:].tolist()] for i, name in enumerate(r.inits)]
    return Table(title, header, rows)


# --------------------------------------------------------------------------- sweep


@options(seeds=10, mnist=None, steps=None)
def _nielsen_sweep(
    o: Options, epochs: int = EPOCHS, hidden: int | Sequence[int] | None = 30
) -> Report:
    """The comparison over many seeds (paired: both inits see the same batches per seed)."""
    runs = _run_widths(o, epochs, hidden, "sweep")
    setup, results = runs.setup, runs.results

    def lead_checks(h: int, leads: np.ndarray) -> list[Check]:
        label = f"{h} hidden: epoch-1 lead of 1/sqrt(n_in), median over seeds (points)"
        share = f"{h} hidden: fraction of seeds where 1/sqrt(n_in) leads at epoch 1"
        return [_lead_check(setup, h, label, float(np.median(leads))),
                Check(share, "book: 1 of 1", float(np.mean(leads > 0)), kind="published",
                      source=BOOK_FIGURES)]  # fmt: skip

    checks = _checks(runs, lead_checks)
    n_seeds = len(next(iter(results.values())).seeds)
    notes = _context_notes(setup)
    notes.append(
        "Seeds are paired: seed s gives both inits the same mini-batch order, so the epoch-1 "
        "lead is measured per seed."
    )
    if setup.on_mnist:
        notes.append(
            "The book's counts come from one run: each passes when it lies inside the 95% "
            "prediction interval for one more run, mean +- t(0.975, n-1) s sqrt(1 + 1/n) over "
            "the n seeds here (the tolerance column)."
        )
    curves = _curves(results, setup, "validation correct per epoch (median over seeds)")
    return sweep_report("nielsen", n_seeds, "Nielsen ch. 3: 1/sqrt(n_in) vs N(0,1) weights "
                        "across seeds", SOURCE, checks=checks, result=merge(results), notes=notes,
                        tables=[curves])  # fmt: skip


register(
    Experiment(
        "nielsen",
        "1/sqrt(n_in) vs N(0,1) weights, sigmoid MNIST nets",
        SOURCE,
        _nielsen_faithful,
        _nielsen_sweep,
        default_seeds=10,
    )
)
