"""Hyperparameter axes in jinit.sweep (jinit.hparams): one program for a grid, the same
numbers as separate sweeps, paired starts, schedules, grids of inits, bad input."""

import jax
import numpy as np
import optax
import pytest

import jinit
from jinit import hparams

MODEL = jinit.models.MLP([2, 6, 1])
INITS = {"he": jinit.he_normal, "xavier": jinit.glorot_normal}
KW = dict(steps=12, seeds=2, eval_every=6)
LRS = [0.01, 0.03, 0.1, 0.3]


@pytest.fixture(scope="module")
def data():
    return jinit.data.circles(n_train=64, n_test=32)


def test_lr_grid_equals_separate_sweeps_and_compiles_once(data):
    grid = jinit.sweep(
        MODEL, INITS, data, optimizer=optax.sgd, hparams={"learning_rate": LRS}, **KW
    )
    assert grid.timing["compiles"] == 1  # one chunk program for the whole grid
    assert grid.metrics["train_loss"].shape == (2, 4, 2, 3)
    assert grid.diverged_step.shape == (2, 4, 2)
    assert grid.configs == [{"learning_rate": lr} for lr in LRS]
    for lr in LRS:
        alone = jinit.sweep(MODEL, INITS, data, optimizer=optax.sgd(lr), **KW)
        one = grid.select(learning_rate=lr)
        assert one.config["hparams"] == {"learning_rate": lr}
        for k in alone.metrics:
            np.testing.assert_allclose(one.metrics[k], alone.metrics[k], rtol=1e-5, atol=1e-7)


def test_configs_start_paired_from_the_weights_of_a_plain_sweep(data):
    r = jinit.sweep(
        MODEL, INITS, data, optimizer=optax.adam,
        hparams={"learning_rate": [1e-3, 1e-2], "b1": [0.8, 0.9]}, **KW,
    )  # fmt: skip
    assert [c["b1"] for c in r.configs] == [0.8, 0.9, 0.8, 0.9]  # product, last fastest
    plain = jinit.sweep(MODEL, INITS, data, optimizer=optax.adam(1e-3), **KW)
    first = r.metrics["train_loss"][..., 0]  # before any update: [inits, configs, seeds]
    for j in range(4):
        np.testing.assert_array_equal(first[:, j], plain.metrics["train_loss"][..., 0])
    assert not np.allclose(
        r.metrics["train_loss"][:, 0, :, -1], r.metrics["train_loss"][:, 3, :, -1]
    )


def test_explicit_configs_and_schedules_per_run(data):
    scheds = [optax.cosine_decay_schedule(0.1, 12), optax.exponential_decay(0.2, 4, 0.5), 0.05]
    r = jinit.sweep(
        MODEL, {"he": jinit.he_normal}, data, optimizer=optax.sgd,
        hparams=[{"learning_rate": s} for s in scheds], **KW,
    )  # fmt: skip
    for j, s in enumerate(scheds):
        alone = jinit.sweep(MODEL, {"he": jinit.he_normal}, data, optimizer=optax.sgd(s), **KW)
        np.testing.assert_allclose(
            r.metrics["train_loss"][:, j], alone.metrics["train_loss"], rtol=1e-5, atol=1e-7
        )
    assert r.select(learning_rate=scheds[1]).metrics["train_loss"].shape == (1, 2, 3)


def test_without_hparams_shapes_are_unchanged(data):
    r = jinit.sweep(MODEL, INITS, data, optimizer=optax.sgd(0.1), **KW)
    assert r.configs is None and r.metrics["train_loss"].shape == (2, 2, 3)
    with pytest.raises(ValueError, match="no hyperparameter axis"):
        r.select(learning_rate=0.1)


def test_bad_hparams_are_refused(data):
    def run(optimizer, hp):
        return jinit.sweep(MODEL, INITS, data, optimizer=optimizer, hparams=hp, **KW)

    with pytest.raises(TypeError, match=r"factory such as optax\.adam"):
        run(optax.adam(1e-3), {"learning_rate": [0.1]})
    with pytest.raises(ValueError, match="learning_rate"):
        run(optax.adam, {"learning_rat": [0.1]})
    with pytest.raises(ValueError, match="non-empty list"):
        run(optax.adam, {"learning_rate": []})
    with pytest.raises(ValueError, match="one sweep per value"):
        run(optax.adam, {"learning_rate": [0.1], "nesterov": [True, False]})
    with pytest.raises(ValueError, match="same hyperparameters"):
        run(optax.adam, [{"learning_rate": 0.1}, {"b1": 0.9}])
    with pytest.raises(TypeError, match="product grid"):
        run(optax.adam, 0.1)


def test_grid_of_inits_names_and_values():
    g = jinit.grid(jinit.normal, stddev=[0.01, 0.1, 1, 10])
    assert list(g) == [
        "normal(stddev=0.01)", "normal(stddev=0.1)", "normal(stddev=1)", "normal(stddev=10)"
    ]  # fmt: skip
    w = g["normal(stddev=10)"](jax.random.key(0), (400, 50))
    assert 9 < float(np.std(w)) < 11

    def law(key, shape, dtype=np.float32, *, a=1.0, b=0.0):
        return a * jax.random.normal(key, shape, dtype) + b

    two = hparams.grid(law, a=[0.5, 2.0], b=[-1, 1])
    assert list(two) == ["law(a=0.5, b=-1)", "law(a=0.5, b=1)", "law(a=2, b=-1)", "law(a=2, b=1)"]
    assert two["law(a=2, b=1)"].keywords == {"a": 2.0, "b": 1}
    with pytest.raises(TypeError, match="initializer"):
        jinit.grid(3, stddev=[1])


def test_grid_checkpoint_resumes_and_refuses_another_grid(data, tmp_path):
    def run(lrs, **kw):
        return jinit.sweep(
            MODEL, INITS, data, optimizer=optax.sgd, hparams={"learning_rate": lrs},
            out_dir=tmp_path, **KW, **kw,
        )  # fmt: skip

    first = run([0.01, 0.1])
    again = run([0.01, 0.1], resume=True)  # restored from the last checkpoint
    np.testing.assert_array_equal(first.metrics["train_loss"], again.metrics["train_loss"])
    with pytest.raises(ValueError, match="different sweep"):
        run([0.01, 0.3], resume=True)  # other learning rates: another sweep
