"""jinit.frameworks: one model protocol, one adapter per framework; the probe draws what the
sweep draws (same model protocol, same keys)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import frameworks
from jinit.diagnostics import probe, probe_seeds
from jinit.keys import run_key

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")
eqx = pytest.importorskip("equinox")
hk = pytest.importorskip("haiku")

BCE = "binary_cross_entropy"


@pytest.fixture(scope="module")
def circles():
    return jinit.data.circles(n_train=64, n_test=32)


class LinenMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.tanh(nn.Dense(8)(x)))


def haiku_mlp(x):
    return hk.Linear(1)(jnp.tanh(hk.Linear(8)(x)))


def make(kind: str):
    if kind == "jinit":
        return jinit.models.MLP([2, 8, 1], activation="tanh")
    if kind == "linen":
        return LinenMLP()
    if kind == "nnx":
        return nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    if kind == "equinox":
        return eqx.nn.MLP(2, 1, 8, 1, activation=jnp.tanh, key=jax.random.key(0))
    if kind == "haiku":
        return hk.transform(haiku_mlp)
    return (lambda k, w, b: {"w": w(k, (2, 1))}, lambda p, x: x @ p["w"])


KINDS = ("jinit", "linen", "nnx", "equinox", "haiku", "pair")


@pytest.mark.parametrize("kind", KINDS)
def test_detect_and_as_model(kind, circles):
    model = make(kind)
    assert frameworks.detect(model) == kind
    m = frameworks.as_model(model, circles.x_train[:1])
    assert isinstance(m, frameworks.Model) and m.kind == kind
    assert frameworks.as_model(m) is m
    params = m.init(run_key(0, "he"), jinit.he_normal, jinit.zeros, jnp.float32)
    assert m.apply(params, circles.x_train[:5]).shape == (5, 1)
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), params, params)
    assert m.apply_runs(stacked, circles.x_train[:5], True).shape == (2, 5, 1)
    if m.template is not None:  # framework models: init is reinit of the template
        same = jinit.reinit(run_key(0, "he"), m.template, m.rules(jinit.he_normal))
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(same), strict=True):
            np.testing.assert_array_equal(a, b)


def test_haiku_transformed_is_not_a_pair_and_sweeps(circles):
    transformed = hk.transform(haiku_mlp)
    assert isinstance(transformed, tuple) and len(transformed) == 2  # looks like a pair
    assert jinit.adapters.as_model(transformed, circles.x_train[:1]).kind == "haiku"
    r = jinit.sweep(transformed, {"he": jinit.he_normal}, circles, loss=BCE, steps=20,
                    seeds=2, eval_every=10, keep_params=True)  # fmt: skip
    loss = r.metrics["train_loss"]
    assert loss.shape == (1, 2, 3) and np.isfinite(loss).all()
    assert r.config["model"].startswith("jinit.adapters.from_haiku(")
    without_rng = hk.without_apply_rng(transformed)
    assert frameworks.as_model(without_rng, circles.x_train[:1]).apply is without_rng.apply


def test_haiku_state_and_other_objects_are_clear_errors(circles):
    def bn(x):
        return hk.Linear(1)(hk.BatchNorm(True, True, 0.9)(x, is_training=True))

    with pytest.raises(ValueError, match=r"Haiku state.*takes no 'is_training'"):
        frameworks.as_model(hk.transform_with_state(bn), circles.x_train[:1])
    stateless = frameworks.as_model(hk.transform_with_state(haiku_mlp), circles.x_train[:1])
    assert stateless.kind == "haiku"
    with pytest.raises(TypeError, match="model must have init"):
        frameworks.as_model(object())
    assert jinit.adapters.as_model(object()) is None


# --------------------------------------------------------------------------- probe == sweep


@pytest.mark.parametrize("kind", ("jinit", "linen", "equinox", "haiku"))
def test_probe_seeds_reads_the_sweeps_initial_parameters(kind, circles):
    model, x = make(kind), circles.x_train[:32]
    seeds = [3, 7]
    r = jinit.sweep(model, {"he_normal": jinit.he_normal}, circles, loss=BCE, steps=0,
                    seeds=seeds, keep_params=True)  # fmt: skip
    swept = jax.tree_util.tree_map(lambda a: a[0], r.params)  # [seeds, ...] of init 0
    read = model if kind == "jinit" else frameworks.as_model(model, x[:1])
    ref = probe(read, swept, x, stacked=True)
    got = probe_seeds(model, jinit.he_normal, x, seeds=seeds)  # name: "he_normal"
    assert got.layers == ref.layers and len(got.layers) == 2
    for k in ref.stats:
        np.testing.assert_array_equal(got.stats[k], ref.stats[k], err_msg=k)
    other = probe_seeds(model, jinit.he_normal, x, seeds=seeds, name="he")
    assert not np.array_equal(other.stats["w_std"], ref.stats["w_std"])  # other keys


def test_probe_seeds_flax_module_with_a_jinit_law_and_with_rules(circles):
    x = circles.x_train[:16]
    r = probe_seeds(LinenMLP(), jinit.he_normal, x, seeds=4)
    assert r.stats["std"].shape == (4, 2)
    rules = {"*Dense_0/kernel": jinit.orthogonal, "*kernel": jinit.he_normal}
    with pytest.raises(ValueError, match="pass name="):
        probe_seeds(LinenMLP(), rules, x, seeds=2)
    got = probe_seeds(LinenMLP(), rules, x, seeds=2, name="ortho")
    m = frameworks.as_model(LinenMLP(), x[:1])
    drawn = [jinit.reinit(run_key(s, "ortho"), m.template, rules) for s in range(2)]
    stacked = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *drawn)
    ref = probe(m, stacked, x, stacked=True)
    np.testing.assert_array_equal(got.stats["w_std"], ref.stats["w_std"])


def test_haiku_tap_reads_the_same_layers_as_jinit():
    net = jinit.models.MLP([2, 8, 1], activation="tanh")
    params = net.init(jax.random.key(0), jinit.he_normal, jinit.normal)
    x = jax.random.normal(jax.random.key(1), (16, 2))
    hk_params = {
        "linear_1": {"w": params[0]["kernel"], "b": params[0]["bias"]},
        "linear": {"w": params[1]["kernel"], "b": params[1]["bias"]},
    }
    ref = probe(net, params, x)
    got = probe(hk.transform(haiku_mlp), hk_params, x, activation="tanh")
    assert got.layers == ("linear_1", "linear")
    for k in ref.stats:
        np.testing.assert_allclose(got.stats[k], ref.stats[k], rtol=2e-5, atol=1e-6, err_msg=k)


def test_equinox_conv_on_channels_last_data_says_the_layout():
    k0, k1 = jax.random.split(jax.random.key(0))
    net = eqx.nn.Sequential(
        [eqx.nn.Conv2d(1, 4, 3, key=k0), eqx.nn.Lambda(jnp.ravel), eqx.nn.Linear(144, 2, key=k1)]
    )
    with pytest.raises(ValueError, match=r"\(8, 8, 1\).*channels first.*moveaxis"):
        frameworks.as_model(net, jnp.ones((2, 8, 8, 1)))
    assert frameworks.as_model(net, jnp.ones((2, 1, 8, 8))).kind == "equinox"


# --------------------------------------------------------------------------- blocks


class ResBlock(nn.Module):
    @nn.compact
    def __call__(self, x):
        return x + nn.Dense(x.shape[-1])(nn.relu(x))


class ResMLP(nn.Module):
    depth: int = 4

    @nn.compact
    def __call__(self, x):
        h = nn.Dense(16)(x)
        for _ in range(self.depth):
            h = ResBlock()(h)
        return nn.Dense(1)(h)


@pytest.mark.slow  # the linen ResNet probe also runs fast in test_models_linen_parity
def test_probe_reads_residual_blocks_of_a_linen_resnet():
    x = jax.random.normal(jax.random.key(1), (64, 2))
    net = ResMLP()
    r = probe_seeds(net, jinit.he_normal, x, seeds=3)
    assert r.layers == ("Dense_0", *(f"ResBlock_{i}" for i in range(4)), "Dense_1")
    # The residual stream's std, computed by Flax itself for seed 0.
    m = frameworks.as_model(net, x[:1])
    params = m.init(run_key(0, "he_normal"), jinit.he_normal, jinit.zeros)
    _, inter = net.apply({"params": params}, x, capture_intermediates=True)
    stream = [inter["intermediates"][f"ResBlock_{i}"]["__call__"][0] for i in range(4)]
    np.testing.assert_allclose(r.stats["std"][0, 1:5], [float(s.std()) for s in stream], rtol=1e-5)
    # Unscaled ReLU branches: the stream's variance grows block after block.
    assert (np.diff(r.mean("std")[1:5]) > 0).all()
    assert np.isfinite(r.stats["w_std"][:, 0]).all() and np.isnan(r.stats["w_std"][:, 1]).all()
    y = (x[:, 0] > 0).astype(jnp.float32)[:, None]
    g = probe_seeds(net, jinit.he_normal, x, seeds=2, y=y, loss=BCE)
    assert np.isfinite(g.stats["grad_z_std"]).all()


class HkRes(hk.Module):
    def __call__(self, x):
        return x + hk.Linear(x.shape[-1])(jax.nn.relu(x))


def test_probe_reads_haiku_blocks():
    def res(x):
        h = hk.Linear(8)(x)
        for _ in range(3):
            h = HkRes()(h)
        return hk.Linear(1)(h)

    x = jax.random.normal(jax.random.key(1), (32, 2))
    r = probe_seeds(hk.transform(res), jinit.he_normal, x, seeds=2)
    assert r.layers == ("linear", "hk_res", "hk_res_1", "hk_res_2", "linear_1")
    assert (np.diff(r.mean("std")[1:4]) > 0).all()


def test_framework_model_init_takes_rules(circles):
    m = frameworks.as_model(LinenMLP(), circles.x_train[:1])
    rules = {"*Dense_1/kernel": jinit.zeros, "*kernel": jinit.he_normal, "*bias": jinit.zeros}
    params = m.init(run_key(2, "zero-readout"), rules)
    expected = jinit.reinit(run_key(2, "zero-readout"), m.template, rules)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not params["Dense_1"]["kernel"].any() and params["Dense_0"]["kernel"].any()


class EqxRes(eqx.Module):
    inp: eqx.nn.Linear
    blocks: list
    out: eqx.nn.Linear

    def __init__(self, key):
        keys = jax.random.split(key, 5)
        self.inp = eqx.nn.Linear(2, 8, key=keys[0])
        self.blocks = [eqx.nn.Linear(8, 8, key=k) for k in keys[1:4]]
        self.out = eqx.nn.Linear(8, 1, key=keys[4])

    def __call__(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(jax.nn.relu(h))
        return self.out(h)


def test_probe_reads_any_equinox_module_block_by_block():
    model, x = EqxRes(jax.random.key(0)), jax.random.normal(jax.random.key(1), (32, 2))
    r = probe_seeds(model, jinit.he_normal, x, seeds=2)
    assert r.layers == ("inp", "blocks/0", "blocks/1", "blocks/2", "out")
    m = frameworks.as_model(model, x[:1])
    p = eqx.combine(m.init(run_key(1, "he_normal"), jinit.he_normal), m.source)
    h = jax.vmap(p.inp)(x)
    np.testing.assert_allclose(r.stats["std"][1, 0], float(h.std()), rtol=1e-5)
    branch = jax.vmap(p.blocks[0])(jax.nn.relu(h))  # a block's output is its branch
    np.testing.assert_allclose(r.stats["std"][1, 1], float(branch.std()), rtol=1e-5)
    assert np.isfinite(r.stats["w_std"]).all()
