"""ConvNet runs its convolutions through jinit.ops.conv2d: same logits as lax's conv."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jinit
from jinit.models import ConvNet


def _lax_logits(net, params, x):
    """ConvNet's forward pass as written before, with lax.conv_general_dilated."""
    act = jinit.models.activation_fn(net.activation)
    h = x.reshape(x.shape[0], *net.image_shape)
    for layer in params[:-1]:
        h = act(
            jax.lax.conv_general_dilated(
                h, layer["kernel"], (2, 2), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            + layer["bias"]
        )
    return h.mean(axis=(1, 2)) @ params[-1]["kernel"] + params[-1]["bias"]


def test_convnet_matches_lax_conv_values_and_grads():
    net = ConvNet((9, 7, 2), channels=(4, 6), n_classes=3)
    params = net.init(jax.random.key(0), jinit.he_normal, jinit.normal)
    x = jax.random.normal(jax.random.key(1), (5, 9, 7, 2))
    np.testing.assert_array_equal(net.apply(params, x), _lax_logits(net, params, x))

    def loss(fn):
        return lambda p: jnp.sum(jnp.sin(fn(p, x)))

    got = jax.jit(jax.grad(loss(net.apply)))(params)
    want = jax.jit(jax.grad(loss(lambda p, x: _lax_logits(net, p, x))))(params)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_convnet_uses_the_canonical_conv_gradient():
    """The kernel gradient of lax's own conv is a conv with batch and features swapped
    (``[f, 0, 1, b]x[i, 0, 1, o]->[0, 1, b, f]``), slow inside lax.scan on CPU."""
    net = ConvNet((8, 8, 1), channels=(4,), n_classes=2)
    params = net.init(jax.random.key(0), jinit.he_normal)
    x = jnp.ones((2, 8, 8, 1))
    hlo = jax.jit(jax.grad(lambda p: net.apply(p, x).sum())).lower(params).as_text()
    convs = [line for line in hlo.splitlines() if "stablehlo.convolution" in line]
    assert convs
    assert all("dim_numbers = [b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]" in c for c in convs), convs
