"""Haiku adapter: a jinit initializer as a Haiku ``(shape, dtype) -> Array`` initializer.

Haiku initializers take no key: they draw one with ``hk.next_rng_key()`` inside a
transformed function. Haiku kernels are JAX layout (``Linear.w`` is ``(in, out)``, conv
kernels ``(*spatial, in, out)``), so fan-based laws need no axis options.

Example:
    >>> import haiku as hk, jax, jax.numpy as jnp, jinit, jinit.haiku
    >>> def net(x):
    ...     return hk.Linear(256, w_init=jinit.haiku.initializer(jinit.he_normal))(x)
    >>> params = hk.transform(net).init(jax.random.key(0), jnp.ones((1, 784)))
    >>> params["linear"]["w"].shape
    (784, 256)

A Haiku params dict can also be redrawn after ``init`` with :func:`jinit.reinit`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jinit.registry import name_of
from jinit.trees import check_initializer

Array = jax.Array


def _import_haiku():
    try:
        import haiku as hk
    except ImportError as err:
        raise ImportError(
            "jinit.haiku needs dm-haiku, which is not installed; install it with "
            "`pip install jinit[haiku]` (or `pip install dm-haiku`)."
        ) from err
    return hk


def initializer(init: Callable[..., Array] | str) -> Callable[[Sequence[int], Any], Array]:
    """Wrap ``init(key, shape, dtype)`` as a Haiku initializer ``(shape, dtype) -> Array``.

    The wrapper calls ``init(hk.next_rng_key(), tuple(shape), dtype)``, so it must run inside
    ``hk.transform`` (as ``w_init``/``b_init`` of a Haiku module or the ``init`` of
    ``hk.get_parameter``). ``init`` may be a name or spec string for :func:`jinit.get`; an
    uncalled factory (``jax.nn.initializers.he_normal``) is refused: call it. Key-free
    laws (``zeros``, ``ones``, ``constant``, ``identity``, ``dirac``) still take a key from
    the sequence, which shifts later draws compared with Haiku's own ``hk.initializers``.

    Example:
        >>> import functools, haiku as hk, jinit, jinit.haiku
        >>> w_init = jinit.haiku.initializer(functools.partial(jinit.he_normal, mode="fan_out"))
        >>> layer = lambda x: hk.Conv2D(16, 3, w_init=w_init)(x)
    """
    hk = _import_haiku()
    init = check_initializer(init, "jinit.haiku.initializer")

    def haiku_initializer(shape: Sequence[int], dtype: Any = jnp.float32) -> Array:
        return init(hk.next_rng_key(), tuple(shape), dtype)

    haiku_initializer.__name__ = f"haiku_{name_of(init).replace(':', '_')}"
    haiku_initializer.__qualname__ = haiku_initializer.__name__
    haiku_initializer.__doc__ = f"Haiku initializer drawing jinit {name_of(init)}."
    return haiku_initializer
