"""Counting XLA compilations through JAX's public ``jax.monitoring`` events.

JAX records the event :data:`BACKEND_COMPILE_EVENT` (with the program's name, e.g.
``"jit(chunk)"``) every time it compiles a program for the backend, or loads it from the
persistent compilation cache. :class:`CompileCount` listens to it while active; the sweep uses
it for ``SweepResult.timing["compiles"]``, the compilations of its training program: 1 per
sweep, whatever the seeds, steps and chunks (a sweep run in memory groups,
:mod:`jinit.engine.plan`, compiles once per group, and its merged result adds them up).
"""

from __future__ import annotations

import collections
from typing import Any, Self

import jax

#: The duration event JAX records for each backend compilation (``jax._src.dispatch``).
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileCount:
    """A context manager counting the backend compilations of programs named ``names``
    (the jitted function's ``__name__``: ``"chunk"`` counts ``jit(chunk)``) inside its block,
    from every thread.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> def chunk(x):
        ...     return x + 1
        >>> with CompileCount("chunk") as count:
        ...     _ = jax.jit(chunk)(jnp.ones(3)), jax.jit(chunk)(jnp.ones(4))
        >>> count.n
        2
    """

    def __init__(self, *names: str) -> None:
        self.names = frozenset(f"jit({name})" for name in names)
        self.by_name: collections.Counter[str] = collections.Counter()

    @property
    def n(self) -> int:
        """Compilations of the named programs so far."""
        return sum(self.by_name[name] for name in self.names)

    def _listen(self, event: str, duration: float, **kwargs: Any) -> None:
        if event == BACKEND_COMPILE_EVENT:
            self.by_name[str(kwargs.get("fun_name", ""))] += 1

    def __enter__(self) -> Self:
        jax.monitoring.register_event_duration_secs_listener(self._listen)
        return self

    def __exit__(self, *exc: Any) -> None:
        jax.monitoring.unregister_event_duration_listener(self._listen)
