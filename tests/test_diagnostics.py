"""jinit.diagnostics (jinit.probe and friends): per-layer statistics, gradients, symmetry,
Jacobian spectra, framework taps, and the probe figures of jinit.plots.

Reference values come from hand-built cases and from manual forward passes written here,
independent of jinit.models.MLP.apply.
"""

from __future__ import annotations

import functools
import itertools
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit import plots
from jinit.diagnostics import (
    FORWARD_STATS,
    activation_histograms,
    init_params,
    jacobian_spectrum,
    layer_stats,
    probe,
    probe_seeds,
    symmetry,
    tap,
)
from jinit.models import MLP, ConvNet


@pytest.fixture(scope="module")
def x256():
    return jax.random.normal(jax.random.key(42), (256, 256))


# --------------------------------------------------------------------------- layer_stats


def test_layer_stats_hand_values():
    z = jnp.array([[1.0, -2.0, 0.5], [3.0, -1.0, -0.5]])
    s = layer_stats(z, jnp.maximum(z, 0), activation="relu")
    assert float(s["frac_dead"]) == pytest.approx(1 / 3)  # unit 1 is zero on the batch
    assert float(s["sq_channel_mean"]) == pytest.approx((4 + 0 + 0.0625) / 3)
    assert float(s["channel_var"]) == pytest.approx((1 + 0 + 0.0625) / 3)
    assert float(s["mean"]) == pytest.approx(4.5 / 6)
    assert float(s["z_std"]) == pytest.approx(float(np.std(np.asarray(z))))
    assert float(s["frac_saturated"]) == 0.0
    t = layer_stats(z, jnp.tanh(4 * z), activation="tanh")
    assert float(t["frac_saturated"]) == pytest.approx(4 / 6)  # |tanh(4z)| > 0.99 iff |z| >= 1
    h = 1 / (1 + np.exp(-6 * np.asarray(z)))  # 0.9975, 6e-6, 0.95, 1.0, 0.0025, 0.047
    sig = layer_stats(z, jnp.asarray(h), activation=jax.nn.sigmoid)  # named by lookup
    assert float(sig["frac_saturated"]) == pytest.approx(4 / 6)


@pytest.mark.parametrize("scale", [1e-25, 1e-3, 1e17])
def test_layer_stats_keep_tiny_and_huge_float32_activations(scale):
    """A float32 sum of 65536 squares underflows at 1e-25 and overflows at 1e17; the
    statistics must still equal NumPy's float64 ones on the same numbers (a variance of
    1e34 is still a float32 number; one of 1e-50 is not, so channel_var is 0 there)."""
    base = np.random.default_rng(0).standard_normal((256, 256))
    h = (base * scale).astype(np.float32)
    s = jax.jit(layer_stats)(jnp.asarray(h), jnp.asarray(h))
    h64 = h.astype(np.float64)
    assert float(s["std"]) == pytest.approx(h64.std(), rel=1e-4, abs=0)
    assert float(s["z_std"]) == pytest.approx(h64.std(), rel=1e-4, abs=0)
    assert float(s["mean"]) == pytest.approx(h64.mean(), rel=1e-3, abs=1e-4 * h64.std())
    channel_var = float(np.float32(h64.var(axis=0).mean()))  # 0.0 where it underflows
    assert float(s["channel_var"]) == pytest.approx(channel_var, rel=1e-4, abs=0)


def test_layer_stats_conv_channels_and_jit():
    h = jnp.zeros((2, 3, 3, 4)).at[..., 0].set(1.0)  # channel 0 on, the rest zero
    s = jax.jit(layer_stats)(h, h)
    assert set(s) == set(FORWARD_STATS)
    assert float(s["frac_dead"]) == 0.75
    assert float(s["sq_channel_mean"]) == pytest.approx(0.25)
    assert float(s["channel_var"]) == 0.0


# --------------------------------------------------------------------------- deep ReLU


