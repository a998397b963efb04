"""The compiled program: ``chunk`` (``chunk_len`` steps of every run, then evaluate) and
``evaluate``.

Every step ``vmap``-s one optax update over runs; the gradient of the summed loss with respect
to run r's parameters is run r's own gradient, so runs stay independent. ``chunk`` is
compiled once per sweep and called once per chunk and block of runs; its steps are a loop of
``n_active`` iterations, so a last, shorter chunk runs fewer steps, and ``n_active = 0`` is
the initial evaluation, without compiling a second program.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, PartitionSpec

from jinit import losses as losses_lib
from jinit import ops
from jinit.engine.model import Model
from jinit.engine.state import TrainState
from jinit.frameworks.base import vmapped_apply

EVAL_BLOCK = 8192
FORMULATIONS = ("auto", "vmap", "map", "patches")
#: The largest convolution feature map (positions per example) that ``"auto"`` trains with
#: every run at once (``"vmap"``); larger maps train run after run (``"map"``).
SMALL_CONV_MAP = 16


def choose_formulation(model: Model, params: Any, x: Any, requested: str) -> tuple[Model, str]:
    """The model as the program will run it and how runs are batched in a step.

    ``"vmap"``: one step of every run at once (``model.apply_runs`` on stacked parameters):
    best for dense nets. ``"map"``: the runs of a step one after another (``lax.map``), each
    run's convolutions batched over its examples only: XLA:CPU runs a convolution that is
    vmapped over runs as a grouped convolution, slower than the runs in turn on all but tiny
    feature maps.
    ``"patches"``: as ``"vmap"``, with every convolution computed as patches and a matrix
    product (:func:`jinit.ops.conv2d_patches`), so that a step of all runs is a batched
    matrix product instead of a grouped convolution. ``"auto"`` picks ``"vmap"`` for models
    without convolutions and for convolutions whose feature maps all have at most
    :data:`SMALL_CONV_MAP` positions, ``"map"`` for larger ones. Measured on 2 cores
    (ConvNet, conv 16 + conv 32 + dense, 16 runs, warm, scripts/bench_conv_formulations.py):
    on 8x8 digits (4x4 maps) ``vmap`` trains 1.4x faster than ``map``; on 16x16 (8x8 maps)
    and 28x28 MNIST ``map`` is 1.55-1.65x faster; ``patches`` never led. Models with convolutions
    also run them through :func:`jinit.ops.with_canonical_convs` (same values, gradients
    that stay fast inside ``lax.scan``).
    """
    if requested not in FORMULATIONS:
        raise ValueError(
            f"sweep: formulation must be one of {', '.join(FORMULATIONS)}, got {requested!r}."
        )
    maps = ops.conv_map_sizes(model.apply, params, x)
    if not maps:
        return model, "vmap" if requested == "auto" else requested
    patches = requested == "patches"
    apply = ops.with_canonical_convs(model.apply, patches)
    changes = {"apply": apply, "apply_runs": vmapped_apply(apply)}
    if model.has_train_mode:
        changes["apply_train"] = ops.with_canonical_convs(model.apply_train, patches)
        changes["apply_eval"] = ops.with_canonical_convs(model.apply_eval, patches)
    model = dataclasses.replace(model, **changes)
    if requested == "auto":
        return model, "vmap" if max(maps) <= SMALL_CONV_MAP else "map"
    return model, requested


def block_logits(apply: Callable, params: Any, x: jax.Array) -> jax.Array:
    """``apply(params, x)`` in blocks of :data:`EVAL_BLOCK` examples, so evaluation memory
    stays bounded. Each block is a slice of ``x`` (the last one ends at the last example and
    overlaps the one before it), never a padded copy of the whole split: ``x`` is an
    argument of the program, and a copy would cost every evaluation a pass over the data."""
    n = x.shape[0]
    if n <= EVAL_BLOCK:
        return apply(params, x)
    n_blocks = math.ceil(n / EVAL_BLOCK)

    def block(i: jax.Array) -> jax.Array:
        start = jnp.minimum(i * EVAL_BLOCK, n - EVAL_BLOCK)
        return apply(params, jax.lax.dynamic_slice_in_dim(x, start, EVAL_BLOCK))

    out = jax.lax.map(block, jnp.arange(n_blocks))
    head = out[:-1].reshape((n_blocks - 1) * EVAL_BLOCK, *out.shape[2:])
    tail = out[-1, n_blocks * EVAL_BLOCK - n :]  # the last block's examples not in ``head``
    return jnp.concatenate([head, tail])


def step_keys(streams: jax.Array | None, t: Any) -> jax.Array | None:
    """Every run's key of global step ``t``: ``fold_in(streams[run], t)`` (``streams[run]`` =
    :func:`jinit.keys.step_stream` of the run's seed), or ``None`` without streams."""
    if streams is None:
        return None
    return jax.vmap(jax.random.fold_in, in_axes=(0, None))(streams, t)


