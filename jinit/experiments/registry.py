"""The experiment registry: :class:`Experiment`, ``register``, ``available``, ``get``, ``run``.

Experiment modules import this module (and the jinit submodules they use), never the package
root ``jinit``: ``jinit/__init__`` imports the experiments package, so ``import jinit`` inside an
experiment module would be an import cycle.

Experiment options convention (:mod:`jinit.experiments.options`): a new experiment takes the
options every experiment shares (seeds, steps, lr, batch_size, width, depth, mnist,
checkpoint_dir) as one :class:`~jinit.experiments.options.Options`, named with its defaults in
``@options(...)``, and trains through ``Options.sweep`` (seeds, steps, batch size, SGD at
``lr``, eval points and checkpointing filled in)::

    @options(seeds=3, steps=300, lr=0.01, batch_size=64, width=64, depth=4)
    def _my_sweep(o: Options, tol: float = 0.1) -> Report:   # own options stay keywords
        r = o.sweep(net, inits, data, "my-label", evals=4, momentum=0.9)
        ...

    register(Experiment("my-name", title, SOURCE, None, _my_sweep, default_seeds=3))
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
from collections.abc import Callable
from typing import Any

from jinit.report import Report

#: The modules whose import registers the experiments.
MODULES = ("coursera", "deep", "ng", "nielsen", "saturation", "research_lsuv", "research_mup",
           "research_residual", "research_zero", "resnet_depth", "transformer_init",
           "research_tuning", "research_mup_transfer", "research_transformer")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named reproduction.

    ``faithful(**options)`` re-runs the original setup and seeds and compares with the
    published numbers; ``sweep(seeds, steps, **options)`` runs the comparison across many
    seeds. Both return a :class:`~jinit.report.Report`. Every experiment accepts
    ``checkpoint_dir``: each of its sweeps then checkpoints under it and resumes from it.
    """

    name: str
    title: str
    source: str
    faithful: Callable[..., Report] | None
    sweep: Callable[..., Report]
    default_seeds: int = 100

    def run(self, *, faithful: bool = False, seeds: int | None = None, **options: Any) -> Report:
        if faithful:
            if self.faithful is None:
                raise ValueError(f"experiment {self.name!r} has no faithful mode.")
            return self.faithful(**options)
        return self.sweep(seeds=seeds or self.default_seeds, **options)


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    _REGISTRY[experiment.name] = experiment
    return experiment


def _load() -> None:
    for module in MODULES:
        importlib.import_module(f"jinit.experiments.{module}")


def available() -> list[str]:
    """Names of the registered experiments."""
    _load()
    return sorted(_REGISTRY)


def get(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name lists the accepted ones."""
    _load()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown experiment {name!r}.{hint} Available: {', '.join(available())}.")
    return _REGISTRY[name]


def run(name: str, *, faithful: bool = False, seeds: int | None = None, **options: Any) -> Report:
    """Run experiment ``name`` (see :meth:`Experiment.run`)."""
    return get(name).run(faithful=faithful, seeds=seeds, **options)


def checkpointing(checkpoint_dir: str | os.PathLike[str] | None, label: str) -> dict[str, Any]:
    """The sweep options that checkpoint one of an experiment's sweeps under
    ``checkpoint_dir/label`` and resume from it (``{}`` without a directory)."""
    if checkpoint_dir is None:
        return {}
    return {"out_dir": os.path.join(os.fspath(checkpoint_dir), label), "resume": True}
