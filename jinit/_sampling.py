"""Random draws by size class: one compiled program per power-of-two size, not per shape.

Partitionable threefry (JAX's default) draws entry ``i`` from counter ``i``, so a draw of n
entries is the prefix of any larger draw with the same key. :func:`by_size_class` draws the
next power of two (at least 4096, up to 2^22; :func:`draw_entries`) and cuts the prefix: the
same bits as the direct draw, and an eager ``vmap`` of a net's draws (the sweep's initial
parameters) compiles the sample once per size class and one program per layer shape for
the cut and the law's transform of it (erfinv, scaling). The transform runs on the draw's
own shape, as ``jax.nn.initializers`` does, because XLA:CPU's elementwise code is not
shape-independent (erfinv on the size class differed in the last bit on (5, 1) leaves).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax

Array = jax.Array

_DRAW_CLASS_MIN, _DRAW_CLASS_MAX = 4096, 2**22  # size classes of by_size_class (draw_entries)


def by_size_class(
    sample: Callable[..., Array],
    key: Array,
    shape,
    *args: Any,
    then: Callable[..., Array] | None = None,
    then_args: tuple = (),
) -> Array:
    """``then(sample(key, shape, *args), *then_args)``, the same bits, with one compiled
    program per size class for the draw and one per shape for the rest.

    ``sample`` is ``jax.random.uniform`` or ``truncated_normal``; ``then`` (a module-level
    function: the law's transform, e.g. erfinv and the scaling) runs with the cut in one
    compiled program per shape (:func:`_finish`). Partitionable threefry (JAX's default)
    draws entry ``i`` from counter ``i``, so a draw is a prefix of any larger draw with its
    key: n entries are the first n of a draw of their size class (:func:`draw_entries`).
    Other keys and schemes draw ``shape`` itself (tested against ``jax.nn.initializers``,
    eager and jitted)."""
    n = math.prod(shape)
    size = draw_entries(n)
    if n == 0:
        x = sample(key, shape, *args)
        return x if then is None else then(x, *then_args)
    direct = size == n or not prefix_stable(key)
    x = sample(key, tuple(shape) if direct else (size,), *args)
    return _finish(x, n, tuple(shape), then, *then_args)


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _finish(x: Array, n: int, shape: tuple[int, ...], then, *then_args: Any) -> Array:
    """The first ``n`` entries of the draw ``x`` in ``shape``, then ``then(., *then_args)``,
    as one compiled program (eagerly, the slice, the reshape and each op of ``then`` would
    compile one each).

    The barriers keep the draw and the cut rounded as they are eagerly, whether or not
    this runs under an outer ``jit``: fused into its consumer, XLA:CPU would compute erfinv
    with other vector code and differ in the last bit (a (5, 1) leaf over 30 keys), so a
    jitted draw and an eager one would give different weights."""
    x = jax.lax.optimization_barrier(x)
    cut = jax.lax.optimization_barrier(x.reshape(-1)[:n].reshape(shape))
    return cut if then is None else then(cut, *then_args)


def draw_entries(n: int) -> int:
    """Entries computed to draw ``n`` (:func:`by_size_class`): the next power of two >= 4096,
    up to 2^22 (larger draws: ``n``)."""
    big = n == 0 or n > _DRAW_CLASS_MAX
    return n if big else max(_DRAW_CLASS_MIN, 1 << (n - 1).bit_length())


def prefix_stable(key: Array) -> bool:
    """Whether ``key`` draws as a prefix of larger draws (:func:`by_size_class`): a threefry
    key (raw uint32: the default implementation) under the partitionable scheme."""
    if not jax.config.jax_threefry_partitionable:
        return False
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        return str(jax.random.key_impl(key)) == "threefry2x32"
    return jax.config.jax_default_prng_impl == "threefry2x32"
