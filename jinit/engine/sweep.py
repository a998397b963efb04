"""``jinit.sweep``: validate, draw every run, compile once, train chunk by chunk, collect.

The path of one sweep: :class:`~jinit.engine.config.SweepConfig` (validated arguments) ->
:func:`~jinit.engine.inits.initial_params` (every run, keyed by seed and name) ->
:class:`~jinit.engine.sharding.RunLayout` (pad and shard the run axis) -> the compiled
``chunk`` program (:mod:`~jinit.engine.program`) fed by the data order
(:mod:`~jinit.engine.order`) -> checkpoints (:mod:`~jinit.engine.checkpoint`) and progress ->
a :class:`~jinit.results.SweepResult`.

Models with BatchNorm or Dropout (:mod:`jinit.adapters`: ``Model.has_train_mode``) train in
training mode, each run's state (running averages) in its carry, stacked on the run axis like
the parameters and checkpointed with them; their dropout key at global step ``t`` is
``fold_in(jinit.keys.step_stream(seed), t)``, shared by all inits of a seed, like the data
order. Evaluation uses evaluation mode (running averages, no dropout).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit.data import Dataset
from jinit.distributed import interrupts_at_chunks, stop_requested
from jinit.engine import checkpoint, plan
from jinit.engine.compiles import CompileCount
from jinit.engine.config import SweepConfig
from jinit.engine.inits import initial_params
from jinit.engine.order import data_order
from jinit.engine.program import make_chunk, make_evaluate, make_step, on_devices
from jinit.engine.progress import Progress
from jinit.engine.sharding import RunLayout, put
from jinit.engine.state import TrainState
from jinit.keys import step_stream
from jinit.results import SweepResult


class _Settings(NamedTuple):
    """The arguments of :func:`sweep` that configure it (:meth:`SweepConfig.build`; the
    meaning of each: :func:`sweep`)."""

    optimizer: optax.GradientTransformation | None
    loss: str | Callable | None
    steps: int
    seeds: int | Sequence[int]
    batch_size: int | None
    eval_every: int | None
    extra_metrics: Mapping[str, Callable] | None
    track: Callable | None
    devices: Sequence[jax.Device] | None
    dtype: Any
    formulation: str
    hparams: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | None
    block_size: int | str | None


class _HowToRun(NamedTuple):
    """The arguments of :func:`sweep` that say how to run it, not what it computes."""

    out_dir: str | None  # checked (_check_out_dir)
    resume: bool
    keep_params: bool
    progress: bool | None


class SweepInterrupted(KeyboardInterrupt):
    """A KeyboardInterrupt during training; ``partial`` holds the evaluations done so far (a
    :class:`~jinit.results.SweepResult` with ``config["partial"] = True``). With ``out_dir``
    the last finished chunk is checkpointed: ``resume=True`` continues to the same numbers."""

    def __init__(self, partial: SweepResult) -> None:
        done = int(partial.eval_steps[-1])
        super().__init__(f"sweep interrupted after {done} of {partial.config['steps']} steps")
        self.partial = partial


class _Compiled:
    """The sweep's compiled programs, its first state and the data order. Runs are held in
    blocks (:meth:`RunLayout.split`): ``state`` and ``initial_params`` are lists, one entry
    a block, and every program is called once a block."""

    def __init__(self, config: SweepConfig) -> None:
        n_runs = len(config.inits) * (config.n_configs or 1) * len(config.seeds)
        self.blocks = plan.sweep_blocks(config, n_runs)
        self.layout = layout = RunLayout(
            len(config.inits), len(config.seeds), config.devices, config.n_configs,
            multiple=self.blocks.runs // len(config.devices), n_blocks=self.blocks.per_group,
        )  # fmt: skip
        self.order = data_order(
            config.seeds, len(config.data.x_train), config.batch_size, config.eval_every
        )
        self.arrays = layout.replicate(config.arrays())  # an argument of every program
        chunk, self.evaluate_fn = self._programs(config, layout)
        self.per_run = _per_run(config, layout)
        hparams = [None] * layout.n_blocks
        if config.hparams is not None:
            n_inits, n_seeds = len(config.inits), len(config.seeds)
            hparams = layout.split(layout.pad_runs(config.hparams.per_run(n_inits, n_seeds)))
        trains = config.n_chunks > 0  # steps=0 (initial evaluation only): no training program
        state = _abstract_state(config, layout, hparams[0])
        pending = _Background(chunk, self._first_args(state)) if trains else None
        params = initial_params(
            config.model, config.inits, config.seeds, config.dtype, config.template,
            config.n_configs,
        )  # fmt: skip
        self.initial_params = layout.shard_blocks(params)
        self.state = _first_states(config, layout, self.initial_params, hparams)
        self._evaluate = None
        if pending is None:
            self.chunk, self.compile_s = None, _timed(self._evaluation)[1]
        elif _avals(self.state[0], layout) == _avals(state, layout):
            self.chunk, self.compile_s = pending.result()
        else:  # a state unlike its shapes (no model known to do it): compile for the real one
            self.chunk, self.compile_s = _Background(chunk, self._first_args()).result()

    def _first_args(self, state: TrainState | None = None) -> tuple:
        """The arguments of the first chunk, with ``state`` (default: the first block's)."""
        state = self.state[0] if state is None else state
        return (state, self.per_run[0], 0, 0, self.order.placeholder(), self.arrays)

    def _programs(self, config: SweepConfig, layout: RunLayout) -> tuple[Callable, Callable]:
        """The ``chunk`` and ``evaluate`` functions of one block of runs (not yet compiled);
        both evaluate in the same blocks, so a run's first evaluation is computed as its
        later ones are."""
        arrays = self.arrays
        args, how = (config.model, config.loss_fn), config.formulation
        evaluate = make_evaluate(*args, arrays, config.extra_metrics, config.track, how)
        step = make_step(*args, config.optimizer, self.order, how)
        chunk = make_chunk(step, evaluate, self.order, layout.mesh)
        on_mesh = on_devices(lambda runs, data: evaluate(*runs, data), layout.mesh)

        def evaluate_runs(params: Any, mstate: Any, data: Any) -> Any:
            return on_mesh((params, mstate), data)  # jit(evaluate_runs): data an argument

        return chunk, evaluate_runs

    def _evaluation(self) -> Any:
        """The evaluation program of a sweep without training steps, compiled on first use
        (a training sweep evaluates with its chunk program, :meth:`train` with no steps)."""
        if self._evaluate is None:
            first = (self.state[0].params, self.state[0].model_state, self.arrays)
            self._evaluate = jax.jit(self.evaluate_fn).lower(*first).compile()
        return self._evaluate

    def evaluate(self, state: list[TrainState], indices: Any = None) -> Any:
        """Every run's metrics at ``state``, on the host: the chunk program with no steps
        (``indices``: any chunk's data order) or, without one, the evaluation program."""
        if self.chunk is not None:
            indices = self.order.placeholder() if indices is None else indices
            return self.layout.join(self.train(state, 0, 0, indices)[1])
        evaluate = self._evaluation()
        return self.layout.join([evaluate(s.params, s.model_state, self.arrays) for s in state])

    def train(self, state: list[TrainState], start: int, n_active: int,
              indices: Any) -> tuple[list[TrainState], list[Any]]:  # fmt: skip
        """Steps ``start .. start + n_active - 1`` of every block, one block after another,
        dispatched without waiting: ``(new state, metrics)``, a block each, still on the
        devices (:meth:`RunLayout.join` fetches them)."""
        outs = [self.chunk(s, p, start, n_active, indices, self.arrays)
                for s, p in zip(state, self.per_run, strict=True)]  # fmt: skip
        return [o[0] for o in outs], [o[1] for o in outs]

    def indices(self, c: int, n_chunks: int) -> Any:
        if c >= n_chunks:
            return None
        idx = self.order.indices(c)
        return None if idx is None else self.layout.replicate(jnp.asarray(idx, jnp.int32))


class _Background:
    """``jit(fn)`` lowered for ``args`` in this thread (tracing reads this thread's JAX
    settings), then compiled in a second one while this thread goes on: XLA compiles without
    holding Python's lock, so the training program compiles while the runs are drawn (their
    draws compile too, on the other core)."""

    def __init__(self, fn: Callable, args: tuple) -> None:
        t = time.perf_counter()
        lowered = jax.jit(fn).lower(*args)
        self._lower_s = time.perf_counter() - t
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jinit-compile")
        self._future = pool.submit(_timed, lowered.compile)
        pool.shutdown(wait=False)  # its thread ends with the compile

    def result(self) -> tuple[Any, float]:
        """The compiled program and its seconds of lowering and compiling."""
        compiled, seconds = self._future.result()
        return compiled, self._lower_s + seconds


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _abstract_state(config: SweepConfig, layout: RunLayout, hparams: Any) -> TrainState:
    """The first state of one block of runs (:func:`_first_states`) as shapes, dtypes and
    the run axis's sharding, from the parameters' shapes (``config.template``): no draw."""
    runs, sharding = layout.n_padded // layout.n_blocks, layout.run_sharding

    def on_runs(a: Any, lead: tuple = ()) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((*lead, *a.shape), a.dtype, sharding=sharding,
                                    weak_type=getattr(a, "weak_type", False))  # fmt: skip

    params = jax.tree_util.tree_map(lambda a: on_runs(a, (runs,)), config.template)
    return jax.tree_util.tree_map(on_runs, jax.eval_shape(_first_state(config), params, hparams))


def _avals(tree: Any, layout: RunLayout) -> tuple:
    """What a compiled program checks of its arguments: the tree, and each leaf's shape,
    dtype, weak type and (over a mesh) sharding."""
    leaves, structure = jax.tree_util.tree_flatten(tree)
    placed = layout.mesh is not None
    return structure, [(a.shape, a.dtype, a.weak_type, a.sharding if placed else None)
                       for a in leaves]  # fmt: skip


def _per_run(config: SweepConfig, layout: RunLayout) -> list[tuple[jax.Array, Any]]:
    """``(seed_of_run, streams)`` of every block of runs (:meth:`RunLayout.split`): each
    run's seed index and, for models with a train mode, its dropout step stream
    (:func:`jinit.keys.step_stream` of its seed: the same for all inits of a seed, like the
    data order; ``None`` without)."""
    seeds = layout.shard_blocks(layout.seed_of_run, padded=True)
    if not config.model.has_train_mode:
        return [(s, None) for s in seeds]
    streams = step_stream(config.seeds)
    data = np.asarray(jax.random.key_data(streams))[layout.seed_of_run]
    impl = jax.random.key_impl(streams)
    blocks = layout.shard_blocks(data, padded=True)
    return [(s, jax.random.wrap_key_data(d, impl=impl)) for s, d in zip(seeds, blocks, strict=True)]


def _first_states(
    config: SweepConfig, layout: RunLayout, params: list[Any], hparams: list[Any]
) -> list[TrainState]:
    """The first :class:`TrainState` of every block of runs (``params``, ``hparams``: a
    block each). An optimizer without state (plain SGD) and a model without state leave
    only ``diverged`` to make: on the host, no program; else one compiled program
    (:func:`_first_state`) for every block."""
    opt_state = jax.eval_shape(jax.vmap(config.optimizer.init), params[0])
    stateless = not jax.tree_util.tree_leaves((opt_state, config.model.init_state(config.dtype)))
    if stateless and config.hparams is None:
        diverged = layout.shard_blocks(np.full((layout.n_padded,), -1, np.int32), padded=True)
        model_state = config.model.init_state(config.dtype)
        return [TrainState(p, opt_state, d, model_state)
                for p, d in zip(params, diverged, strict=True)]  # fmt: skip
    on_runs = {} if layout.mesh is None else {"out_shardings": layout.run_sharding}
    first_state = jax.jit(_first_state(config), **on_runs)
    return [first_state(*b) for b in zip(params, hparams, strict=True)]


def _first_state(config: SweepConfig) -> Callable[[Any, Any], TrainState]:
    """``(params, hparams) -> TrainState`` of a block of runs: the optimizer's first state
    (``hparams``: every run's hyperparameter values, as traced values, with an ``hparams``
    axis; else ``None``), ``diverged`` -1 and the model's initial state (the same for every
    run; ``()`` without state)."""
    one = config.model.init_state(config.dtype)

    def first_state(params: Any, hparams: Any) -> TrainState:
        n = jax.tree_util.tree_leaves(params)[0].shape[0]
        opt_state = jax.vmap(config.optimizer.init)(params)
        if hparams is not None:
            opt_state = config.hparams.set(opt_state, hparams)
        model_state = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (n, *jnp.shape(a))),
                                             one)  # fmt: skip
        return TrainState(params, opt_state, jnp.full((n,), -1, jnp.int32), model_state)

    return first_state


