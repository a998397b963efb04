"""The initializers of a sweep and the initial parameters of every run.

Run (init ``name``, seed ``s``) draws its parameters with ``jinit.keys.run_key(s, name)``;
the runs are stacked init-major (``run = init_index * n_seeds + seed_index``). A drawn leaf
must have the model's shape and dtype: an initializer returning another shape, an integer
dtype or another float dtype (bfloat16 in a float32 sweep) is refused with the init, the
parameter path and both shapes/dtypes named (never cast silently).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit.engine.model import Model
from jinit.frameworks.base import is_rules
from jinit.keys import run_keys
from jinit.laws import constant, ones, zeros
from jinit.registry import name_of


@dataclasses.dataclass(frozen=True)
class Init:
    name: str
    weight_init: Callable | None = None
    bias_init: Callable | None = None
    params: Any = None  # explicit initial params with a leading seed axis
    runs: Any = None  # a data-dependent entry: draw_runs(model, keys, dtype) -> stacked params

    @property
    def spec(self) -> str:
        if self.params is not None:
            return "explicit parameters"
        if self.runs is not None:
            return f"data-dependent {type(self.runs).__name__}"
        if is_rules(self.weight_init):
            pairs = self.weight_init.items() if isinstance(self.weight_init, Mapping) else (
                self.weight_init)  # fmt: skip
            return "rules " + ", ".join(f"{_pattern(p)}: {name_of(law)}" for p, law in pairs)
        return f"{name_of(self.weight_init)} / bias {name_of(self.bias_init)}"


def _pattern(pattern: Any) -> str:
    return pattern if isinstance(pattern, str) else getattr(pattern, "pattern", None) or (
        getattr(pattern, "__qualname__", repr(pattern)))  # fmt: skip


def stack_seeds(trees: Any) -> Any:
    """Per-seed parameter trees stacked on a leading seed axis: the explicit-parameters form
    of an ``inits`` entry (``{name: stack_seeds([params_seed0, params_seed1, ...])}``)."""
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *trees)


def _has_arrays(tree: Any) -> bool:
    return any(hasattr(x, "shape") for x in jax.tree_util.tree_leaves(tree))


def as_inits(inits: Mapping[str, Any]) -> tuple[Init, ...]:
    if not isinstance(inits, Mapping) or not inits:
        raise TypeError(
            "sweep: inits must be a non-empty dict {name: initializer | (weight_init, "
            "bias_init) | reinit rules {pattern: law} | initial params with a leading seed "
            "axis}."
        )
    out = []
    for name, entry in inits.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"sweep: init names must be non-empty strings, got {name!r}.")
        if callable(getattr(entry, "draw_runs", None)):  # e.g. jinit.research.lsuv_entry(x)
            out.append(Init(name, runs=entry))
        elif callable(entry) and not _has_arrays(entry):  # an Equinox module is callable too
            out.append(Init(name, entry, zeros))
        elif is_rules(entry) and not _has_arrays(entry) and not isinstance(entry, tuple):
            out.append(Init(name, entry, zeros))  # reinit rules: {pattern: law, ...}
        elif isinstance(entry, tuple) and len(entry) == 2 and all(map(callable, entry)):
            out.append(Init(name, entry[0], entry[1]))
        else:
            leaves = jax.tree_util.tree_leaves(entry)
            if not leaves or not all(hasattr(x, "shape") for x in leaves):
                raise TypeError(
                    f"sweep: inits[{name!r}] is neither an initializer, a (weight_init, "
                    "bias_init) pair, nor a pytree of arrays with a leading seed axis."
                )
            out.append(Init(name, params=entry))
    return tuple(out)


def initial_params(
    model: Model,
    inits: tuple[Init, ...],
    seeds: np.ndarray,
    dtype: Any,
    template: Any,
    n_configs: int | None = None,
) -> Any:
    """Parameters of every run, stacked on the run axis (init-major). With ``n_configs``
    (a hyperparameter axis) each init's seed stack is repeated once per config: every config
    of an init starts from the same weights (paired)."""
    stacks = []
    for init in inits:
        if init.params is not None:
            stacks.append(_check_explicit(init, template, len(seeds), dtype))
            continue
        if init.runs is not None:
            drawn = init.runs.draw_runs(model, run_keys(seeds, init.name), dtype)
            stacks.append(_check_drawn(init, drawn, template))
            continue
        draw = functools.partial(model.init, weight_init=_on_host(init.weight_init),
                                 bias_init=_on_host(init.bias_init), dtype=dtype)  # fmt: skip
        stacks.append(_check_drawn(init, stack_draws(draw, run_keys(seeds, init.name)), template))
    if len(stacks) == 1 and n_configs is None:
        return stacks[0]
    return _join_runs(stacks, n_configs)


#: The most entries a leaf that does not depend on the key (zeros, a constant) may have, all
#: runs together, to be stacked on the host (larger ones: one compiled broadcast each).
HOST_STACK_MAX = 2**22


def stack_draws(draw: Callable[[jax.Array], Any], keys: jax.Array) -> Any:
    """``jax.vmap(draw)(keys)``: every run's parameters, stacked on a leading run axis.

    Eager vmap, not jit: each primitive compiles once per shape (small uniform draws are
    hashed on the host, larger ones compile once per size class: :mod:`jinit._sampling`) and
    is reused by every layer and init (a 30-layer net: 0.1 s per init instead of 5 s of
    compiling). A leaf that does not depend
    on the key (zero biases) is stacked on the host, where vmap would compile a broadcast
    per shape (the same values)."""
    found = {}

    def batched(key: jax.Array) -> list:
        leaves, found["tree"] = jax.tree_util.tree_flatten(draw(key))
        found["leaves"] = leaves
        return [x for x in leaves if isinstance(x, jax.core.Tracer)]

    drawn = iter(jax.vmap(batched)(keys))
    n = keys.shape[0]
    leaves = [next(drawn) if isinstance(x, jax.core.Tracer) else _stack_fixed(x, n)
              for x in found["leaves"]]  # fmt: skip
    return jax.tree_util.tree_unflatten(found["tree"], leaves)


def _on_host(law: Any) -> Any:
    """``law``, or for jinit's constant laws (``zeros``, ``ones``, ``constant``) the same
    values made on the host: drawn eagerly (:func:`stack_draws`), ``jnp.zeros`` compiles a
    program per shape, and a zero bias is in every net."""
    value = {zeros: 0, ones: 1}.get(law) if callable(law) and not is_rules(law) else None
    if isinstance(law, functools.partial) and law.func is constant and not law.args:
        value = law.keywords.get("value")
    if value is None:
        return law

    def on_host(key: jax.Array, shape: Any, dtype: Any = jnp.float32) -> jax.Array:
        del key
        return jax.device_put(np.full(tuple(shape), value, jnp.dtype(dtype)))

    return on_host


def _stack_fixed(leaf: Any, n: int) -> jax.Array:
    """``n`` copies of ``leaf`` on a new leading axis."""
    if n * math.prod(np.shape(leaf)) > HOST_STACK_MAX:
        return jnp.broadcast_to(leaf, (n, *np.shape(leaf)))
    host = np.asarray(leaf)
    return jax.device_put(np.ascontiguousarray(np.broadcast_to(host, (n, *host.shape))))


def _join_runs(stacks: list, n_configs: int | None) -> Any:
    """The inits' seed stacks (each repeated once per config) joined on the run axis: on the
    host where every leaf is a CPU array of this process (the same values, no program), else
    as one compiled program (eagerly, every leaf shape would compile a concatenation of its
    own)."""
    if not all(_on_this_cpu(a) for a in jax.tree_util.tree_leaves(stacks)):
        return _join_runs_program(stacks, n_configs)
    host = jax.tree_util.tree_map(np.asarray, stacks)
    return jax.device_put(_joined(np, host, n_configs))


def _on_this_cpu(a: Any) -> bool:
    """``a`` is a NumPy array, or a concrete array on this process's CPU devices."""
    if isinstance(a, np.ndarray):
        return True
    if not isinstance(a, jax.Array) or isinstance(a, jax.core.Tracer):
        return False
    return a.is_fully_addressable and all(d.platform == "cpu" for d in a.devices())


