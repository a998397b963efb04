"""Which examples each step of each run trains on: the data order, as a strategy object.

:class:`FullBatch` feeds every run all training examples at every step; :class:`MiniBatch`
gives seed ``s`` at step ``t`` slice ``t % steps_per_epoch`` of the permutation
``permutation(fold_in(data_key(s), t // steps_per_epoch), n)`` (a last partial batch of an
epoch is dropped). The order depends on the seed only, so every init sees the same batches
(comparisons are paired by seed) and seed 7 is seed 7 in any sweep.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jinit import _threefry
from jinit._exact import exact_jit
from jinit.keys import data_keys

#: The most entries (seeds x epochs x examples) a chunk's data order is shuffled with on the
#: host: NumPy hashes and sorts 300,000 in about 50 ms, where the compiled program takes
#: 0.15-0.25 s to compile (once per sweep); larger orders use the program.
HOST_ORDER_MAX = 2**20


class FullBatch:
    """Every step of every run uses the whole training set (shared by all runs)."""

    shared = True  # one batch for every run: apply is vmapped with in_axes None for x
    batch_size = 0

    def placeholder(self) -> None:
        return None

    def indices(self, chunk: int) -> None:
        del chunk
        return None

    def step_indices(self, indices: Any, i: Any) -> None:
        del indices, i
        return None

    def batch(self, x: jax.Array, y: jax.Array, idx: Any, seed_of_run: jax.Array):
        del idx, seed_of_run
        return x, y


class MiniBatch:
    """Per-seed epoch permutations, ``batch_size`` examples per step."""

    shared = False

    def __init__(self, seeds: np.ndarray, n: int, batch_size: int, chunk_len: int) -> None:
        self.keys = data_keys(seeds)
        self.n_seeds, self.n, self.batch_size, self.chunk_len = len(seeds), n, batch_size, chunk_len

    def placeholder(self) -> jax.Array:
        """Indices of the right shape, for compiling the chunk program."""
        return np.zeros((self.n_seeds, self.chunk_len, self.batch_size), np.int32)

    def indices(self, chunk: int) -> np.ndarray:
        """Example indices ``[n_seeds, chunk_len, batch_size]`` of chunk ``chunk``."""
        per_epoch = self.n // self.batch_size
        start, count = chunk * self.chunk_len, self.chunk_len
        steps = np.arange(start, start + count)
        # A fixed number of epochs per call (the most a chunk can touch), so the permutation
        # program compiles once per sweep.
        first = start // per_epoch
        epochs = np.arange(first, first + count // per_epoch + 2)
        perms = self._permutations(epochs)  # [S, E, n]
        perms = perms[:, :, : per_epoch * self.batch_size].reshape(
            self.n_seeds, len(epochs), per_epoch, self.batch_size
        )
        return perms[:, steps // per_epoch - first, steps % per_epoch]  # [S, count, batch]

    def _permutations(self, epochs: np.ndarray) -> np.ndarray:
        """:func:`epoch_permutations` of every seed's key and ``epochs``: shuffled on the
        host (:func:`jinit._threefry.permutation`, the same bits, nothing to compile) up to
        :data:`HOST_ORDER_MAX` entries, else by the compiled program."""
        words = _threefry.host_words(self.keys, split=True)
        if words is not None and len(self.keys) * len(epochs) * self.n <= HOST_ORDER_MAX:
            return _threefry.permutation(_threefry.fold_in(words[:, None, :], epochs), self.n)
        return np.asarray(_permutations(self.n)(self.keys, epochs))

    def step_indices(self, indices: jax.Array, i: Any) -> jax.Array:
        """The example indices ``[n_seeds, batch]`` of step ``i`` of the chunk (traced)."""
        return jax.lax.dynamic_index_in_dim(indices, i, axis=1, keepdims=False)

    def batch(self, x: jax.Array, y: jax.Array, idx: jax.Array, seed_of_run: jax.Array):
        """Each run's batch ``[runs, batch, ...]`` (run r reads its seed's row of ``idx``)."""
        idx_runs = idx[seed_of_run]
        return x[idx_runs], y[idx_runs]


def data_order(seeds: np.ndarray, n: int, batch_size: int | None, chunk_len: int):
    """:class:`FullBatch` if ``batch_size`` is None or covers the data, else :class:`MiniBatch`."""
    if batch_size is None or batch_size >= n:
        return FullBatch()
    return MiniBatch(seeds, n, batch_size, chunk_len)


@functools.lru_cache(maxsize=16)
def _permutations(n: int) -> Callable[[jax.Array, np.ndarray], jax.Array]:
    """:func:`epoch_permutations` of ``n`` examples, jitted; on CPU unoptimized (an integer
    program: the same bits, compiled 3x faster, :func:`jinit._exact.exact_jit`)."""
    return exact_jit(functools.partial(epoch_permutations, n=n))


def epoch_permutations(keys: jax.Array, epochs: jax.Array, n: int) -> jax.Array:
    """``permutation(fold_in(key, epoch), n)`` for every key and epoch: ``[keys, epochs, n]``."""

    def one(key, epoch):
        return jax.random.permutation(jax.random.fold_in(key, epoch), n)

    return jax.vmap(lambda k: jax.vmap(lambda e: one(k, e))(epochs))(keys)
