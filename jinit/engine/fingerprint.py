"""Fingerprints of the functions a sweep runs (optimizer, loss, metrics, track).

A function is fingerprinted by its qualified name, its code (bytecode and constants, nested
code objects included), its defaults and the values it closes over: numbers, strings, arrays,
dtypes, nested functions and optax transformations (``init``/``update`` closures), tuples,
lists and dicts of those. So ``optax.sgd(0.1)`` and ``optax.sgd(0.5)`` differ, and so do two
lambdas with different constants. Module-level numbers and strings a function reads by name
are included too. Anything else (an object whose repr is its memory address) cannot be
fingerprinted: :func:`describe` raises :class:`Unfingerprintable`, and the sweep then refuses
``resume=True`` rather than guess.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import types
from typing import Any

import numpy as np

_MAX_DEPTH = 40


class Unfingerprintable(TypeError):
    """Raised when a value cannot be reduced to a stable description."""


def describe(value: Any) -> str:
    """A stable text of ``value``; raises :class:`Unfingerprintable`."""
    return _describe(value, 0, set())


def digest(value: Any) -> str:
    """The sha256 of :func:`describe`."""
    return hashlib.sha256(describe(value).encode()).hexdigest()[:16]


def _const(c: Any) -> str:
    if isinstance(c, types.CodeType):
        return _code(c)
    if isinstance(c, frozenset):  # set literals: their repr order varies between processes
        return "frozenset(" + ",".join(sorted(map(repr, c))) + ")"
    return repr(c)


def _code(code: types.CodeType) -> str:
    consts = [_const(c) for c in code.co_consts]
    body = hashlib.sha256(code.co_code).hexdigest()[:16]
    return f"code({code.co_qualname},{body},{consts},{code.co_names})"


def _function(fn: types.FunctionType, depth: int, seen: set) -> str:
    parts = [f"{fn.__module__}.{fn.__qualname__}", _code(fn.__code__)]
    for default in (fn.__defaults__ or ()), (fn.__kwdefaults__ or {}):
        parts.append(_describe(default, depth + 1, seen))
    for cell in fn.__closure__ or ():
        try:
            parts.append(_describe(cell.cell_contents, depth + 1, seen))
        except ValueError:  # an empty cell
            parts.append("<empty>")
    for name in fn.__code__.co_names:  # module-level constants read by name
        value = fn.__globals__.get(name)
        if isinstance(value, bool | int | float | complex | str | np.ndarray):
            parts.append(f"{name}={_describe(value, depth + 1, seen)}")
    return "fn(" + ";".join(parts) + ")"


def _describe(value: Any, depth: int, seen: set) -> str:
    if depth > _MAX_DEPTH:
        raise Unfingerprintable("nested too deeply")
    if value is None or isinstance(value, bool | int | float | complex | str | bytes):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, enum.Enum | np.dtype | np.generic):
        return repr(value)
    if isinstance(value, type):
        return f"type:{value.__module__}.{value.__qualname__}"
    if hasattr(value, "shape") and hasattr(value, "dtype") and not callable(value):
        arr = np.asarray(value)
        if arr.dtype == object:
            raise Unfingerprintable("an object array")
        data = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]
        return f"array({arr.dtype},{arr.shape},{data})"
    if id(value) in seen:
        return "<cycle>"
    seen = seen | {id(value)}
    if isinstance(value, types.FunctionType):
        return _function(value, depth, seen)
    if callable(value) and hasattr(value, "__wrapped__"):  # jax.jit, custom_jvp, wraps
        name = f"{type(value).__qualname__}:{getattr(value, '__qualname__', '')}"
        return f"wrapped({name},{_describe(value.__wrapped__, depth + 1, seen)})"
    if isinstance(value, functools.partial):
        inner = _describe((value.func, value.args, value.keywords), depth + 1, seen)
        return f"partial({inner})"
    if isinstance(value, types.MethodType):
        return "method(" + _describe((value.__func__, value.__self__), depth + 1, seen) + ")"
    if isinstance(value, types.BuiltinFunctionType | types.ModuleType):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', value)}"
    if isinstance(value, tuple | list):  # NamedTuples too (optax transformations, states)
        items = ",".join(_describe(v, depth + 1, seen) for v in value)
        return f"{type(value).__qualname__}({items})"
    if isinstance(value, dict):
        items = ",".join(
            f"{_describe(k, depth + 1, seen)}:{_describe(v, depth + 1, seen)}"
            for k, v in sorted(value.items(), key=lambda kv: repr(kv[0]))
        )
        return "{" + items + "}"
    text = repr(value)
    if " at 0x" in text or " object at " in text:
        raise Unfingerprintable(f"{type(value).__qualname__} (its repr is its address)")
    return f"{type(value).__qualname__}:{text}"