@functools.partial(jax.jit, static_argnums=1)
def _join_runs_program(stacks: list, n_configs: int | None) -> Any:
    return _joined(jnp, stacks, n_configs)


def _joined(xp: Any, stacks: list, n_configs: int | None) -> Any:
    """``stacks`` joined on the run axis with ``xp`` (NumPy or jax.numpy), each repeated
    ``n_configs`` times first."""
    if n_configs is not None:
        stacks = [jax.tree_util.tree_map(lambda a: xp.tile(
            a, (n_configs,) + (1,) * (a.ndim - 1)), s) for s in stacks]  # fmt: skip
    return jax.tree_util.tree_map(lambda *xs: xp.concatenate(xs), *stacks)


def _check_drawn(init: Init, params: Any, template: Any) -> Any:
    """``params`` (one leading seed axis) if every leaf has the template's shape and dtype."""
    got = jax.tree_util.tree_leaves_with_path(params)
    want = jax.tree_util.tree_leaves(template)
    if len(got) != len(want):
        raise ValueError(
            f"sweep: inits[{init.name!r}] ({init.spec}) gave {len(got)} parameter arrays; "
            f"the model has {len(want)}."
        )
    for (path, p), t in zip(got, want, strict=True):
        where = f"inits[{init.name!r}] ({init.spec}) returned"
        at = f"for the parameter {jax.tree_util.keystr(path)}"
        if p.shape[1:] != t.shape:
            raise ValueError(
                f"sweep: {where} shape {p.shape[1:]} {at}; the model expects {t.shape}."
            )
        if p.dtype != t.dtype:
            raise TypeError(
                f"sweep: {where} dtype {p.dtype} {at}; the model expects {t.dtype} (an "
                "initializer must draw in the dtype it is given)."
            )
    return params


def _check_explicit(init: Init, template: Any, n_seeds: int, dtype: Any) -> Any:
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
