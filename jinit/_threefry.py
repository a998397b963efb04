"""JAX's threefry random numbers on the host: the same bits, and nothing to compile.

``jax.random.fold_in``, ``split``, a small ``uniform`` or ``permutation`` of a concrete key
are each an XLA program, compiled the first time per shape (0.05-0.15 s each, cold),
although they hash a few words or a few thousand. This module computes them with NumPy for
concrete threefry keys: the Threefry-2x32 hash with 20 rounds (Salmon et al., "Parallel
random numbers: as easy as 1, 2, 3", SC 2011; the Random123 known-answer vectors are
tested), applied to the counters JAX uses:

- ``fold_in(key, d)`` hashes the counter pair ``(0, d)`` with ``key``
  (``jax._src.random.prng.threefry_fold_in``);
- under the partitionable scheme, JAX's default (``jax_threefry_partitionable``),
  ``split(key, n)`` hashes ``(0, i)`` for ``i < n``, and random bits hash the 64-bit index
  of each entry (:func:`random_bits`), from which :func:`unit_floats` and
  :func:`permutation` follow ``jax.random.uniform`` and ``jax.random.permutation``.

:func:`host_words` says when the host applies: a concrete (not traced) key on one device,
threefry, typed or raw; everything else goes through ``jax.random`` (``jinit.keys``,
``jinit._sampling``, ``jinit.engine.order``). Each function is tested bit for bit against
``jax.random``, which pins the JAX internals it follows; the host is used only with the JAX
releases those tests checked (:data:`CHECKED_JAX`). Under another release everything goes
through ``jax.random`` (slower to start, the same bits), and the test that says so fails
until the comparisons are re-run.
"""

from __future__ import annotations

import re
from typing import Any

import jax
import numpy as np

#: JAX releases (major, minor) whose threefry counters, ``uniform`` and ``permutation`` the
#: tests compared with this module bit for bit.
CHECKED_JAX = frozenset({(0, 12)})
_JAX_RELEASE = tuple(map(int, re.match(r"(\d+)\.(\d+)", jax.__version__).groups()))
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)  # the key schedule's constant


