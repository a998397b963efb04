"""Every randomness convention of jinit, in one place.

Randomness is tied to seeds and names, never to positions in a sweep:

- ``seed_key(s)`` = ``jax.random.key(s)`` for a seed ``0 <= s < 2**32`` (larger seeds are
  refused: a uint32 cast would alias seed ``s`` with ``s mod 2**32``);
- ``run_key(s, name)`` = ``fold_in(seed_key(s), stable_hash(name))``: the key run (init
  ``name``, seed ``s``) draws its initial parameters from, in a sweep, a probe or a draw;
- ``data_key(s)`` = ``fold_in(seed_key(s), DATA_STREAM)``: seed ``s``'s mini-batch order,
  shared by every init so that comparisons are paired by seed;
- ``step_key(s, t)`` = ``fold_in(fold_in(seed_key(s), STEP_STREAM), t)``: the randomness of
  step ``t`` of seed ``s`` (dropout), shared by every init like the data order;
- ``path_key(key, path)`` = ``fold_in(key, stable_hash(path))``: the key a parameter at
  ``path`` is drawn with by :func:`jinit.reinit`;
- ``layer_keys(key, i)`` = ``split(fold_in(key, i))``: the keys of layer ``i``'s weight and
  bias in jinit's layer-list models (MLP, ConvNet).

Each derivation gives the bits of the ``jax.random`` calls. For concrete threefry keys (a
sweep's and a probe's, also under the eager ``vmap`` of their initial draws) it is computed
on the host (:mod:`jinit._threefry`), with nothing to compile; traced keys (inside ``jit``)
and other key implementations go through ``jax.random``, as integer-only programs compiled
unoptimized on CPU (:func:`jinit._exact.exact_jit`).

So seed 7 of init "he" is the same run in a 1-seed or a 100-seed sweep, on 1 or 4 devices,
and the same weights in :func:`jinit.probe_seeds` and :func:`jinit.sweep`.

Example:
    >>> import jax
    >>> from jinit import keys
    >>> k = keys.run_key(7, "he")
    >>> bool((jax.random.key_data(keys.run_keys([3, 7], "he")[1]) == jax.random.key_data(k)).all())
    True
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit import _threefry
from jinit._exact import exact_jit

DATA_STREAM = 0x6A696E69  # fold-in tag for the data-order stream ("jini")
STEP_STREAM = 0x73746570  # fold-in tag for the per-step stream ("step"), e.g. dropout
MAX_SEED = 2**32 - 1


def stable_hash(text: str) -> int:
    """A 31-bit hash of ``text`` that is the same in every process and on every machine
    (``zlib.crc32`` of its UTF-8 bytes, masked to 31 bits), for folding names and paths into
    PRNG keys.

    Example:
        >>> import jinit
        >>> jinit.stable_hash("he_normal") < 2**31
        True
    """
    if not isinstance(text, str):
        raise TypeError(f"stable_hash: expected a str, got {type(text).__name__}.")
    return zlib.crc32(text.encode("utf-8")) & 0x7FFFFFFF


def check_seeds(seeds: Any, what: str = "seeds") -> np.ndarray:
    """Seeds as a 1-D int64 array: a count ``n`` (seeds ``0..n-1``) or a sequence of distinct
    integers in ``[0, 2**32 - 1]``; anything else raises a one-line ``ValueError`` or
    ``TypeError`` naming ``what``."""
    if isinstance(seeds, bool):
        raise TypeError(f"{what}: expected a seed count or a list of ints, got {seeds!r}.")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"{what}: a seed count must be >= 1, got {seeds}.")
        return np.arange(int(seeds), dtype=np.int64)
    try:
        arr = np.asarray(list(seeds) if not isinstance(seeds, np.ndarray) else seeds)
    except TypeError:
        raise TypeError(
            f"{what}: expected a seed count or a list of ints, got {type(seeds).__name__}."
        ) from None
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{what}: expected a seed count or a non-empty list of ints, got {seeds!r}."
        )
    if arr.min() < 0 or arr.max() > MAX_SEED:
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise ValueError(f"{what}: seeds must be integers in [0, 2**32 - 1], got {bad}.")
    if len(np.unique(arr)) != arr.size:
        raise ValueError(f"{what}: seeds must be distinct, got {seeds!r}.")
    return arr.astype(np.int64)


def seed_key(seed: int) -> jax.Array:
    """``jax.random.key(seed)`` for a seed in ``[0, 2**32 - 1]`` (others raise)."""
    return _seed_keys(check_seeds([int(seed)], "seed")[0])


def seed_keys(seeds: Sequence[int] | np.ndarray) -> jax.Array:
    """``seed_key`` of every seed, stacked: typed keys of shape ``[len(seeds)]``."""
    arr = check_seeds(seeds) if not isinstance(seeds, int | np.integer) else check_seeds([seeds])
    return _seed_keys(arr)


def _seed_keys(seeds: np.ndarray) -> jax.Array:
    """``jax.random.key(s)`` of every (checked) seed, in ``seeds``' shape.

    Under threefry (JAX's default key implementation) ``jax.random.key(s)`` of a 32-bit seed
    is the key data ``[0, s]`` (the seed's high and low words): made on the host, they
    compile nothing (tested against ``jax.random.key``); other implementations go through
    ``jax.random.key`` itself."""
    if jax.config.jax_default_prng_impl == "threefry2x32":
        words = np.stack([np.zeros(seeds.shape, np.uint32), seeds.astype(np.uint32)], axis=-1)
        return jax.random.wrap_key_data(jax.device_put(words), impl="threefry2x32")
    if seeds.ndim == 0:
        return jax.random.key(np.uint32(seeds))
    return jax.vmap(jax.random.key)(jnp.asarray(seeds, dtype=jnp.uint32))


def _host_or_program(host: Callable, program: Callable, split: bool = False) -> Callable:
    """``(key, data) -> keys``, derived on the host for a concrete threefry key and data
    (``host(words, data)``: key data in, key data or a tuple of them out; :mod:`_threefry`),
    also under an eager ``vmap`` over keys (a sweep's initial draws), whose
    ``custom_vmap`` rule sees the concrete keys; else ``program(key, data)``, an exact
    program (traced keys, other implementations, ``split`` without the partitionable
    scheme)."""

    def on_host(key: Any, data: Any) -> Any:
        words = _threefry.host_words(key, split)
        if words is None or isinstance(data, jax.core.Tracer) or np.ndim(data) != 0:
            return None
        out = host(words, np.uint32(data))
        return jax.tree_util.tree_map(lambda w: _threefry.as_key(w, key), out)

    @jax.custom_batching.custom_vmap
    def batchable(key: jax.Array, data: jax.Array) -> Any:
        return program(key, data)

    @batchable.def_vmap
    def _rule(axis_size: int, in_batched: list, key: Any, data: Any) -> Any:
        out = on_host(key, data) if in_batched == [True, False] else None
        if out is None:
            axes = tuple(0 if b else None for b in in_batched)
            out = jax.vmap(program, in_axes=axes)(key, data)
        return out, jax.tree_util.tree_map(lambda _: True, out)

    def derive(key: jax.Array, data: Any) -> Any:
        _check_single_key(key)
        out = on_host(key, data)
        if out is not None:
            return out
        return batchable(key, data if isinstance(data, jax.core.Tracer) else np.uint32(data))

    return derive


def _check_single_key(key: Any) -> None:
    """Refuse a stack of keys where one key is derived (``jax.random.fold_in`` refuses it;
    the host path would otherwise derive every key of the stack)."""
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    if np.ndim(key) != (0 if typed else 1):
        raise ValueError(
            f"key: one key was expected (a typed key of shape (), or one key's raw data, "
            f"1-D), got shape {np.shape(key)}; use jax.vmap over a stack of keys."
        )


@exact_jit
def _split_folded(key: jax.Array, data: jax.Array) -> tuple[jax.Array, jax.Array]:
    first, second = jax.random.split(jax.random.fold_in(key, data))
    return first, second


def _host_split_folded(words: np.ndarray, data: np.uint32) -> tuple[np.ndarray, np.ndarray]:
    both = _threefry.split(_threefry.fold_in(words, data))
    return both[..., 0, :], both[..., 1, :]


#: ``jax.random.fold_in(key, data)``.
_fold_in = _host_or_program(_threefry.fold_in, exact_jit(jax.random.fold_in))
_layer_keys = _host_or_program(_host_split_folded, _split_folded, split=True)


def _fold_each(keys: jax.Array, data: int) -> jax.Array:
    """``jax.random.fold_in(k, data)`` for every key ``k`` of a stack."""
    return jax.vmap(_fold_in, in_axes=(0, None))(keys, np.uint32(data))


def layer_keys(key: jax.Array, index: int) -> tuple[jax.Array, jax.Array]:
    """The keys of layer ``index``'s weight and bias in jinit's layer-list models:
    ``jax.random.split(jax.random.fold_in(key, index))``. On the host for concrete threefry
    keys, also under an eager ``vmap`` (:mod:`jinit._threefry`); else one exact program."""
    return _layer_keys(key, index)


def run_key(seed: int, name: str) -> jax.Array:
    """The key run (init ``name``, seed ``seed``) draws its initial parameters from."""
    return _fold_in(seed_key(seed), stable_hash(name))


def run_keys(seeds: Sequence[int] | np.ndarray, name: str) -> jax.Array:
    """``run_key(s, name)`` for every seed, stacked on a leading axis."""
    return _fold_each(seed_keys(seeds), stable_hash(name))


def data_key(seed: int) -> jax.Array:
    """The key of seed ``seed``'s mini-batch order (shared by every init)."""
    return _fold_in(seed_key(seed), DATA_STREAM)


def data_keys(seeds: Sequence[int] | np.ndarray) -> jax.Array:
    """``data_key(s)`` for every seed, stacked on a leading axis."""
    return _fold_each(seed_keys(seeds), DATA_STREAM)


def step_stream(seeds: Sequence[int] | np.ndarray) -> jax.Array:
    """``fold_in(seed_key(s), STEP_STREAM)`` for every seed: fold the step number into row
    ``s`` (``jax.random.fold_in(stream[s], t)``) for the randomness of step ``t``."""
    return _fold_each(seed_keys(seeds), STEP_STREAM)


def step_key(seed: int, step: int) -> jax.Array:
    """The randomness of step ``step`` of seed ``seed`` (dropout masks), shared by all inits."""
    return _fold_in(_fold_in(seed_key(seed), STEP_STREAM), step)


def path_key(key: jax.Array, path_str: str) -> jax.Array:
    """The key :func:`jinit.reinit` draws the leaf at ``path_str`` with.

    ``jax.random.fold_in(key, zlib.crc32(path_str.encode("utf-8")) & 0x7FFFFFFF)``: it
    depends on the root key and this path only.

    Example:
        >>> import jax, jinit
        >>> k = jinit.path_key(jax.random.key(0), "['params']['Dense_0']['kernel']")
        >>> w = jinit.he_normal(k, (3, 4))     # what reinit puts at that path
    """
    return _fold_in(key, stable_hash(path_str))