def _chunks_done(evals: list) -> int:
    """Chunks finished, from the evaluations so far (the initial one, then one a chunk)."""
    return max(len(evals) - 1, 0)


class _Store:
    """The checkpoint of a sweep in ``out_dir`` (fingerprinted), read once and written after
    every chunk."""

    def __init__(self, out_dir: str, config: SweepConfig, params: Any, resume: bool) -> None:
        self.path = os.path.join(out_dir, checkpoint.CHECKPOINT)
        self.fingerprint, unsure = config.fingerprint(params)
        if resume and unsure:
            raise ValueError(
                f"sweep: cannot resume=True: {'; '.join(unsure)} cannot be fingerprinted, so a "
                "checkpoint of another sweep could not be told apart; pass resume=False (or "
                "build the optimizer/loss from plain functions and numbers)."
            )
        self.resume, self.saved = resume, -1

    def restore(self, compiled: _Compiled) -> tuple[TrainState, list]:
        """``(state, evaluations)`` to start from (one evaluation per finished chunk, plus the
        initial one; none for a fresh start)."""
        if not os.path.exists(self.path):
            return compiled.state, []
        if checkpoint.fingerprint_of(self.path) != self.fingerprint:
            what = "" if self.resume else " (resume=False would overwrite it)"
            raise ValueError(
                f"sweep: the checkpoint {self.path} belongs to a different sweep (other model, "
                f"inits, seeds, data, optimizer, loss or schedule){what}; remove it or use "
                "another out_dir."
            )
        if not self.resume:  # the same sweep again: start over
            return compiled.state, []
        first = compiled.state[0]
        eval_tree = jax.eval_shape(
            compiled.evaluate_fn, compiled.initial_params[0], first.model_state, compiled.arrays
        )
        chunk, loaded, evals = checkpoint.load(self.path, first, eval_tree)
        state = [
            jax.tree_util.tree_map(
                lambda ref, new: put(jnp.asarray(new, ref.dtype), ref.sharding), ref, block
            )
            for ref, block in zip(compiled.state, compiled.layout.split(loaded), strict=True)
        ]
        self.saved = chunk
        return state, evals

    def save(self, state: list[TrainState], layout: RunLayout, evals: list) -> None:
        """The state (blocks of runs, joined in the run order) and the evaluations not yet
        written. Across processes every process must call it (the state is gathered)."""
        if self.saved != len(evals) - 1:
            whole = layout.join(state)
            checkpoint.save(self.path, self.fingerprint, len(evals) - 1, whole, evals,
                            first_new=self.saved + 1)  # fmt: skip
            self.saved = len(evals) - 1


