"""The source experiments, each with a faithful mode and a many-seed sweep mode.

``get(name)`` returns an :class:`Experiment`; ``run(name, faithful=..., seeds=..., steps=...)``
runs it and returns a :class:`jinit.report.Report` (published vs measured numbers, a sweep
result with confidence intervals, notes). ``available()`` lists the names.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from jinit.report import Report


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named reproduction.

    ``faithful(**options)`` re-runs the original setup and seeds and compares with the
    published numbers; ``sweep(seeds, steps, **options)`` runs the comparison across many
    seeds. Both return a :class:`~jinit.report.Report`.
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
    # Importing the modules registers their experiments.
    from jinit.experiments import coursera, deep, ng, nielsen  # noqa: F401


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
