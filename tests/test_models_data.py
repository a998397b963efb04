"""Data for the conv, residual and attention models: NHWC digits and modular addition."""

from __future__ import annotations

import numpy as np
import pytest

import jinit


def test_modular_addition_is_every_pair_once():
    d = jinit.data.modular_addition(p=7, seed=3)
    x = np.concatenate([d.x_train, d.x_test]).astype(int)
    y = np.concatenate([d.y_train, d.y_test])
    assert (len(d.x_train), len(d.x_test)) == (39, 10)
    assert len({(a, b) for a, b, _ in x}) == 49 and (x[:, 2] == 7).all()
    np.testing.assert_array_equal(y, (x[:, 0] + x[:, 1]) % 7)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int32 and d.n_classes == 7
    again = jinit.data.get("modular_addition", p=7, seed=3)
    np.testing.assert_array_equal(again.x_train, d.x_train)
    other = jinit.data.modular_addition(p=7, seed=4)
    assert not np.array_equal(other.x_train, d.x_train)
    small = jinit.data.modular_addition(p=7, n_train=10, n_test=5)
    assert (len(small.x_train), len(small.x_test)) == (10, 5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"p": 1}, "p must be an int >= 2"), ({"p": 5, "n_train": 20, "n_test": 6}, "at most p")],
)
def test_modular_addition_rejects_bad_sizes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jinit.data.modular_addition(**kwargs)


def test_digits_images_are_nhwc_digits():
    images = jinit.data.get("digits-images")
    flat = jinit.data.digits()
    assert images.x_train.shape[1:] == (8, 8, 1)
    np.testing.assert_array_equal(images.x_train.reshape(len(flat.x_train), -1), flat.x_train)
    np.testing.assert_array_equal(images.y_test, flat.y_test)
    assert {"digits-images", "mnist-images", "modular-addition"} <= set(jinit.data.available())


def test_mnist_images_reads_nhwc(tmp_path, monkeypatch):
    calls = {}

    def fake(path=None, *, split="standard", scale=1 / 255, flatten=True):
        calls.update(path=path, split=split, scale=scale, flatten=flatten)
        return "ok"

    monkeypatch.setattr(jinit.data, "mnist", fake)
    assert jinit.data.mnist_images(tmp_path, split="nielsen") == "ok"
    assert calls == {"path": tmp_path, "split": "nielsen", "scale": 1 / 255, "flatten": False}
