"""The ``jinit`` command: list and reproduce experiments, compare inits, probe a model."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

USAGE_ERROR = 2
INTERRUPTED = 130


class UsageError(Exception):
    """A bad name or argument: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with errors in one line (``jinit: error: ...``) and exit code 2."""

    def error(self, message: str):
        print(f"jinit: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USAGE_ERROR)


def _int_at_least(minimum: int):
    """An argparse type: an int >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"int >= {minimum}"
    return parse


def _positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _positive_floats(text: str) -> list[float]:
    """An argparse type: comma-separated finite floats > 0 (distinct)."""
    values = [_positive_float(t.strip()) for t in text.split(",")]
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"values must be distinct, got {text}")
    return values


def _fraction(text: str) -> float:
    """An argparse type: a number in (0, 1)."""
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction in (0, 1), got {text}")
    return value


def _seeds(text: str) -> int | list[int]:
    """An argparse type: a seed count (``20``) or seeds and ranges (``0:50``, ``3,5,9``)."""
    from jinit.shards import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--seeds: ")) from None


def _shard(text: str) -> tuple[int, int]:
    """An argparse type: ``I/N``, job I (from 0) of N."""
    from jinit.shards import parse_shard

    try:
        return parse_shard(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--shard: ")) from None


def split_inits(text: str) -> list[str]:
    """Split ``"zeros,normal:stddev=10,mean=1,he_normal"`` into specs: a comma-separated piece
    with ``=`` but no ``:`` continues the previous spec's options."""
    specs: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if "=" in piece and ":" not in piece and specs:
            specs[-1] += "," + piece
        else:
            specs.append(piece)
    return specs


def _check_draws(spec: str, init) -> None:
    """Draw once, abstractly (``jax.eval_shape``: nothing is computed), so that a bad option
    value fails here rather than mid-sweep. A law that needs more dimensions (a conv kernel)
    gets a second try on a 4-d shape."""
    import jax
    import jax.numpy as jnp

    errors = []
    for shape in ((4, 4), (3, 3, 4, 4)):
        try:
            jax.eval_shape(lambda k, s=shape: init(k, s, jnp.float32), jax.random.key(0))
            return
        except (ValueError, TypeError, KeyError, NotImplementedError) as err:
            errors.append(err)
    first = str(errors[0]).strip().splitlines()[0] if str(errors[0]).strip() else repr(errors[0])
    raise UsageError(f"--inits {spec!r} cannot draw weights: {first}")


def _parse_inits(text: str) -> dict:
    """``--inits`` as ``{spec: initializer}``: each spec looked up and drawn once (abstractly);
    a spec given twice is refused (it would be one row, silently)."""
    import jinit

    inits = {}
    for spec in split_inits(text):
        if spec in inits:
            raise UsageError(
                f"--inits gives {spec!r} twice; each initializer is one row, give it once"
            )
        try:
            inits[spec] = jinit.get(spec)
        except (ValueError, TypeError) as err:
            raise UsageError(str(err)) from None
        _check_draws(spec, inits[spec])
    if not inits:
        raise UsageError("--inits is empty; give e.g. zeros,normal:stddev=10,he_normal")
    return inits


def _parse_model(
    args: argparse.Namespace, n_classes: int, input_shape: tuple[int, ...], data: Any = None
):  # fmt: skip
    """``--model`` (default: an MLP 10-5-1 on the data's features), checked against the data;
    ``path.to.module:factory[:key=value,...]`` builds a user's Flax/NNX/Equinox/Haiku model
    (the sweep checks it against the data)."""
    from jinit import models

    spec = args.model or f"mlp:{input_shape[0] if len(input_shape) == 1 else 0},10,5,1"
    if models.is_factory(spec):  # path.to.module:factory, a user's framework model
        try:
            model = models.load_factory(spec)
        except ValueError as err:
            raise UsageError(f"--model {err}") from None
        if data is None:
            raise UsageError(f"--model {spec}: a user's model is built on the data's examples")
        classification = data.y_train.dtype.kind in "iub"
        return spec, _user_model(spec, model, data.x_train[:1], classification)
    try:
        model = models.parse(spec, activation=args.activation, n_classes=n_classes)
    except ValueError as err:
        raise UsageError(str(err)) from None
    expected = tuple(model.input_shape)
    if expected != tuple(input_shape):
        raise UsageError(
            f"--model {spec} takes inputs of shape {expected}, but --data {args.data} has "
            f"{input_shape}; e.g. --model mlp:{','.join(map(str, input_shape))},10,5,1"
            if len(input_shape) == 1
            else f"--model {spec} takes inputs of shape {expected}, but --data {args.data} "
            f"has {input_shape}"
        )
    return spec, model


def _user_model(spec: str, model: Any, example: Any, classification: bool) -> Any:
    """A user's model adapted on the data's examples (Flax linen, NNX, Equinox, Haiku), its
    output kind (the default loss) from the data: softmax over several logits, sigmoid for
    one, linear for real-valued labels."""
    import dataclasses

    import jax

    from jinit.frameworks import as_model

    try:
        m = as_model(model, example)
        if m.output is None and m.template is not None:
            out = jax.eval_shape(m.apply, m.template, example)
            units = out.shape[-1] if len(out.shape) > 1 else 1
            kind = ("softmax" if units > 1 else "sigmoid") if classification else "linear"
            m = dataclasses.replace(m, output=kind)
        return m
    except (ValueError, TypeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(f"--model {spec}: {reason}") from None


def _prepare_out(path: str | None) -> str | None:
    """Check (and create) an ``--out`` directory before any work, so that no result is lost
    to a bad path at the end."""
    if path is None:
        return None
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"--out {path} is a file, not a directory; give a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out {path}: cannot create the directory ({err.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"--out {path}: the directory is not writable")
    return path


def _check_mnist(path: str | None) -> None:
    if path is not None and not os.path.isdir(path):
        raise UsageError(f"--mnist {path}: no such directory (it should hold the MNIST files)")


def _load_data(args: argparse.Namespace):
    from jinit import data

    kwargs = {}
    if args.data == "mnist" and args.mnist:
        kwargs["path"] = args.mnist
    try:
        return data.get(args.data, **kwargs)
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise UsageError(str(err).splitlines()[0]) from None


def _optimizer(name: str, lr: float | None):
    """The optax optimizer ``name`` at learning rate ``lr``, or its factory for ``None``."""
    import functools

    import optax

    table = {
        "sgd": optax.sgd,
        "adam": optax.adam,
        "momentum": functools.partial(optax.sgd, momentum=0.9),
    }
    if name not in table:
        raise UsageError(f"unknown optimizer {name!r}; accepted: {', '.join(table)}")
    return table[name] if lr is None else table[name](lr)


def _emit(report, args: argparse.Namespace, out: str | None = None) -> int:
    """Print a report (text or ``--json``) and write its files under ``out``; across
    processes (``--processes``, cluster flags) only process 0 does."""
    from jinit.distributed import is_leader

    if not is_leader():
        return 0 if report.passed else 1
    if out:
        files = report.write(out)
        if not args.json:
            print(report.text())
            print(f"\nwrote {', '.join(sorted(os.path.basename(p) for p in files.values()))} "
                  f"to {out}")  # fmt: skip
    elif not args.json:
        print(report.text())
    if args.json:
        print(json.dumps(report.to_dict()))
    return 0 if report.passed else 1


# --------------------------------------------------------------------------- interrupts


def _interrupt_type() -> type[BaseException]:
    """The engine's ``SweepInterrupted`` (carrying ``.partial``), else KeyboardInterrupt."""
    from jinit import engine

    return getattr(engine, "SweepInterrupted", KeyboardInterrupt)


def _checkpoint_dir(out: str | None) -> str | None:
    return None if out is None else os.path.join(out, "checkpoint")


def _interrupted(err: BaseException, out: str | None, make_report, base: str | None = None) -> int:
    """After Ctrl-C: write what finished under ``out`` (results.json marked ``"partial":
    true``) and say how to resume (the checkpoint is under ``base``, default ``out``); exit
    code 130."""
    from jinit.distributed import is_leader

    partial = getattr(err, "partial", None)
    if not is_leader():
        return INTERRUPTED
    if out is None:
        print("jinit: interrupted (give --out DIR to keep finished chunks and resume)",
              file=sys.stderr)  # fmt: skip
        return INTERRUPTED
    if partial is not None:
        make_report(partial).write(out)
    path = os.path.join(out, "results.json")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        saved = {"result": None}
    with open(path, "w") as f:
        json.dump({"partial": True, **saved}, f, indent=1)
    print(f"jinit: interrupted; finished chunks kept in {base or out}; "
          "re-run the same command to resume", file=sys.stderr)  # fmt: skip
    return INTERRUPTED


# --------------------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    """The experiments, one a line: name, title, modes."""
    import re

    from jinit import experiments

    for name in experiments.available():
        e = experiments.get(name)
        modes = "faithful + sweep" if e.faithful else "sweep"
        title = re.sub(r"\s*\(REFERENCE \d+\)", "", e.title)  # internal labels stay inside
        print(f"{name:16s} {title}  [{modes}]")
    return 0


def _reproduce_options(exp, args: argparse.Namespace) -> dict:
    options = {}
    if args.steps is not None:
        options["steps"] = args.steps
    if args.mnist:
        options["mnist"] = args.mnist
    if args.tuned:
        options["tuned"] = True
    accepted = set(inspect.signature(exp.sweep).parameters)
    for option in options:
        if option not in accepted:
            raise UsageError(f"--{option} does not apply to experiment {args.name!r}")
    if args.faithful and args.tuned:
        raise UsageError("--tuned tunes the sweep across seeds; drop --faithful")
    if args.faithful and exp.faithful is None:
        raise UsageError(f"experiment {args.name!r} has no faithful mode; drop --faithful")
    return options


def _with_checkpoint(fn, options: dict, out: str | None) -> dict:
    """``options`` plus ``checkpoint_dir`` where the experiment's function accepts it."""
    if out is None or fn is None or "checkpoint_dir" not in inspect.signature(fn).parameters:
        return options
    return {**options, "checkpoint_dir": _checkpoint_dir(out)}


def cmd_reproduce(args: argparse.Namespace) -> int:
    """The faithful run beside the published numbers, then the sweep across seeds.
    ``--faithful`` runs only the former; a changed ``--steps`` makes a run unfaithful, so
    then only the sweep runs. Each report is written as soon as it is done."""
    from jinit import experiments
    from jinit.report import Report

    try:
        exp = experiments.get(args.name)
    except ValueError as err:
        raise UsageError(str(err)) from None
    options = _reproduce_options(exp, args)
    _check_mnist(args.mnist)
    out = _prepare_out(args.out)
    faithful_too = exp.faithful is not None and (args.faithful or args.steps is None)
    faithful_too = faithful_too and not args.tuned  # --tuned: the sweep only
    modes = (["faithful"] if faithful_too else []) + ([] if args.faithful else ["sweep"])
    status = 0
    for mode in modes:
        fn = exp.faithful if mode == "faithful" else exp.sweep
        mode_out = os.path.join(out, mode) if out and len(modes) > 1 else out
        opts = _with_checkpoint(fn, options, out)
        partial_mode = f"{mode} (partial)"

        def make_report(result, mode=partial_mode):
            return Report(exp.name, mode, exp.title, exp.source, result=result)

        try:
            if mode == "faithful":
                rep = exp.run(faithful=True, **opts)
            else:
                rep = exp.run(seeds=args.seeds, **opts)
        except FileNotFoundError as err:
            raise UsageError(str(err).splitlines()[0]) from None
        except _interrupt_type() as err:
            return _interrupted(err, mode_out, make_report, out)
        status |= _emit(rep, args, mode_out)
        if not args.json:
            print()
    return status


def cmd_compare(args: argparse.Namespace) -> int:
    """Train every (init x seed) run of ``--model`` on ``--data``; a table, files under --out."""
    import jinit
    from jinit.report import Report, sweep_mode

    data = _load_data(args)
    tuning = len(args.lr) > 1
    val = args.val if args.val is not None or not tuning else 0.2
    if val is not None:
        data = data.split_validation(val)
    spec, model = _parse_model(args, data.n_classes, data.x_train.shape[1:], data)
    inits = _parse_inits(args.inits)
    if tuning:
        optimizer = _optimizer(args.optimizer, None)
        grid = {"optimizer": optimizer, "hparams": {"learning_rate": args.lr}}
    else:
        grid = {"optimizer": _optimizer(args.optimizer, args.lr[0])}
    out = _prepare_out(args.out)
    title = f"{args.inits} on {args.data}"

    seeds = _compare_seeds(args)

    def make_report(result):
        if tuning and result.configs is not None:
            return _tuned_report(result, title, spec, args, val)
        return Report("compare", sweep_mode(len(result.seeds)), title,
                      f"jinit compare, model {spec}", result=result)  # fmt: skip

    try:
        r = jinit.sweep(model, inits, data, **grid, steps=args.steps,
                        seeds=seeds, batch_size=args.batch_size,
                        eval_every=args.eval_every, out_dir=_checkpoint_dir(out),
                        resume=out is not None,
                        block_size=args.block_size or "auto")  # fmt: skip
    except _interrupt_type() as err:
        return _interrupted(err, out, make_report)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err).strip().splitlines()[0]) from None
    return _emit(make_report(r), args, out)


