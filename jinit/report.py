"""Reports of reproductions: expected beside measured numbers, typed tables and probes, files.

Every expected number in a :class:`Check` says what kind of number it is (``Check.kind``):

- ``"published"``: a source states it; ``Check.source`` cites it (paper or course, and the
  table, figure or page);
- ``"reference run"``: someone re-ran the experiment elsewhere; ``Check.source`` says where and
  how (data, seeds, optimizer);
- ``"derived"``: it follows from the setup or the math (``(1/sqrt 2)^30``, "25 distinct units").

Measured numbers are always this run's. The checks table's columns and the JSON fields
(``expected``, ``expected_kind``, ``expected_source``, ``measured``) carry the kind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from jinit import _format
from jinit.results import SweepResult

KINDS = ("published", "reference run", "derived")
Kind = Literal["published", "reference run", "derived"]


def sweep_mode(n_seeds: int) -> str:
    """The mode line of a many-seed report: ``'sweep (30 seeds)'``."""
    return f"sweep ({n_seeds} seed{'' if n_seeds == 1 else 's'})"


def encode(x: Any) -> Any:
    """``x`` as JSON values: arrays as lists, non-finite floats as the strings ``"inf"``,
    ``"-inf"`` and ``"nan"`` (JSON has no such numbers; ``null`` would lose which)."""
    return _format.jsonable(x, nonfinite="string")


@dataclasses.dataclass(frozen=True)
class Check:
    """One expected number (or claim) beside the measured one.

    It passes when ``|measured - expected| <= tolerance`` (if a tolerance is given), and
    ``measured < below`` / ``measured > above`` (if given). With none of these it is context
    only (``passed`` is None). ``not_run`` (a reason) marks a check that this run could not
    make: never passed, shown as "not run".

    ``kind`` says where ``expected`` comes from (``"published"``, ``"reference run"`` or
    ``"derived"``) and ``source`` cites it.

    Example:
        >>> c = Check("He: final cost", 0.0736, 0.0741, 1e-3, kind="published",
        ...           source="Coursera DLS C2W1, notebook output")
        >>> c.passed, c.status
        (True, 'yes')
    """

    label: str
    expected: float | str
    measured: float
    tolerance: float | None = None
    note: str = ""
    below: float | None = None
    above: float | None = None
    _: dataclasses.KW_ONLY
    kind: Kind
    source: str = ""
    not_run: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Check.kind must be one of {KINDS}, got {self.kind!r}.")
        if self.kind != "derived" and not self.source:
            raise ValueError(f"Check {self.label!r}: a {self.kind} number needs its source.")

    @property
    def published(self) -> float | str | None:
        """The expected value if a source published it, else None."""
        return self.expected if self.kind == "published" else None

    @property
    def passed(self) -> bool | None:
        if self.not_run is not None:
            return None
        conditions = []
        if self.tolerance is not None and isinstance(self.expected, int | float):
            if math.isinf(self.expected) or math.isinf(self.measured):
                conditions.append(self.expected == self.measured)
            else:
                conditions.append(abs(self.measured - self.expected) <= self.tolerance)
        if self.below is not None:
            conditions.append(self.measured < self.below)
        if self.above is not None:
            conditions.append(self.measured > self.above)
        return all(conditions) if conditions else None

    @property
    def status(self) -> str:
        """``yes``, ``NO``, ``not run`` or ``-`` (context only)."""
        if self.not_run is not None:
            return "not run"
        return {True: "yes", False: "NO", None: "-"}[self.passed]

    @property
    def criterion(self) -> str:
        parts = []
        if self.tolerance is not None:
            parts.append(f"+-{self.tolerance:.2g}")
        if self.above is not None and self.below is not None:
            return ", ".join([*parts, f"in ({self.above:.4g}, {self.below:.4g})"])
        if self.below is not None:
            parts.append(f"< {self.below:.4g}")
        if self.above is not None:
            parts.append(f"> {self.above:.4g}")
        return ", ".join(parts) or "-"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "expected": self.expected,
            "expected_kind": self.kind,
            "expected_source": self.source,
            "measured": self.measured,
            "tolerance": self.tolerance,
            "below": self.below,
            "above": self.above,
            "criterion": self.criterion,
            "note": self.note,
            "not_run": self.not_run,
            "passed": self.passed,
        }


@dataclasses.dataclass(frozen=True)
class Table:
    """A titled table of raw values (numbers or strings); formatted only when shown."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]

    def text(self) -> str:
        def cell(v: Any) -> str:
            if isinstance(v, str):
                return v
            v = float(v)
            return "never" if math.isinf(v) else _format.number(v)

        return _format.table([list(self.header)] + [[cell(v) for v in row] for row in self.rows])

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "header": list(self.header), "rows": encode(self.rows)}


