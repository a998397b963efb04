"""The sweep engine: every (initializer x seed) training run of one model in one compiled program.

Initial parameters for all runs are drawn first and stacked on a leading *run* axis
(``run = init_index * n_seeds + seed_index``). Training is one jitted function that
``lax.scan``-s over the steps of a chunk (``eval_every`` steps) a step ``vmap``-ed over runs,
with optax for the updates, then evaluates every run; the run axis is sharded over
``jax.devices()``. That function is compiled once per sweep and called once per chunk, so
compile time does not grow with the number of seeds or steps.

Randomness is tied to seeds and names, never to positions: run (init, seed) draws its
parameters from ``fold_in(key(seed), crc32(init name))``, and the mini-batch order of seed
``s`` comes from ``fold_in(key(s), DATA_STREAM)``, shared by all inits (so init comparisons
are paired by seed). Seed 7 of a 100-seed sweep is seed 7 of a 1-seed sweep.

Memory: parameters and optimizer state grow linearly with runs (runs x parameter count x
(1 + optimizer slots) floats); metrics are kept only at eval points (runs x evals floats
each); a step's activations take runs x batch x widest layer floats, an evaluation runs x
min(n, 8192) x widest layer.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jinit import adapters
from jinit import losses as losses_lib
from jinit.data import Dataset
from jinit.keys import DATA_STREAM, data_key, run_key, stable_hash  # noqa: F401
from jinit.laws import zeros
from jinit.registry import name_of
from jinit.results import SweepResult

_EVAL_BLOCK = 8192


# --------------------------------------------------------------------------- model and inits


@dataclasses.dataclass(frozen=True)
class _Model:
    init: Callable  # (key, weight_init, bias_init, dtype) -> params
    apply: Callable  # (params, x) -> logits
    apply_runs: Callable  # (stacked params, x, shared_x) -> logits [runs, batch, ...]
    output: str | None
    description: str


def _vmapped_apply(apply: Callable) -> Callable:
    def apply_runs(params, x, shared):
        return jax.vmap(apply, in_axes=(0, None if shared else 0))(params, x)

    return apply_runs


def _fn_name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _as_model(model: Any, example_x: Any = None) -> _Model:
    # A Flax linen module also has .init/.apply (with other signatures): adapt frameworks first.
    adapted = adapters.as_model(model, example_x)
    if adapted is not None:
        model = adapted
    if hasattr(model, "init") and hasattr(model, "apply"):
        return _Model(
            lambda key, w, b, dtype: model.init(key, w, b, dtype),
            model.apply,
            getattr(model, "apply_runs", None) or _vmapped_apply(model.apply),
            getattr(model, "output", None),
            repr(model),
        )
    if isinstance(model, tuple) and len(model) == 2 and all(map(callable, model)):
        init_fn, apply_fn = model
        return _Model(
            lambda key, w, b, dtype: init_fn(key, w, b),
            apply_fn,
            _vmapped_apply(apply_fn),
            None,
            f"({_fn_name(init_fn)}, {_fn_name(apply_fn)})",
        )
    raise TypeError(
        "sweep: model must have init(key, weight_init, bias_init) and apply(params, x) "
        "(e.g. jinit.models.MLP), be an (init_fn, apply_fn) pair, or a Flax linen, Flax NNX "
        f"or Equinox module (see jinit.adapters); got {model!r}."
    )


@dataclasses.dataclass(frozen=True)
class _Init:
    name: str
    weight_init: Callable | None = None
    bias_init: Callable | None = None
    params: Any = None  # explicit initial params with a leading seed axis

    @property
    def spec(self) -> str:
        if self.params is not None:
            return "explicit parameters"
        return f"{name_of(self.weight_init)} / bias {name_of(self.bias_init)}"


def _has_arrays(tree: Any) -> bool:
    return any(hasattr(x, "shape") for x in jax.tree_util.tree_leaves(tree))


def _as_inits(inits: Mapping[str, Any]) -> list[_Init]:
    if not isinstance(inits, Mapping) or not inits:
        raise TypeError(
            "sweep: inits must be a non-empty dict {name: initializer | (weight_init, "
            "bias_init) | initial params with a leading seed axis}."
        )
    out = []
    for name, entry in inits.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"sweep: init names must be non-empty strings, got {name!r}.")
        if callable(entry) and not _has_arrays(entry):  # an Equinox module is callable too
            out.append(_Init(name, entry, zeros))
        elif isinstance(entry, tuple) and len(entry) == 2 and all(map(callable, entry)):
            out.append(_Init(name, entry[0], entry[1]))
        else:
            leaves = jax.tree_util.tree_leaves(entry)
            if not leaves or not all(hasattr(x, "shape") for x in leaves):
                raise TypeError(
                    f"sweep: inits[{name!r}] is neither an initializer, a (weight_init, "
                    "bias_init) pair, nor a pytree of arrays with a leading seed axis."
                )
            out.append(_Init(name, params=entry))
    return out


def _as_seeds(seeds: int | Sequence[int]) -> np.ndarray:
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"sweep: seeds must be >= 1, got {seeds}.")
        return np.arange(int(seeds))
    arr = np.asarray(seeds)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"sweep: seeds must be a count or a list of ints, got {seeds!r}.")
    if len(set(arr.tolist())) != arr.size or arr.min() < 0:
        raise ValueError(f"sweep: seeds must be distinct non-negative ints, got {seeds!r}.")
    return arr.astype(np.int64)


def _initial_params(model: _Model, inits: list[_Init], seeds: np.ndarray, dtype) -> Any:
    """Parameters of every run, stacked on the run axis (init-major)."""
    template = jax.eval_shape(lambda: model.init(jax.random.key(0), zeros, zeros, dtype))
    stacks = []
    for init in inits:
        if init.params is not None:
            stacks.append(_check_explicit(init, template, len(seeds), dtype))
            continue
        keys = jax.vmap(jax.random.fold_in, in_axes=(0, None))(
            jax.vmap(jax.random.key)(jnp.asarray(seeds, jnp.uint32)), stable_hash(init.name)
        )
        # Eager vmap, not jit: each primitive compiles once per shape and is reused by every
        # layer and init (a 30-layer net: 0.1 s per init instead of 5 s of compiling).
        draw = jax.vmap(lambda k, i=init: model.init(k, i.weight_init, i.bias_init, dtype))
        stacks.append(draw(keys))
    return jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *stacks)


def _check_explicit(init: _Init, template: Any, n_seeds: int, dtype) -> Any:
    params = jax.tree_util.tree_map(jnp.asarray, init.params)
    want = jax.tree_util.tree_structure(template)
    got = jax.tree_util.tree_structure(params)
    if want != got:
        raise ValueError(
            f"sweep: inits[{init.name!r}] has the structure {got}, but the model's parameters "
            f"are {want}."
        )
    for p, t in zip(
        jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(template), strict=True
    ):
        if p.shape != (n_seeds, *t.shape):
            raise ValueError(
                f"sweep: inits[{init.name!r}] has a leaf of shape {p.shape}; expected "
                f"{(n_seeds, *t.shape)} (a leading axis of {n_seeds} seeds, then the model's "
                "shape)."
            )
    return jax.tree_util.tree_map(lambda p: p.astype(dtype), params)


# --------------------------------------------------------------------------- data order


def _batch_indices(seeds: np.ndarray, n: int, batch_size: int, start: int, count: int):
    """Example indices ``[n_seeds, count, batch_size]`` for steps ``start..start+count-1``.

    Step ``t`` of seed ``s`` uses slice ``t % steps_per_epoch`` of the permutation
    ``permutation(fold_in(data_key(s), t // steps_per_epoch), n)``; a last partial batch of
    an epoch is dropped.
    """
    per_epoch = n // batch_size
    steps = np.arange(start, start + count)
    # A fixed number of epochs per call (the most a chunk can touch), so the permutation
    # program compiles once per sweep.
    first = start // per_epoch
    epochs = np.arange(first, first + count // per_epoch + 2)
    keys = jnp.stack([data_key(int(s)) for s in seeds])
    perms = _epoch_permutations(keys, jnp.asarray(epochs), n)  # [S, E, n]
    perms = np.asarray(perms)[:, :, : per_epoch * batch_size].reshape(
        len(seeds), len(epochs), per_epoch, batch_size
    )
    return perms[:, steps // per_epoch - first, steps % per_epoch]  # [S, count, batch]


@functools.partial(jax.jit, static_argnums=2)
def _epoch_permutations(keys: jax.Array, epochs: jax.Array, n: int) -> jax.Array:
    """``permutation(fold_in(key, epoch), n)`` for every key and epoch: ``[keys, epochs, n]``."""

    def one(key, epoch):
        return jax.random.permutation(jax.random.fold_in(key, epoch), n)

    return jax.vmap(lambda k: jax.vmap(lambda e: one(k, e))(epochs))(keys)


# --------------------------------------------------------------------------- the program


def _block_logits(apply: Callable, params: Any, x: jax.Array) -> jax.Array:
    """``apply(params, x)`` in blocks of examples, so evaluation memory stays bounded."""
    n = x.shape[0]
    if n <= _EVAL_BLOCK:
        return apply(params, x)
    n_blocks = math.ceil(n / _EVAL_BLOCK)
    pad = n_blocks * _EVAL_BLOCK - n
    xb = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
    out = jax.lax.map(lambda b: apply(params, b), xb.reshape(n_blocks, _EVAL_BLOCK, *x.shape[1:]))
    return out.reshape(n_blocks * _EVAL_BLOCK, *out.shape[2:])[:n]


def _make_program(
    model: _Model,
    loss_fn: Callable,
    optimizer: optax.GradientTransformation,
    data: tuple[jax.Array, ...],
    seed_of_run: np.ndarray,
    chunk_len: int,
    full_batch: bool,
    masked: bool,
    extra_metrics: Mapping[str, Callable],
    track: Callable | None,
):
    """The two compiled pieces: ``chunk(state, start, n_active, indices)`` and ``evaluate``."""
    x_train, y_train, x_test, y_test = data
    seed_of_run = jnp.asarray(seed_of_run)
    classification = jnp.issubdtype(y_train.dtype, jnp.integer)

    def total_loss(params, x, y):
        logits = model.apply_runs(params, x, full_batch)
        per_run = jax.vmap(loss_fn, in_axes=(0, None if full_batch else 0))(logits, y)
        return per_run.sum(), per_run

    extra_args = isinstance(optimizer, optax.GradientTransformationExtraArgs)

    def run_update(grads, opt_state, params, value, x, y):
        if not extra_args:
            return optimizer.update(grads, opt_state, params)

        # Line-search optimizers (optax.lbfgs) also need the run's loss as a function.
        def value_fn(p):
            return loss_fn(model.apply(p, x), y)

        return optimizer.update(
            grads, opt_state, params, value=value, grad=grads, value_fn=value_fn
        )

    data_axis = None if full_batch else 0
    update = jax.vmap(run_update, in_axes=(0, 0, 0, 0, data_axis, data_axis))

    def step_all(params, opt_state, diverged, t, idx_runs):
        """One update of every run (runs are independent: the gradient of the summed loss
        with respect to run r's parameters is run r's own gradient)."""
        if full_batch:
            x, y = x_train, y_train
        else:
            x, y = x_train[idx_runs], y_train[idx_runs]
        (_, per_run), grads = jax.value_and_grad(total_loss, has_aux=True)(params, x, y)
        updates, opt_state = update(grads, opt_state, params, per_run, x, y)
        params = optax.apply_updates(params, updates)
        diverged = jnp.where((diverged < 0) & ~jnp.isfinite(per_run), t, diverged)
        return params, opt_state, diverged

    def evaluate_run(params):
        out = {}
        for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
            logits = _block_logits(model.apply, params, x)
            out[f"{split}_loss"] = loss_fn(logits, y)
            if classification:
                out[f"{split}_acc"] = losses_lib.accuracy(logits, y)
            for name, fn in extra_metrics.items():
                out[f"{split}_{name}"] = fn(logits, y)
        if track is not None:
            out["tracked"] = track(params)
        return out

    evaluate = jax.vmap(evaluate_run)

    def chunk(state, start, n_active, indices):
        """``chunk_len`` steps of every run (the first ``n_active`` count), then evaluate."""

        def body(carry, xs):
            i, idx = xs
            idx_runs = None if full_batch else idx[seed_of_run]
            new = step_all(*carry, start + i, idx_runs)
            if masked:
                new = jax.tree_util.tree_map(lambda a, b: jnp.where(i < n_active, a, b), new, carry)
            return new, None

        xs = (jnp.arange(chunk_len), None if full_batch else jnp.swapaxes(indices, 0, 1))
        state, _ = jax.lax.scan(body, state, xs, length=chunk_len)
        return state, evaluate(state[0])

    return chunk, evaluate


# --------------------------------------------------------------------------- sharding


def _mesh(devices: Sequence[jax.Device] | None) -> Mesh | None:
    devices = list(jax.devices() if devices is None else devices)
    if len(devices) <= 1:
        return None
    return Mesh(np.array(devices), ("runs",))


def _pad_runs(tree: Any, n_runs: int, multiple: int) -> Any:
    pad = -n_runs % multiple
    if not pad:
        return tree
    return jax.tree_util.tree_map(
        lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]), tree
    )


def _shard(tree: Any, mesh: Mesh | None) -> Any:
    if mesh is None:
        return tree
    runs = NamedSharding(mesh, PartitionSpec("runs"))
    return jax.device_put(tree, runs)


def _replicate(tree: Any, mesh: Mesh | None) -> Any:
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


# --------------------------------------------------------------------------- progress


class _Progress:
    """A one-line progress bar with ETA on stderr (off unless stderr is a terminal)."""

    def __init__(self, total: int, enabled: bool | None, label: str = "sweep") -> None:
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label = label
        self.start = time.perf_counter()

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done) if done else float("nan")
        width = 30
        fill = int(width * done / self.total)
        bar = "#" * fill + "." * (width - fill)
        sys.stderr.write(
            f"\r{self.label} [{bar}] {done}/{self.total} chunks  {elapsed:5.1f}s  "
            f"eta {eta:5.1f}s {note}"
        )
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# --------------------------------------------------------------------------- checkpoints


def _fingerprint(parts: Mapping[str, Any], arrays: Sequence[np.ndarray]) -> str:
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _save_checkpoint(path: str, fingerprint: str, chunk: int, state: Any, evals: list) -> None:
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(state)]
    flat_evals = {}
    for i, ev in enumerate(evals):
        for j, leaf in enumerate(jax.tree_util.tree_leaves(ev)):
            flat_evals[f"eval_{i}_{j}"] = np.asarray(leaf)
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        np.savez(
            f,
            fingerprint=np.array(fingerprint),
            chunk=np.array(chunk),
            n_evals=np.array(len(evals)),
            **{f"state_{i}": x for i, x in enumerate(leaves)},
            **flat_evals,
        )
    os.replace(tmp, path)


def _load_checkpoint(path: str, fingerprint: str, state: Any, eval_tree: Any):
    with np.load(path) as f:
        if str(f["fingerprint"]) != fingerprint:
            raise ValueError(
                f"sweep: the checkpoint {path} belongs to a different sweep (other model, "
                "inits, seeds, data or schedule); remove it or use another out_dir."
            )
        chunk = int(f["chunk"])
        treedef = jax.tree_util.tree_structure(state)
        leaves = [f[f"state_{i}"] for i in range(treedef.num_leaves)]
        eval_def = jax.tree_util.tree_structure(eval_tree)
        evals = [
            jax.tree_util.tree_unflatten(
                eval_def, [f[f"eval_{i}_{j}"] for j in range(eval_def.num_leaves)]
            )
            for i in range(int(f["n_evals"]))
        ]
    return chunk, jax.tree_util.tree_unflatten(treedef, leaves), evals


# --------------------------------------------------------------------------- the sweep


def sweep(
    model: Any,
    inits: Mapping[str, Any],
    data: Dataset,
    *,
    optimizer: optax.GradientTransformation | None = None,
    loss: str | Callable | None = None,
    steps: int = 1000,
    seeds: int | Sequence[int] = 10,
    batch_size: int | None = None,
    eval_every: int | None = None,
    extra_metrics: Mapping[str, Callable] | None = None,
    track: Callable | None = None,
    devices: Sequence[jax.Device] | None = None,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    keep_params: bool = False,
    progress: bool | None = None,
    dtype: Any = jnp.float32,
) -> SweepResult:
    """Train every (initializer, seed) pair and collect metrics at eval points.

    Args:
      model: a jinit model (``init(key, weight_init, bias_init, dtype)``, ``apply(params, x)``
        returning logits, ``output``); a Flax linen module, a Flax NNX module or an Equinox
        module (see :mod:`jinit.adapters`: kernels/weights and biases are drawn by
        :func:`jinit.reinit` rules); or an ``(init_fn, apply_fn)`` pair with
        ``init_fn(key, weight_init, bias_init) -> params``.
      inits: ``{name: initializer}`` (biases zeros), ``{name: (weight_init, bias_init)}``, or
        ``{name: params}`` with a leading seed axis (e.g. NumPy-drawn weights for a faithful
        reproduction).
      data: a :class:`jinit.data.Dataset`.
      optimizer: an optax transformation (default ``optax.sgd(0.01)``).
      loss: a name from :mod:`jinit.losses` or ``(logits, labels) -> scalar``; by default
        chosen from the model's output (sigmoid: binary cross-entropy, softmax: softmax
        cross-entropy, linear: mean squared error).
      steps: optimizer steps per run.
      seeds: a count (seeds ``0..n-1``) or a list of seeds.
      batch_size: examples per step (each seed draws its own epoch permutations), or None
        for full-batch training.
      eval_every: steps between evaluations (default: 10 evaluations). Metrics are taken
        after 0, eval_every, 2 eval_every, ..., steps updates.
      extra_metrics: ``{name: (logits, labels) -> scalar}``, evaluated on both splits.
      track: ``params -> pytree`` evaluated for every run at every eval point (e.g. per-layer
        activation statistics on a fixed batch); kept in ``result.tracked``.
      devices: devices to shard the run axis over (default: all).
      out_dir: where to write a checkpoint after every chunk (atomically); with
        ``resume=True`` a sweep restarts from it and ends with the same numbers.
      keep_params: keep every run's final parameters in ``result.params``.
      progress: show a progress bar (default: only when stderr is a terminal).

    Returns:
      A :class:`jinit.results.SweepResult`; ``result.metrics["train_loss"]`` has shape
      ``[n_inits, n_seeds, n_evals]``.

    Example:
        >>> import optax, jinit
        >>> r = jinit.sweep(jinit.models.MLP([2, 8, 1]), {"he": jinit.he_normal},
        ...                 jinit.data.circles(n_train=64, n_test=32), optimizer=optax.sgd(0.1),
        ...                 steps=20, seeds=3, eval_every=10)
        >>> r.metrics["train_loss"].shape
        (1, 3, 3)
    """
    t_start = time.perf_counter()
    net = _as_model(
        model, jnp.asarray(data.x_train[:1], dtype) if isinstance(data, Dataset) else None
    )
    init_list = _as_inits(inits)
    seed_arr = _as_seeds(seeds)
    n_inits, n_seeds = len(init_list), len(seed_arr)
    n_runs = n_inits * n_seeds
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"sweep: steps must be an int >= 0, got {steps!r}.")
    eval_every = eval_every or max(1, math.ceil(steps / 10))
    if not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"sweep: eval_every must be an int >= 1, got {eval_every!r}.")
    if not isinstance(data, Dataset):
        raise TypeError(
            "sweep: data must be a jinit.data.Dataset(x_train, y_train, x_test, y_test); "
            f"got {type(data).__name__}. Build one from arrays with Dataset.from_arrays."
        )
    n_train = len(data.x_train)
    full_batch = batch_size is None or batch_size >= n_train
    if not full_batch and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"sweep: batch_size must be a positive int or None, got {batch_size!r}.")
    optimizer = optax.sgd(0.01) if optimizer is None else optimizer
    if loss is None:
        if net.output not in losses_lib.DEFAULT_FOR_OUTPUT:
            raise ValueError("sweep: pass loss=... (the model does not say its output kind).")
        loss = losses_lib.DEFAULT_FOR_OUTPUT[net.output]
    loss_fn = losses_lib.get(loss)
    extra = dict(extra_metrics or {})

    n_chunks = math.ceil(steps / eval_every)
    masked = steps % eval_every != 0
    mesh = _mesh(devices)
    multiple = 1 if mesh is None else mesh.size
    seed_of_run = np.tile(np.arange(n_seeds), n_inits)
    seed_of_run = np.concatenate([seed_of_run, np.repeat(seed_of_run[-1:], -n_runs % multiple)])

    arrays = _replicate(
        (
            jnp.asarray(data.x_train, dtype),
            jnp.asarray(data.y_train),
            jnp.asarray(data.x_test, dtype),
            jnp.asarray(data.y_test),
        ),
        mesh,
    )
    params = _initial_params(net, init_list, seed_arr, dtype)
    params = _shard(_pad_runs(params, n_runs, multiple), mesh)
    opt_state = jax.jit(jax.vmap(optimizer.init))(params)
    diverged = _shard(jnp.full((n_runs + (-n_runs % multiple),), -1, jnp.int32), mesh)
    state = (params, opt_state, diverged)

    chunk_fn, evaluate_fn = _make_program(
        net, loss_fn, optimizer, arrays, seed_of_run, eval_every, full_batch, masked, extra, track
    )
    bs = 0 if full_batch else batch_size
    dummy_idx = None if full_batch else jnp.zeros((n_seeds, eval_every, bs), jnp.int32)
    t_compile = time.perf_counter()
    chunk_c = jax.jit(chunk_fn).lower(state, 0, 0, dummy_idx).compile()
    eval_c = jax.jit(evaluate_fn).lower(params).compile()
    compile_s = time.perf_counter() - t_compile

    ckpt = None
    evals: list = []
    first_chunk = 0
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        ckpt = os.path.join(out_dir, "sweep_checkpoint.npz")
        fingerprint = _fingerprint(
            {
                "model": net.description,
                "inits": [(i.name, i.spec) for i in init_list],
                "seeds": seed_arr.tolist(),
                "steps": steps,
                "eval_every": eval_every,
                "batch_size": batch_size,
                "loss": getattr(loss_fn, "__name__", str(loss_fn)),
                "devices": multiple,
            },
            [np.asarray(a) for a in (data.x_train, data.y_train, data.x_test, data.y_test)]
            + [np.asarray(x) for x in jax.tree_util.tree_leaves(params)],
        )
        if resume and os.path.exists(ckpt):
            eval_tree = jax.eval_shape(evaluate_fn, params)
            first_chunk, loaded, evals = _load_checkpoint(ckpt, fingerprint, state, eval_tree)
            state = jax.tree_util.tree_map(
                lambda ref, new: jax.device_put(jnp.asarray(new, ref.dtype), ref.sharding),
                state,
                loaded,
            )
    if not evals:
        evals.append(jax.tree_util.tree_map(np.asarray, eval_c(state[0])))

    def chunk_indices(c: int):
        if full_batch or c >= n_chunks:
            return None
        idx = _batch_indices(seed_arr, n_train, bs, c * eval_every, eval_every)
        return _replicate(jnp.asarray(idx, jnp.int32), mesh)

    next_idx = chunk_indices(first_chunk)  # compiles the permutation program once
    bar = _Progress(n_chunks, progress)
    t_run = time.perf_counter()
    for c in range(first_chunk, n_chunks):
        start = c * eval_every
        n_active = min(eval_every, steps - start)
        state, ev = chunk_c(state, start, n_active, next_idx)  # dispatched asynchronously
        next_idx = chunk_indices(c + 1)  # the host prepares the next chunk meanwhile
        evals.append(jax.tree_util.tree_map(np.asarray, ev))
        if ckpt is not None:
            _save_checkpoint(ckpt, fingerprint, c + 1, state, evals)
        bar.update(c + 1)
    jax.block_until_ready(state)
    run_s = time.perf_counter() - t_run

    eval_steps = np.array([0] + [min((c + 1) * eval_every, steps) for c in range(n_chunks)])

    def stack(*leaves):  # [n_evals, runs, ...] -> [inits, seeds, evals, ...]
        arr = np.stack(leaves, axis=1)[:n_runs]
        return arr.reshape(n_inits, n_seeds, *arr.shape[1:])

    stacked = jax.tree_util.tree_map(stack, *evals)
    tracked = stacked.pop("tracked", None)
    order = [f"{split}_{m}" for m in ("loss", "acc", *extra) for split in ("train", "test")]
    order += [k for k in stacked if k not in order]
    stacked = {k: stacked[k] for k in sorted(stacked, key=order.index)}
    final_params = None
    if keep_params:
        final_params = jax.tree_util.tree_map(
            lambda a: np.asarray(a)[:n_runs].reshape(n_inits, n_seeds, *a.shape[1:]), state[0]
        )
    return SweepResult(
        inits=[i.name for i in init_list],
        specs=[i.spec for i in init_list],
        seeds=seed_arr,
        eval_steps=eval_steps,
        metrics=stacked,
        diverged_step=np.asarray(state[2])[:n_runs].reshape(n_inits, n_seeds),
        tracked=tracked,
        params=final_params,
        config={
            "model": net.description,
            "steps": steps,
            "eval_every": eval_every,
            "batch_size": batch_size,
            "loss": getattr(loss_fn, "__name__", str(loss_fn)),
            "n_train": n_train,
            "n_test": len(data.x_test),
            "devices": multiple,
        },
        timing={
            "compile_s": compile_s,
            "run_s": run_s,
            "total_s": time.perf_counter() - t_start,
            "model_steps": n_runs * steps,
        },
    )