def _compare_seeds(args: argparse.Namespace) -> int | list[int]:
    """``--seeds``, cut to job I of N with ``--shard I/N``."""
    if args.shard is None:
        return args.seeds
    from jinit.shards import shard_seeds

    try:
        return shard_seeds(args.seeds, args.shard)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _tuned_report(result, title: str, spec: str, args: argparse.Namespace, val: float):
    """The report of a learning-rate grid: each init at its best rate on the validation
    split (median final val_loss over seeds), the validation loss at every rate, and the
    paired comparison (test split) of every init against the best tuned one."""
    import numpy as np

    from jinit import _format
    from jinit.report import Report, Table, sweep_mode

    tuned = result.tune("val_loss", "min")
    test = "test_acc" if "test_acc" in tuned.metrics else "test_loss"
    score = np.median(tuned.final("val_loss"), axis=1)
    best = tuned.inits[int(np.nanargmin(np.where(np.isnan(score), np.inf, score)))]
    lrs = [c["learning_rate"] for c in result.configs]
    val_loss = np.median(result.metrics["val_loss"][..., -1], axis=2)  # [inits, configs]
    rows = [
        [name, *val_loss[i], tuned.chosen[name]["learning_rate"]]
        for i, name in enumerate(result.inits)
    ]
    header = ["init", *(f"lr={_format.number(lr)}" for lr in lrs), "chosen"]
    report = Report(
        "compare", sweep_mode(len(result.seeds)), f"{title}, each init at its best learning rate",
        f"jinit compare, model {spec}, {args.optimizer}", result=tuned,
    )  # fmt: skip
    report.tables.append(
        Table("chosen learning rates (median final val_loss over seeds at each rate)", header,
              rows)
    )  # fmt: skip
    paired = tuned.comparison_rows(test, baseline=best)
    report.tables.append(Table(f"paired comparison against the best tuned init ({best}): "
                               f"{paired[0]}", *paired[1:]))  # fmt: skip
    report.notes.append(
        f"learning rates tuned per init on a validation split of {val:.0%} of the training "
        "set (stratified, seed 0); the test split was not used for any choice."
    )
    report.grids["learning_rate"] = result
    return report


