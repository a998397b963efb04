"""The ``jinit`` command: list and reproduce experiments, compare inits, probe a model."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Sequence

USAGE_ERROR = 2


class UsageError(Exception):
    """A bad name or argument: reported in one line, exit code 2."""


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


def _parse_inits(text: str) -> dict:
    import jinit

    inits = {}
    for spec in split_inits(text):
        try:
            inits[spec] = jinit.get(spec)
        except (ValueError, TypeError) as err:
            raise UsageError(str(err)) from None
    if not inits:
        raise UsageError("--inits is empty; give e.g. zeros,normal:stddev=10,he_normal")
    return inits


def _parse_model(args: argparse.Namespace, n_classes: int, input_shape: tuple[int, ...]):
    from jinit import models

    spec = args.model or f"mlp:{input_shape[0] if len(input_shape) == 1 else 0},10,5,1"
    try:
        model = models.parse(spec, activation=args.activation, n_classes=n_classes)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return model


def _load_data(args: argparse.Namespace):
    from jinit import data

    kwargs = {}
    if args.data == "mnist" and args.mnist:
        kwargs["path"] = args.mnist
    try:
        return data.get(args.data, **kwargs)
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise UsageError(str(err).splitlines()[0]) from None


def _optimizer(name: str, lr: float):
    import optax

    table = {"sgd": optax.sgd, "adam": optax.adam, "momentum": lambda lr: optax.sgd(lr, 0.9)}
    if name not in table:
        raise UsageError(f"unknown optimizer {name!r}; accepted: {', '.join(table)}")
    return table[name](lr)


def _emit(report, args: argparse.Namespace) -> int:
    if args.out:
        files = report.write(args.out)
        if not args.json:
            print(report.text())
            print(f"\nwrote {', '.join(sorted(os.path.basename(p) for p in files.values()))} "
                  f"to {args.out}")  # fmt: skip
    elif not args.json:
        print(report.text())
    if args.json:
        print(json.dumps(report.to_dict()))
    return 0 if report.passed else 1


# --------------------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    from jinit import experiments

    for name in experiments.available():
        e = experiments.get(name)
        modes = "faithful + sweep" if e.faithful else "sweep"
        print(f"{name:16s} {e.title}  [{modes}]")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from jinit import experiments

    try:
        exp = experiments.get(args.name)
    except ValueError as err:
        raise UsageError(str(err)) from None
    options = {}
    if args.steps is not None:
        options["steps"] = args.steps
    if args.mnist:
        options["mnist"] = args.mnist
    accepted = set(inspect.signature(exp.sweep).parameters)
    for option in options:
        if option not in accepted:
            raise UsageError(f"--{option} does not apply to experiment {args.name!r}")
    # Default: the faithful run beside the published numbers, then the sweep across seeds.
    # --faithful runs only the former; a changed --steps makes a run unfaithful, so then
    # only the sweep runs.
    run_faithful = exp.faithful is not None and (args.faithful or args.steps is None)
    if args.faithful and exp.faithful is None:
        raise UsageError(f"experiment {args.name!r} has no faithful mode; drop --faithful")
    try:
        reports = [exp.run(faithful=True, **options)] if run_faithful else []
        if not args.faithful:
            reports.append(exp.run(seeds=args.seeds, **options))
    except FileNotFoundError as err:
        raise UsageError(str(err).splitlines()[0]) from None
    status = 0
    base_out = args.out
    for rep in reports:
        if base_out and len(reports) > 1:
            args.out = os.path.join(base_out, rep.mode.split()[0])
        status |= _emit(rep, args)
        if not args.json:
            print()
    return status


def cmd_compare(args: argparse.Namespace) -> int:
    import jinit
    from jinit.report import Report, sweep_mode

    data = _load_data(args)
    model = _parse_model(args, data.n_classes, data.x_train.shape[1:])
    inits = _parse_inits(args.inits)
    r = jinit.sweep(
        model,
        inits,
        data,
        optimizer=_optimizer(args.optimizer, args.lr),
        steps=args.steps,
        seeds=args.seeds,
        batch_size=args.batch_size,
        eval_every=args.eval_every,
    )
    rep = Report("compare", sweep_mode(args.seeds), f"{args.inits} on {args.data}",
                 f"jinit compare, model {args.model}", result=r)  # fmt: skip
    return _emit(rep, args)


def cmd_probe(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp

    from jinit import diagnostics as probe_lib

    inits = _parse_inits(args.inits)
    from jinit import models

    try:
        model = models.parse(args.model, activation=args.activation)
    except ValueError as err:
        raise UsageError(str(err)) from None
    x = jax.random.normal(jax.random.key(0), (args.batch, *model.input_shape), jnp.float32)
    results = {
        name: probe_lib.probe_seeds(model, init, x, seeds=args.seeds)
        for name, init in inits.items()
    }
    for name, res in results.items():
        print(f"== {name}\n{res.table()}\n")
    if args.out:
        from jinit import plots

        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "probe.json"), "w") as f:
            json.dump({k: v.to_dict() for k, v in results.items()}, f, default=float)
        paths = [
            plots.plot_layer_std(results, os.path.join(args.out, "layer_std.png")),
            plots.plot_signal_propagation(results, os.path.join(args.out, "signal.png")),
        ]
        print("wrote probe.json, " + ", ".join(os.path.basename(p) for p in paths))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jinit",
        description="Weight initializers for JAX, compared across many seeds in one program.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="list the reproducible experiments").set_defaults(fn=cmd_list)

    r = sub.add_parser(
        "reproduce", help="re-run a source experiment: faithfully, then across seeds"
    )
    r.add_argument("name", help="an experiment name (see `jinit list`)")
    r.add_argument("--faithful", action="store_true", help="only the original setup and seeds")
    r.add_argument("--seeds", type=int, default=None, help="seeds for the sweep mode")
    r.add_argument("--steps", type=int, default=None, help="training steps (default: original)")
    r.add_argument("--mnist", default=None, help="MNIST directory (nielsen; or $JINIT_MNIST)")
    r.set_defaults(fn=cmd_reproduce)

    c = sub.add_parser("compare", help="compare initializers on a model and dataset")
    c.add_argument("--model", default=None, help="mlp:IN,H1,...,OUT or conv:HxWxC:CH1,CH2")
    c.add_argument("--activation", default="relu")
    c.add_argument("--data", default="circles", help="circles, moons, spirals, planar, ...")
    c.add_argument("--mnist", default=None, help="MNIST directory for --data mnist")
    c.add_argument("--inits", default="zeros,normal:stddev=10,he_normal")
    c.add_argument("--seeds", type=int, default=20)
    c.add_argument("--steps", type=int, default=2000)
    c.add_argument("--lr", type=float, default=0.01)
    c.add_argument("--optimizer", default="sgd", help="sgd, momentum or adam")
    c.add_argument("--batch-size", type=int, default=None)
    c.add_argument("--eval-every", type=int, default=None)
    c.set_defaults(fn=cmd_compare)

    pr = sub.add_parser("probe", help="per-layer signal statistics of inits at initialization")
    pr.add_argument("--model", default="mlp:256," + ",".join(["256"] * 30) + ",10")
    pr.add_argument("--activation", default="relu")
    pr.add_argument("--inits", default="xavier_normal,he_normal")
    pr.add_argument("--seeds", type=int, default=8)
    pr.add_argument("--batch", type=int, default=256)
    pr.set_defaults(fn=cmd_probe)

    for sp in (r, c, pr):
        sp.add_argument("--out", default=None, help="write results, plots and report.md here")
        sp.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from jinit.devices import use_cpu_cores

    args = build_parser().parse_args(argv)
    use_cpu_cores()  # the command owns its process: shard runs over every core
    try:
        return args.fn(args)
    except UsageError as err:
        print(f"jinit: error: {err}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("jinit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
