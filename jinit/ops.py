"""Layer primitives whose compiled form stays fast inside ``lax.scan`` on XLA:CPU.

:func:`conv2d` is ``lax.conv_general_dilated`` (NHWC inputs, HWIO kernels, any stride,
``"SAME"``/``"VALID"``/explicit padding) with a hand-written reverse-mode rule. JAX's own
rule expresses the kernel gradient as a convolution with batch and feature dimensions
swapped (``dim_labels=f01b_i01o->01bf``). In a jitted step XLA:CPU rewrites that into its
fast canonical form, but inside a ``while`` loop (``lax.scan``: the sweep engine's training
loop) it does not, and the convolution falls back to a slow generic loop: a digits CNN step
ran 20x slower in a scan than called from Python (``scripts/bench_sweep.py --workload
conv``). Here both gradients are convolutions in the canonical ``b01f_01io->b01f`` form,
written with explicit transposes, so they compile to the same fast kernels everywhere.
The values equal ``jax.grad`` of ``lax.conv_general_dilated`` to float round-off (tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial, wraps
from typing import Any

import jax
import jax.extend.core as jex_core
import jax.numpy as jnp
from jax import lax

Padding = str | Sequence[tuple[int, int]]
_DN = ("NHWC", "HWIO", "NHWC")


def _same_pads(size: int, k: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def _explicit(padding: Padding, x_shape, w_shape, strides) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0), (0, 0))
        if mode == "SAME":
            return tuple(_same_pads(x_shape[1 + d], w_shape[d], strides[d]) for d in range(2))
        raise ValueError(f"conv2d: padding must be 'SAME', 'VALID' or pairs, got {padding!r}.")
    pads = tuple(tuple(int(p) for p in pair) for pair in padding)
    if len(pads) != 2 or any(len(p) != 2 for p in pads):
        raise ValueError(f"conv2d: padding must be two (low, high) pairs, got {padding!r}.")
    return pads


def conv2d(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int] = (1, 1), padding: Padding = "SAME"
) -> jax.Array:
    """2-D convolution (cross-correlation) of NHWC ``x`` with an HWIO ``kernel``.

    Same values as ``lax.conv_general_dilated(x, kernel, strides, padding,
    dimension_numbers=("NHWC", "HWIO", "NHWC"))``; gradients in canonical layouts (see the
    module docstring), so training steps stay fast inside ``lax.scan`` on CPU.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jinit.ops import conv2d
        >>> x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 4))
        >>> conv2d(x, w, (2, 2)).shape
        (2, 4, 4, 4)
    """
    strides = tuple(int(s) for s in strides)
    pads = _explicit(padding, x.shape, kernel.shape, strides)
    return _conv(x, kernel, strides, pads)


@partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv(x, kernel, strides, pads):
    return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_DN)


def _conv_fwd(x, kernel, strides, pads):
    return _conv(x, kernel, strides, pads), (x, kernel)


def _input_grad(g, kernel, x_shape, strides, pads):
    """d(loss)/dx: the transposed convolution of ``g``, canonical layout."""
    kh, kw = kernel.shape[:2]
    flipped = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)  # HW, I<->O
    out_pads = []
    for d, k in enumerate((kh, kw)):
        lo = k - 1 - pads[d][0]
        dilated = (g.shape[1 + d] - 1) * strides[d] + 1
        # the input positions the forward pass never read (stride remainder) get 0
        hi = x_shape[1 + d] + k - 1 - dilated - lo
        out_pads.append((lo, hi))
    return lax.conv_general_dilated(
        g, flipped, (1, 1), out_pads, lhs_dilation=strides, dimension_numbers=_DN
    )


def _kernel_grad(x, g, kernel_shape, strides, pads):
    """d(loss)/dkernel as a canonical convolution: channels of ``x`` act as the batch and
    the batch as the feature dimension; ``g`` (dilated by the stride) is the kernel."""
    kh, kw = kernel_shape[:2]
    xp = jnp.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    # the last rows/columns a strided forward never reached
    need = [(g.shape[1 + d] - 1) * strides[d] + k for d, k in enumerate((kh, kw))]
    xp = xp[:, : need[0], : need[1], :]
    xt = xp.transpose(3, 1, 2, 0)  # [C_in, H, W, B]
    gt = g.transpose(1, 2, 0, 3)  # [H_out, W_out, B, C_out] as an HWIO kernel
    dw = lax.conv_general_dilated(
        xt, gt, (1, 1), "VALID", rhs_dilation=strides, dimension_numbers=_DN
    )  # [C_in, kh, kw, C_out]
    return dw.transpose(1, 2, 0, 3)


def _conv_bwd(strides, pads, residuals, g):
    x, kernel = residuals
    dx = _input_grad(g, kernel, x.shape, strides, pads)
    dw = _kernel_grad(x, g, kernel.shape, strides, pads)
    return dx.astype(x.dtype), dw.astype(kernel.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)


def conv2d_patches(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int] = (1, 1), padding: Padding = "SAME"
) -> jax.Array:
    """:func:`conv2d` as patches and one matrix product (im2col): the ``kh * kw`` strided
    slices of the padded input, concatenated on the channel axis (``[B, H', W', kh*kw*C]``),
    times the kernel reshaped to ``[kh*kw*C, O]``. Same values as :func:`conv2d` to float
    round-off (the sums run in another order). Its point is ``vmap``: over a run axis of
    ``kernel`` it is a batched matrix product (XLA vmaps a convolution over kernels into a
    grouped convolution, slow on CPU), and its gradients are slices, pads and products, no
    convolutions at all.

    Example:
        >>> import jax.numpy as jnp
        >>> from jinit.ops import conv2d, conv2d_patches
        >>> x, w = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 4))
        >>> bool(jnp.allclose(conv2d_patches(x, w, (2, 2)), conv2d(x, w, (2, 2))))
        True
    """
    strides = tuple(int(s) for s in strides)
    pads = _explicit(padding, x.shape, kernel.shape, strides)
    return _patch_conv(x, kernel, strides, pads)


def _patch_conv(x, kernel, strides, pads):
    kh, kw, c_in, c_out = kernel.shape
    xp = lax.pad(x, jnp.zeros((), x.dtype), ((0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0)))
    ho = (xp.shape[1] - kh) // strides[0] + 1
    wo = (xp.shape[2] - kw) // strides[1] + 1
    def window(i: int, j: int) -> jax.Array:
        end = (xp.shape[0], i + (ho - 1) * strides[0] + 1, j + (wo - 1) * strides[1] + 1, c_in)
        return lax.slice(xp, (0, i, j, 0), end, (1, *strides, 1))

    cols = [window(i, j) for i in range(kh) for j in range(kw)]
    patches = jnp.concatenate(cols, axis=-1)  # [B, ho, wo, (kh, kw, c_in)]
    return jnp.einsum("bhwk,ko->bhwo", patches, kernel.reshape(kh * kw * c_in, c_out))


# --------------------------------------------------------------------------- any model's convs


def _rewritable(params: dict) -> bool:
    return (
        len(params["window_strides"]) == 2
        and all(d == 1 for d in params["lhs_dilation"])
        and all(d == 1 for d in params["rhs_dilation"])
        and params["feature_group_count"] == 1
        and params["batch_group_count"] == 1
        and params.get("preferred_element_type") is None
    )


def _conv_as(conv: Callable, x: jax.Array, kernel: jax.Array, **params) -> jax.Array:
    """One ``conv_general_dilated`` equation, evaluated through ``conv`` (``_conv``: as
    :func:`conv2d`; ``_patch_conv``: as :func:`conv2d_patches`)."""
    lhs, rhs, out = params["dimension_numbers"]
    nhwc = x.transpose(lhs[0], lhs[2], lhs[3], lhs[1])
    hwio = kernel.transpose(rhs[2], rhs[3], rhs[1], rhs[0])
    y = conv(nhwc, hwio, tuple(params["window_strides"]), tuple(params["padding"]))
    perm = [0] * 4
    for src, dst in zip((0, 3, 1, 2), out, strict=True):
        perm[dst] = src
    return y.transpose(perm)


def _eval_jaxpr(jaxpr: Any, consts: Sequence[Any], *args: Any, conv: Callable = _conv
                ) -> list[Any]:  # fmt: skip
    env: dict[Any, Any] = {}

    def read(v: Any) -> Any:
        return v.val if isinstance(v, jex_core.Literal) else env[v]

    for var, val in zip(jaxpr.constvars, consts, strict=True):
        env[var] = val
    for var, val in zip(jaxpr.invars, args, strict=True):
        env[var] = val
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "conv_general_dilated" and _rewritable(eqn.params):
            outvals = [_conv_as(conv, *invals, **eqn.params)]
        elif name in ("pjit", "jit", "closed_call"):
            inner = eqn.params.get("jaxpr") or eqn.params["call_jaxpr"]
            outvals = _eval_jaxpr(inner.jaxpr, inner.consts, *invals, conv=conv)
        else:
            bind_params = eqn.primitive.get_bind_params(eqn.params)
            with eqn.ctx.manager:
                outvals = eqn.primitive.bind(*invals, **bind_params)
            if not eqn.primitive.multiple_results:
                outvals = [outvals]
        for var, val in zip(eqn.outvars, outvals, strict=True):
            env[var] = val
    return [read(v) for v in jaxpr.outvars]


def conv_map_sizes(fn: Callable, *args: Any) -> list[int]:
    """The output feature-map size (spatial positions per example) of every convolution in
    ``fn(*args)`` (traced, not run), at any depth; ``[]`` without convolutions."""
    closed = jax.make_jaxpr(fn)(*args)
    sizes: list[int] = []

    def walk(jaxpr: Any) -> None:
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "conv_general_dilated":
                shape = eqn.outvars[0].aval.shape
                spatial = eqn.params["dimension_numbers"].out_spec[2:]
                sizes.append(math.prod(shape[d] for d in spatial))
            for sub in jex_core.jaxprs_in_params(eqn.params):
                walk(sub)

    walk(closed.jaxpr)
    return sizes


def has_convolutions(fn: Callable, *args: Any) -> bool:
    """Whether ``fn(*args)`` (traced, not run) contains a convolution, at any depth."""
    return bool(conv_map_sizes(fn, *args))


def with_canonical_convs(fn: Callable, patches: bool = False) -> Callable:
    """``fn`` with every plain 2-D convolution it performs (no dilation, one group: what
    ``flax.linen.Conv``, ``flax.nnx.Conv``, ``equinox.nn.Conv2d`` and ``haiku.Conv2D`` emit)
    evaluated through :func:`conv2d`, whose gradients stay fast inside ``lax.scan`` on CPU.
    Same values (the forward convolution is the same operation); gradients equal to float
    round-off. Other operations are re-emitted unchanged. ``patches=True`` evaluates them
    through :func:`conv2d_patches` instead (values equal to float round-off; batched
    matrix products under ``vmap`` over runs).

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jinit.ops import with_canonical_convs
        >>> f = lambda x, w: jax.lax.conv(x, w, (1, 1), "SAME")     # NCHW / OIHW
        >>> x, w = jnp.ones((1, 2, 5, 5)), jnp.ones((3, 2, 3, 3))
        >>> bool((with_canonical_convs(f)(x, w) == f(x, w)).all())
        True
    """

    @wraps(fn)
    def wrapped(*args: Any) -> Any:
        closed, shape = jax.make_jaxpr(fn, return_shape=True)(*args)
        leaves = jax.tree_util.tree_leaves(args)
        out = _eval_jaxpr(closed.jaxpr, closed.consts, *leaves, conv=_patch_conv if patches
                          else _conv)  # fmt: skip
        return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(shape), out)

    return wrapped