def _read_result(path: str):
    """``(report fields, SweepResult)`` of a ``jinit compare --out`` directory."""
    from jinit.results import SweepResult

    file = os.path.join(path, "results.json")
    try:
        with open(file) as f:
            saved = json.load(f)
    except OSError as err:
        raise UsageError(f"merge: cannot read {file} ({err.strerror}); give the --out "
                         "directories of `jinit compare` runs") from None  # fmt: skip
    except ValueError:
        raise UsageError(f"merge: {file} is not JSON; give the --out directories of "
                         "`jinit compare` runs") from None  # fmt: skip
    if saved.get("partial"):
        raise UsageError(f"merge: {path} holds an interrupted run; re-run its command to "
                         "finish it first")  # fmt: skip
    if not isinstance(saved.get("result"), dict):
        raise UsageError(f"merge: {file} holds no sweep result; give the --out directories "
                         "of `jinit compare` runs")  # fmt: skip
    try:
        return saved, SweepResult.from_dict(saved["result"])
    except ValueError as err:
        raise UsageError(f"merge: {file}: {err}") from None


def cmd_merge(args: argparse.Namespace) -> int:
    """Join the results of ``jinit compare`` shards (``--shard``, ``--seeds`` ranges) into
    the one sweep over all their seeds (or inits: ``--axis inits``); report and files."""
    from jinit.report import Report, sweep_mode
    from jinit.results import SweepResult

    read = [_read_result(path) for path in args.dirs]
    if args.axis == "seeds":  # shards in seed order, whatever order they are given in
        read.sort(key=lambda pair: int(pair[1].seeds[0]))
    try:
        merged = SweepResult.concat([r for _, r in read], axis=args.axis)
    except (ValueError, TypeError) as err:
        msg = str(err).replace("SweepResult.concat: ", "merge: ")
        raise UsageError(msg.replace("merge: result", "merge: part")) from None
    out = _prepare_out(args.out)
    head = read[0][0]
    report = Report(head.get("experiment") or "compare", sweep_mode(len(merged.seeds)),
                    head.get("title") or "merged", head.get("source") or "jinit merge",
                    result=merged)  # fmt: skip
    report.notes.append(f"merged by `jinit merge` from {len(read)} results "
                        f"({', '.join(args.dirs)}) along {args.axis}")  # fmt: skip
    return _emit(report, args, out)


