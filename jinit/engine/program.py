"""The compiled program: ``chunk`` (``chunk_len`` steps of every run, then evaluate) and
``evaluate``.

Every step ``vmap``-s one optax update over runs; the gradient of the summed loss with respect
to run r's parameters is run r's own gradient, so runs stay independent. ``chunk`` is
compiled once per sweep and called once per chunk; a last, shorter chunk masks its extra
steps (``n_active``) instead of compiling a second program.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from jinit import losses as losses_lib
from jinit import ops
from jinit.engine.model import Model
from jinit.engine.state import TrainState
from jinit.frameworks.base import vmapped_apply

EVAL_BLOCK = 8192
FORMULATIONS = ("auto", "vmap", "map")


def choose_formulation(model: Model, params: Any, x: Any, requested: str) -> tuple[Model, str]:
    """The model as the program will run it and how runs are batched in a step.

    ``"vmap"``: one step of every run at once (``model.apply_runs`` on stacked parameters):
    best for dense nets. ``"map"``: the runs of a step one after another (``lax.map``), each
    run's convolutions batched over its examples only: XLA:CPU runs a convolution that is
    vmapped over runs as a grouped convolution, several times slower than the runs in turn.
    ``"auto"`` picks ``"map"`` for models with convolutions, ``"vmap"`` otherwise. Models
    with convolutions also run them through :func:`jinit.ops.with_canonical_convs` (same
    values, gradients that stay fast inside ``lax.scan``).
    """
    if requested not in FORMULATIONS:
        raise ValueError(
            f"sweep: formulation must be one of {', '.join(FORMULATIONS)}, got {requested!r}."
        )
    if not ops.has_convolutions(model.apply, params, x):
        return model, "vmap" if requested == "auto" else requested
    apply = ops.with_canonical_convs(model.apply)
    model = dataclasses.replace(model, apply=apply, apply_runs=vmapped_apply(apply))
    return model, "map" if requested == "auto" else requested


def block_logits(apply: Callable, params: Any, x: jax.Array) -> jax.Array:
    """``apply(params, x)`` in blocks of examples, so evaluation memory stays bounded."""
    n = x.shape[0]
    if n <= EVAL_BLOCK:
        return apply(params, x)
    n_blocks = math.ceil(n / EVAL_BLOCK)
    pad = n_blocks * EVAL_BLOCK - n
    xb = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
    out = jax.lax.map(lambda b: apply(params, b), xb.reshape(n_blocks, EVAL_BLOCK, *x.shape[1:]))
    return out.reshape(n_blocks * EVAL_BLOCK, *out.shape[2:])[:n]


def make_step(
    model: Model,
    loss_fn: Callable,
    optimizer: optax.GradientTransformationExtraArgs,
    order: Any,
    formulation: str = "vmap",
) -> Callable:
    """``step(state, t, x, y) -> state``: one update of every run on its batch ``x, y``."""
    shared = order.shared

    def total_loss(params, x, y):
        logits = model.apply_runs(params, x, shared)
        per_run = jax.vmap(loss_fn, in_axes=(0, None if shared else 0))(logits, y)
        return per_run.sum(), per_run

    def run_loss(params, x, y):
        return loss_fn(model.apply(params, x), y)

    def losses_and_grads(params, x, y):
        if formulation == "vmap":
            (_, per_run), grads = jax.value_and_grad(total_loss, has_aux=True)(params, x, y)
            return per_run, grads
        if shared:
            return jax.lax.map(lambda p: jax.value_and_grad(run_loss)(p, x, y), params)
        return jax.lax.map(lambda a: jax.value_and_grad(run_loss)(*a), (params, x, y))

    def run_update(grads, opt_state, params, value, x, y):
        # Line-search optimizers (optax.lbfgs) also need the run's loss as a function.
        def value_fn(p):
            return loss_fn(model.apply(p, x), y)

        return optimizer.update(
            grads, opt_state, params, value=value, grad=grads, value_fn=value_fn
        )

    data_axis = None if shared else 0
    update = jax.vmap(run_update, in_axes=(0, 0, 0, 0, data_axis, data_axis))

    def step(state: TrainState, t, x, y) -> TrainState:
        per_run, grads = losses_and_grads(state.params, x, y)
        updates, opt_state = update(grads, state.opt_state, state.params, per_run, x, y)
        params = optax.apply_updates(state.params, updates)
        diverged = jnp.where((state.diverged < 0) & ~jnp.isfinite(per_run), t, state.diverged)
        return TrainState(params, opt_state, diverged)

    return step


def make_evaluate(
    model: Model,
    loss_fn: Callable,
    data: tuple[jax.Array, ...],
    extra_metrics: Mapping[str, Callable],
    track: Callable | None,
    formulation: str = "vmap",
) -> Callable:
    """``evaluate(params) -> {metric: [runs]}`` on every split (train, test, then val when
    ``data`` holds six arrays) (and ``tracked``)."""
    splits = tuple(zip(("train", "test", "val"), data[0::2], data[1::2], strict=False))
    classification = jnp.issubdtype(data[1].dtype, jnp.integer)

    def evaluate_run(params):
        out = {}
        for split, x, y in splits:
            logits = block_logits(model.apply, params, x)
            out[f"{split}_loss"] = loss_fn(logits, y)
            if classification:
                out[f"{split}_acc"] = losses_lib.accuracy(logits, y)
            for name, fn in extra_metrics.items():
                out[f"{split}_{name}"] = fn(logits, y)
        if track is not None:
            out["tracked"] = track(params)
        return out

    if formulation == "map":
        return lambda params: jax.lax.map(evaluate_run, params)
    return jax.vmap(evaluate_run)


def make_chunk(
    step: Callable,
    evaluate: Callable,
    order: Any,
    data: tuple[jax.Array, ...],
    seed_of_run: Any,
    chunk_len: int,
    masked: bool,
) -> Callable:
    """``chunk(state, start, n_active, indices) -> (state, metrics)``: ``chunk_len`` steps of
    every run (the first ``n_active`` count), then an evaluation."""
    x_train, y_train = data[0], data[1]
    seed_of_run = jnp.asarray(seed_of_run)

    def chunk(state, start, n_active, indices):
        def body(carry, xs):
            i, idx = xs
            x, y = order.batch(x_train, y_train, idx, seed_of_run)
            new = step(carry, start + i, x, y)
            if masked:
                new = jax.tree_util.tree_map(lambda a, b: jnp.where(i < n_active, a, b), new, carry)
            return new, None

        xs = (jnp.arange(chunk_len), order.scan_xs(indices))
        state, _ = jax.lax.scan(body, state, xs, length=chunk_len)
        return state, evaluate(state.params)

    return chunk
