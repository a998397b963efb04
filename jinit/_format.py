"""Text and JSON formatting shared by results, reports, diagnostics and trees (bottom layer:
imports nothing from jinit).

Example:
    >>> from jinit._format import plural, table
    >>> print(table([["init", "runs"], ["he", plural(3, "seed")]]))
    init  runs
    ----  -------
    he    3 seeds
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np


def number(x: float | None, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits; ``"nan"`` for None or NaN."""
    if x is None or math.isnan(x):
        return "nan"
    return f"{x:.{digits}g}"


def stat(d: Mapping[str, float], digits: int = 3) -> str:
    """A :func:`jinit.stats.describe` dict as ``mean [ci_low, ci_high] (median; min..max)``;
    ``"-"`` when there are no values, no interval for a single value."""
    if d["n"] == 0:
        return "-"

    def f(key: str) -> str:
        return number(d[key], digits)

    ci = f" [{f('ci_low')}, {f('ci_high')}]" if d["n"] > 1 else ""
    return f"{f('mean')}{ci} ({f('median')}; {f('min')}..{f('max')})"


def table(rows: Sequence[Sequence[str]], *, right: Collection[int] = (), rule: bool = True) -> str:
    """An aligned text table; the first row is the header, underlined with dashes when
    ``rule``; the columns whose index is in ``right`` are right-aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]

    def line(r: Sequence[str]) -> str:
        cells = [
            cell.rjust(w) if j in right else cell.ljust(w)
            for j, (cell, w) in enumerate(zip(r, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    lines = [line(r) for r in rows]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plural(n: int, word: str) -> str:
    """``'1 seed'``, ``'3 seeds'``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def jsonable(x: Any, *, nonfinite: str = "null") -> Any:
    """``x`` as JSON-ready Python types: dicts (keys as str), lists, NumPy arrays and scalars
    converted. NaN and infinities become None (``nonfinite="null"``) or the strings ``"nan"``,
    ``"inf"`` and ``"-inf"`` (``nonfinite="string"``: JSON has no such numbers, and ``null``
    would lose which)."""
    if nonfinite not in ("null", "string"):
        raise ValueError(f"jsonable: nonfinite must be 'null' or 'string', got {nonfinite!r}.")
    if isinstance(x, dict):
        return {str(k): jsonable(v, nonfinite=nonfinite) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v, nonfinite=nonfinite) for v in x]
    if isinstance(x, np.ndarray | np.generic):
        return jsonable(x.tolist(), nonfinite=nonfinite)
    if isinstance(x, float) and not math.isfinite(x):
        if nonfinite == "null":
            return None
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x