def cmd_probe(args: argparse.Namespace) -> int:
    """Per-layer statistics of each init at initialization, over seeds."""
    import jax
    import jax.numpy as jnp

    from jinit import diagnostics as probe_lib
    from jinit import models

    inits = _parse_inits(args.inits)
    try:
        model = models.parse(args.model, activation=args.activation)
    except ValueError as err:
        raise UsageError(str(err)) from None
    out = _prepare_out(args.out)
    x = jax.random.normal(jax.random.key(0), (args.batch, *model.input_shape), jnp.float32)
    results = {
        name: probe_lib.probe_seeds(model, init, x, seeds=args.seeds)
        for name, init in inits.items()
    }
    saved = {k: v.to_dict() for k, v in results.items()}
    if args.json:
        print(json.dumps(saved, default=float))
    else:
        for name, res in results.items():
            print(f"== {name}\n{res.table()}\n")
    if out:
        from jinit import plots

        with open(os.path.join(out, "probe.json"), "w") as f:
            json.dump(saved, f, default=float)
        paths = [
            plots.plot_layer_std(results, os.path.join(out, "layer_std.png")),
            plots.plot_signal_propagation(results, os.path.join(out, "signal.png")),
        ]
        if not args.json:
            print("wrote probe.json, " + ", ".join(os.path.basename(p) for p in paths))
    return 0


