"""Integer-only programs (key derivation, permutations) compiled unoptimized on XLA:CPU.

A program of integer arithmetic and data movement only has one result whatever the
optimizer does, so on CPU it can skip the optimizing passes: measured cold, a vmapped
``fold_in`` compiles in 0.06 s instead of 0.07-0.10 s, ``split`` with its unstacking in
0.06 s instead of 0.18 s, the digits data order in 0.23-0.26 s instead of 0.69-0.82 s; each
gives the same bits (tested against the plain ``jax.random`` calls). Never for
floating-point programs: there the passes decide fused multiply-adds and vector code.
Concrete threefry keys and small data orders skip compiling altogether
(:mod:`jinit._threefry`); these programs serve traced keys, other key implementations and
large orders.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax

#: XLA:CPU compile options of integer-only programs (:func:`exact_jit`).
EXACT_CPU_OPTIONS = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def exact_jit(fn: Callable, **jit_kwargs: Any) -> Callable:
    """``jax.jit(fn, **jit_kwargs)``, compiled with :data:`EXACT_CPU_OPTIONS` where that is
    possible: on CPU (the devices of the first array argument, else JAX's default backend),
    called eagerly or under an eager ``vmap``. Inside another ``jit`` it is plain ``jax.jit``
    (JAX takes compile options on top-level programs only). ``fn`` must do integer
    arithmetic and data movement only.

    Example:
        >>> import jax, numpy as np
        >>> fold = exact_jit(jax.random.fold_in)
        >>> k = jax.random.key(0)
        >>> bool((jax.random.key_data(fold(k, np.uint32(3)))
        ...       == jax.random.key_data(jax.random.fold_in(k, 3))).all())
        True
    """
    plain = jax.jit(fn, **jit_kwargs)
    exact = jax.jit(fn, compiler_options=EXACT_CPU_OPTIONS, **jit_kwargs)

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _platform(args) != "cpu":
            return plain(*args, **kwargs)
        try:
            return exact(*args, **kwargs)
        except ValueError as e:  # staged into an outer jit: compile options are top-level only
            if "compiler_options" not in str(e):
                raise
        return plain(*args, **kwargs)

    return call


def _platform(args: Any) -> str:
    """The platform of the first array in ``args`` that lives on devices (not a tracer),
    else JAX's default backend."""
    for a in jax.tree_util.tree_leaves(args):
        if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer):
            return next(iter(a.devices())).platform
    return jax.default_backend()