@dataclasses.dataclass(frozen=True)
class LayerProfile:
    """A per-layer statistic at initialization: ``values[k]`` for hidden layer k + 1, the mean
    over seeds of ``stat`` (e.g. the activation std) for ``init`` in a net of ``depth``."""

    init: str
    depth: int
    stat: str
    values: np.ndarray

    @property
    def label(self) -> str:
        return f"{self.init}, depth {self.depth}"

    def to_dict(self) -> dict[str, Any]:
        return {"init": self.init, "depth": self.depth, "stat": self.stat,
                "values": encode(np.asarray(self.values))}  # fmt: skip


def _summary(checks: Sequence[Check]) -> str:
    """The last line of a report: "all checks passed" only when every check was judged."""
    judged = [c for c in checks if c.passed is not None]
    failed = sum(c.passed is False for c in judged)
    not_run = sum(c.not_run is not None for c in checks)
    context = len(checks) - len(judged) - not_run
    rest = ", ".join(
        f"{n} {what}" for n, what in ((context, "context only"), (not_run, "not run")) if n
    )
    if failed:
        return f"SOME CHECKS FAILED: {failed} of {len(judged)}" + (f" ({rest})" if rest else "")
    if not judged:
        return f"no check with a criterion in this run ({rest})"
    return (
        f"all {len(judged)} checks with a criterion passed ({rest})"
        if rest
        else ("all checks passed")
    )


