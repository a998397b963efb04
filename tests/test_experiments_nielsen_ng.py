"""Nielsen ch. 3 (1/sqrt(n_in) vs N(0,1)) and Ng ex4 (eps = 0.12 vs Glorot vs zeros).

The fast tests run both experiments in reduced form on the 8x8 digits shipped with jinit (the
fallback without MNIST); the slow ones need the full MNIST files in ../shared/data/mnist.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jinit import experiments
from jinit.experiments import ng, nielsen

# $JINIT_MNIST if set (as the experiments read it), else the project's shared copy beside the
# checkout.
MNIST_DIR = Path(
    os.environ.get("JINIT_MNIST")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
)
needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "train-images.idx3-ubyte.gz").exists()
    and not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason="full MNIST not found (set $JINIT_MNIST to its directory to run these)",
)


@pytest.fixture
def no_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    """No $JINIT_MNIST: the experiments fall back to the shipped digits."""
    monkeypatch.delenv("JINIT_MNIST", raising=False)


def _checks(report) -> dict:
    return {c.label: c for c in report.checks}


# --------------------------------------------------------------------------- registry


def test_registry_lists_nielsen_and_ng():
    names = experiments.available()
    assert "nielsen" in names and "ng-epsilon" in names
    for name, seeds in (("nielsen", 10), ("ng-epsilon", 100)):
        exp = experiments.get(name)
        assert exp.faithful is not None
        assert exp.default_seeds == seeds
    with pytest.raises(ValueError, match="Did you mean 'nielsen'"):
        experiments.get("nielson")


# --------------------------------------------------------------------------- nielsen pieces


def test_nielsen_optimizer_is_network2_update():
    params = [{"kernel": jnp.full((3, 2), 2.0), "bias": jnp.full((2,), 2.0)}]
    grads = [{"kernel": jnp.full((3, 2), 0.5), "bias": jnp.full((2,), 0.5)}]
    opt = nielsen.nielsen_optimizer(eta=0.1, lmbda=5.0, n=50)
    updates, _ = opt.update(grads, opt.init(params), params)
    new = optax.apply_updates(params, updates)
    # w <- (1 - eta lmbda / n) w - eta g;  b <- b - eta g
    np.testing.assert_allclose(new[0]["kernel"], (1 - 0.1 * 5.0 / 50) * 2.0 - 0.1 * 0.5, 1e-6)
    np.testing.assert_allclose(new[0]["bias"], 2.0 - 0.1 * 0.5, 1e-6)


def test_mnist_directory_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("JINIT_MNIST", raising=False)
    assert nielsen.mnist_directory(None)[0] is None
    monkeypatch.setenv("JINIT_MNIST", str(tmp_path / "missing"))
    directory, why = nielsen.mnist_directory(None)
    assert directory is None and "not a directory" in why
    monkeypatch.setenv("JINIT_MNIST", str(tmp_path))
    assert nielsen.mnist_directory(None)[0] == str(tmp_path)
    assert nielsen.mnist_directory("/some/dir")[0] == "/some/dir"


# --------------------------------------------------------------------------- nielsen runs


def test_nielsen_faithful_falls_back_to_digits(no_mnist):
    rep = experiments.run("nielsen", faithful=True, epochs=2)
    assert rep.mode == "faithful"
    assert any("Fell back to the 8x8 digits" in n for n in rep.notes)
    assert any("best and epoch-30 checks are left out" in n for n in rep.notes)
    r = rep.result
    assert r.inits == ["30 hidden, 1/sqrt(n_in)", "30 hidden, N(0,1)"]
    per_epoch = 1437 // 10
    assert r.eval_steps.tolist() == [0, per_epoch, 2 * per_epoch]
    assert r.metrics["test_acc"].shape == (2, 1, 3)
    # the book's numbers do not apply to digits: shown for context, nothing to pass or fail
    lead = _checks(rep)["30 hidden: epoch-1 lead of 1/sqrt(n_in) over N(0,1) (points)"]
    assert lead.passed is None and lead.published == pytest.approx(6.27)
    assert all(c.passed is None for c in rep.checks)
    assert rep.passed
    assert [t.title for t in rep.tables] == ["validation correct per epoch"]
    assert rep.tables[0].header == ["epoch", "1", "2"]
    assert "Fell back" in rep.text()


def test_nielsen_env_pointing_nowhere_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("JINIT_MNIST", str(tmp_path / "missing"))
    rep = experiments.run("nielsen", faithful=True, steps=20, hidden=8)
    assert any("is not a directory" in n and "Fell back" in n for n in rep.notes)
    assert rep.result.config["steps"] == 20


def test_nielsen_explicit_mnist_dir_must_exist(tmp_path):
    with pytest.raises(FileNotFoundError):
        experiments.run("nielsen", faithful=True, mnist=str(tmp_path / "nope"), steps=1)


def test_nielsen_sweep_two_widths(no_mnist):
    rep = experiments.run("nielsen", seeds=3, steps=150, hidden=(8, 16))
    r = rep.result
    assert rep.mode == "sweep (3 seeds)"
    assert r.inits == [f"{h} hidden, {i}" for h in (8, 16) for i in ("1/sqrt(n_in)", "N(0,1)")]
    assert r.metrics["train_loss"].shape == (4, 3, 3)  # evals at 0, one epoch (143), 150
    checks = _checks(rep)
    frac = checks["8 hidden: fraction of seeds where 1/sqrt(n_in) leads at epoch 1"].measured
    assert 0 <= frac <= 1
    assert np.isfinite(r.metrics["train_loss"]).all()


# --------------------------------------------------------------------------- ng pieces


def test_glorot_bias_uses_its_layers_fans():
    init = ng.glorot_bias([784, 25, 10])
    b1 = init(jax.random.key(0), (25,))
    b2 = init(jax.random.key(1), (10,))
    assert float(jnp.abs(b1).max()) <= np.sqrt(6 / 809)
    assert np.sqrt(6 / 35) / 2 < float(jnp.abs(b2).max()) <= np.sqrt(6 / 35)
    assert init.__name__ == "glorot_uniform_bias"
    with pytest.raises(ValueError, match="two layers of width"):
        ng.glorot_bias([4, 3, 3, 3])


def test_l2_penalized_adds_the_penalty_everywhere():
    seen = {}

    def update(updates, state, params=None, *, value, grad, value_fn):
        seen.update(updates=updates, value=value, grad=grad, fn=value_fn(params))
        return updates, state

    inner = optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)
    opt = ng.l2_penalized(inner, coef=0.5)
    params = [{"kernel": jnp.array([[1.0, 2.0]]), "bias": jnp.array([3.0, 4.0])}]
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    opt.update(grads, opt.init(params), params, value=1.0, grad=grads, value_fn=lambda p: 1.0)
    penalty = 0.5 * (1.0 + 4.0)  # coef * sum of squared kernel entries, biases excluded
    assert float(seen["value"]) == pytest.approx(1.0 + penalty)
    assert float(seen["fn"]) == pytest.approx(1.0 + penalty)
    np.testing.assert_allclose(seen["grad"][0]["kernel"], [[1.0 + 1.0, 1.0 + 2.0]])
    np.testing.assert_allclose(seen["grad"][0]["bias"], [1.0, 1.0])
    np.testing.assert_allclose(seen["updates"][0]["kernel"], seen["grad"][0]["kernel"])


# --------------------------------------------------------------------------- ng runs


def test_ng_faithful_on_digits(no_mnist):
    rep = experiments.run("ng-epsilon", faithful=True, steps=30)
    assert rep.passed, rep.text()
    assert any("Fell back to the 8x8 digits" in n for n in rep.notes)
    checks = _checks(rep)
    assert checks["zeros: distinct hidden units after training"].measured == 1
    assert checks["eps=0.12: distinct hidden units after training"].measured == 25
    assert checks["eps=0.12: training accuracy (ex4's 400-25-10 data)"].passed is None
    acc = rep.result.final("train_acc")[:, 0]
    eps, glorot, zeros = (
        rep.result.inits.index(n) for n in ("eps=0.12", "glorot uniform", "zeros")
    )
    assert acc[eps] > 0.9 and acc[glorot] > 0.9 and acc[zeros] < 0.5
    # the zero net stays symmetric: identical incoming columns in the final parameters
    kernel = rep.result.params[0]["kernel"][zeros, 0]
    np.testing.assert_array_equal(kernel, np.repeat(kernel[:, :1], kernel.shape[1], axis=1))


def test_ng_sweep_zeros_identical_on_every_seed(no_mnist):
    rep = experiments.run("ng-epsilon", seeds=4, steps=10)
    assert rep.mode == "sweep (4 seeds)"
    assert rep.result.metrics["train_acc"].shape == (3, 4, 11)
    assert rep.passed, rep.text()
    checks = _checks(rep)
    zeros_spread = "zeros: max - min training accuracy over seeds (the same on every seed)"
    assert checks[zeros_spread].measured == 0
    assert checks["zeros: fraction of runs whose hidden units stay identical"].measured == 1


# --------------------------------------------------------------------------- full MNIST


@pytest.mark.slow
@needs_mnist
def test_nielsen_faithful_784_30_10_on_mnist():
    """The book's claim on real MNIST: a clear epoch-1 lead for 1/sqrt(n_in), similar ends."""
    rep = experiments.run("nielsen", faithful=True, mnist=str(MNIST_DIR), hidden=30)
    acc = rep.result.metrics["test_acc"][:, 0] * 100  # [inits, evals], validation %
    assert rep.result.inits == ["30 hidden, 1/sqrt(n_in)", "30 hidden, N(0,1)"]
    assert acc[0, 1] - acc[1, 1] >= 3.0, acc[:, 1]
    assert (acc[:, -1] > 95.5).all(), acc[:, -1]
    assert rep.passed, rep.text()
    # one seed beside the book's one run: the counts are context, judged in the sweep mode
    counts = [c for c in rep.checks if "correct of 10000" in c.label]
    assert len(counts) == 6 and all(c.passed is None and c.kind == "published" for c in counts)


@pytest.mark.slow
@needs_mnist
def test_nielsen_sweep_judges_the_book_on_the_seed_distribution():
    """Three seeds, one epoch of 784-30-10: the book's epoch-1 counts against the seeds' 95%
    prediction interval (the tolerance comes from the seed spread)."""
    rep = experiments.run("nielsen", seeds=3, mnist=str(MNIST_DIR), hidden=30, epochs=1)
    counts = [c for c in rep.checks if "epoch 1 (correct of 10000), mean over seeds" in c.label]
    assert len(counts) == 2, rep.text()
    for c in counts:
        assert c.tolerance > 0 and "seeds' range" in c.note
        assert c.passed, rep.text()


@pytest.mark.slow
@needs_mnist
def test_ng_faithful_on_mnist_subset():
    rep = experiments.run("ng-epsilon", faithful=True, mnist=str(MNIST_DIR))
    assert rep.passed, rep.text()
    acc = _checks(rep)["eps=0.12: training accuracy, 784-25-10 on 5000 MNIST images"].measured
    assert acc == pytest.approx(0.975, abs=0.01)
