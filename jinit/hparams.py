"""Hyperparameter axes: grids of optimizer settings trained in one compiled program, and
grids of initializer settings.

An optimizer *factory* (``optax.adam``) and ``hparams`` (a product grid ``{name: [values]}``
or an explicit list of dicts) become one optax transformation built with
``optax.inject_hyperparams(factory)``. Its state holds every hyperparameter as an array, so
each run gets its own values in ``opt_state.hyperparams`` (stacked on the run axis) and the
whole grid trains in the same compiled program: one compile however many configs.

Schedules: a hyperparameter whose values include optax schedules (callables ``count ->
value``; a number in the same axis is taken as ``optax.constant_schedule``) is stored as an
int index into the list of its schedules, and the inner optimizer evaluates
``lax.switch(index, schedules, count)``: a per-run choice of schedule that is still traced,
so it costs one compile too (every schedule is evaluated at each step; they are cheap).

Boolean and other non-numeric arguments (``nesterov=True``) select a different program, not
a value: they may be fixed in the grid (one value) but not varied; run one sweep per value.

Example:
    >>> import optax
    >>> from jinit import hparams
    >>> hparams.expand({"learning_rate": [0.1, 0.01], "b1": [0.9, 0.99]})
    [{'learning_rate': 0.1, 'b1': 0.9}, {'learning_rate': 0.1, 'b1': 0.99}, \
{'learning_rate': 0.01, 'b1': 0.9}, {'learning_rate': 0.01, 'b1': 0.99}]
"""

from __future__ import annotations

import functools
import inspect
import itertools
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jinit._validate import did_you_mean

Config = dict[str, Any]


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return format(float(value), "g")
    return getattr(value, "__name__", repr(value))


def grid(init: Callable, **axes: Sequence[Any]) -> dict[str, functools.partial]:
    """Named initializers for every combination of keyword values (a product, in the order
    given): ``grid(jinit.normal, stddev=[0.01, 0.1])`` is ``{"normal(stddev=0.01)":
    partial(jinit.normal, stddev=0.01), "normal(stddev=0.1)": ...}``, ready for the ``inits``
    argument of :func:`jinit.sweep` (init scale as an axis).

    Example:
        >>> import jinit
        >>> list(jinit.grid(jinit.normal, stddev=[0.01, 1, 10]))
        ['normal(stddev=0.01)', 'normal(stddev=1)', 'normal(stddev=10)']
    """
    if not callable(init):
        raise TypeError(f"grid: init must be an initializer function, got {init!r}.")
    name = getattr(init, "__name__", None)
    if not name:
        raise TypeError(f"grid: init {init!r} has no __name__ to name the grid's entries by.")
    out = {}
    for config in expand(dict(axes), "grid") if axes else [{}]:
        opts = ", ".join(f"{k}={_label(v)}" for k, v in config.items())
        out[f"{name}({opts})"] = functools.partial(init, **config)
    return out


def expand(hparams: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]], who: str = "sweep"
           ) -> list[Config]:  # fmt: skip
    """The list of configs: a product grid ``{name: [values]}`` (last name varies fastest) or
    an explicit list of dicts (all with the same names)."""
    if isinstance(hparams, Mapping):
        if not hparams:
            raise ValueError(f"{who}: hparams must name at least one hyperparameter.")
        axes = {}
        for name, values in hparams.items():
            if (
                not isinstance(name, str)
                or isinstance(values, str | bytes)
                or not isinstance(values, Sequence)
                or not values
            ):
                raise ValueError(
                    f"{who}: hparams[{name!r}] must be a non-empty list of values, got {values!r}."
                )
            axes[name] = list(values)
        return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    if isinstance(hparams, Sequence) and hparams and all(isinstance(c, Mapping) for c in hparams):
        names = list(hparams[0])
        for c in hparams:
            if sorted(c) != sorted(names) or not names:
                raise ValueError(
                    f"{who}: every config in hparams must set the same hyperparameters; "
                    f"{dict(c)!r} differs from {dict(hparams[0])!r}."
                )
        return [dict(c) for c in hparams]
    raise TypeError(
        f"{who}: hparams must be a dict {{name: [values]}} (a product grid) or a non-empty "
        f"list of dicts (an explicit set), got {hparams!r}."
    )