@dataclasses.dataclass
class Report:
    """What an experiment returns: checks against the sources, sweep results, tables, per-layer
    profiles, notes and figures."""

    experiment: str
    mode: str
    title: str
    source: str
    checks: list[Check] = dataclasses.field(default_factory=list)
    result: SweepResult | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    tables: list[Table] = dataclasses.field(default_factory=list)
    profiles: list[LayerProfile] = dataclasses.field(default_factory=list)
    results: dict[str, SweepResult] = dataclasses.field(default_factory=dict)
    grids: dict[str, SweepResult] = dataclasses.field(default_factory=dict)
    """Results with a hyperparameter axis (before tuning): plotted, not written to JSON."""
    figures: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True unless a check with a criterion failed (checks not run do not pass: see
        :attr:`complete`)."""
        return all(c.passed is not False for c in self.checks)

    @property
    def complete(self) -> bool:
        """True if every check was run."""
        return all(c.not_run is None for c in self.checks)

    def checks_table(self) -> str:
        """The checks, each expected number's kind and source ([n] below the table)."""
        cites = list(dict.fromkeys(c.source for c in self.checks if c.source))
        rows = [["", "expected", "kind of expected [source]", "measured", "criterion", "ok"]]
        for c in self.checks:
            exp = c.expected if isinstance(c.expected, str) else _format.number(c.expected)
            kind = f"{c.kind} [{cites.index(c.source) + 1}]" if c.source else c.kind
            rows.append([c.label, exp, kind, _format.number(c.measured), c.criterion, c.status])
        lines = [f"[{i}] {src}" for i, src in enumerate(cites, 1)]
        lines += [f"not run: {c.label}: {c.not_run}" for c in self.checks if c.not_run]
        return "\n".join([_format.table(rows), *lines])

    def _sections(self) -> list[tuple[str, str]]:
        out = []
        if self.checks:
            out.append(("Expected vs measured", self.checks_table()))
        if self.result is not None:
            out.append(("Across seeds", self.result.table()))
        for name, r in self.results.items():
            out.append((f"Across seeds: {name}", r.table()))
        out += [(t.title, t.text()) for t in self.tables]
        return out

    def text(self) -> str:
        """The terminal report."""
        parts = [f"{self.title}  [{self.experiment}, {self.mode}]", f"source: {self.source}"]
        for title, body in self._sections():
            parts += ["", f"{title}:", body]
        if self.result is not None:
            t = self.result.timing
            parts.append(
                f"({t['model_steps']:,} model-steps in {t['run_s']:.1f}s + {t['compile_s']:.1f}s "
                f"compile on {self.result.config['devices']} device(s))"
            )
        if self.notes:
            parts += [""] + [f"note: {n}" for n in self.notes]
        if self.checks:
            parts += ["", _summary(self.checks)]
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return encode(
            {
                "experiment": self.experiment,
                "mode": self.mode,
                "title": self.title,
                "source": self.source,
                "passed": self.passed,
                "complete": self.complete,
                "checks": [c.to_dict() for c in self.checks],
                "notes": self.notes,
                "tables": [t.to_dict() for t in self.tables],
                "profiles": [p.to_dict() for p in self.profiles],
                "result": None if self.result is None else self.result.to_dict(),
                "results": {k: r.to_dict() for k, r in self.results.items()},
                "figures": self.figures,
            }
        )

    def write(self, out_dir: str | os.PathLike, *, plots: bool = True) -> dict[str, str]:
        """Write results.json, results.csv, PNG plots (if matplotlib is installed) and
        report.md under ``out_dir``; returns ``{name: path}``."""
        os.makedirs(out_dir, exist_ok=True)
        files: dict[str, str] = {}
        if plots:
            try:
                from jinit import plots as plots_lib

                self.figures.update(plots_lib.plot_report(self, out_dir))
                if self.grids:
                    from jinit import plots_hparams

                    self.figures.update(plots_hparams.hparam_figures(self, out_dir))
            except ImportError as err:
                self.notes.append(f"no plots: {err}")
        path = os.path.join(out_dir, "results.json")
        with open(path, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
        files["json"] = path
        if self.result is not None:
            files["csv"] = self.result.to_csv(os.path.join(out_dir, "results.csv"))
        files["report"] = os.path.join(out_dir, "report.md")
        with open(files["report"], "w") as f:
            f.write(self.markdown())
        files.update(self.figures)
        return files

    def markdown(self) -> str:
        """report.md: the checks, the summary tables, the figures, the notes."""
        lines = [f"# {self.title}", "", f"Experiment `{self.experiment}`, mode `{self.mode}`.", ""]
        lines += [f"Source: {self.source}", ""]
        for title, body in self._sections():
            lines += [f"## {title}", "", "```", body, "```", ""]
        if self.checks:
            lines += [_summary(self.checks), ""]
        if self.figures:
            lines += ["## Figures", ""]
            lines += [f"![{name}]({os.path.basename(p)})" for name, p in self.figures.items()]
            lines.append("")
        if self.notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        lines += ["Files: `results.json` (everything), `results.csv` (one row per run and eval)."]
        return "\n".join(lines) + "\n"


def sweep_report(experiment: str, n_seeds: int, title: str, source: str, **fields: Any) -> Report:
    """The :class:`Report` of a many-seed run: its mode is :func:`sweep_mode` of ``n_seeds``;
    ``fields`` are the other :class:`Report` fields (checks, result, notes, tables, ...)."""
    return Report(experiment, sweep_mode(n_seeds), title, source, **fields)
