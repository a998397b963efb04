"""Memory planning: how many runs of a sweep fit in memory at once, and the groups to run.

A sweep keeps every run's state on the device and computes every run's step at once, so its
memory grows with the number of runs. :func:`run_bytes` estimates the bytes one run needs:

- its parameters, held three times during a step (state in, gradients, state out);
- its optimizer slots (``jax.eval_shape`` of ``optimizer.init``), held twice;
- the activations of one training step on one batch: the sum of the sizes of every
  intermediate value of the traced forward and backward pass (``jax.make_jaxpr``), an upper
  bound since XLA frees and reuses buffers;
- the activations of one evaluation block (forward pass on up to ``EVAL_BLOCK`` examples);
- per seed, the data order of one chunk (mini-batch sweeps: the example indices of the chunk
  being trained and of the next, prepared meanwhile, and the epoch permutations they are cut
  from);
- per seed, the initial draw of the largest leaf (one init at a time): JAX's random bits, the
  floats made of them and the result, of the leaf's size class
  (:func:`jinit._sampling.draw_entries`: at least 4096 entries, so that a sweep compiles one
  random program per size class); counted 4 times (measured: 57 KB a seed for the circles
  net's 16 KB class).

Parameters and optimizer slots are held for every run of a group; activations only for the
runs computed at once: on CPU a sweep trains its runs in blocks (:func:`sweep_blocks`), one
block per device at a time (the ``map`` formulation: one run per device), so a group of
100,000 small runs costs its states plus one block's activations per device, not 100,000
runs' activations.

:func:`memory_budget` is ``max_memory`` if given, else 90% of the free memory of the devices
(``device.memory_stats()``, GPU/TPU), else half of the machine's available RAM (CPU).
:func:`plan_groups` splits the runs into groups that fit the budget: whole seed ranges with all
inits when one seed of every init fits, else one init at a time; groups are near-equal in size
(so a persistent compilation cache serves the later groups). Run (init, seed) draws its
parameters and data order from its own seed and name only, so it is the same run whatever
group it lands in: the same numbers as one big sweep to float round-off (XLA:CPU may round a
step of 4 runs otherwise than one of 64, as between any two sweeps of different sizes;
chaotic runs amplify it). One program is compiled per group.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jinit._sampling import draw_entries
from jinit.engine.program import EVAL_BLOCK
from jinit.engine.sharding import agreed_min
from jinit.results import SweepResult

RAM_FRACTION = 0.5
DEVICE_FRACTION = 0.9
BLOCK_CACHE_FRACTION = 1.0  # of the largest CPU cache: a block's working set (measured)
DRAW_COPIES = 4  # a leaf's size class held about 3.5 times during its draw (measured)
MIN_BLOCK = 8  # runs: fewer leave the per-run einsums too small to vectorize
DEFAULT_CACHE = 32 * 2**20  # bytes, when the CPU's caches cannot be read


class RunBytes(NamedTuple):
    """Estimated bytes one run needs (see the module docstring); ``order`` is per seed."""

    params: int
    opt_state: int
    activations: int
    evaluation: int
    order: int = 0
    draws: int = 0

    @property
    def state(self) -> int:
        """Held for every run of a group: parameters (in, gradients, out), optimizer slots."""
        return 3 * self.params + 2 * self.opt_state

    @property
    def step(self) -> int:
        """Held only while the run is computed: activations of a step and of an evaluation."""
        return self.activations + self.evaluation

    @property
    def total(self) -> int:
        """One run alone."""
        return self.state + self.step + self.order + self.draws


class Group(NamedTuple):
    """A group of runs: the init positions and the seed positions it trains."""

    inits: slice
    seeds: slice


def _itemsize(dtype: Any) -> int:
    try:
        return jnp.dtype(dtype).itemsize
    except TypeError:  # a PRNG key type: its raw key data (two uint32 for threefry)
        return getattr(dtype, "itemsize", 8)


def _nbytes(tree: Any) -> int:
    return sum(math.prod(x.shape) * _itemsize(x.dtype) for x in jax.tree_util.tree_leaves(tree))


def _jaxpr_bytes(jaxpr: Any) -> int:
    """Bytes of every value an (open) jaxpr computes, nested jaxprs included."""
    total = 0
    for eqn in jaxpr.eqns:
        for var in eqn.outvars:
            aval = var.aval
            if hasattr(aval, "shape") and hasattr(aval, "dtype"):
                total += math.prod(aval.shape) * _itemsize(aval.dtype)
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    total += _jaxpr_bytes(inner)
    return total


def _traced_bytes(fn: Any, *args: Any) -> int:
    return _jaxpr_bytes(jax.make_jaxpr(fn)(*args).jaxpr)


def run_bytes(model: Any, loss_fn: Any, optimizer: Any, template: Any, data: Any,
              batch_size: int | None, dtype: Any, chunk_len: int = 1) -> RunBytes:  # fmt: skip
    """The estimated memory of one run (:class:`RunBytes`; ``chunk_len``: steps per chunk,
    for the data order). A model with a train mode (batch statistics, dropout) is traced
    through ``apply_train``; its state counts with the parameters."""
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    batch = min(batch_size or len(x), len(x))
    xb = jax.ShapeDtypeStruct((batch, *x.shape[1:]), jnp.dtype(dtype))
    yb = jax.ShapeDtypeStruct((batch, *y.shape[1:]), y.dtype)
    state = model.init_state(dtype) if hasattr(model, "init_state") else ()
    key = jax.eval_shape(jax.random.key, 0)

    def train_loss(params, state, xb, yb, key):
        if getattr(model, "apply_train", None) is None:
            return loss_fn(model.apply(params, xb), yb)
        return loss_fn(model.apply_train(params, state, xb, key)[0], yb)

    def evaluate(params, state, xe):
        if getattr(model, "apply_eval", None) is None:
            return model.apply(params, xe)
        return model.apply_eval(params, state, xe)

    n_eval = min(max(len(x), len(data.x_test)), EVAL_BLOCK)
    xe = jax.ShapeDtypeStruct((n_eval, *x.shape[1:]), jnp.dtype(dtype))
    grads = jax.value_and_grad(train_loss)
    return RunBytes(
        params=_nbytes(template) + _nbytes(state),
        opt_state=_nbytes(jax.eval_shape(optimizer.init, template)),
        activations=_traced_bytes(grads, template, state, xb, yb, key) + _nbytes(xb),
        evaluation=_traced_bytes(evaluate, template, state, xe),
        order=order_bytes(len(x), batch, chunk_len),
        draws=draw_bytes(template),
    )


def draw_bytes(template: Any) -> int:
    """Bytes held while one seed's parameters are drawn: the size class of its largest leaf
    (:func:`jinit._sampling.draw_entries`; 32-bit random bits at least), :data:`DRAW_COPIES`
    times."""
    leaves = jax.tree_util.tree_leaves(template)
    sizes = (draw_entries(math.prod(t.shape)) * max(_itemsize(t.dtype), 4) for t in leaves)
    return DRAW_COPIES * max(sizes, default=0)


def order_bytes(n: int, batch: int, chunk_len: int) -> int:
    """Bytes of one seed's data order (:class:`jinit.engine.order.MiniBatch`): int32 indices
    of two chunks (the one training, the next prepared) and the epoch permutations of a chunk;
    0 for full-batch training."""
    if batch >= n:
        return 0
    epochs = chunk_len // max(n // batch, 1) + 2
    return 4 * (2 * chunk_len * batch + epochs * n)


def memory_budget(devices: Sequence[jax.Device], max_memory: float | None = None) -> int:
    """Bytes the runs of one group may use over all ``devices`` (module docstring)."""
    if max_memory is not None:
        if (
            isinstance(max_memory, bool)
            or not isinstance(max_memory, int | float)
            or not (max_memory > 0)
        ):
            raise ValueError(
                f"sweep: max_memory must be a positive number of bytes (or None for the "
                f"device's free memory), got {max_memory!r}."
            )
        return int(min(max_memory, 2**62))
    return agreed_min(_free_bytes(devices))  # across processes: one plan for all


def _free_bytes(devices: Sequence[jax.Device]) -> int:
    local = [d for d in devices if d.process_index == jax.process_index()] or list(devices)
    stats = local[0].memory_stats() if hasattr(local[0], "memory_stats") else None
    if stats and "bytes_limit" in stats:
        free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
        return int(DEVICE_FRACTION * free * len(devices))
    try:
        ram = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume 4 GiB
        ram = 4 * 2**30
    return int(RAM_FRACTION * ram)


def plan_groups(n_inits: int, n_seeds: int, per_run: RunBytes, budget: int,
                at_once: int | None = None, padded: bool = False) -> list[Group]:  # fmt: skip
    """Groups of runs (init-major: each init's seeds in order) that each fit ``budget``;
    ``at_once``: the most runs whose activations are held together (blocks; None: all);
    ``padded``: blocks of exactly ``at_once`` runs (padded), however few runs a group has."""

    def fits(inits: int, seeds: int) -> bool:
        runs = inits * seeds
        live = runs if at_once is None else at_once if padded else min(runs, at_once)
        per_seed = per_run.order + per_run.draws
        return runs * per_run.state + seeds * per_seed + live * per_run.step <= budget

    if fits(n_inits, n_seeds):
        return [Group(slice(0, n_inits), slice(0, n_seeds))]
    if not fits(1, 1):
        raise ValueError(_too_big(per_run, budget, at_once if padded else 1))
    if fits(n_inits, 1):
        init_chunks = [slice(0, n_inits)]
        seeds = _most(lambda s: fits(n_inits, s), n_seeds)
    else:
        init_chunks = [slice(i, i + 1) for i in range(n_inits)]
        seeds = _most(lambda s: fits(1, s), n_seeds)
    return [Group(i, s) for i in init_chunks for s in _even(n_seeds, seeds)]


def _too_big(per_run: RunBytes, budget: int, block: int) -> str:
    mb = 2**20
    if block > 1:
        need = block * per_run.step + per_run.state + per_run.order + per_run.draws
        return (
            f"sweep: a block of {block} runs computed at once needs about {need / mb:.1f} MB "
            f"(activations and evaluation {per_run.step / mb:.2f} MB a run), more than the "
            f"memory budget of {budget / mb:.1f} MB; pass a smaller block_size= or a larger "
            "max_memory=."
        )
    return (
        f"sweep: one run needs about {per_run.total / mb:.1f} MB (parameters "
        f"{per_run.params / mb:.1f} MB, optimizer {per_run.opt_state / mb:.1f} MB, "
        f"activations {per_run.activations / mb:.1f} MB, evaluation "
        f"{per_run.evaluation / mb:.1f} MB, data order {per_run.order / mb:.1f} MB, initial "
        f"draw {per_run.draws / mb:.1f} MB), more "
        f"than the memory budget of {budget / mb:.1f} MB; pass a larger max_memory=, a "
        "smaller batch_size or a smaller model."
    )


def _most(fits: Any, n: int) -> int:
    """The largest ``k`` in ``1..n`` with ``fits(k)`` (``fits`` monotone, ``fits(1)``)."""
    lo, hi = 1, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def _even(n: int, most: int) -> list[slice]:
    """``n`` positions in near-equal consecutive slices of at most ``most``."""
    bounds = np.linspace(0, n, math.ceil(n / most) + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def group_inits(inits: Sequence[Any], group: Group) -> dict[str, Any]:
    """The ``inits`` argument of a group's sweep (explicit parameters cut to its seeds)."""
    out = {}
    for init in inits[group.inits]:
        if init.params is not None:
            out[init.name] = jax.tree_util.tree_map(lambda p: p[group.seeds], init.params)
        else:
            out[init.name] = (init.weight_init, init.bias_init)
    return out


def merge_groups(groups: Sequence[Group], results: Sequence[Any]) -> Any:
    """One result from the results of ``groups`` (as :func:`plan_groups` lays them out):
    seed groups joined on the seed axis, init groups on the init axis."""
    rows: list[list[Any]] = []
    for group, result in zip(groups, results, strict=True):
        if not rows or group.seeds.start == 0:
            rows.append([])
        rows[-1].append(result)
    merged = [SweepResult.concat(row, axis="seeds") for row in rows]
    out = SweepResult.concat(merged, axis="inits")
    out.config = out.config | {"groups": len(groups)}
    return out


def sweep_groups(config: Any, max_memory: float | None) -> list[Group]:
    """The groups of a validated sweep config (one group when everything fits, or when
    ``max_memory`` is ``math.inf``, which skips the estimate)."""
    n_inits, n_seeds = len(config.inits), len(config.seeds)
    if getattr(config, "hparams", None) is not None and max_memory not in (None, math.inf):
        raise ValueError("sweep: max_memory cannot be combined with hparams yet; drop one.")
    if max_memory == math.inf or getattr(config, "hparams", None) is not None:
        # a sweep over hyperparameter configs is not planned yet: one group, as before
        return [Group(slice(0, n_inits), slice(0, n_seeds))]
    budget = memory_budget(config.devices, max_memory)
    exact = isinstance(getattr(config, "block_size", "auto"), int)
    return plan_groups(n_inits, n_seeds, config_run_bytes(config), budget,
                       _at_once(config, n_inits * n_seeds), exact)  # fmt: skip


_RUN_BYTES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def config_run_bytes(config: Any) -> RunBytes:
    """:func:`run_bytes` of a sweep config, traced once per config (groups and blocks)."""
    with contextlib.suppress(KeyError, TypeError):  # TypeError: not weakly referenceable
        return _RUN_BYTES[config]
    per_run = run_bytes(config.model, config.loss_fn, config.optimizer, config.template,
                        config.data, config.batch_size, config.dtype,
                        config.eval_every)  # fmt: skip
    with contextlib.suppress(TypeError):
        _RUN_BYTES[config] = per_run
    return per_run


class Blocks(NamedTuple):
    """How a sweep's runs are trained (:func:`jinit.engine.program.make_chunk`): ``groups``
    at once (one per device), each ``per_group`` blocks of ``block`` runs one after another.
    ``(n_devices, 1, runs per device)`` trains every run at once (no blocking)."""

    groups: int
    per_group: int
    block: int

    @property
    def runs(self) -> int:
        """The (padded) number of runs the layout holds."""
        return self.groups * self.per_group * self.block


def check_block_size(value: Any) -> int | str | None:
    """``block_size`` as :func:`jinit.sweep` accepts it: ``"auto"``, ``None`` (no blocking)
    or a positive int."""
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(
            f"sweep: block_size must be 'auto', None (all runs at once) or a positive int, "
            f"got {value!r}."
        )
    return int(value)


def cache_bytes() -> int:
    """The largest CPU cache of this machine in bytes (Linux ``/sys``; else 32 MiB)."""
    sizes = []
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(base):
            with open(os.path.join(base, entry, "size")) as f:
                text = f.read().strip().upper()
            scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            sizes.append(int(text.rstrip("KMG")) * scale)
    except (OSError, ValueError):
        pass
    return max(sizes, default=DEFAULT_CACHE)


def auto_block(working_set: int, cache: int | None = None) -> int:
    """Runs per block whose working set (``working_set`` bytes a run) fills the cache."""
    cache = cache_bytes() if cache is None else cache
    return max(MIN_BLOCK, int(BLOCK_CACHE_FRACTION * cache) // max(working_set, 1))


def plan_blocks(n_runs: int, n_devices: int, block_size: int | None,
                exact: bool = False) -> Blocks:  # fmt: skip
    """Blocks per device of at most ``block_size`` runs, near-equal (pads at most one run
    per block; ``None``: one block per device), or with ``exact`` of exactly ``block_size``
    runs (pads up to a multiple of it): every run is then computed in the same program
    shape, so its numbers do not depend on how many runs, shards or devices there are.
    Padding runs are copies of the last run, discarded."""
    per_device = math.ceil(n_runs / n_devices)
    if exact and block_size is not None:
        return Blocks(n_devices, math.ceil(per_device / block_size), block_size)
    if block_size is None or block_size >= per_device:
        return Blocks(n_devices, 1, per_device)
    per_group = math.ceil(per_device / block_size)
    return Blocks(n_devices, per_group, math.ceil(per_device / per_group))


def sweep_blocks(config: Any, n_runs: int) -> Blocks:
    """The blocks of a validated sweep config: exactly ``config.block_size`` runs if an int
    (bit-exact across sweep sizes, shards and devices: :func:`plan_blocks`); for
    ``"auto"``, blocks whose working set fills the CPU cache on CPU with the ``vmap``
    formulation (the ``map`` formulation runs runs in turn already; GPUs and TPUs want all
    runs at once), else no blocking."""
    requested = getattr(config, "block_size", "auto")
    exact = isinstance(requested, int)
    return plan_blocks(n_runs, len(config.devices), _block(config, n_runs), exact=exact)


def _block(config: Any, n_runs: int) -> int | None:
    """The runs per block a config asks for (None: all runs of a device at once)."""
    requested = getattr(config, "block_size", "auto")
    if requested != "auto":
        return requested
    n_devices = len(config.devices)
    on_cpu = config.devices[0].platform == "cpu"
    if not on_cpu or config.formulation == "map" or n_runs <= MIN_BLOCK * n_devices:
        return None
    per_run = config_run_bytes(config)
    return auto_block(per_run.state + per_run.activations)


def _at_once(config: Any, n_runs: int) -> int | None:
    """The most runs whose activations are live together (:func:`plan_groups`): one block
    (with ``map``: one run) per device; None: every run."""
    if config.formulation == "map":
        return len(config.devices)
    block = _block(config, n_runs)
    return None if block is None else block * len(config.devices)