@pytest.fixture(scope="module")
def deep_results(x256):
    """30 hidden ReLU layers of width 256, zero biases, 3 seeds per init (vmapped probe)."""
    net = MLP([256] * 31 + [10], output="softmax")
    return {
        "xavier": probe_seeds(net, jinit.xavier_normal, x256, seeds=range(3)),
        "he": probe_seeds(net, jinit.he_normal, x256, seeds=range(3)),
    }


def test_deep_relu_std_xavier_vanishes_he_keeps_it(deep_results, x256):
    xavier, he = deep_results["xavier"], deep_results["he"]
    x_std = float(np.std(np.asarray(x256)))
    for r in (xavier, he):
        assert r.stats["std"].shape == (3, 31) and r.seeded and r.n_seeds == 3
        np.testing.assert_allclose(r.inputs["std"], x_std, rtol=1e-5)
    last_xavier = xavier.stats["std"][:, -2]  # last hidden layer, every seed
    last_he = he.stats["std"][:, -2]
    assert np.all(last_xavier < 1e-3 * x_std)
    assert np.all((last_he > x_std / 3) & (last_he < 3 * x_std))
    table = he.table(["std", "frac_dead"])
    assert "±" in table and table.splitlines()[1].split()[0] == "input"
    d = json.loads(json.dumps(he.to_dict()))
    assert d["n_seeds"] == 3 and len(d["stats"]["std"]["mean"]) == 31
    np.testing.assert_allclose(d["stats"]["std"]["std"], he.std("std"))


