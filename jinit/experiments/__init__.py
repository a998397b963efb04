"""The source experiments, each with a faithful mode and a many-seed sweep mode.

``get(name)`` returns an :class:`Experiment`; ``run(name, faithful=..., seeds=..., steps=...)``
runs it and returns a :class:`jinit.report.Report` (expected vs measured numbers, each expected
number marked published, reference run or derived, with its source; a sweep result with
confidence intervals; notes). ``available()`` lists the names. The registry lives in
:mod:`jinit.experiments.registry`, which the experiment modules import.
"""

from __future__ import annotations

from jinit.experiments.registry import Experiment, available, get, register, run

__all__ = ["Experiment", "available", "get", "register", "run"]
