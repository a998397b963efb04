"""The engine's formulation per model: conv models with large feature maps run their runs in
turn (``map``) with canonical-layout convolutions, tiny ones and dense nets all at once
(``vmap``); the numbers of both programs agree."""

import numpy as np
import optax
import pytest

import jinit
from jinit.models import MLP, ConvNet


@pytest.fixture(scope="module")
def images():
    return jinit.data.digits().subset(n_train=96, n_test=32)


def _sweep(model, data, steps=6, **kwargs):
    return jinit.sweep(
        model, {"he": jinit.he_normal, "xavier": jinit.xavier_normal}, data,
        optimizer=optax.sgd(0.1), steps=steps, batch_size=32, eval_every=3, **kwargs,
    )  # fmt: skip


def test_auto_picks_map_for_large_feature_maps_and_vmap_otherwise(images):
    up = np.ones((1, 2, 2, 1), np.float32)  # the digits at 16x16: 8x8 maps after stride 2
    large = jinit.data.Dataset(np.kron(np.asarray(images.x_train).reshape(-1, 8, 8, 1), up),
                               images.y_train, np.kron(np.asarray(images.x_test).reshape(
                                   -1, 8, 8, 1), up), images.y_test)  # fmt: skip
    small = _sweep(ConvNet((8, 8, 1), channels=(4, 8)), images, seeds=1, steps=1)
    big = _sweep(ConvNet((16, 16, 1), channels=(4, 8)), large, seeds=1, steps=1)
    dense = _sweep(MLP([64, 16, 10], output="softmax"), images, seeds=1, steps=1)
    assert small.config["formulation"] == "vmap"  # 4x4 maps: all runs at once
    assert big.config["formulation"] == "map"
    assert dense.config["formulation"] == "vmap"


def test_map_equals_vmap(images):
    net = ConvNet((8, 8, 1), channels=(4, 8))
    a = _sweep(net, images, seeds=2, formulation="map")
    b = _sweep(net, images, seeds=2, formulation="vmap")
    for m in a.metrics:
        np.testing.assert_allclose(a.metrics[m], b.metrics[m], rtol=2e-5, atol=1e-6, err_msg=m)


def test_seed_is_the_same_run_in_any_sweep_size_under_map(images):
    net = ConvNet((8, 8, 1), channels=(4, 8))
    big = _sweep(net, images, seeds=[0, 5, 9], formulation="map")
    one = _sweep(net, images, seeds=[5], formulation="map")
    for m in big.metrics:
        np.testing.assert_array_equal(big.metrics[m][:, 1], one.metrics[m][:, 0], err_msg=m)


def test_bad_formulation_is_refused(images):
    with pytest.raises(ValueError, match="formulation must be one of auto, vmap, map"):
        _sweep(MLP([64, 10], output="softmax"), images, seeds=1, formulation="grouped")


def test_patches_equals_map_and_vmaps_without_grouped_convolutions(images):
    """formulation="patches": every conv as patches + matmul; the same numbers as "map" to
    float round-off."""
    net = ConvNet((8, 8, 1), channels=(4, 8))
    a = _sweep(net, images, seeds=2, formulation="map")
    b = _sweep(net, images, seeds=2, formulation="patches")
    assert b.config["formulation"] == "patches"
    for m in a.metrics:
        np.testing.assert_allclose(a.metrics[m], b.metrics[m], rtol=2e-5, atol=1e-5, err_msg=m)
