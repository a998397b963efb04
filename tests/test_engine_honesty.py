"""The sweep refuses what would give silent wrong results (issue 11): aliasing seeds, resuming or
overwriting another sweep's checkpoint, inits in another dtype, labels the model cannot
represent, non-finite inputs."""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit.data import Dataset
from jinit.engine import sweep

NET = jinit.models.MLP([2, 4, 1])
KW = dict(steps=4, seeds=2, eval_every=2)


@pytest.fixture(scope="module")
def circles() -> Dataset:
    return jinit.data.circles(n_train=32, n_test=16, seed=0)


def test_seeds_beyond_2_32_are_refused(circles):
    # Old engine: seeds 0 and 2**32 were accepted and gave two identical runs.
    with pytest.raises(ValueError, match=r"\[0, 2\*\*32 - 1\]"):
        sweep(NET, {"he": jinit.he_normal}, circles, steps=1, seeds=[0, 2**32])


def _run(data, out_dir, resume=True, **kw):
    args = dict(optimizer=optax.sgd(0.1)) | KW | kw
    return sweep(NET, {"he": jinit.he_normal}, data, out_dir=out_dir, resume=resume, **args)


def _track(params):
    return params[0]["kernel"].std()


@pytest.mark.parametrize(
    "change",
    [
        dict(optimizer=optax.sgd(0.5)),
        dict(optimizer=optax.adam(0.1)),
        dict(loss="course_cost"),
        dict(extra_metrics={"cost": jinit.losses.course_cost}),
        dict(track=_track),
        dict(dtype=jnp.float16),
    ],
    ids=["lr", "adam", "loss", "extra", "track", "dtype"],
)
def test_resume_refuses_a_checkpoint_of_another_sweep(tmp_path, circles, change):
    # Old engine: sgd(0.1)'s checkpoint resumed with sgd(0.5) returned the 0.1 numbers.
    _run(circles, tmp_path)
    with pytest.raises(ValueError, match="belongs to a different sweep"):
        _run(circles, tmp_path, **change)


def test_resume_false_does_not_overwrite_another_sweep(tmp_path, circles):
    first = _run(circles, tmp_path, resume=False)
    ckpt = tmp_path / "sweep_checkpoint.npz"
    before = ckpt.read_bytes()
    with pytest.raises(ValueError, match=r"different sweep .*resume=False would overwrite"):
        _run(circles, tmp_path, resume=False, optimizer=optax.sgd(0.5))
    assert ckpt.read_bytes() == before
    again = _run(circles, tmp_path, resume=False)  # the same sweep starts over
    np.testing.assert_array_equal(again.metrics["train_loss"], first.metrics["train_loss"])


class _Opaque:  # its repr is its address: it cannot be fingerprinted
    pass


def test_an_optimizer_that_cannot_be_fingerprinted_refuses_resume(tmp_path, circles):
    box = _Opaque()

    def update(updates, state, params=None):
        assert box is not None  # a closure cell holding the opaque object
        return updates, state

    opaque = optax.GradientTransformation(lambda p: optax.EmptyState(), update)
    with pytest.raises(ValueError, match="cannot be fingerprinted"):
        _run(circles, tmp_path, optimizer=opaque)
    _run(circles, tmp_path, resume=False, optimizer=opaque)  # without resume it runs


def test_an_init_in_another_float_dtype_is_refused(circles):
    # Old engine: bfloat16 kernels were kept in a float32 sweep.
    def bf16_he(key, shape, dtype=jnp.float32):
        return jinit.he_normal(key, shape, jnp.bfloat16)

    with pytest.raises(TypeError, match=r"inits\['bf'\].*bfloat16 .*\[0\]\['kernel'\].*float32"):
        sweep(NET, {"bf": bf16_he}, circles, **KW)


def _relabel(data: Dataset, label: int) -> Dataset:
    y = np.asarray(data.y_train).copy()
    y[3] = label
    return data._replace(y_train=y)


@pytest.mark.parametrize("label", [5, -1])
def test_labels_a_sigmoid_output_cannot_represent_are_refused(circles, label):
    # Old engine: label 5 or -1 trained binary cross-entropy on it without a word.
    with pytest.raises(ValueError, match=rf"y_train holds the label {label}.*\[0, 2\)"):
        sweep(NET, {"he": jinit.he_normal}, _relabel(circles, label), **KW)


def test_labels_beyond_a_softmax_are_refused(circles):
    # Old engine: NaN losses reported as "diverged at step 0", blaming the init.
    net = jinit.models.MLP([2, 4, 3], output="softmax")
    with pytest.raises(ValueError, match=r"label 9, .*softmax output of 3 units.*\[0, 3\)"):
        sweep(net, {"he": jinit.he_normal}, _relabel(circles, 9), **KW)
    sweep(net, {"he": jinit.he_normal}, _relabel(circles, 2), **KW)  # in range: fine


def test_one_hot_labels_on_a_softmax_are_refused(circles):
    net = jinit.models.MLP([2, 4, 2], output="softmax")
    one_hot = np.eye(2, dtype=np.float32)[np.asarray(circles.y_train).astype(int).ravel()]
    with pytest.raises(ValueError, match=r"one integer label per example.*not one-hot"):
        sweep(net, {"he": jinit.he_normal}, circles._replace(y_train=one_hot), **KW)


def test_integer_labels_with_a_linear_output_are_fine(circles):
    net = jinit.models.MLP([2, 4, 1], output="linear")
    r = sweep(net, {"he": jinit.he_normal}, _relabel(circles, 7), **KW)
    assert np.isfinite(r.metrics["train_loss"]).all()


@pytest.mark.parametrize("split", ["train", "test"])
def test_non_finite_inputs_are_refused(circles, split):
    # Old engine: reported as diverged runs.
    x = np.asarray(getattr(circles, f"x_{split}")).copy()
    x[1, 0] = np.nan
    data = circles._replace(**{f"x_{split}": x})
    with pytest.raises(ValueError, match=rf"x_{split} must be finite"):
        sweep(NET, {"he": jinit.he_normal}, data, **KW)


def test_checkpoint_dir_is_created(tmp_path, circles):
    _run(circles, tmp_path / "a" / "b", resume=False)
    assert os.path.exists(tmp_path / "a" / "b" / "sweep_checkpoint.npz")
    assert not os.path.exists(tmp_path / "a" / "b" / "sweep.lock")  # released