# --------------------------------------------------------------------------- parser

SEEDS = _int_at_least(1)
STEPS = _int_at_least(1)


def _reproduce_parser(sub) -> argparse.ArgumentParser:
    r = sub.add_parser(
        "reproduce", help="re-run a source experiment: faithfully, then across seeds"
    )
    r.add_argument("name", help="an experiment name (see `jinit list`)")
    r.add_argument("--faithful", action="store_true", help="only the original setup and seeds")
    r.add_argument("--seeds", type=SEEDS, default=None, help="seeds for the sweep mode")
    r.add_argument("--steps", type=STEPS, default=None, help="training steps (default: original)")
    r.add_argument("--mnist", default=None, help="MNIST directory (nielsen; or $JINIT_MNIST)")
    r.add_argument("--tuned", action="store_true",
                   help="each init at its best learning rate, chosen on validation "
                        "(coursera-init)")  # fmt: skip
    from jinit.distributed import add_arguments

    add_arguments(r, _int_at_least)
    r.set_defaults(fn=cmd_reproduce)
    return r


def _compare_parser(sub) -> argparse.ArgumentParser:
    c = sub.add_parser("compare", help="compare initializers on a model and dataset")
    c.add_argument("--model", default=None,
                   help="mlp:IN,H1,...,OUT, conv:HxWxC:CH1,CH2, resnet:HxWxC:CH1,CH2[:BLOCKS]"
                        "[:NORM], transformer:VOCAB,SEQ[:D,HEADS,LAYERS], or your own model "
                        "as path.to.module:factory[:key=value,...] (default: mlp:IN,10,5,1 "
                        "with IN the data's features)")  # fmt: skip
    c.add_argument("--activation", default="relu", help="hidden activation (default: relu)")
    c.add_argument("--data", default="circles", help="circles, moons, spirals, planar, ...")
    c.add_argument("--mnist", default=None, help="MNIST directory for --data mnist")
    c.add_argument("--inits", default="zeros,normal:stddev=10,he_normal",
                   help="comma-separated initializer specs (default: %(default)s)")  # fmt: skip
    c.add_argument("--seeds", type=_seeds, default=20,
                   help="seeds per init: a count (default: 20, seeds 0..19), or seeds and "
                        "ranges: 0:50 (seeds 0..49), 3,5,9")  # fmt: skip
    c.add_argument("--shard", type=_shard, default=None,
                   help="I/N: run job I (from 0) of N, the I-th of N consecutive blocks of the "
                        "seeds (join the results with `jinit merge`)")  # fmt: skip
    c.add_argument("--steps", type=STEPS, default=2000, help="training steps (default: 2000)")
    c.add_argument("--lr", type=_positive_floats, default=[0.01],
                   help="learning rate (0.01), or several (0.003,0.01,0.03): tune each init "
                        "on a validation split")  # fmt: skip
    c.add_argument("--optimizer", default="sgd", help="sgd, momentum or adam")
    c.add_argument("--val", type=_fraction, default=None,
                   help="fraction of the training set held out for validation "
                        "(default: none; 0.2 when --lr lists several rates)")  # fmt: skip
    c.add_argument("--batch-size", type=_int_at_least(1), default=None,
                   help="mini-batch size (default: full batch)")  # fmt: skip
    c.add_argument("--eval-every", type=_int_at_least(1), default=None,
                   help="steps between evaluations (default: 10 evaluations)")  # fmt: skip
    c.add_argument("--block-size", type=_int_at_least(1), default=None,
                   help="train blocks of exactly N runs: a seed's numbers are then the same "
                        "bit for bit in any job (give every --shard the same N; default: "
                        "cache-sized blocks, equal to float round-off)")  # fmt: skip
    from jinit.distributed import add_arguments

    add_arguments(c, _int_at_least)
    c.set_defaults(fn=cmd_compare)
    return c


