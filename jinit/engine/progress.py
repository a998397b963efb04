"""Progress of a sweep, one tick per chunk.

``tqdm.auto`` when tqdm is installed (``pip install jinit[progress]``: a widget in Jupyter, a
text bar in a terminal), else a one-line bar with ETA on stderr. On by default in a terminal
(stderr is a tty) and in a Jupyter kernel; ``progress=False`` turns it off.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from typing import Any


def default_enabled() -> bool:
    """True when stderr is a terminal or the sweep runs in a Jupyter/IPython kernel."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty()) or "ipykernel" in sys.modules


def tqdm_class() -> Any:
    """``tqdm.auto.tqdm`` if tqdm is installed, else None."""
    if importlib.util.find_spec("tqdm") is None:
        return None
    from tqdm.auto import tqdm

    return tqdm


class Progress:
    """``update(done)`` after each of ``total`` chunks; ``close()`` at the end."""

    def __init__(self, total: int, enabled: bool | None, label: str = "sweep") -> None:
        self.total = total
        self.enabled = default_enabled() if enabled is None else bool(enabled)
        self.label = label
        self.start = time.perf_counter()
        self._tqdm = None
        tqdm = tqdm_class() if self.enabled else None
        if tqdm is not None:
            self._tqdm = tqdm(total=total, desc=label, unit="chunk", leave=True)

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        if self._tqdm is not None:
            self._tqdm.update(done - self._tqdm.n)
            if note:
                self._tqdm.set_postfix_str(note)
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done) if done else float("nan")
        width = 30
        fill = int(width * done / self.total)
        bar = "#" * fill + "." * (width - fill)
        sys.stderr.write(
            f"\r{self.label} [{bar}] {done}/{self.total} chunks  {elapsed:5.1f}s  "
            f"eta {eta:5.1f}s {note}"
        )
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self._tqdm is not None:
            self._tqdm.close()
            self._tqdm = None