def _start(
    config: SweepConfig, compiled: _Compiled, out_dir: str | None, resume: bool
) -> tuple[_Store | None, TrainState, list]:
    """The checkpoint store (or None), the state to start from and the evaluations so far
    (none on a fresh start of a training sweep: :func:`_train` computes the initial one)."""
    params = None if out_dir is None else compiled.layout.join(compiled.initial_params)
    store = None if out_dir is None else _Store(out_dir, config, params, resume)
    state, evals = (compiled.state, []) if store is None else store.restore(compiled)
    if not evals and compiled.chunk is None:  # no training: the initial evaluation alone
        evals.append(compiled.evaluate(state))
    return store, state, evals


def _train(
    config: SweepConfig,
    compiled: _Compiled,
    store: _Store | None,
    state: list[TrainState],
    evals: list,
    progress: bool | None,
    next_idx: Any,
) -> tuple[list[TrainState], bool]:
    """Run the remaining chunks (``next_idx``: the data order of the first); ``(state,
    interrupted)``. ``evals`` grows in place and always matches the returned state (one
    evaluation per finished chunk, plus the initial one: computed first on a fresh start)."""
    n_chunks, every = config.n_chunks, config.eval_every
    point, bar = (state, len(evals)), Progress(n_chunks, progress)
    try:
        if not evals:  # a fresh start: the initial evaluation (the chunk with no steps)
            evals.append(compiled.evaluate(state, next_idx))
            point = (state, len(evals))
        for c in range(_chunks_done(evals), n_chunks):
            start = c * every
            n_active = min(every, config.steps - start)
            new, ev = compiled.train(point[0], start, n_active, next_idx)
            next_idx = compiled.indices(c + 1, n_chunks)  # the host prepares the next chunk
            evals.append(compiled.layout.join(ev))
            point = (new, len(evals))
            if store is not None:
                store.save(new, compiled.layout, evals)
            bar.update(c + 1)
            if stop_requested():  # across processes: all stop after the same chunk
                raise KeyboardInterrupt
        jax.block_until_ready(point[0])
        return point[0], False
    except KeyboardInterrupt:
        state, n_evals = point
        del evals[n_evals:]
        if not evals:  # stopped in the initial evaluation: it again
            evals.append(compiled.evaluate(state))
        if store is not None:
            store.save(state, compiled.layout, evals)  # the last finished chunk is on disk
        return state, True
    finally:
        bar.close()


