"""The run axis: its order, its padding to the device count, and its sharding, in one process
or across processes (``jax.distributed``).

Runs are stacked init-major (``run = init_index * n_seeds + seed_index``; with a
hyperparameter axis ``run = (init_index * n_configs + config_index) * n_seeds + seed_index``)
and padded with copies of the last run up to a multiple of the device count; the padded axis is
sharded over a one-axis ``Mesh(("runs",))`` of ``devices`` (single device: no mesh, no
padding). Data and indices are replicated. This is the one place that layout is written.

Across processes every process runs the same sweep with the same global ``devices``
(``jax.devices()``: every process's devices). Every process computes the same host values
(initial parameters, data), and each places only its own shards
(``jax.make_array_from_callback``); results are gathered with
``jax.experimental.multihost_utils.process_allgather``, so every process gets all of them.
The program is the same per device, so a run's numbers do not depend on the process count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding


def _is_key(a: Any) -> bool:
    return isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)


def _global(a: Any, sharding: Sharding) -> jax.Array:
    """The same host value in every process, placed as one global array: each process
    fills only the shards of its own devices."""
    if _is_key(a):
        data = _global(jax.random.key_data(a), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
    host = np.asarray(a)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def put(tree: Any, sharding: Sharding) -> Any:
    """``jax.device_put(tree, sharding)``; across processes, each process places its own
    shards of the (identical) host values."""
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree_util.tree_map(lambda a: _global(a, sharding), tree)


def to_host(tree: Any) -> Any:
    """Every leaf as a NumPy array; arrays spread over processes are gathered (every
    process must call it at the same point: it is a collective)."""
    if all(
        not isinstance(a, jax.Array) or a.is_fully_addressable
        for a in jax.tree_util.tree_leaves(tree)
    ):
        return jax.tree_util.tree_map(np.asarray, tree)
    from jax.experimental import multihost_utils

    return jax.tree_util.tree_map(np.asarray, multihost_utils.process_allgather(tree, tiled=True))


def agreed_min(value: int) -> int:
    """The smallest of every process's ``value`` (a collective), so that all processes take
    the same decision (a memory plan); ``value`` itself in one process."""
    if jax.process_count() == 1:
        return value
    from jax.experimental import multihost_utils

    # in KiB, as int32: without jax_enable_x64 an int64 would be cut to 32 bits (wrapping RAM
    # budgets over 2 GiB negative)
    kib = np.asarray([min(value // 1024, 2**31 - 1)], np.int32)
    return int(np.min(multihost_utils.process_allgather(kib))) * 1024


class RunLayout:
    """``n_inits x n_seeds`` runs (``n_inits x n_configs x n_seeds`` with a configs axis) on
    ``devices`` (of one process or of all)."""

    def __init__(
        self,
        n_inits: int,
        n_seeds: int,
        devices: Sequence[jax.Device],
        n_configs: int | None = None,
        multiple: int = 1,
        n_blocks: int = 1,
    ) -> None:
        self.n_inits, self.n_seeds, self.n_configs = n_inits, n_seeds, n_configs
        self.n_runs = n_inits * (n_configs or 1) * n_seeds
        self.mesh = Mesh(np.array(devices), ("runs",)) if len(devices) > 1 else None
        self.n_devices = 1 if self.mesh is None else self.mesh.size
        self.platform = devices[0].platform
        # runs per device: a multiple of ``multiple`` (the engine's blocks of runs)
        self.pad = -self.n_runs % (self.n_devices * multiple)
        if multiple % n_blocks:
            raise ValueError(f"RunLayout: {n_blocks} blocks do not divide {multiple} runs.")
        self.n_blocks = n_blocks

    @property
    def n_padded(self) -> int:
        """The number of runs on the run axis, padding included."""
        return self.n_runs + self.pad

    @property
    def run_sharding(self) -> NamedSharding | None:
        """The run axis split over the mesh (``None`` on one device)."""
        return None if self.mesh is None else NamedSharding(self.mesh, PartitionSpec("runs"))

    def pad_runs(self, tree: Any) -> Any:
        """A tree with a leading run axis padded to ``n_padded`` (copies of the last run)."""
        if not self.pad:
            return tree

        def padded(a: Any) -> Any:  # NumPy arrays stay on the host (no program)
            xp = np if isinstance(a, np.ndarray) else jnp
            return xp.concatenate([a, xp.repeat(a[-1:], self.pad, axis=0)])

        return jax.tree_util.tree_map(padded, tree)

    @property
    def seed_of_run(self) -> np.ndarray:
        """The seed index of every (padded) run."""
        seed_of_run = np.tile(np.arange(self.n_seeds), self.n_runs // self.n_seeds)
        return np.concatenate([seed_of_run, np.repeat(seed_of_run[-1:], self.pad)])

    def shard(self, tree: Any) -> Any:
        """Pad a tree with a leading run axis to the device multiple and shard it. On CPU in
        one process through the host, where padding and slicing compile nothing (on the
        devices, each leaf shape would compile a slicing program and a concatenation);
        across processes, each process places its own shards of the (identical) host values
        (:func:`put`)."""
        if self.mesh is None and not self.pad:
            return tree
        if jax.process_count() > 1 or self.platform != "cpu":
            tree = self.pad_runs(tree)
            return tree if self.mesh is None else put(tree, self.run_sharding)
        host = jax.tree_util.tree_map(np.asarray, tree)  # CPU: shares the device's memory
        return jax.device_put(self.pad_runs(host), self.run_sharding)

    def split(self, tree: Any) -> list[Any]:
        """A host tree with the padded run axis as ``n_blocks`` host trees: block ``k`` holds
        every device's ``k``-th block of runs, device by device (the block trained at once;
        the engine calls one program a block, one after another). The inverse of
        :meth:`join`."""

        def part(a: Any, k: int) -> np.ndarray:
            a = np.asarray(a)
            a = a.reshape(self.n_devices, self.n_blocks, -1, *a.shape[1:])
            return a[:, k].reshape(-1, *a.shape[3:])

        return [jax.tree_util.tree_map(lambda a, k=k: part(a, k), tree)
                for k in range(self.n_blocks)]  # fmt: skip

    def join(self, blocks: Sequence[Any]) -> Any:
        """Blocks of runs (:meth:`split`; on the devices or on the host) as one host tree
        with the padded run axis. Across processes every process must call it (it gathers
        the shards)."""

        def whole(*parts: np.ndarray) -> np.ndarray:
            stacked = np.stack([p.reshape(self.n_devices, -1, *p.shape[1:]) for p in parts], 1)
            return stacked.reshape(-1, *stacked.shape[3:])

        return jax.tree_util.tree_map(whole, *[to_host(b) for b in blocks])

    def shard_blocks(self, tree: Any, padded: bool = False) -> list[Any]:
        """A tree with the leading run axis (``n_runs``, or ``n_padded`` where ``padded``),
        padded and split into blocks (:meth:`split`), each block placed over the devices
        (its run axis sharded over the mesh): through the host, so that padding and slicing
        compile nothing. One block: as :meth:`shard` (on GPUs without a trip through the
        host)."""
        if self.n_blocks == 1 and not padded:
            placed = self.shard(tree)
            return [placed if self.mesh is not None else jax.device_put(placed)]
        host = jax.tree_util.tree_map(np.asarray, tree)
        host = host if padded else self.pad_runs(host)
        blocks = self.split(host)
        if self.mesh is None:
            return [jax.device_put(b) for b in blocks]
        return [put(b, self.run_sharding) for b in blocks]

    def replicate(self, tree: Any) -> Any:
        """Put a tree on every device (data, batch indices)."""
        if self.mesh is None:
            return tree
        return put(tree, NamedSharding(self.mesh, PartitionSpec()))

    def unstack(self, arr: Any) -> np.ndarray:
        """Drop the padding of the leading run axis and split it into ``[n_inits, n_seeds]``
        (``[n_inits, n_configs, n_seeds]`` with a configs axis). Across processes every
        process must call it (it gathers the shards)."""
        arr = to_host(arr)[: self.n_runs]
        configs = () if self.n_configs is None else (self.n_configs,)
        return arr.reshape(self.n_inits, *configs, self.n_seeds, *arr.shape[1:])
