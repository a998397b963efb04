"""jinit.models: the key convention of init (shared by MLP and ConvNet) and activation names."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jinit
from jinit.models import ACTIVATIONS, MLP, ConvNet, activation_fn


def _by_convention(shapes, key, weight_init, bias_init):
    out = []
    for i, shape in enumerate(shapes):
        k_w, k_b = jax.random.split(jax.random.fold_in(key, i))
        out.append({"kernel": weight_init(k_w, shape), "bias": bias_init(k_b, (shape[-1],))})
    return out


@pytest.mark.parametrize(
    "model", [MLP([3, 5, 2]), ConvNet((8, 8, 1), channels=(4, 6), n_classes=3)]
)
def test_init_follows_the_key_convention(model):
    key = jax.random.key(7)
    bias = jinit.normal
    got = model.init(key, jinit.he_normal, bias)
    want = _by_convention(model.shapes(), key, jinit.he_normal, bias)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g["kernel"], w["kernel"])
        np.testing.assert_array_equal(g["bias"], w["bias"])
    assert [p["kernel"].shape for p in got] == [tuple(s) for s in model.shapes()]


def test_activation_names_come_from_the_table():
    assert set(ACTIVATIONS) == set(jinit.activations.TABLE)
    assert activation_fn("tanh") is jax.numpy.tanh
    with pytest.raises(ValueError, match=r"unknown activation 'rleu'\. Did you mean 'relu'"):
        MLP([2, 3, 1], activation="rleu")