def hash2x32(key0: Any, key1: Any, x0: Any, x1: Any) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32-20 of the counter words ``(x0, x1)`` under the key ``(key0, key1)``,
    broadcast elementwise (uint32).

    Example:
        >>> [hex(int(w)) for w in hash2x32(0, 0, 0, 0)]  # Random123's first test vector
        ['0x6b200159', '0x99ba4efe']
    """
    k0, k1, x0, x1 = (np.asarray(a, np.uint32) for a in (key0, key1, x0, x1))
    schedule = (k0, k1, k0 ^ k1 ^ _PARITY)
    with np.errstate(over="ignore"):
        x0, x1 = x0 + k0, x1 + k1
        for i in range(5):
            for r in _ROTATIONS[i % 2]:
                x0 = x0 + x1
                x1 = ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))) ^ x0
            x0 = x0 + schedule[(i + 1) % 3]
            x1 = x1 + schedule[(i + 2) % 3] + np.uint32(i + 1)
    return x0, x1


def host_words(key: Any, split: bool = False) -> np.ndarray | None:
    """The key data ``[..., 2]`` (uint32) of ``key`` on the host if the host computes its
    derivations: a checked JAX release, a concrete key on one device (or a NumPy array),
    threefry, typed or raw uint32; with ``split``, also JAX's partitionable scheme. Else
    ``None``."""
    if _JAX_RELEASE not in CHECKED_JAX or isinstance(key, jax.core.Tracer):
        return None
    if split and not jax.config.jax_threefry_partitionable:
        return None
    if isinstance(key, jax.Array) and len(key.devices()) != 1:
        return None
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) != "threefry2x32":
            return None
        data = jax.random.key_data(key)  # a tracer while JAX traces (a concrete key in a jit)
        return None if isinstance(data, jax.core.Tracer) else np.asarray(data)
    raw = jax.config.jax_default_prng_impl == "threefry2x32" and key.dtype == np.uint32
    return np.asarray(key) if raw and np.shape(key)[-1:] == (2,) else None


def put_like(host: np.ndarray, like: Any) -> jax.Array:
    """``host`` on ``like``'s device, committed to it only if ``like`` is (as ``jax.random``
    commits its results): an uncommitted result stays free to move, and a jitted function
    called with it and then with its own outputs compiles once."""
    committed = isinstance(like, jax.Array) and getattr(like, "committed", False)
    return jax.device_put(host, next(iter(like.devices())) if committed else None)


def as_key(words: np.ndarray, like: Any) -> jax.Array:
    """``words`` as a key of ``like``'s kind (typed threefry or raw uint32), on its device
    (:func:`put_like`)."""
    out = put_like(words, like)
    if jax.dtypes.issubdtype(like.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(out, impl="threefry2x32")
    return out


def fold_in(words: np.ndarray, data: Any) -> np.ndarray:
    """``jax.random.fold_in`` of the key data ``words`` ``[..., 2]`` with ``data`` (uint32,
    broadcast against the keys)."""
    y0, y1 = hash2x32(words[..., 0], words[..., 1], 0, np.asarray(data, np.uint32))
    return np.stack([y0, y1], axis=-1)


def split(words: np.ndarray, num: int = 2) -> np.ndarray:
    """``jax.random.split(key, num)`` of the key data ``words`` ``[..., 2]`` under the
    partitionable scheme: ``[..., num, 2]``."""
    counters = np.arange(num, dtype=np.uint32)
    y0, y1 = hash2x32(words[..., 0, None], words[..., 1, None], 0, counters)
    return np.stack([y0, y1], axis=-1)


def random_bits(words: np.ndarray, n: int, width: int) -> np.ndarray:
    """``jax.random.bits`` of ``n`` entries, ``width`` bits each (8, 16, 32 or 64), of the
    key data ``words`` ``[..., 2]`` under the partitionable scheme: ``[..., n]``. Entry ``i``
    hashes the counter ``(i >> 32, i & 0xFFFFFFFF)``; narrower widths keep the low bits of
    the two words' XOR (``_threefry_random_bits_partitionable``)."""
    counters = np.arange(n, dtype=np.uint64)
    hi, lo = (counters >> np.uint64(32)).astype(np.uint32), counters.astype(np.uint32)
    y0, y1 = hash2x32(words[..., 0, None], words[..., 1, None], hi, lo)
    if width == 64:
        return (y0.astype(np.uint64) << np.uint64(32)) | y1.astype(np.uint64)
    return (y0 ^ y1).astype({8: np.uint8, 16: np.uint16, 32: np.uint32}[width])


def unit_floats(words: np.ndarray, n: int, dtype: Any) -> np.ndarray:
    """The floats in ``[0, 1)`` that ``jax.random.uniform(key, (n,), dtype)`` scales to its
    range (``jax._src.random.core._uniform``): random mantissa bits under the exponent of
    1.0, minus 1 (exact), of the key data ``words`` ``[..., 2]``: ``[..., n]``."""
    dtype = np.dtype(dtype)
    finfo = jax.dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    width = 8 if nmant < 8 else nbits
    uint = {16: np.uint16, 32: np.uint32, 64: np.uint64}[nbits]
    bits = random_bits(words, n, width).astype(uint)
    one = np.array(1.0, dtype).view(uint)
    return ((bits >> uint(width - nmant)) | one).view(dtype) - np.array(1.0, dtype)


def permutation(words: np.ndarray, n: int) -> np.ndarray:
    """``jax.random.permutation(key, n)`` of the key data ``words`` ``[..., 2]``:
    ``[..., n]`` (int32). JAX shuffles ``arange(n)`` by stable sorts on fresh random 32-bit
    sort keys, ``ceil(3 log n / log(2^32 - 1))`` rounds, each with the second half of a
    split of the key (``jax._src.random.core._shuffle``); NumPy's stable argsort orders
    ties as XLA's stable sort does."""
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    x = np.broadcast_to(np.arange(n, dtype=np.int32), (*words.shape[:-1], n))
    for _ in range(rounds):
        halves = split(words)
        words, sort_keys = halves[..., 0, :], random_bits(halves[..., 1, :], n, 32)
        x = np.take_along_axis(x, np.argsort(sort_keys, axis=-1, kind="stable"), axis=-1)
    return x
