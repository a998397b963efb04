"""One model protocol, one adapter per framework.

- :mod:`jinit.frameworks.detection`: which framework an object belongs to (the one place
  jinit asks; imports nothing from jinit, so :mod:`jinit.trees` may use it).
- :mod:`jinit.frameworks.base`: :class:`Model` (the protocol of :func:`jinit.sweep` and the
  probe) and :class:`Tap` (how the probe reads layers).
- One module per framework: :mod:`~jinit.frameworks.jinit_models` (jinit models and
  ``(init_fn, apply_fn)`` pairs), :mod:`~jinit.frameworks.linen`,
  :mod:`~jinit.frameworks.nnx`, :mod:`~jinit.frameworks.equinox`,
  :mod:`~jinit.frameworks.haiku`, each giving template, rules, apply and tap.
- :func:`as_model` / :func:`adapt` / :func:`tap_for` (:mod:`jinit.frameworks.dispatch`).

The package root imports only ``detect`` eagerly; the rest loads on first use, because
``base`` builds on :mod:`jinit.trees`, which itself reads framework types through
``detect``.
"""

from __future__ import annotations

import importlib
from typing import Any

from jinit.frameworks.detection import KINDS, detect

_LAZY = {
    "Model": "base",
    "Tap": "base",
    "adapt": "dispatch",
    "as_model": "dispatch",
    "tap_for": "dispatch",
}

__all__ = ["KINDS", "Model", "Tap", "adapt", "as_model", "detect", "tap_for"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"jinit.frameworks.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'jinit.frameworks' has no attribute {name!r}")