def _join_job(args: argparse.Namespace) -> None:
    """Join a ``jax.distributed`` job (:func:`jinit.distributed.join`)."""
    from jinit import distributed

    try:
        distributed.join(args.coordinator, args.num_processes, args.process_id)
    except ValueError as err:
        raise UsageError(str(err)) from None


def _probe_parser(sub) -> argparse.ArgumentParser:
    pr = sub.add_parser("probe", help="per-layer signal statistics of inits at initialization")
    pr.add_argument("--model", default="mlp:256," + ",".join(["256"] * 30) + ",10",
                    help="mlp:IN,H1,...,OUT or conv:HxWxC:CH1,CH2 "
                         "(default: a 30-layer MLP of width 256)")  # fmt: skip
    pr.add_argument("--activation", default="relu", help="hidden activation (default: relu)")
    pr.add_argument("--inits", default="xavier_normal,he_normal",
                    help="comma-separated initializer specs (default: %(default)s)")  # fmt: skip
    pr.add_argument("--seeds", type=SEEDS, default=8, help="seeds per init (default: 8)")
    pr.add_argument("--batch", type=_int_at_least(1), default=256,
                    help="random N(0, 1) inputs sent through the net (default: 256)")  # fmt: skip
    pr.set_defaults(fn=cmd_probe)
    return pr


