"""Random draws with few compiled programs: small uniform draws hashed on the host, larger
ones by power-of-two size class.

Partitionable threefry (JAX's default) draws entry ``i`` from counter ``i``. So:

- a uniform draw of a concrete threefry key on CPU, up to :data:`HOST_DRAW_MAX` entries (all
  keys of an eager ``vmap`` together: a sweep's initial draws), has its random mantissas
  hashed with NumPy (:mod:`jinit._threefry`), and one program per shape scales them as
  ``jax.random.uniform`` does and applies the law's transform (erfinv, scaling;
  :func:`_from_unit`): no draw program to compile;
- any other draw of n entries is the prefix of any larger draw with the same key:
  :func:`by_size_class` draws the next power of two (at least 4096, up to 2^22;
  :func:`draw_entries`) and cuts the prefix, compiling the sample once per size class and
  one program per layer shape for the cut and the transform (:func:`_finish`).

Both give the bits of the direct draw (tested against ``jax.nn.initializers``, eager, under
``vmap`` and ``jit``). The transform runs on the draw's own shape, as
``jax.nn.initializers`` does, because XLA:CPU's elementwise code is not shape-independent
(erfinv on the size class differed in the last bit on (5, 1) leaves).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jinit import _threefry

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

    ``sample`` is ``jax.random.uniform`` (small draws of concrete keys: on the host,
    :func:`_uniform`) or ``truncated_normal``; ``then`` (a module-level function: the law's
    transform, e.g. erfinv and the scaling) runs with the cut in one compiled program per
    shape (:func:`_finish`). Partitionable threefry (JAX's default)
    draws entry ``i`` from counter ``i``, so a draw is a prefix of any larger draw with its
    key: n entries are the first n of a draw of their size class (:func:`draw_entries`).
    Other keys and schemes draw ``shape`` itself (tested against ``jax.nn.initializers``,
    eager and jitted)."""
    n = math.prod(shape)
    if sample is jax.random.uniform and 0 < n <= HOST_DRAW_MAX:
        dtype, minval, maxval = (*args, *(0.0, 1.0)[len(args) - 1 :])  # uniform's defaults
        return _uniform(tuple(shape), then, dtype)(key, minval, maxval, *then_args)
    return _on_device(sample, key, shape, args, then, then_args)


def _on_device(sample: Callable, key: Array, shape, args: tuple, then: Callable | None,
               then_args: tuple) -> Array:  # fmt: skip
    """:func:`by_size_class` as XLA programs: the size class's draw, then :func:`_finish`."""
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


#: The most entries (keys x entries) a uniform draw of concrete threefry keys on CPU hashes on
#: the host (:func:`_uniform`): NumPy hashes 2^16 entries in about 1 ms, where the first
#: XLA draw of a size class compiles for about 0.1 s.
HOST_DRAW_MAX = 2**16


@functools.lru_cache(maxsize=4096)  # per (shape, transform, dtype)
def _uniform(shape: tuple[int, ...], then: Callable | None, dtype: Any) -> Callable[..., Array]:
    """``key, minval, maxval, *then_args -> then(jax.random.uniform(key, shape, dtype,
    minval, maxval), *then_args)``, the same bits: its random mantissas made on the host for
    a concrete threefry key on CPU, also under an eager ``vmap`` over keys (its rule sees
    the concrete keys: ``jax.custom_batching.custom_vmap``), then scaled and transformed in
    one program per shape (:func:`_from_unit`); traced keys and larger draws go through
    :func:`_on_device`."""
    n = math.prod(shape)

    def on_device(key: Array, minval: Any, maxval: Any, *then_args: Any) -> Array:
        return _on_device(jax.random.uniform, key, shape, (dtype, minval, maxval), then,
                          then_args)  # fmt: skip

    def from_host(key: Array, batch: int, bounds: tuple, then_args: tuple, axes: tuple) -> Any:
        words = _host_unit_words(key, batch * n, dtype)
        if words is None:
            return None
        unit = _threefry.put_like(_threefry.unit_floats(words, n, dtype), key)
        return _from_unit(shape, then, axes)(unit, *bounds, *then_args)

    @jax.custom_batching.custom_vmap
    def batched_draw(key: Array, minval: Any, maxval: Any, *then_args: Any) -> Array:
        return on_device(key, minval, maxval, *then_args)

    @batched_draw.def_vmap
    def _rule(axis_size: int, in_batched: list, key: Array, *args: Any) -> Any:
        axes = tuple(0 if b else None for b in in_batched)
        if in_batched[0] and not any(in_batched[1:3]):  # keys batched, bounds not
            out = from_host(key, axis_size, args[:2], args[2:], axes[3:])
            if out is not None:
                return out, True
        return jax.vmap(on_device, in_axes=axes)(key, *args), True

    def draw(key: Array, minval: Any, maxval: Any, *then_args: Any) -> Array:
        out = from_host(key, 1, (minval, maxval), then_args, None)
        if out is not None:
            return out
        traced = jax.tree_util.tree_leaves((minval, maxval, then_args))
        if any(isinstance(a, jax.core.Tracer) for a in traced):  # custom_vmap has no VJP:
            return on_device(key, minval, maxval, *then_args)  # grad through a scale
        return batched_draw(key, minval, maxval, *then_args)

    return draw


def _host_unit_words(key: Array, entries: int, dtype: Any) -> Any:
    """The key data of ``key`` if the host draws ``entries`` uniform entries of ``dtype``
    with it (:func:`_uniform`): a concrete threefry key on a CPU device, the partitionable
    scheme, a dtype JAX keeps as it is, at most :data:`HOST_DRAW_MAX` entries."""
    if entries > HOST_DRAW_MAX or _device(key) is None:
        return None
    if jax.dtypes.canonicalize_dtype(dtype) != np.dtype(dtype):  # float64 without x64
        return None
    return _threefry.host_words(key, split=True)


def _device(key: Any) -> jax.Device | None:
    """The CPU device a concrete single-device key lives on, else ``None``."""
    if not isinstance(key, jax.Array) or isinstance(key, jax.core.Tracer):
        return None
    devices = key.devices()
    device = next(iter(devices))
    return device if len(devices) == 1 and device.platform == "cpu" else None


@functools.lru_cache(maxsize=4096)  # per (shape, transform, batched arguments)
def _from_unit(shape: tuple[int, ...], then: Callable | None, axes: tuple | None) -> Callable:
    """The compiled program ``unit, minval, maxval, *then_args -> then(uniform, *then_args)``
    from the unit floats of a uniform draw: ``uniform`` is ``max(minval, unit * (maxval -
    minval) + minval)`` in ``shape``, as ``jax.random.uniform`` scales its draw. With
    ``axes`` (those of ``then_args``), vmapped over a leading axis of ``unit``. The barriers
    keep the draw rounded as ``jax.random.uniform``'s own program rounds it."""

    def _from_unit(unit: Array, minval: Any, maxval: Any, *then_args: Any) -> Array:
        dtype = unit.dtype
        lo, hi = (jax.lax.convert_element_type(v, dtype) for v in (minval, maxval))
        unit = jax.lax.optimization_barrier(unit.reshape(shape))
        x = jax.lax.optimization_barrier(jax.lax.max(lo, unit * (hi - lo) + lo))
        return x if then is None else then(x, *then_args)

    if axes is None:
        return jax.jit(_from_unit)
    return jax.jit(jax.vmap(_from_unit, in_axes=(0, None, None, *axes)))
