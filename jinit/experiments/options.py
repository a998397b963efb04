"""The experiment options convention: the options every experiment shares, declared once.

An experiment function takes its shared options (seeds, steps, learning rate, batch size, width,
depth, MNIST directory, checkpoint directory) as one frozen :class:`Options`, its first
argument, and names them, with its own defaults, in the :func:`options` decorator; its own
options (``depths``, ``tol``, ``tuned``, ...) stay ordinary keyword arguments::

    @options(seeds=3, steps=400, lr=0.003, batch_size=64, width=64, depth=30)
    def _lsuv(o: Options, tol: float = 0.1) -> Report:
        data = data_lib.digits()
        net = MLP([data.n_features] + [o.width] * o.depth + [data.n_classes])
        r = o.sweep(net, inits, data, "lsuv", evals=4, momentum=0.9)
        ...

    register(Experiment("lsuv", title, SOURCE, None, _lsuv, default_seeds=3))

The decorated function is called with keywords, ``_lsuv(seeds=5, steps=100, tol=0.2)``; its
signature (what ``inspect.signature``, ``Experiment.run`` and ``jinit reproduce`` read) lists
the shared options it named, its own options and ``checkpoint_dir``, which every experiment
accepts. The shared values are checked here, once, with one-line errors naming the option.
:meth:`Options.sweep` is :func:`jinit.sweep` with the options' seeds, steps, batch size,
``optax.sgd(lr)`` (``momentum`` optional) and the checkpoint directory
(``checkpoint_dir/label``, resumed) filled in.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import optax

from jinit._validate import check_positive, did_you_mean
from jinit.engine import sweep as engine_sweep
from jinit.experiments.registry import checkpointing
from jinit.keys import check_seeds
from jinit.results import SweepResult

R = TypeVar("R")


@dataclasses.dataclass(frozen=True)
class Options:
    """The shared options of one experiment call (None: the experiment does not take it).

    ``seeds``: a count or distinct ints (:func:`jinit.keys.check_seeds`); ``steps``: optimizer
    steps per run; ``lr``: the SGD learning rate; ``batch_size``: examples per step, None for
    full batch; ``width``, ``depth``: of the hidden layers; ``mnist``: an MNIST directory (None:
    ``$JINIT_MNIST`` or the 8x8 digits, :mod:`jinit.experiments._mnist`); ``checkpoint_dir``:
    where each sweep checkpoints and resumes (:func:`~jinit.experiments.registry.checkpointing`).
    """

    seeds: int | Sequence[int] | None = None
    steps: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    width: int | None = None
    depth: int | None = None
    mnist: str | os.PathLike[str] | None = None
    checkpoint_dir: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        if self.seeds is not None:
            check_seeds(self.seeds)
        for what, minimum in (("steps", 0), ("batch_size", 1), ("width", 1), ("depth", 1)):
            _check_count(getattr(self, what), what, minimum)
        if self.lr is not None:
            check_positive(self.lr, "lr", "experiment option")

    @property
    def seed_list(self) -> list[int]:
        """The seeds as a list of ints (a count ``n`` is ``0..n-1``)."""
        return [int(s) for s in check_seeds(self.seeds)]

    def replace(self, **changes: Any) -> Options:
        return dataclasses.replace(self, **changes)

    def sweep(
        self,
        model: Any,
        inits: Mapping[str, Any],
        data: Any,
        label: str,
        *,
        evals: int | None = None,
        momentum: float | None = None,
        **options: Any,
    ) -> SweepResult:
        """:func:`jinit.sweep` of ``model`` x ``inits`` on ``data`` with these seeds, steps and
        batch size; the optimizer ``optax.sgd(lr, momentum)`` (unless ``optimizer`` is given);
        ``eval_every = max(1, steps // evals)`` for ``evals`` evaluations; checkpointed under
        ``checkpoint_dir/label`` and resumed from it. ``options`` go to :func:`jinit.sweep`
        and take precedence."""
        kw: dict[str, Any] = {"seeds": self.seeds, "steps": self.steps}
        if self.batch_size is not None:
            kw["batch_size"] = self.batch_size
        if self.lr is not None:
            kw["optimizer"] = optax.sgd(self.lr, momentum=momentum)
        if evals is not None:
            kw["eval_every"] = max(1, self.steps // evals)
        kw.update(checkpointing(self.checkpoint_dir, label))
        return engine_sweep(model, inits, data, **{**kw, **options})


_SHARED = tuple(f.name for f in dataclasses.fields(Options))


def _check_count(value: Any, what: str, minimum: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"experiment option {what} must be an int >= {minimum}, got {value!r}.")


def _parameter(name: str, default: Any) -> inspect.Parameter:
    """A keyword-only parameter for the shared option ``name`` (its type without ``| None``
    where the experiment's default is not None)."""
    annotation = Options.__annotations__[name]
    if default is not None:
        annotation = annotation.removesuffix(" | None")
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)  # fmt: skip


def options(**defaults: Any) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Declare which shared :class:`Options` an experiment function takes, with its defaults
    (``checkpoint_dir`` always, default None). See the module docstring."""
    for name in defaults:
        if name not in _SHARED or name == "checkpoint_dir":
            raise did_you_mean(name, [n for n in _SHARED if n != "checkpoint_dir"],
                               "shared experiment option")  # fmt: skip
    shared = {**defaults, "checkpoint_dir": None}

    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        own = inspect.signature(fn)
        params = [_parameter(n, v) for n, v in defaults.items()]
        params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                   for p in list(own.parameters.values())[1:]]  # fmt: skip
        signature = own.replace(parameters=[*params, _parameter("checkpoint_dir", None)])

        @functools.wraps(fn)
        def experiment(**kwargs: Any) -> R:
            for name in kwargs:
                if name not in signature.parameters:
                    raise did_you_mean(name, list(signature.parameters), "option",
                                       prefix=f"{fn.__name__.strip('_')}: ")  # fmt: skip
            bound = signature.bind(**kwargs)
            bound.apply_defaults()
            args = dict(bound.arguments)
            given = Options(**{n: args.pop(n) for n in shared})
            return fn(given, **args)

        experiment.__signature__ = signature  # type: ignore[attr-defined]
        return experiment

    return decorate