def _losses_and_grads(model: Model, loss_fn: Callable, shared: bool, formulation: str) -> Callable:
    """``(params, model_state, x, y, keys) -> (per-run losses, grads, new model_state)``
    of every run: ``apply`` for models without a train mode (``model_state`` passed
    through), ``apply_train`` with each run's state and key otherwise."""
    data_axis = None if shared else 0
    train_mode = model.has_train_mode

    def run_loss(params, mstate, key, x, y):
        if train_mode:
            logits, mstate = model.apply_train(params, mstate, x, key)
        else:
            logits = model.apply(params, x)
        return loss_fn(logits, y), mstate

    def total_loss(params, mstate, keys, x, y):
        if train_mode:
            apply = jax.vmap(model.apply_train, in_axes=(0, 0, data_axis, 0))
            logits, mstate = apply(params, mstate, x, keys)
        else:
            logits = model.apply_runs(params, x, shared)
        per_run = jax.vmap(loss_fn, in_axes=(0, data_axis))(logits, y)
        return per_run.sum(), (per_run, mstate)

    def losses_and_grads(params, mstate, x, y, keys):
        if formulation != "map":  # "vmap", "patches"
            grad_fn = jax.value_and_grad(total_loss, has_aux=True)
            (_, (per_run, mstate)), grads = grad_fn(params, mstate, keys, x, y)
            return per_run, grads, mstate
        grad_fn = jax.value_and_grad(run_loss, has_aux=True)
        if shared:
            out = jax.lax.map(lambda a: grad_fn(*a, x, y), (params, mstate, keys))
        else:
            out = jax.lax.map(lambda a: grad_fn(*a), (params, mstate, keys, x, y))
        (per_run, mstate), grads = out
        return per_run, grads, mstate

    return losses_and_grads


def make_step(
    model: Model,
    loss_fn: Callable,
    optimizer: optax.GradientTransformationExtraArgs,
    order: Any,
    formulation: str = "vmap",
) -> Callable:
    """``step(state, t, x, y, streams) -> state``: one update of every run on its batch
    ``x, y``.

    A model with a train mode (state or dropout) is called with ``apply_train``: each run
    with its own state (``state.model_state``, replaced by the updated one) and its key of
    step ``t`` (:func:`step_keys` of ``streams``, one step-stream key per run)."""
    shared = order.shared
    losses_and_grads = _losses_and_grads(model, loss_fn, shared, formulation)
    train_mode = model.has_train_mode

    def run_update(grads, opt_state, params, value, mstate, key, x, y):
        # Line-search optimizers (optax.lbfgs) also need the run's loss as a function.
        def value_fn(p):
            if train_mode:
                return loss_fn(model.apply_train(p, mstate, x, key)[0], y)
            return loss_fn(model.apply(p, x), y)

        return optimizer.update(
            grads, opt_state, params, value=value, grad=grads, value_fn=value_fn
        )

    data_axis = None if shared else 0
    update = jax.vmap(run_update, in_axes=(0, 0, 0, 0, 0, 0, data_axis, data_axis))

    def step(state: TrainState, t, x, y, streams=None) -> TrainState:
        keys = step_keys(streams, t) if train_mode else None
        mstate = state.model_state
        per_run, grads, new_mstate = losses_and_grads(state.params, mstate, x, y, keys)
        updates, opt_state = update(grads, state.opt_state, state.params, per_run, mstate, keys,
                                    x, y)  # fmt: skip
        params = optax.apply_updates(state.params, updates)
        diverged = jnp.where((state.diverged < 0) & ~jnp.isfinite(per_run), t, state.diverged)
        return TrainState(params, opt_state, diverged, new_mstate)

    return step


