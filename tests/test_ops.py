"""jinit.ops: convolutions whose gradients stay canonical (fast inside lax.scan on CPU)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jinit.ops import conv2d, has_convolutions, with_canonical_convs

nn = pytest.importorskip("flax.linen")
eqx = pytest.importorskip("equinox")
CASES = [
    ((2, 8, 8, 3), (3, 3, 3, 5), (1, 1), "SAME"),
    ((2, 8, 8, 3), (3, 3, 3, 5), (2, 2), "SAME"),
    ((3, 7, 9, 2), (3, 3, 2, 4), (2, 2), "SAME"),
    ((2, 8, 8, 3), (3, 3, 3, 5), (1, 1), "VALID"),
    ((2, 9, 7, 3), (5, 3, 3, 2), (2, 3), "VALID"),
    ((2, 7, 7, 1), (2, 2, 1, 3), (2, 2), "SAME"),
    ((1, 6, 6, 2), (1, 1, 2, 3), (2, 2), "SAME"),
    ((2, 8, 8, 2), (3, 3, 2, 2), (1, 1), ((2, 0), (1, 1))),
]


@pytest.mark.parametrize("xs,ws,st,pad", CASES)
def test_conv(xs, ws, st, pad):
    x = jax.random.normal(jax.random.key(1), xs)
    w = jax.random.normal(jax.random.key(2), ws)

    def ref(x, w):
        return lax.conv_general_dilated(x, w, st, pad, dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def mine(x, w):
        return conv2d(x, w, st, pad)

    np.testing.assert_allclose(mine(x, w), ref(x, w), rtol=1e-5, atol=1e-5)
    c = jax.random.normal(jax.random.key(3), ref(x, w).shape)
    g1 = jax.grad(lambda x, w: (ref(x, w) * c).sum(), (0, 1))(x, w)
    g2 = jax.grad(lambda x, w: (mine(x, w) * c).sum(), (0, 1))(x, w)
    for a, b in zip(g1, g2, strict=False):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-4)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(8, (3, 3))(x))
        x = nn.relu(nn.Conv(16, (3, 3), strides=2)(x))
        return nn.Dense(3)(x.mean((1, 2)))


@pytest.mark.slow
def test_flax():
    m = CNN()
    x = jax.random.normal(jax.random.key(0), (4, 8, 8, 1))
    p = m.init(jax.random.key(1), x)

    def f(p, x):
        return (m.apply(p, x) ** 2).sum()

    g = with_canonical_convs(f)
    assert has_convolutions(f, p, x)
    np.testing.assert_allclose(jax.jit(g)(p, x), f(p, x), rtol=1e-6)
    ga, gb = jax.grad(f)(p, x), jax.jit(jax.grad(g))(p, x)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), ga, gb)
    ga = jax.vmap(jax.grad(f), (0, None))(jax.tree.map(lambda a: jnp.stack([a, 2 * a]), p), x)
    gb = jax.vmap(jax.grad(g), (0, None))(jax.tree.map(lambda a: jnp.stack([a, 2 * a]), p), x)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5), ga, gb)


def test_equinox():
    c = eqx.nn.Conv2d(2, 4, 3, stride=2, padding=1, key=jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (2, 7, 7))

    def f(c, x):
        return (c(x) ** 2).sum()

    g = with_canonical_convs(f)
    np.testing.assert_allclose(g(c, x), f(c, x), rtol=1e-6)
    ga = eqx.filter_grad(f)(c, x)
    gb = eqx.filter_grad(g)(c, x)
    np.testing.assert_allclose(gb.weight, ga.weight, rtol=1e-4, atol=1e-5)


def test_no_conv():
    def f(w, x):
        return jnp.tanh(x @ w).sum()

    assert not has_convolutions(f, jnp.ones((3, 2)), jnp.ones((4, 3)))
    assert with_canonical_convs(f)(jnp.ones((3, 2)), jnp.ones((4, 3))) == f(
        jnp.ones((3, 2)), jnp.ones((4, 3))
    )