def _merge_parser(sub) -> argparse.ArgumentParser:
    m = sub.add_parser("merge", help="join the --out directories of `jinit compare` shards")
    m.add_argument("dirs", nargs="+", help="--out directories of `jinit compare` runs")
    m.add_argument("--axis", choices=("seeds", "inits"), default="seeds",
                   help="join other seeds of the same inits (default), or other inits of the "
                        "same seeds")  # fmt: skip
    m.set_defaults(fn=cmd_merge)
    return m


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="jinit",
        description="Weight initializers for JAX, compared across many seeds in one program.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the reproducible experiments").set_defaults(fn=cmd_list)
    parsers = (_reproduce_parser(sub), _compare_parser(sub), _probe_parser(sub), _merge_parser(sub))
    for sp in parsers:
        sp.add_argument("--out", default=None,
                        help="write results, plots and report.md here (and keep a checkpoint "
                             "under OUT/checkpoint to resume an interrupted run)")  # fmt: skip
        sp.add_argument("--json", action="store_true", help="print the results as JSON")
        sp.add_argument("--no-cache", action="store_true",
                        help="do not use the persistent compilation cache "
                             "($JINIT_CACHE_DIR, else ~/.cache/jinit/xla)")  # fmt: skip
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """The ``jinit`` command. Exit codes: 0 ok, 1 a check failed, 2 bad input, 130
    interrupted. Run as the process's entry (``argv`` None), an interrupted run ends with
    ``os._exit`` after flushing, so no XLA thread still running can crash the exit."""
    from jinit.devices import use_cpu_cores

    args = build_parser().parse_args(argv)
    if getattr(args, "processes", None) and args.processes > 1:
        if args.coordinator is not None:
            print("jinit: error: --processes starts its own local job; drop --coordinator",
                  file=sys.stderr)  # fmt: skip
            return USAGE_ERROR
        from jinit.distributed import launch_local, without_processes

        return launch_local(without_processes(sys.argv[1:] if argv is None else argv),
                            args.processes)  # fmt: skip
    use_cpu_cores()  # the command owns its process: shard runs over every core
    try:
        if hasattr(args, "coordinator"):
            _join_job(args)
        if args.command != "list" and not args.no_cache:
            from jinit.cache import enable_compilation_cache

            try:
                enable_compilation_cache()
            except ValueError as err:
                print(f"jinit: warning: {err}; running without the cache", file=sys.stderr)
        status = args.fn(args)
    except UsageError as err:
        print(f"jinit: error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("jinit: interrupted", file=sys.stderr)
        status = INTERRUPTED
    if status == INTERRUPTED and argv is None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED)
    return status


if __name__ == "__main__":
    sys.exit(main())
