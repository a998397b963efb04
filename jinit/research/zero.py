"""ZerO: deterministic initialization with only zeros and ones (Zhao et al. 2021).

Zhao, Schafer & Anandkumar (2021), "ZerO Initialization: Initializing Neural Networks with
only Zeros and Ones", Algorithm 1, for a dense ``(in, out)`` kernel (JAX layout):

- ``in == out``: the identity ``I``;
- ``in > out`` (shrinking): the partial identity ``I*`` (``jnp.eye(in, out)``);
- ``in < out`` (growing): ``c I* H_m I*``, the top-left ``(in, out)`` block of the
  ``2^m x 2^m`` Sylvester-Hadamard matrix ``H_m`` (entries +-1), ``m = ceil(log2(out))``,
  ``c = 2^(-(m-1)/2)``; the Hadamard breaks the symmetry a partial identity would keep.

``key`` is ignored: every seed draws the same weights (the paper's residual nets also zero the
last layer of each branch; combine with :func:`jinit.research.fixup_rules`' zeros).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import hadamard


def zero_init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """ZerO's deterministic ``(in, out)`` kernel (see the module docstring).

    Example:
        >>> import jax
        >>> from jinit.research import zero_init
        >>> w = zero_init(jax.random.key(0), (2, 4))  # c = 2^(-1/2), m = 2
        >>> (w * 2**0.5).round().astype(int).tolist()
        [[1, 1, 1, 1], [1, -1, 1, -1]]
    """
    del key
    shape = tuple(shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"zero_init: needs a 2-D (in, out) kernel shape, got {shape}.")
    n_in, n_out = shape
    if n_in >= n_out:
        return jnp.eye(n_in, n_out, dtype=dtype)
    m = max(1, math.ceil(math.log2(n_out)))
    block = hadamard(2**m)[:n_in, :n_out] * 2.0 ** (-(m - 1) / 2)
    return jnp.asarray(block.astype(np.float64), dtype=dtype)