def make_evaluate(
    model: Model,
    loss_fn: Callable,
    data: tuple[jax.Array, ...],
    extra_metrics: Mapping[str, Callable],
    track: Callable | None,
    formulation: str = "vmap",
) -> Callable:
    """``evaluate(params, model_state, arrays) -> {metric: [runs]}`` on every split (train,
    test, then val when ``data`` holds six arrays; ``arrays``: the data as the program
    receives them, an argument) (and ``tracked``); a model with a train mode is
    evaluated in evaluation mode (``apply_eval``: running averages, no dropout) with each
    run's state. ``track(params)``, or ``track(params, model_state)`` for a callback taking
    two arguments (:func:`track_takes_state`): the run's model state (batch statistics;
    ``()`` for a model without state)."""
    names = ("train", "test", "val")[: len(data) // 2]
    classification = jnp.issubdtype(data[1].dtype, jnp.integer)
    train_mode = model.has_train_mode
    with_state = track is not None and track_takes_state(track)

    def evaluate_run(params, mstate, arrays):
        apply = (lambda p, x: model.apply_eval(p, mstate, x)) if train_mode else model.apply
        out = {}
        for split, x, y in zip(names, arrays[0::2], arrays[1::2], strict=False):
            logits = block_logits(apply, params, x)
            out[f"{split}_loss"] = loss_fn(logits, y)
            if classification:
                out[f"{split}_acc"] = losses_lib.accuracy(logits, y)
            for name, fn in extra_metrics.items():
                out[f"{split}_{name}"] = fn(logits, y)
        if track is not None:
            out["tracked"] = track(params, mstate) if with_state else track(params)
        return out

    def evaluate(params, mstate, arrays):
        if formulation == "map":
            return jax.lax.map(lambda a: evaluate_run(*a, arrays), (params, mstate))
        return jax.vmap(evaluate_run, in_axes=(0, 0, None))(params, mstate, arrays)

    return evaluate


def track_takes_state(track: Callable) -> bool:
    """Whether a ``track`` callback reads the model state: it takes a second positional
    argument (``track(params, state)``); ``track(params)`` keeps the one-argument call."""
    try:
        params = list(inspect.signature(track).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 and positional[1].default is inspect.Parameter.empty


def on_devices(fn: Callable, mesh: Mesh | None) -> Callable:
    """``fn(runs, shared)`` with ``runs`` (leaves with a leading run axis) split over the
    devices of ``mesh`` (``jax.shard_map``; no collectives) and ``shared`` whole on every
    device; ``fn`` itself without a mesh. A device's program has no run-group axis (a size-1
    ``vmap`` axis costs XLA:CPU a third of the step), and a run's numbers depend only on the
    runs of its device, not on how many devices there are. Every model takes this path,
    those with a train mode too (the Equinox adapter traces its calls outside the mesh, so
    ``eqx.nn.State`` sees plain abstract values)."""
    if mesh is None:
        return fn
    runs, same = PartitionSpec("runs"), PartitionSpec()
    return jax.shard_map(fn, mesh=mesh, in_specs=(runs, same), out_specs=runs, check_vma=False)


def make_chunk(
    step: Callable,
    evaluate: Callable,
    order: Any,
    mesh: Mesh | None = None,
) -> Callable:
    """``chunk(state, per_run, start, n_active, indices, data) -> (state, metrics)``: steps
    ``start .. start + n_active - 1`` of one block of runs, then an evaluation; ``per_run``
    is ``(seed_of_run, streams)`` of the block's runs (their seed indices and dropout step
    streams, or ``None``), ``indices`` the chunk's data order, ``data`` the sweep's arrays
    (an argument, not a constant of the program: XLA would fold the loss's arithmetic on
    them at compile time, and the program would hold the data). The steps are a loop of
    ``n_active`` iterations (a traced count: a shorter last chunk computes nothing for the
    steps it lacks), so ``n_active = 0`` is the evaluation of ``state`` itself: the sweep's
    initial evaluation comes from the same program, and the evaluation is compiled once.

    The engine trains its runs in blocks (:func:`jinit.engine.plan.sweep_blocks`): it calls
    the program once a block, one after another, so that a block's parameters and
    activations stay in cache for all its steps and its evaluation; a block's runs are
    split over ``mesh`` (:func:`on_devices`). One program serves every block, without the
    run loop in it that a ``lax.map`` over blocks would compile."""

    def run_block(runs, shared):
        (state, (seeds_b, streams_b)), (start, n_active, indices, data) = runs, shared

        def body(i, carry):
            x, y = order.batch(data[0], data[1], order.step_indices(indices, i), seeds_b)
            return step(carry, start + i, x, y, streams_b)

        state = jax.lax.fori_loop(0, n_active, body, state)
        return state, evaluate(state.params, state.model_state, data)

    on_mesh = on_devices(run_block, mesh)

    def chunk(state, per_run, start, n_active, indices, data):
        return on_mesh((state, per_run), (start, n_active, indices, data))

    return chunk