def _result(
    config: SweepConfig,
    layout: RunLayout,
    state: list[TrainState],
    evals: list,
    keep_params: bool,
    partial: bool,
    timing: dict,
) -> SweepResult:
    eval_steps = np.minimum(np.arange(len(evals)) * config.eval_every, config.steps)
    stacked = jax.tree_util.tree_map(
        lambda *leaves: layout.unstack(np.stack(leaves, axis=1)), *evals
    )  # [inits, seeds, evals, ...]
    tracked = stacked.pop("tracked", None)
    extra = config.extra_metrics
    splits = ("train", "val", "test")
    order = [f"{split}_{m}" for m in ("loss", "acc", *extra) for split in splits]
    order += [k for k in stacked if k not in order]

    def unstacked(field: str) -> Any:  # the blocks of runs joined, then [inits, seeds, ...]
        joined = layout.join([getattr(s, field) for s in state])
        return jax.tree_util.tree_map(layout.unstack, joined)

    params = unstacked("params") if keep_params else None
    model_state = unstacked("model_state") if keep_params and config.model.stateful else None
    return SweepResult(
        inits=[i.name for i in config.inits],
        specs=[i.spec for i in config.inits],
        seeds=config.seeds,
        eval_steps=eval_steps,
        metrics={k: stacked[k] for k in sorted(stacked, key=order.index)},
        diverged_step=unstacked("diverged"),
        tracked=tracked,
        params=params,
        config=config.as_dict() | ({"partial": True} if partial else {}),
        timing=timing | {"model_steps": layout.n_runs * int(eval_steps[-1])},
        model_state=model_state,
        configs=None if config.hparams is None else [dict(c) for c in config.hparams.configs],
    )


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
    formulation: str = "auto",
    hparams: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | None = None,
    max_memory: float | None = None,
    block_size: int | str | None = "auto",
) -> SweepResult:
    """Train every (initializer, seed) pair and collect metrics at eval points.

    Args:
      model: a jinit model (``init``, ``apply``, ``output``), a Flax linen / NNX, Equinox or
        Haiku model (BatchNorm, Dropout: see the module docstring) or ``(init_fn, apply_fn)``.
      inits: ``{name: initializer}`` (biases zeros), ``{name: (weight_init, bias_init)}`` or
        ``{name: params}`` with a leading seed axis. Run (name, s) draws with ``run_key(s,
        name)`` in the model's shapes and the dtype given (bfloat16 in float32: refused).
      data: a :class:`jinit.data.Dataset` (finite inputs, labels the output can represent).
      optimizer: an optax transformation (default ``optax.sgd(0.01)``).
      hparams: with an optax factory as ``optimizer`` (``optax.adam``), a grid of its
        arguments trained in one program (:mod:`jinit.hparams`; ``SweepResult.tune``).
      loss: a :mod:`jinit.losses` name or ``(logits, labels) -> scalar`` (default: by output).
      steps: optimizer steps per run. seeds: a count (``0..n-1``) or distinct seeds in
        ``[0, 2**32 - 1]``. batch_size: examples per step (each seed its own epoch
        permutations) or None (full batch). eval_every: steps between evaluations (10 evals).
      extra_metrics: ``{name: (logits, labels) -> scalar}``, evaluated on both splits.
      track: ``params [, model_state] -> pytree`` for every run at every eval (``.tracked``).
      devices: devices to shard the run axis over (default: all). dtype: parameters and inputs.
      formulation: ``"vmap"``, ``"map"``, ``"patches"``, ``"auto"`` (program.choose_formulation).
      max_memory: bytes the runs may use at once, else in groups (:mod:`jinit.engine.plan`).
      block_size: runs trained together, in cache: "auto", an int or None (all at once).
      out_dir, resume: an atomic checkpoint after every chunk, ``out_dir/sweep.lock`` while
        running; ``resume=True`` continues it to the same numbers (never another sweep's).
      keep_params: keep final ``.params``, ``.model_state``. progress: a bar (terminal, Jupyter).

    Returns:
      A :class:`jinit.results.SweepResult` (metrics ``[n_inits, n_seeds, n_evals]``;
      ``timing["compiles"]``: compilations of the training program, 1 per sweep, 0 with
      ``steps=0``, counted with ``jax.monitoring``). Ctrl-C raises :class:`SweepInterrupted`
      (``.partial``: evals done).

    Example:
        >>> import optax, jinit
        >>> r = jinit.sweep(jinit.models.MLP([2, 8, 1]), {"he": jinit.he_normal},
        ...                 jinit.data.circles(n_train=64, n_test=32), optimizer=optax.sgd(0.1),
        ...                 steps=20, seeds=3, eval_every=10)
        >>> r.metrics["train_loss"].shape, r.timing["compiles"]
        ((1, 3, 3), 1)
    """
    t_start = time.perf_counter()
    settings = _Settings(optimizer=optimizer, loss=loss, steps=steps, seeds=seeds,
                         batch_size=batch_size, eval_every=eval_every,
                         extra_metrics=extra_metrics, track=track, devices=devices, dtype=dtype,
                         formulation=formulation, hparams=hparams,
                         block_size=block_size)  # fmt: skip
    config = SweepConfig.build(model, inits, data, **settings._asdict())
    out_dir = None if out_dir is None else _check_out_dir(out_dir)
    run = _HowToRun(out_dir, resume, keep_params, progress)
    if len(groups := plan.sweep_groups(config, max_memory)) > 1:
        return _in_groups(groups, config, (model, data, settings, run))
    return _one_program(config, run, t_start)


