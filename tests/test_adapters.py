"""jinit.sweep on Flax linen, Flax NNX and Equinox models through jinit.adapters."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit import adapters
from jinit.data import Dataset
from jinit.engine import run_key, sweep

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")
eqx = pytest.importorskip("equinox")

LN2 = math.log(2)
SEEDS = 3
INITS = {"he": jinit.he_normal, "zeros": jinit.zeros}
TRAIN = dict(optimizer=optax.sgd(0.5), steps=50, eval_every=10, seeds=SEEDS)
BCE = "binary_cross_entropy"
FRAMEWORKS = ("flax", "nnx", "equinox")


# --------------------------------------------------------------------------- models


class LinenMLP(nn.Module):
    """2-16-1 relu MLP, the same function as jinit.models.MLP([2, 16, 1])."""

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16)(x))
        return nn.Dense(1)(h)


class NNXMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.l1 = nnx.Linear(2, 16, rngs=rngs)
        self.l2 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


def make(framework: str):
    if framework == "flax":
        return LinenMLP()
    if framework == "nnx":
        return NNXMLP(nnx.Rngs(0))
    return eqx.nn.MLP(2, 1, 16, 1, activation=jax.nn.relu, key=jax.random.key(0))


@pytest.fixture(scope="module")
def circles() -> Dataset:
    return jinit.data.circles(n_train=128, n_test=64)


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]


# --------------------------------------------------------------------------- training


def to_mlp(framework: str, params) -> list[dict]:
    """Framework parameters (any leading axes) as jinit.models.MLP parameters."""
    if framework == "flax":
        return [dict(params[f"Dense_{i}"]) for i in range(2)]
    if framework == "nnx":
        layers = (params["l1"], params["l2"])
        return [{"kernel": l["kernel"].get_value(), "bias": l["bias"].get_value()} for l in layers]
    return [{"kernel": jnp.swapaxes(l.weight, -1, -2), "bias": l.bias} for l in params.layers]


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_framework_model_trains_like_jinit_mlp(framework, circles):
    model = make(framework)
    r = sweep(model, INITS, circles, loss=BCE, keep_params=True, **TRAIN)
    loss = r.metrics["train_loss"]
    assert loss.shape == (2, SEEDS, 6)
    assert r.metrics["test_acc"].shape == (2, SEEDS, 6)
    assert r.config["model"].startswith(f"jinit.adapters.from_{framework}(")
    he, zero = 0, 1
    # All-zero weights: no gradient reaches the weights and the balanced classes give the
    # output bias none either, so the loss stays at ln 2.
    np.testing.assert_allclose(loss[zero], LN2, atol=1e-6)
    assert (loss[he, :, -1] < 0.9 * loss[he, :, 0]).all(), loss[he]
    assert not r.diverged.any()

    # The same function with the same initial weights: jinit's own MLP, same curve.
    net = adapters.as_model(model, circles.x_train[:1])
    draws = [net.init(run_key(s, "he"), jinit.he_normal, jinit.zeros) for s in range(SEEDS)]
    start = to_mlp(framework, jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *draws))
    mlp = jinit.models.MLP([2, 16, 1])
    ref = sweep(mlp, {"he": start, "zeros": jinit.zeros}, circles, keep_params=True, **TRAIN)
    for metric in ("train_loss", "test_loss", "train_acc", "test_acc"):
        np.testing.assert_allclose(r.metrics[metric], ref.metrics[metric], rtol=2e-5, atol=1e-6)
    for g, w in zip(leaves(to_mlp(framework, r.params)), leaves(ref.params), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    if framework == "nnx":  # the engine trains copies; the module keeps its weights
        np.testing.assert_array_equal(model.l1.kernel.get_value(), net.template["l1"]["kernel"])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_initial_params_are_reinit_of_the_template(framework, circles):
    model = make(framework)
    net = adapters.as_model(model, circles.x_train[:1])
    draws = {
        name: [jinit.reinit(run_key(s, name), net.template, net.rules(init)) for s in range(SEEDS)]
        for name, init in INITS.items()
    }
    inits = dict(INITS)
    if framework != "equinox":
        # Explicit params in the framework's own tree (the engine reads a callable entry, such
        # as an Equinox module, as an initializer, so Equinox explicit params need a fix there).
        inits["explicit"] = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *draws["he"])
        draws["explicit"] = draws["he"]
    r = sweep(model, inits, circles, loss=BCE, steps=0, seeds=SEEDS, keep_params=True)
    got = leaves(r.params)
    assert len(got) == 4
    for i, name in enumerate(inits):
        for s in range(SEEDS):
            for g, w in zip(got, leaves(draws[name][s]), strict=True):
                np.testing.assert_array_equal(g[i, s], w)
    first = next(i for i, g in enumerate(got) if g.ndim == 4)  # a weight matrix
    assert not np.array_equal(got[first][0, 0], got[first][0, 1])  # seeds differ
    assert not np.array_equal(got[first][0, 0], leaves(net.template)[first])  # redrawn
    assert all((g[1] == 0).all() for g in got)  # zeros: weights and biases


# --------------------------------------------------------------------------- layout


def test_equinox_weights_use_the_torch_layout_for_fans():
    # Linear(256, 4).weight is (4, 256): He std sqrt(2 / 256), not sqrt(2 / 4).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 256)).astype(np.float32)
    data = Dataset.from_arrays(x, np.arange(16) % 4, x, np.arange(16) % 4)
    model = eqx.nn.Linear(256, 4, key=jax.random.key(0))
    r = sweep(
        model, {"he": jinit.he_normal}, data, loss="softmax_cross_entropy", steps=0, seeds=4,
        keep_params=True,
    )  # fmt: skip
    w = np.asarray(r.params.weight, np.float64)
    assert w.shape == (1, 4, 4, 256)
    assert w.std() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    # The same for the small layer of the MLP: Linear(2, 16).weight (16, 2) has variance 2 / 2.
    net = adapters.from_equinox(eqx.nn.Linear(2, 16, key=jax.random.key(0)))
    ws = [net.init(jax.random.key(s), jinit.he_normal).weight for s in range(200)]
    assert np.var(np.stack(ws)) == pytest.approx(1.0, rel=0.1)


def test_flax_kernels_use_the_jax_layout_for_fans():
    net = adapters.from_flax(nn.Dense(4), jnp.ones((1, 256)))
    w = net.init(jax.random.key(0), jinit.he_normal)["kernel"]
    assert w.shape == (256, 4)
    assert float(w.std()) == pytest.approx(math.sqrt(2 / 256), rel=0.1)


# --------------------------------------------------------------------------- rules


class Named(nn.Module):
    """Parameters named w and b: the default rules do not apply."""

    @nn.compact
    def __call__(self, x):
        w = self.param("w", nn.initializers.ones, (x.shape[-1], 1))
        b = self.param("b", nn.initializers.ones, (1,))
        return x @ w + b


def test_rules_function_for_other_names(circles):
    with pytest.raises(ValueError, match=r"no parameter matching '\*kernel'.*rules="):
        adapters.from_flax(Named(), circles.x_train[:1])

    def rules(w, b):
        return {"w": w, "b": b}

    net = adapters.from_flax(Named(), circles.x_train[:1], rules, output="sigmoid")
    assert repr(net).endswith(
        "rules=test_rules_function_for_other_names.<locals>.rules, output='sigmoid')"
    )
    params = net.init(jax.random.key(3), jinit.he_normal, jinit.zeros)
    assert float(params["b"][0]) == 0.0
    assert not np.allclose(params["w"], 1.0)
    r = sweep(net, INITS, circles, steps=5, seeds=2)  # output="sigmoid": the default loss
    assert r.config["loss"] == BCE
    assert r.metrics["train_loss"].shape == (2, 2, 6)
    with pytest.raises(ValueError, match="output must be"):
        adapters.from_nnx(make("nnx"), output="logits")


def test_rules_must_be_a_function(circles):
    with pytest.raises(TypeError, match="rules must be a function"):
        adapters.from_flax(LinenMLP(), circles.x_train[:1], {"*kernel": jinit.he_normal})


def test_models_without_biases_and_layer_norm_scales(circles):
    class NoBias(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1, use_bias=False)(nn.LayerNorm()(nn.Dense(8, use_bias=False)(x)))

    net = adapters.from_flax(NoBias(), circles.x_train[:1])
    params = net.init(jax.random.key(0), jinit.he_normal, jinit.ones)
    np.testing.assert_array_equal(params["LayerNorm_0"]["scale"], 1.0)  # untouched by rules
    np.testing.assert_array_equal(params["LayerNorm_0"]["bias"], 1.0)  # "*bias" -> bias_init

    k0, k1 = jax.random.split(jax.random.key(0))
    mlp = eqx.nn.Sequential(
        [eqx.nn.Linear(2, 8, key=k0), eqx.nn.LayerNorm(8), eqx.nn.Linear(8, 1, key=k1)]
    )
    enet = adapters.from_equinox(mlp)
    p = enet.init(jax.random.key(0), jinit.he_normal)
    np.testing.assert_array_equal(p.layers[1].weight, 1.0)  # a 1-D weight is a scale
    assert enet.apply(p, jnp.ones((3, 2))).shape == (3, 1)


# --------------------------------------------------------------------------- errors


def test_framework_models_need_a_loss(circles):
    for framework in FRAMEWORKS:
        with pytest.raises(ValueError, match="pass loss="):
            sweep(make(framework), INITS, circles, steps=1, seeds=1)


def test_mutable_state_is_a_clear_error(circles):
    class LinenBN(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(nn.BatchNorm(use_running_average=False)(x))

    with pytest.raises(ValueError, match=r"'batch_stats'.*not support"):
        sweep(LinenBN(), INITS, circles, loss=BCE, steps=1, seeds=1)

    # NNX BatchNorm and Dropout are supported: tests/test_stateful.py
    bn, _ = eqx.nn.make_with_state(eqx.nn.BatchNorm)(2, "batch", mode="batch")
    with pytest.raises(ValueError, match="StateIndex"):
        sweep(bn, INITS, circles, loss=BCE, steps=1, seeds=1)


def test_other_objects_keep_the_engine_type_error(circles):
    assert adapters.as_model(object(), circles.x_train[:1]) is None
    with pytest.raises(TypeError, match="model must have init"):
        sweep(object(), INITS, circles, loss=BCE, steps=1, seeds=1)
    with pytest.raises(TypeError, match=r"expected a flax\.linen Module"):
        adapters.from_flax(make("equinox"), circles.x_train[:1])
    with pytest.raises(ValueError, match="example input"):
        adapters.from_flax(LinenMLP(), None)


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_repr_is_deterministic(framework, circles):
    a = repr(adapters.as_model(make(framework), circles.x_train[:1]))
    b = repr(adapters.as_model(make(framework), circles.x_train[:1]))
    assert a == b
    assert "0x" not in a and "\n" not in a
    assert a.startswith(f"jinit.adapters.from_{framework}(")
