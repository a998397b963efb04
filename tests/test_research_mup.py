"""muP (Tensor Programs V): roles and width exponents, init variances, the optax transform."""

import jax
import jax.numpy as jnp
import optax
import pytest

import jinit
from jinit.research import lr_multipliers, mup_info, mup_init, scale_by_mup


def _mlp(width):
    return jinit.models.MLP([8, width, width, 3], output="softmax")


def _params(width):
    return _mlp(width).init(jax.random.key(0), jinit.he_normal)


BASE = _params(32)


def _kernels(tree):
    return [layer["kernel"] for layer in tree]


@pytest.mark.parametrize("width", [64, 256])
def test_mup_width_exponents(width):
    m = width / 32
    info = mup_info(_params(width), BASE)
    assert [i.role for i in _kernels(info)] == ["input", "hidden", "output"]
    assert [i.role for i in (layer["bias"] for layer in info)] == ["vector", "vector", "fixed"]
    adam = _kernels(lr_multipliers(info, "adam"))
    sgd = _kernels(lr_multipliers(info, "sgd"))
    assert adam == pytest.approx([1.0, m**-1, m**-1])  # Adam: hidden and output lr / width
    assert sgd == pytest.approx([m, 1.0, m**-1])  # SGD: input lr * width, output / width


def test_mup_is_the_standard_parametrization_at_the_base_width():
    info = mup_info(BASE, BASE)
    assert all(i.role == "fixed" and i.mult == 1.0 for i in jax.tree.leaves(
        info, is_leaf=lambda x: hasattr(x, "role")))  # fmt: skip


def test_mup_init_variances():
    wide = _params(1024)
    info = mup_info(wide, BASE)
    zero = mup_init(jax.random.key(1), wide, info)
    small = mup_init(jax.random.key(1), wide, info, readout="small")
    assert not jnp.any(zero[2]["kernel"])
    assert float(zero[1]["kernel"].std()) == pytest.approx(1024**-0.5, rel=0.02)
    assert float(small[2]["kernel"].std()) == pytest.approx((1024 * 32) ** -0.5, rel=0.1)
    assert float(zero[0]["kernel"].std()) == pytest.approx(8**-0.5, rel=0.1)
    assert not jnp.any(zero[0]["bias"])


def test_scale_by_mup_scales_each_leaf_update():
    wide = _params(128)
    info = mup_info(wide, BASE)
    grads = jax.tree.map(jnp.ones_like, wide)
    opt = optax.chain(optax.sgd(1.0), scale_by_mup(info, "sgd"))
    updates, _ = opt.update(grads, opt.init(wide), wide)
    assert float(updates[0]["kernel"][0, 0]) == pytest.approx(-4.0)
    assert float(updates[1]["kernel"][0, 0]) == pytest.approx(-1.0)
    assert float(updates[2]["kernel"][0, 0]) == pytest.approx(-0.25)


def test_mup_refuses_mismatched_trees_and_bad_options():
    with pytest.raises(ValueError, match="same tree structure"):
        mup_info(_params(64), BASE[:2])
    with pytest.raises(ValueError, match="readout"):
        mup_init(jax.random.key(0), BASE, mup_info(BASE, BASE), readout="tiny")
    with pytest.raises(ValueError, match="optimizer"):
        lr_multipliers(mup_info(BASE, BASE), "rmsprop")
