"""A sweep's configuration: every argument of :func:`jinit.sweep`, validated once, frozen.

:meth:`SweepConfig.build` checks the arguments in dependency order (the data first, since the
model is traced on it) and raises a one-line ``TypeError``/``ValueError`` naming the argument.
The config owns what is written about a sweep: :meth:`SweepConfig.as_dict` (the result's
``config``) and :meth:`SweepConfig.fingerprint` (what a checkpoint must match to be resumed:
everything that changes the numbers).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit import losses as losses_lib
from jinit._validate import check_dtype
from jinit.data import Dataset, check_dataset
from jinit.engine import fingerprint as fp
from jinit.engine.inits import Init, as_inits
from jinit.engine.model import Model, as_model, check_input, fn_name, template
from jinit.engine.plan import check_block_size
from jinit.engine.program import choose_formulation
from jinit.hparams import HParamGrid
from jinit.hparams import build as build_hparams
from jinit.keys import check_seeds


@dataclasses.dataclass(frozen=True, eq=False)
class SweepConfig:
    """A validated sweep (see :func:`jinit.sweep` for the meaning of each field)."""

    model: Model
    inits: tuple[Init, ...]
    data: Dataset
    optimizer: optax.GradientTransformationExtraArgs
    optimizer_arg: Any  # as given, for the fingerprint
    loss_fn: Callable
    steps: int
    seeds: np.ndarray
    batch_size: int | None
    eval_every: int
    extra_metrics: Mapping[str, Callable]
    track: Callable | None
    devices: tuple[jax.Device, ...]
    dtype: np.dtype
    template: Any  # one run's parameter shapes and dtypes
    formulation: str  # how a step batches runs: "vmap" or "map" (program.choose_formulation)
    hparams: HParamGrid | None = None  # a configs axis (jinit.hparams), or None
    block_size: int | str | None = "auto"  # runs per cache block (plan.sweep_blocks)

    @classmethod
    def build(cls, model: Any, inits: Mapping[str, Any], data: Any, **kwargs: Any) -> SweepConfig:
        """Validate :func:`jinit.sweep`'s arguments (keyword arguments as sweep's)."""
        return _build(cls, model, inits, data, **kwargs)

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.steps / self.eval_every)

    @property
    def n_configs(self) -> int | None:
        """The number of hyperparameter configs, or None without ``hparams``."""
        return None if self.hparams is None else len(self.hparams.configs)

    @property
    def loss_name(self) -> str:
        return getattr(self.loss_fn, "__name__", str(self.loss_fn))

    def arrays(self) -> tuple[jax.Array, ...]:
        """``x_train, y_train, x_test, y_test`` (then ``x_val, y_val`` when the data has a
        validation split) as JAX arrays (``x`` in the sweep's dtype)."""
        d = self.data
        splits = ("train", "test", "val") if d.x_val is not None else ("train", "test")
        out: tuple[jax.Array, ...] = ()
        for split in splits:
            x, y = getattr(d, f"x_{split}"), getattr(d, f"y_{split}")
            # device_put: from the host without a compiled program (jnp.asarray compiles one)
            out += (jnp.asarray(x, self.dtype), jax.device_put(np.asarray(y)))
        return out

    def as_dict(self) -> dict[str, Any]:
        """How the sweep was run (``SweepResult.config``)."""
        return {
            "model": self.model.description,
            "steps": self.steps,
            "eval_every": self.eval_every,
            "batch_size": self.batch_size,
            "loss": self.loss_name,
            "n_train": len(self.data.x_train),
            "n_test": len(self.data.x_test),
            "devices": len(self.devices),
            "formulation": self.formulation,
        } | self._axes_dict()

    def _axes_dict(self) -> dict[str, Any]:
        """The validation split's size and the hyperparameter configs, when present."""
        out: dict[str, Any] = {}
        if self.data.x_val is not None:
            out["n_val"] = len(self.data.x_val)
        if self.hparams is not None:
            out["hparams"] = [
                {k: _readable(v) for k, v in c.items()} for c in self.hparams.configs
            ]
        return out

    def fingerprint(self, params: Any) -> tuple[str, list[str]]:
        """``(fingerprint, parts that could not be fingerprinted)`` of this sweep started from
        the initial ``params``: the config, the inits, seeds, dtype, the model's apply, the
        optimizer with its hyperparameters, the loss, extra metrics, track, the data and the
        initial parameters."""
        unsure: list[str] = []

        def digest(what: str, value: Any) -> str:
            try:
                return fp.digest(value)
            except fp.Unfingerprintable as err:
                unsure.append(f"{what} ({err})")
                return f"unknown {fn_name(value)}"

        parts = {
            **self.as_dict(),
            "inits": [(i.name, i.spec) for i in self.inits],
            "seeds": self.seeds.tolist(),
            "dtype": self.dtype.name,
            "apply": f"{fn_name(self.model.apply)} {self.model.description}",
            "optimizer": digest("the optimizer", self.optimizer_arg),
            "loss_fn": digest("the loss", self.loss_fn),
            "extra_metrics": {k: digest(f"metric {k!r}", f) for k, f in self.extra_metrics.items()},
            "track": None if self.track is None else digest("track", self.track),
        }
        if self.hparams is not None:
            parts["hparams"] = digest("hparams", list(self.hparams.configs))
        h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
        d = self.data
        val = () if d.x_val is None else (d.x_val, d.y_val)
        for a in (d.x_train, d.y_train, d.x_test, d.y_test, *val, *jax.tree_util.tree_leaves(
            params
        )):
            h.update(np.ascontiguousarray(np.asarray(a)).tobytes())
        return h.hexdigest()[:16], unsure


def _build(
    cls: type[SweepConfig],
    model: Any,
    inits: Mapping[str, Any],
    data: Any,
    *,
    optimizer: Any,
    loss: Any,
    steps: Any,
    seeds: Any,
    batch_size: Any,
    eval_every: Any,
    extra_metrics: Any,
    track: Any,
    devices: Any,
    dtype: Any,
    formulation: Any = "auto",
    hparams: Any = None,
    block_size: Any = "auto",
) -> SweepConfig:
    data = check_dataset(data, "sweep: data")
    dtype = check_dtype(dtype, "sweep: dtype", allow_complex=False)
    steps = _check_int(steps, "steps", 0, "an int >= 0")
    if eval_every is None:
        eval_every = max(1, math.ceil(steps / 10))
    eval_every = _check_int(eval_every, "eval_every", 1, "an int >= 1 (or None: 10 evaluations)")
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size", 1, "a positive int or None")
    seed_arr = check_seeds(seeds, "sweep: seeds")
    init_list = as_inits(inits)
    grid = None if hparams is None else build_hparams(optimizer, hparams)
    if grid is not None:
        tx = grid.optimizer
    else:
        tx = _check_optimizer(optax.sgd(0.01) if optimizer is None else optimizer)
    net = as_model(model, jnp.asarray(data.x_train[:1], dtype))  # the one model call site
    params = template(net, dtype)
    out = check_input(net, params, np.shape(data.x_train), dtype)
    x1 = jax.ShapeDtypeStruct((1, *np.shape(data.x_train)[1:]), dtype)
    net, formulation = choose_formulation(net, params, x1, formulation)
    if loss is None:
        if net.output not in losses_lib.DEFAULT_FOR_OUTPUT:
            raise ValueError("sweep: pass loss=... (the model does not say its output kind).")
        loss = losses_lib.DEFAULT_FOR_OUTPUT[net.output]
    _check_labels(net.output, out.shape[-1] if out.ndim else 1, data)
    extra = _check_callables(extra_metrics or {}, "extra_metrics")
    if track is not None and not callable(track):
        raise TypeError(f"sweep: track must be a function params -> pytree, got {track!r}.")
    return cls(
        net, init_list, data, tx, optimizer, losses_lib.get(loss), steps, seed_arr,
        batch_size, eval_every, extra, track, _check_devices(devices), dtype, params, formulation,
        hparams=grid, block_size=check_block_size(block_size),
    )  # fmt: skip


def _check_int(value: Any, name: str, low: int, accepted: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"sweep: {name} must be {accepted}, got {value!r}.")
    return int(value)


def _check_optimizer(optimizer: Any) -> optax.GradientTransformationExtraArgs:
    init, update = getattr(optimizer, "init", None), getattr(optimizer, "update", None)
    if callable(init) and callable(update) and not isinstance(optimizer, type):
        return optax.with_extra_args_support(optimizer)
    name = optimizer if isinstance(optimizer, str) else getattr(optimizer, "__name__", "")
    known = isinstance(name, str) and name.isidentifier() and callable(getattr(optax, name, None))
    example = f"optax.{name}(1e-3)" if known else "optax.adam(1e-3)"
    raise TypeError(
        f"sweep: optimizer {optimizer!r} is not an optax GradientTransformation "
        f"(did you mean {example}?)."
    )


def _check_callables(fns: Any, name: str) -> dict[str, Callable]:
    if not isinstance(fns, Mapping) or not all(
        isinstance(k, str) and callable(f) for k, f in fns.items()
    ):
        raise TypeError(f"sweep: {name} must be a dict {{name: (logits, labels) -> scalar}}.")
    return dict(fns)


def _check_devices(devices: Sequence[jax.Device] | None) -> tuple[jax.Device, ...]:
    devices = tuple(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("sweep: devices must name at least one device (default: all).")
    return devices


def _check_labels(output: str | None, units: int, data: Dataset) -> None:
    """Labels a sigmoid or softmax output can represent: ``{0, 1}`` for one sigmoid unit,
    ``0..units-1`` otherwise. Other outputs (linear, unknown) take any labels."""
    if output not in ("sigmoid", "softmax"):
        return
    top = 2 if output == "sigmoid" and units == 1 else units
    for split in ("train", "test", "val"):
        if getattr(data, f"y_{split}") is None:
            continue
        y = np.asarray(getattr(data, f"y_{split}"))
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            raise ValueError(
                f"sweep: data.y_{split} has shape {y.shape}; a {output} output takes one "
                "integer label per example, shape (n,) or (n, 1) (not one-hot rows)."
            )
        bad = (y < 0) | (y >= top) | (y != np.round(y))
        if bad.any():
            label = y[bad].flat[0].item()
            raise ValueError(
                f"sweep: data.y_{split} holds the label {label!r}, which a {output} "
                f"output of {units} unit{'s' * (units != 1)} cannot represent; labels must be "
                f"integers in [0, {top})."
            )


def _readable(value: Any) -> Any:
    """A hyperparameter value for ``SweepResult.config`` (a schedule by its name)."""
    return fn_name(value) if callable(value) else value