def _one_program(config: SweepConfig, run: _HowToRun, t_start: float) -> SweepResult:
    """All runs of ``config`` in one compiled program, chunk by chunk (checkpoints and the
    lock in ``run.out_dir``)."""
    with _running(run.out_dir) as compiles:
        compiled = _Compiled(config)
        store, state, evals = _start(config, compiled, run.out_dir, bool(run.resume))
        first = compiled.indices(_chunks_done(evals), config.n_chunks)  # compiles the order
        t_run = time.perf_counter()
        state, interrupted = _train(config, compiled, store, state, evals, run.progress, first)
    timing = _timing(compiled, compiles, t_start, t_run)
    result = _result(config, compiled.layout, state, evals, run.keep_params, interrupted, timing)
    result.config["block_size"] = compiled.blocks.block  # runs trained together (plan.py)
    if interrupted:
        raise SweepInterrupted(result)
    return result


def _timing(compiled: _Compiled, compiles: CompileCount, t_start: float, t_run: float) -> dict:
    t_end = time.perf_counter()
    return {
        "compile_s": compiled.compile_s,
        "run_s": t_end - t_run,
        "total_s": t_end - t_start,
        "compiles": compiles.n,
    }


@contextlib.contextmanager
def _running(out_dir: str | None) -> Iterator[CompileCount]:
    """While a sweep builds and trains: the lock of ``out_dir`` (if given) and the count of
    compilations of its training program (``jit(chunk)``)."""
    with contextlib.nullcontext() if out_dir is None else checkpoint.locked(out_dir):
        with interrupts_at_chunks(), CompileCount("chunk") as count:
            yield count


def _in_groups(
    groups: list, config: SweepConfig, args: tuple[Any, Dataset, _Settings, _HowToRun]
) -> SweepResult:
    """Each group of runs a sweep of its own (checkpoints in ``out_dir/group_i``), joined;
    ``args``: :func:`sweep`'s ``model``, ``data``, settings and how to run."""
    model, data, settings, run = args
    parts = []
    for i, group in enumerate(groups):
        out_dir = run.out_dir and os.path.join(run.out_dir, f"group_{i}")
        seeds = [int(s) for s in config.seeds[group.seeds]]
        inits = plan.group_inits(config.inits, group)
        parts.append(sweep(model, inits, data, **settings._replace(seeds=seeds)._asdict(),
                           out_dir=out_dir, resume=run.resume, keep_params=run.keep_params,
                           progress=run.progress, max_memory=math.inf))  # fmt: skip
    return plan.merge_groups(groups, parts)


def _check_out_dir(out_dir: str | os.PathLike) -> str:
    path = os.fspath(out_dir)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise ValueError(f"sweep: out_dir {path!r} is not a usable directory ({err}).") from err
    return path
