"""``jinit.ops.conv2d_patches``: conv2d as patches and one matrix product, equal to conv2d
(values and gradients) to float round-off, and conv-free under vmap over kernels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jinit.ops import conv2d, conv2d_patches, with_canonical_convs


@pytest.mark.parametrize(
    "strides, padding",
    [((1, 1), "SAME"), ((2, 2), "SAME"), ((2, 1), "VALID"), ((1, 2), [(2, 0), (1, 1)])],
)
def test_patches_equal_conv2d_values_and_gradients(strides, padding):
    kx, kw = jax.random.split(jax.random.key(0))
    x = jax.random.normal(kx, (3, 9, 8, 5))
    w = jax.random.normal(kw, (3, 2, 5, 4))

    def loss(conv):
        return lambda x, w: (conv(x, w, strides, padding) ** 2).sum()

    np.testing.assert_allclose(conv2d_patches(x, w, strides, padding),
                               conv2d(x, w, strides, padding), rtol=1e-5, atol=1e-5)  # fmt: skip
    got = jax.grad(loss(conv2d_patches), (0, 1))(x, w)
    want = jax.grad(loss(conv2d), (0, 1))(x, w)
    for g, h in zip(got, want, strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-5, atol=1e-3)


def test_vmapped_over_kernels_is_a_batched_matmul_not_a_grouped_conv():
    x, w = jnp.ones((4, 8, 8, 3)), jnp.ones((6, 3, 3, 3, 8))  # 6 runs' kernels

    def step(conv):
        def loss(w):
            return jax.vmap(lambda k: (conv(x, k, (2, 2)) ** 2).sum())(w).sum()

        return jax.jit(jax.grad(loss)).lower(w).as_text()

    assert "convolution" in step(conv2d)
    assert "convolution" not in step(conv2d_patches)


def test_with_canonical_convs_patches_rewrites_lax_convs():
    def f(x, w):
        return jax.lax.conv(x, w, (1, 1), "SAME")  # NCHW / OIHW

    x, w = jnp.arange(50.0).reshape(1, 2, 5, 5), jnp.ones((3, 2, 3, 3))
    g = with_canonical_convs(f, patches=True)
    np.testing.assert_allclose(g(x, w), f(x, w), rtol=1e-6)
    assert "conv_general_dilated" not in str(jax.make_jaxpr(g)(x, w))