def test_init_params_equals_model_init():
    net = MLP([5, 5, 5], activation="tanh")
    keys = jinit.keys_from_seeds([3, 9])
    stacked = init_params(net, jinit.he_uniform, keys, bias_init=jinit.normal)
    for i, key in enumerate(keys):
        one = net.init(key, jinit.he_uniform, jinit.normal)
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(stacked), strict=True):
            np.testing.assert_array_equal(a, b[i])
    custom = init_params(net, lambda k: net.init(k, jinit.he_uniform, jinit.normal), keys)
    for a, b in zip(jax.tree.leaves(custom), jax.tree.leaves(stacked), strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- dead, saturated


def test_dead_relu_unit_from_a_large_negative_bias():
    net = MLP([4, 3, 2], output="softmax")
    params = net.init(jax.random.key(0), jinit.he_normal)
    params[0]["bias"] = params[0]["bias"].at[1].set(-100.0)
    x = jax.random.normal(jax.random.key(1), (64, 4))
    r = probe(net, params, x)
    assert r.stats["frac_dead"][0] == pytest.approx(1 / 3)
    assert r.stats["frac_dead"][1] == 0.0


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturation_with_huge_weights(activation):
    net = MLP([32, 64, 64, 2], activation=activation, output="softmax")
    huge = functools.partial(jinit.normal, stddev=100.0)
    params = net.init(jax.random.key(0), huge)
    x = jax.random.normal(jax.random.key(1), (128, 32))
    r = probe(net, params, x)
    assert np.all(r.stats["frac_saturated"][:-1] > 0.95)
    assert r.stats["frac_saturated"][-1] == 0.0  # logits do not saturate
    mild = probe(net, net.init(jax.random.key(0), jinit.xavier_normal), x)
    assert mild.stats["frac_saturated"][0] < 0.05


# --------------------------------------------------------------------------- gradients


def manual_forward(params, x, start=0, z_start=None):
    """A tanh MLP written out here: from layer ``start``'s pre-activation (or the input)."""
    h = x
    zs = []
    for i, layer in enumerate(params):
        z = z_start if (i == start and z_start is not None) else h @ layer["kernel"] + layer["bias"]
        if i < start:
            z = h @ layer["kernel"] + layer["bias"]
        zs.append(z)
        h = jnp.tanh(z) if i < len(params) - 1 else z
    return h, zs


def test_gradient_std_matches_manual_backprop():
    net = MLP([6, 9, 8, 3], activation="tanh", output="softmax")
    params = net.init(jax.random.key(0), jinit.xavier_normal, jinit.normal)
    x = jax.random.normal(jax.random.key(1), (40, 6))
    y = jnp.arange(40) % 3
    r = probe(net, params, x, y)
    assert r.loss == pytest.approx(
        float(jinit.losses.softmax_cross_entropy(net.apply(params, x), y))
    )
    _, zs = manual_forward(params, x)
    for layer in range(3):

        def loss_from_z(z, layer=layer):
            out, _ = manual_forward(params, x, start=layer, z_start=z)
            return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

        g = jax.grad(loss_from_z)(zs[layer])
        assert r.stats["grad_z_std"][layer] == pytest.approx(float(jnp.std(g)), rel=1e-5)

    def loss_of_params(p):
        out, _ = manual_forward(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

    grads = jax.grad(loss_of_params)(params)
    for layer in range(3):
        expected = float(jnp.std(grads[layer]["kernel"]))
        assert r.stats["grad_w_std"][layer] == pytest.approx(expected, rel=1e-5)
        assert r.stats["w_std"][layer] == pytest.approx(float(jnp.std(params[layer]["kernel"])))


# --------------------------------------------------------------------------- symmetry


def test_symmetry_zeros_stay_symmetric_under_gradient_descent():
    net = MLP([4, 6, 5, 3], activation="sigmoid", output="softmax")
    params = net.init(jax.random.key(0), jinit.zeros)
    assert symmetry(params) == [1, 1]
    x = jax.random.normal(jax.random.key(1), (32, 4))
    y = jnp.arange(32) % 3
    opt = optax.sgd(0.5)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        grads = jax.grad(lambda p: jinit.losses.softmax_cross_entropy(net.apply(p, x), y))(params)
        updates, state = opt.update(grads, state)
        return optax.apply_updates(params, updates), state

    for _ in range(10):
        params, state = step(params, state)
    assert float(jnp.abs(params[2]["kernel"]).max()) > 1e-2  # training did move the weights
    assert float(jnp.abs(params[1]["kernel"]).max()) > 0
    assert symmetry(params) == [1, 1]
    assert symmetry(net.init(jax.random.key(0), jinit.he_normal)) == [6, 5]


def test_symmetry_layouts_and_pairs():
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    w1[:, 2] = w1[:, 0]
    w2[2] = w2[0]  # unit 2 duplicates unit 0: same in, bias (zero) and out weights
    b1 = np.zeros(4)
    assert symmetry([(w1, b1), (w2, np.zeros(2))]) == [3]
    assert symmetry([(w1.T, b1), (w2.T, np.zeros(2))], layout="torch") == [3]
    b1[2] = 1.0  # a different bias breaks the tie
    assert symmetry([{"kernel": w1, "bias": b1}, {"kernel": w2, "bias": np.zeros(2)}]) == [4]
    conv = ConvNet((8, 8, 1), channels=(4, 4), n_classes=2)
    assert symmetry(conv.init(jax.random.key(0), jinit.zeros)) == [1, 1]
    with pytest.raises(ValueError, match="layout"):
        symmetry([(w1, b1), (w2, None)], layout="tf")


# --------------------------------------------------------------------------- Jacobian


def test_jacobian_spectrum_orthogonal_vs_gaussian():
    net = MLP([64] * 9, activation="linear", output="linear")
    x = jax.random.normal(jax.random.key(0), (4, 64))
    orth = jacobian_spectrum(net, net.init(jax.random.key(1), jinit.orthogonal), x)
    assert orth["singular_values"].shape == (4, 64)
    np.testing.assert_allclose(orth["singular_values"], 1.0, atol=1e-4)
    gauss = jacobian_spectrum(net, net.init(jax.random.key(1), jinit.lecun_normal), x)
    assert float(gauss["std"]) > 0.3 and float(gauss["condition"]) > 100
    assert float(gauss["mean"]) < 1.0
    out = jacobian_spectrum(
        net.apply, net.init(jax.random.key(1), jinit.orthogonal), x, output="output"
    )
    np.testing.assert_allclose(out["singular_values"], 1.0, atol=1e-4)


# --------------------------------------------------------------------------- frameworks


def reference(widths, x, y):
    net = MLP(widths, activation="tanh", output="softmax")
    params = net.init(jax.random.key(0), jinit.he_normal, jinit.normal)
    return params, probe(net, params, x, y)


def assert_same_stats(result, ref):
    assert list(result.stats) == list(ref.stats)
    for k in ref.stats:
        np.testing.assert_allclose(result.stats[k], ref.stats[k], rtol=2e-5, atol=1e-6, err_msg=k)


@pytest.fixture(scope="module")
def framework_case():
    widths = [8, 16, 16, 4]
    x = jax.random.normal(jax.random.key(1), (32, 8))
    y = jnp.arange(32) % 4
    params, ref = reference(widths, x, y)
    return widths, x, y, params, ref


def test_flax_linen_mlp_matches_jinit(framework_case):
    import flax.linen as nn

    widths, x, y, params, ref = framework_case

    class Net(nn.Module):
        @nn.compact
        def __call__(self, h):
            for w in widths[1:-1]:
                h = jnp.tanh(nn.Dense(w)(h))
            return nn.Dense(widths[-1])(h)

    variables = {"params": {f"Dense_{i}": dict(p) for i, p in enumerate(params)}}
    r = probe(Net(), variables, x, y, loss="softmax_cross_entropy", activation="tanh")
    assert r.layers == ("Dense_0", "Dense_1", "Dense_2")
    assert_same_stats(r, ref)
    bare = probe(Net(), variables["params"], x, y, loss="softmax_cross_entropy", activation="tanh")
    assert_same_stats(bare, ref)


def test_flax_nnx_mlp_matches_jinit(framework_case):
    from flax import nnx

    widths, x, y, params, ref = framework_case

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.layers = nnx.List(
                [nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(widths)]
            )

        def __call__(self, h):
            for layer in self.layers[:-1]:
                h = jnp.tanh(layer(h))
            return self.layers[-1](h)

    model = Net(nnx.Rngs(0))
    for layer, p in zip(model.layers, params, strict=True):
        layer.kernel[...] = p["kernel"]
        layer.bias[...] = p["bias"]
    r = probe(model, None, x, y, loss="softmax_cross_entropy", activation="tanh")
    assert r.layers == ("layers/0", "layers/1", "layers/2")
    assert_same_stats(r, ref)
    assert type(model.layers[0]) is nnx.Linear  # the model itself is untouched


@pytest.mark.parametrize("kind", ["mlp", "scan", "sequential"])
def test_equinox_matches_jinit(framework_case, kind):
    import equinox as eqx

    _, x, y, params, ref = framework_case
    mlp = eqx.nn.MLP(8, 4, 16, 2, activation=jnp.tanh, key=jax.random.key(0))
    for i, p in enumerate(params):  # equinox keeps weights as (out, in)
        mlp = eqx.tree_at(
            lambda m, i=i: (m.layers[i].weight, m.layers[i].bias), mlp, (p["kernel"].T, p["bias"])
        )
    if kind == "mlp":
        model = mlp
    elif kind == "scan":
        scan = eqx.nn.MLP(8, 4, 16, 2, activation=jnp.tanh, key=jax.random.key(0), scan=True)
        model = eqx.tree_at(
            lambda m: m.layers,
            scan,
            (mlp.layers[0], jax.tree.map(lambda a: a[None], mlp.layers[1]), mlp.layers[2]),
        )
    else:
        tanh = eqx.nn.Lambda(jnp.tanh)
        model = eqx.nn.Sequential([mlp.layers[0], tanh, mlp.layers[1], tanh, mlp.layers[2]])
    r = probe(model, None, x, y, loss="softmax_cross_entropy", activation="tanh")
    assert len(r.layers) == 3
    assert_same_stats(r, ref)


# --------------------------------------------------------------------------- results, misc


def test_conv_net_channels():
    net = ConvNet((8, 8, 3), channels=(4, 6), n_classes=5)
    x = jax.random.normal(jax.random.key(0), (16, 8, 8, 3))
    params = net.init(jax.random.key(0), jinit.he_normal)
    r = probe(net, params, x)
    assert list(r.stats) == [*FORWARD_STATS, "w_std"]
    _, layers = net.apply(params, x, capture=True)
    h = np.asarray(layers[1]["h"])  # (16, 2, 2, 6): channels are the last axis
    assert r.stats["channel_var"][1] == pytest.approx(h.var(axis=(0, 1, 2)).mean(), rel=1e-5)
    assert len(r.table().splitlines()) == 1 + 1 + 3  # header, input, layers
    assert not r.seeded and np.all(r.std("std") == 0)


def test_probe_errors():
    net = MLP([4, 3, 2], output="softmax")
    params = net.init(jax.random.key(0), jinit.he_normal)
    x = jnp.ones((8, 4))
    with pytest.raises(ValueError, match="needs labels"):
        probe(net, params, x, loss="softmax_cross_entropy")
    with pytest.raises(TypeError, match="cannot read layers"):
        tap(42)
    with pytest.raises(ValueError, match="no parameters"):
        probe(net, None, x)


def test_histograms_and_plots(tmp_path, deep_results):
    pytest.importorskip("matplotlib")
    from jinit import meanfield

    net = MLP([16, 32, 32, 32, 4], activation="tanh", output="softmax")
    x = jax.random.normal(jax.random.key(0), (64, 16))
    hist = activation_histograms(
        net, net.init(jax.random.key(0), jinit.xavier_normal), x, bins=20, value_range=(-1, 1)
    )
    assert hist.fractions.shape == (3, 20) and len(hist.layers) == 3
    np.testing.assert_allclose(hist.fractions.sum(axis=1), 1.0, rtol=1e-6)
    sw2, sb2 = np.linspace(0.5, 3, 5), np.array([0.0, 0.1])
    paths = [
        plots.plot_layer_std(deep_results, tmp_path / "std.png"),
        plots.plot_signal_propagation(deep_results, tmp_path / "signal.png"),
        plots.plot_activation_histograms({"xavier": hist}, tmp_path / "hist.png"),
        plots.plot_phase_diagram(
            "tanh", sw2, sb2, tmp_path / "phase.png", chi=meanfield.phase_diagram("tanh", sw2, sb2)
        ),
    ]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_jacobian_spectrum_in_float64_matches_the_numpy_product():
    # A deep linear Gaussian net: the Jacobian of the last hidden layer is the product of the
    # kernels, whose singular values span far more than float32's 7 digits.
    net = MLP([16] * 14, activation="linear", output="linear")
    params = net.init(jax.random.key(0), jinit.lecun_normal)
    x = jax.random.normal(jax.random.key(1), (2, 16))
    kernels = [np.asarray(p["kernel"], np.float64) for p in params[:-1]]
    exact = np.linalg.svd(functools.reduce(np.matmul, kernels), compute_uv=False)
    assert exact.max() / exact.min() > 1e11  # the case float32 cannot resolve
    got = jacobian_spectrum(net, params, x)
    assert got["singular_values"].dtype == np.float64
    np.testing.assert_allclose(got["singular_values"][0], exact, rtol=1e-4)
    np.testing.assert_allclose(got["condition"], exact.max() / exact.min(), rtol=1e-4)
    f32 = jacobian_spectrum(net, params, x, dtype=jnp.float32)  # the check can fail
    assert abs(math.log(f32["min"] / exact.min())) > math.log(10)


def test_jacobian_spectrum_spread_tells_orthogonal_from_gaussian():
    # tanh at criticality with sigma_b = 0 (small q*): orthogonal weights stay near isometry,
    # Gaussian ones spread (Pennington et al. 2017).
    net = MLP([32] * 18, activation="tanh", output="linear")
    x = 0.1 * jax.random.normal(jax.random.key(1), (2, 32))
    orth = jacobian_spectrum(net, net.init(jax.random.key(0), jinit.orthogonal), x)
    gauss = jacobian_spectrum(net, net.init(jax.random.key(0), jinit.lecun_normal), x)
    assert orth["spread"] < 0.05 and gauss["spread"] > 1.0, (orth["spread"], gauss["spread"])
    assert orth["p1"] > 0.5 and gauss["frac_tiny"] > orth["frac_tiny"]
    assert {"p1", "p10", "p50", "p90", "p99", "frac_tiny"} <= set(orth)
