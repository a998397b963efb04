"""Draw one initial array per seed in a single compiled call."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit._validate import check_dtype, check_shape, check_size
from jinit.keys import MAX_SEED as _MAX_SEED
from jinit.keys import stable_hash  # noqa: F401  (re-exported)


def keys_from_seeds(seeds: Any) -> jax.Array:
    """Typed PRNG keys for a sequence of integer seeds (``jax.random.key(seed)`` each)."""
    arr = np.asarray(seeds)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"expected a 1-D sequence of integer seeds, got {seeds!r}.")
    if arr.size and arr.min() < 0:
        raise ValueError(f"seeds must be non-negative integers, got {arr.min()}.")
    if arr.size and arr.max() > _MAX_SEED:
        # uint32 would wrap it (2**32 -> 0), silently aliasing another seed and, with x64
        # enabled, differing from jax.random.key(seed), which keeps all 64 bits.
        raise ValueError(f"seeds must be integers in [0, 2**32 - 1], got {arr.max()}.")
    return jax.vmap(jax.random.key)(jnp.asarray(arr, dtype=jnp.uint32))


def as_keys(keys_or_seeds: Any, what: str = "draw") -> jax.Array:
    """Typed PRNG keys from a seed count ``n`` (seeds 0..n-1), a sequence of integer seeds,
    an array of typed keys, or raw ``(n, 2)`` uint32 keys; ``what`` names the caller in
    errors."""
    if isinstance(keys_or_seeds, int | np.integer) and not isinstance(keys_or_seeds, bool):
        if keys_or_seeds < 1:
            raise ValueError(f"{what}: a seed count must be >= 1, got {keys_or_seeds}.")
        return keys_from_seeds(np.arange(keys_or_seeds))
    if isinstance(keys_or_seeds, jax.Array) and jax.dtypes.issubdtype(
        keys_or_seeds.dtype, jax.dtypes.prng_key
    ):
        if keys_or_seeds.ndim != 1:
            raise ValueError(
                f"{what}: expected a 1-D array of keys, got shape {keys_or_seeds.shape}."
            )
        return keys_or_seeds
    if isinstance(keys_or_seeds, jax.Array | np.ndarray) and keys_or_seeds.ndim == 2:
        # raw uint32 keys, as from jax.random.PRNGKey stacked: shape (n, 2)
        return jax.vmap(jax.random.wrap_key_data)(jnp.asarray(keys_or_seeds))
    if isinstance(keys_or_seeds, Sequence | np.ndarray | jax.Array):
        return keys_from_seeds(keys_or_seeds)
    raise TypeError(
        f"{what}: expected a seed count, a sequence of integer seeds, or an array of PRNG keys; "
        f"got {type(keys_or_seeds).__name__}."
    )


@functools.lru_cache(maxsize=256)
def _compiled(init: Callable, shape: tuple[int, ...], dtype: np.dtype) -> Callable:
    return jax.jit(jax.vmap(lambda key: init(key, shape, dtype)))


def draw(
    init: Callable,
    keys_or_seeds: Any,
    shape: Sequence[int],
    dtype: Any = jnp.float32,
) -> jax.Array:
    """Stack of arrays, one per key or seed, drawn by ``init`` in one jitted, vmapped call.

    ``keys_or_seeds`` is a count ``n`` (seeds ``0..n-1``), a sequence of integer seeds
    (each becomes ``jax.random.key(seed)``), or an array of keys. Row ``i`` equals
    ``init(key_i, shape, dtype)`` bit for bit. The compiled function is cached per
    ``(init, shape, dtype)``.

    Example:
        >>> import jax, jinit
        >>> w = jinit.draw(jinit.he_normal, 100, (784, 30))
        >>> w.shape
        (100, 784, 30)
    """
    shape = check_shape(shape, "draw")
    dtype = check_dtype(dtype, "draw")
    # Validate options with a clear error by tracing one draw (no compute: eval_shape).
    jax.eval_shape(lambda key: init(key, shape, dtype), jax.random.key(0))
    keys = as_keys(keys_or_seeds)
    check_size((keys.shape[0], *shape), dtype, "draw")  # the stack, before allocating it
    return _compiled(init, shape, dtype)(keys)
