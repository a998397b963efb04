"""The engine's formulation per model: conv models run their runs in turn (``map``) with
canonical-layout convolutions; the numbers equal the all-runs-at-once ``vmap`` program."""

import numpy as np
import optax
import pytest

import jinit
from jinit.models import MLP, ConvNet


@pytest.fixture(scope="module")
def images():
    return jinit.data.digits().subset(n_train=96, n_test=32)


def _sweep(model, data, **kwargs):
    return jinit.sweep(
        model, {"he": jinit.he_normal, "xavier": jinit.xavier_normal}, data,
        optimizer=optax.sgd(0.1), steps=6, batch_size=32, eval_every=3, **kwargs,
    )  # fmt: skip


def test_auto_picks_map_for_convolutions_and_vmap_otherwise(images):
    conv = _sweep(ConvNet((8, 8, 1), channels=(4, 8)), images, seeds=1)
    dense = _sweep(MLP([64, 16, 10], output="softmax"), images, seeds=1)
    assert conv.config["formulation"] == "map"
    assert dense.config["formulation"] == "vmap"


def test_map_equals_vmap(images):
    net = ConvNet((8, 8, 1), channels=(4, 8))
    a = _sweep(net, images, seeds=2, formulation="map")
    b = _sweep(net, images, seeds=2, formulation="vmap")
    for m in a.metrics:
        np.testing.assert_allclose(a.metrics[m], b.metrics[m], rtol=2e-5, atol=1e-6, err_msg=m)


def test_seed_is_the_same_run_in_any_sweep_size_under_map(images):
    net = ConvNet((8, 8, 1), channels=(4, 8))
    big = _sweep(net, images, seeds=[0, 5, 9])
    one = _sweep(net, images, seeds=[5])
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
