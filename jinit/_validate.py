"""Input checks shared by every layer of jinit.

Each check raises a ``ValueError`` or ``TypeError`` that says what was wrong and what is
accepted. Values that are JAX tracers (an option passed as a traced array under ``jit``)
cannot be inspected and are let through unchanged.
"""

from __future__ import annotations

import difflib
import functools
import math
import operator
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Shape = tuple[int, ...]


def check_shape(shape: Any, name: str) -> Shape:
    """Return ``shape`` as a tuple of non-negative Python ints, or raise."""
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        raise TypeError(
            f"{name}: shape must be a tuple of non-negative ints, got the int {shape!r}; "
            f"write ({shape},) for a vector."
        )
    if not isinstance(shape, Sequence | np.ndarray) or isinstance(shape, str):
        raise TypeError(
            f"{name}: shape must be a tuple of non-negative ints, got {type(shape).__name__} "
            f"{shape!r}."
        )
    dims = []
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int | np.integer):
            raise TypeError(
                f"{name}: shape must be a tuple of non-negative ints, got {tuple(shape)!r} "
                f"(element {d!r} is a {type(d).__name__})."
            )
        if d < 0:
            raise ValueError(
                f"{name}: shape must be a tuple of non-negative ints, got {tuple(shape)!r}."
            )
        dims.append(operator.index(d))
    return tuple(dims)


def check_dtype(dtype: Any, name: str, *, allow_complex: bool = True) -> np.dtype:
    """Return ``dtype`` as a NumPy dtype if it is a floating (or complex) type, or raise."""
    try:
        dt = jnp.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"{name}: {dtype!r} is not a dtype.") from err
    accepted = "float16, bfloat16, float32, float64" + (
        ", complex64, complex128" if allow_complex else ""
    )
    if jnp.issubdtype(dt, jnp.floating) and dt.itemsize >= 2:  # jax.random draws no float8
        return dt
    if allow_complex and jnp.issubdtype(dt, jnp.complexfloating):
        return dt
    raise TypeError(
        f"{name}: dtype {dt} is not supported; an initializer draws real weights, "
        f"accepted dtypes: {accepted}."
    )


def check_key(key: Any, name: str) -> Any:
    """Raise for a plain integer seed where a PRNG key is expected (the NumPy/PyTorch habit)."""
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        raise TypeError(
            f"{name}: key must be a JAX PRNG key, got the int {key!r}; pass "
            f"jax.random.key({key!r})."
        )
    return key


@functools.lru_cache(maxsize=1)
def memory_limit() -> int | None:
    """Bytes an array can at most take: the memory of all accelerator devices together where
    JAX reports a per-device limit (GPU, TPU: a sharded array may span them), else the
    host's physical memory (CPU devices share it); None if unknown."""
    try:
        stats = jax.devices()[0].memory_stats() or {}
    except Exception:  # a backend without memory statistics
        stats = {}
    if stats.get("bytes_limit"):
        return int(stats["bytes_limit"]) * jax.device_count()
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_size(shape: Shape, dtype: Any, name: str) -> None:
    """Raise before allocating an array of ``shape`` and ``dtype`` larger than the memory it
    could be drawn into (:func:`memory_limit`): such a draw can only fail, late and
    unclearly."""
    limit = memory_limit()
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if limit is not None and size > limit:
        where = f"{jax.device_count()} {jax.devices()[0].platform} device(s)"
        raise ValueError(
            f"{name}: shape {tuple(shape)} of {np.dtype(dtype).name} needs {size / 1e9:.3g} GB, "
            f"more than the {limit / 1e9:.3g} GB of memory of {where}; draw a smaller array "
            "(fewer seeds, or smaller layers)."
        )


def _is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _as_float(value: Any, what: str, name: str, accepted: str) -> float | None:
    """``float(value)``, None for a tracer (it passes unchecked); a ``TypeError`` naming
    ``accepted`` if ``value`` is not a number."""
    if _is_tracer(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: {what} must be {accepted}, got {value!r}.") from err


def check_positive(value: Any, what: str, name: str) -> Any:
    """Raise unless ``value`` is a finite number > 0 (tracers pass unchecked)."""
    v = _as_float(value, what, name, "a positive number")
    if v is not None and (not math.isfinite(v) or v <= 0):
        raise ValueError(f"{name}: {what} must be a finite number > 0, got {value!r}.")
    return value


def check_finite(value: Any, what: str, name: str) -> Any:
    """Raise unless ``value`` is a finite number (tracers pass unchecked)."""
    v = _as_float(value, what, name, "a number")
    if v is not None and not math.isfinite(v):
        raise ValueError(f"{name}: {what} must be finite, got {value!r}.")
    return value
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: {what} must be a number, got {value!r}.") from err
    if not math.isfinite(v):
        raise ValueError(f"{name}: {what} must be finite, got {value!r}.")
    return value


def check_choice(value: Any, accepted: Sequence[str], what: str, name: str) -> str:
    """Raise unless ``value`` is one of ``accepted``."""
    if value not in accepted:
        raise ValueError(
            f"{name}: unknown {what} {value!r}; accepted: {', '.join(map(repr, accepted))}."
        )
    return value


def did_you_mean(
    name: Any,
    choices: Sequence[str],
    what: str,
    *,
    accepted: str = "Accepted",
    also: str = "",
    prefix: str = "",
    cutoff: float = 0.6,
) -> ValueError:
    """The one-line error for an unknown name: ``unknown WHAT 'NAME'. Did you mean 'X'?
    Accepted: A, B, C.`` (the hint only where a close match exists). Returned, not raised:
    ``raise did_you_mean(name, choices, "initializer")``.

    Example:
        >>> from jinit._validate import did_you_mean
        >>> str(did_you_mean("rleu", ["relu", "tanh"], "activation"))
        "unknown activation 'rleu'. Did you mean 'relu'? Accepted: relu, tanh."
    """
    close = difflib.get_close_matches(str(name), list(choices), n=3, cutoff=cutoff)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return ValueError(
        f"{prefix}unknown {what} {name!r}.{hint} {accepted}: {', '.join(choices)}{also}."
    )