class HParamGrid(NamedTuple):
    """A validated grid: the configs as given, the one optimizer that trains them all, and
    ``values[name]`` (``[n_configs]``), what each config stores in
    ``opt_state.hyperparams[name]`` (a number, or a schedule index)."""

    configs: tuple[Config, ...]
    optimizer: optax.GradientTransformationExtraArgs
    values: dict[str, np.ndarray]

    def per_run(self, n_inits: int, n_seeds: int) -> dict[str, np.ndarray]:
        """``values`` for every run, in the run order ``(init, config, seed)``."""
        return {k: np.tile(np.repeat(v, n_seeds), n_inits) for k, v in self.values.items()}

    def set(self, opt_state: Any, per_run: Mapping[str, Any]) -> Any:
        """``opt_state`` (of ``optimizer``, stacked on the run axis) with every run's values
        (``per_run``: :meth:`per_run`, padded as the runs are)."""
        hp = dict(opt_state.hyperparams)
        for k, v in per_run.items():
            hp[k] = jnp.asarray(v, hp[k].dtype)
        return opt_state._replace(hyperparams=hp)


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return False
    return isinstance(value, numbers.Real) or (
        isinstance(value, np.ndarray | jax.Array) and np.ndim(value) == 0
    )


def _with_schedules(factory: Callable, names: Sequence[str], schedules: Mapping) -> Callable:
    """``factory`` whose ``names`` arguments are int indices into ``schedules[name]``."""

    def wrapped(*args: Any, **kwargs: Any) -> optax.GradientTransformation:
        bound = inspect.signature(factory).bind(*args, **kwargs)
        for name in names:
            index, fns = bound.arguments[name], schedules[name]
            bound.arguments[name] = functools.partial(_switch, index, fns)
        return factory(*bound.args, **bound.kwargs)

    wrapped.__signature__ = inspect.signature(factory)  # type: ignore[attr-defined]
    wrapped.__name__ = getattr(factory, "__name__", "optimizer")
    return wrapped


def _switch(index: Any, fns: tuple[Callable, ...], count: Any) -> Any:
    return jax.lax.switch(jnp.asarray(index, jnp.int32), fns, count)


def build(factory: Any, hparams: Any) -> HParamGrid:
    """Validate an optimizer factory and its ``hparams`` grid (see the module doc)."""
    if not callable(factory) or hasattr(factory, "init") or isinstance(factory, type):
        raise TypeError(
            "sweep: with hparams, optimizer must be an optax factory such as optax.adam (not "
            f"optax.adam(1e-3)), got {factory!r}."
        )
    configs = expand(hparams)
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError) as err:
        raise TypeError(f"sweep: cannot read the arguments of optimizer {factory!r}.") from err
    for name in configs[0]:
        if name not in params:
            raise did_you_mean(name, list(params), "hparams name", accepted=f"{_label(factory)}")
    fixed, values, schedules = {}, {}, {}
    for name in configs[0]:
        column = [c[name] for c in configs]
        if any(callable(v) for v in column):
            keys = [v if callable(v) else ("constant", float(v)) for v in column]
            unique = list(dict.fromkeys(keys))
            schedules[name] = tuple(
                k if callable(k) else optax.constant_schedule(k[1]) for k in unique
            )
            values[name] = np.array([unique.index(k) for k in keys], np.int32)
        elif all(_is_numeric(v) for v in column):
            values[name] = np.asarray(column, np.float64)
        elif len({repr(v) for v in column}) == 1:
            fixed[name] = column[0]  # static: one program
        else:
            raise ValueError(
                f"sweep: hparams[{name!r}] varies a non-numeric value ({column!r}); such an "
                "argument changes the program, not a number: run one sweep per value."
            )
    inner = _with_schedules(factory, list(schedules), schedules) if schedules else factory
    first = {k: (0 if k in schedules else float(v[0])) for k, v in values.items()}
    try:
        tx = optax.inject_hyperparams(inner, static_args=tuple(fixed))(**first, **fixed)
    except TypeError as err:
        raise TypeError(f"sweep: optimizer {_label(factory)} with hparams: {err}") from err
    return HParamGrid(tuple(configs), optax.with_extra_args_support(tx), values)
