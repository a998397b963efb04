"""Initializers by name, and spec strings such as ``"normal:stddev=10"``."""

from __future__ import annotations

import ast
import functools
import inspect
from collections.abc import Callable

import jax

from jinit import laws
from jinit._validate import did_you_mean

Initializer = Callable[..., object]

_INITIALIZERS: dict[str, Initializer] = {
    name: getattr(laws, name)
    for name in (
        "zeros",
        "ones",
        "constant",
        "normal",
        "uniform",
        "truncated_normal",
        "variance_scaling",
        "lecun_normal",
        "lecun_uniform",
        "xavier_normal",
        "xavier_uniform",
        "glorot_normal",
        "glorot_uniform",
        "he_normal",
        "he_uniform",
        "kaiming_normal",
        "kaiming_uniform",
        "torch_default",
        "torch_default_bias",
        "orthogonal",
        "delta_orthogonal",
        "identity",
        "dirac",
        "sparse",
    )
}


def available() -> list[str]:
    """Names accepted by :func:`get` (aliases included), sorted."""
    return sorted(_INITIALIZERS)


def _options(fn: Callable) -> list[str]:
    params = inspect.signature(fn).parameters.values()
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a mode or distribution name


def _unknown(name: str) -> ValueError:
    return did_you_mean(name, available(), "initializer", accepted="Available", cutoff=0.5)


# Shapes to check options on without a layer at hand: a matrix and conv kernels of different
# ranks and channel counts, so that an error about the shape differs from one to the next.
_PROBE_SHAPES = ((8, 8), (3, 3, 8, 16), (3, 8, 12), (3, 3, 3, 6, 30))


def _validate_options(init: functools.partial, spec: str) -> None:
    """Trace one draw (``jax.eval_shape``: no compute) on a few shapes; if every shape fails
    with the same message, the options themselves are wrong: raise it now, at ``get``."""
    errors = []
    for shape in _PROBE_SHAPES:
        try:
            jax.eval_shape(lambda key, shape=shape: init(key, shape), jax.random.key(0))
            return
        except (TypeError, ValueError) as err:
            errors.append(err)
    if len({str(e) for e in errors}) == 1:
        err = errors[0]
        raise type(err)(f"get: {spec!r}: {err}") from None


def get(spec: str | Callable) -> Initializer:
    """Look an initializer up by name or spec string.

    A spec is ``NAME`` or ``NAME:OPT=VALUE,OPT=VALUE`` where values are Python literals
    (numbers, tuples, quoted strings) or bare words. The result is the function itself, or a
    ``functools.partial`` of it with the options bound; a callable passes through unchanged.
    Options are checked here, by tracing one draw (``jax.eval_shape``, no compute): a bad
    value (``"normal:stddev=abc"``, ``"variance_scaling:distribution=unif"``), an empty one
    or an option given twice fails at ``get``, not at the first draw.

    Example:
        >>> import jinit
        >>> jinit.get("he_normal") is jinit.he_normal
        True
        >>> jinit.get("normal:stddev=10").keywords
        {'stddev': 10}
        >>> jinit.get("he_normal:mode=fan_out,distribution=truncated_normal").keywords
        {'mode': 'fan_out', 'distribution': 'truncated_normal'}
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"get: expected an initializer name or spec string, got {spec!r}.")
    name, _, opts = spec.strip().partition(":")
    name = name.strip()
    if name not in _INITIALIZERS:
        raise _unknown(name)
    fn = _INITIALIZERS[name]
    if not opts.strip():
        return fn
    accepted = _options(fn)
    kwargs = {}
    for item in _split_options(opts):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(
                f"get: malformed option {item!r} in {spec!r}; write NAME:OPT=VALUE,OPT=VALUE."
            )
        if key not in accepted:
            raise ValueError(
                f"get: {name} has no option {key!r}; accepted: {', '.join(accepted) or 'none'}."
            )
        if not value.strip():
            raise ValueError(
                f"get: malformed option {item!r} in {spec!r}: {key} has no value; write "
                "NAME:OPT=VALUE,OPT=VALUE."
            )
        if key in kwargs:
            raise ValueError(f"get: option {key!r} is given twice in {spec!r}.")
        kwargs[key] = _parse_value(value.strip())
    init = functools.partial(fn, **kwargs)
    _validate_options(init, spec)
    return init


def _split_options(opts: str) -> list[str]:
    """Split on commas that are not inside brackets (tuples of axes)."""
    items, depth, current = [], 0, []
    for ch in opts:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    return [i for i in items if i.strip()]


def name_of(init: Callable) -> str:
    """A readable name for an initializer: its spec if it is registered or a partial of one."""
    if isinstance(init, functools.partial):
        inner = name_of(init.func)
        opts = ",".join(f"{k}={v}" for k, v in init.keywords.items())
        return f"{inner}:{opts}" if opts else inner
    for name, fn in _INITIALIZERS.items():
        if fn is init:
            return name
    return getattr(init, "__name__", repr(init))
