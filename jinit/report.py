"""Reports of reproductions: published vs measured numbers, tables, files."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

from jinit.results import SweepResult, _align, _fmt, _jsonable, plural


def sweep_mode(n_seeds: int) -> str:
    """The mode line of a many-seed report: ``'sweep (30 seeds)'``."""
    return f"sweep ({plural(n_seeds, 'seed')})"


@dataclasses.dataclass
class Check:
    """One published number (or claim) beside the measured one.

    It passes when ``|measured - published| <= tolerance`` (if a tolerance is given), and
    ``measured < below`` / ``measured > above`` (if given). With none of these it is shown for
    context only (``passed`` is None).
    """

    label: str
    published: float | str
    measured: float
    tolerance: float | None = None
    note: str = ""
    below: float | None = None
    above: float | None = None

    @property
    def passed(self) -> bool | None:
        conditions = []
        if self.tolerance is not None and isinstance(self.published, int | float):
            if math.isinf(self.published) or math.isinf(self.measured):
                conditions.append(self.published == self.measured)
            else:
                conditions.append(abs(self.measured - self.published) <= self.tolerance)
        if self.below is not None:
            conditions.append(self.measured < self.below)
        if self.above is not None:
            conditions.append(self.measured > self.above)
        return all(conditions) if conditions else None

    @property
    def criterion(self) -> str:
        parts = []
        if self.tolerance is not None:
            parts.append(f"+-{self.tolerance:.2g}")
        if self.below is not None:
            parts.append(f"< {self.below:g}")
        if self.above is not None:
            parts.append(f"> {self.above:g}")
        return ", ".join(parts) or "-"


@dataclasses.dataclass
class Report:
    """What an experiment returns: checks against the source, a sweep result, notes, figures."""

    experiment: str
    mode: str
    title: str
    source: str
    checks: list[Check] = dataclasses.field(default_factory=list)
    result: SweepResult | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    figures: dict[str, str] = dataclasses.field(default_factory=dict)
    fail_below: float | None = None

    @property
    def passed(self) -> bool:
        """True unless a check with a tolerance failed."""
        return all(c.passed is not False for c in self.checks)

    def checks_table(self) -> str:
        rows = [["", "published", "measured", "criterion", "ok"]]
        for c in self.checks:
            ok = {True: "yes", False: "NO", None: "-"}[c.passed]
            pub = c.published if isinstance(c.published, str) else _fmt(c.published)
            rows.append([c.label, pub, _fmt(c.measured), c.criterion, ok])
        return _align(rows)

    def text(self) -> str:
        """The terminal report."""
        parts = [f"{self.title}  [{self.experiment}, {self.mode}]", f"source: {self.source}"]
        if self.checks:
            parts += ["", self.checks_table()]
        if self.result is not None:
            parts += ["", self.result.table(fail_below=self.fail_below)]
            t = self.result.timing
            parts.append(
                f"({t['model_steps']:,} model-steps in {t['run_s']:.1f}s + {t['compile_s']:.1f}s "
                f"compile on {self.result.config['devices']} device(s))"
            )
        for key, value in self.extra.items():
            if isinstance(value, str):
                parts += ["", f"{key}:", value]
        if self.notes:
            parts += [""] + [f"note: {n}" for n in self.notes]
        if self.checks:
            parts += ["", "all checks passed" if self.passed else "SOME CHECKS FAILED"]
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "experiment": self.experiment,
                "mode": self.mode,
                "title": self.title,
                "source": self.source,
                "passed": self.passed,
                "checks": [dataclasses.asdict(c) | {"passed": c.passed} for c in self.checks],
                "notes": self.notes,
                "extra": {k: v for k, v in self.extra.items() if not isinstance(v, str)},
                "result": None if self.result is None else self.result.to_dict(),
                "figures": self.figures,
            }
        )

    def write(self, out_dir: str | os.PathLike, *, plots: bool = True) -> dict[str, str]:
        """Write results.json, results.csv, PNG plots (if matplotlib is installed) and
        report.md under ``out_dir``; returns ``{name: path}``."""
        os.makedirs(out_dir, exist_ok=True)
        files: dict[str, str] = {}
        if plots and self.result is not None:
            try:
                from jinit import plots as plots_lib

                self.figures.update(plots_lib.plot_report(self, out_dir))
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
        """report.md: the checks, the summary table, the figures, the notes."""
        lines = [f"# {self.title}", "", f"Experiment `{self.experiment}`, mode `{self.mode}`.", ""]
        lines += [f"Source: {self.source}", ""]
        if self.checks:
            lines += ["## Published vs measured", "", "```", self.checks_table(), "```", ""]
        if self.result is not None:
            lines += ["## Across seeds", "", "```", self.result.table(fail_below=self.fail_below)]
            lines += ["```", ""]
        for key, value in self.extra.items():
            if isinstance(value, str):
                lines += [f"## {key}", "", "```", value, "```", ""]
        if self.figures:
            lines += ["## Figures", ""]
            lines += [f"![{name}]({os.path.basename(p)})" for name, p in self.figures.items()]
            lines.append("")
        if self.notes:
            lines += ["## Notes", ""] + [f"- {n}" for n in self.notes] + [""]
        lines += ["Files: `results.json` (everything), `results.csv` (one row per run and eval)."]
        return "\n".join(lines) + "\n"
