"""Integration with Flax (linen, NNX), Haiku and Equinox; jinit.reinit and jinit.describe.

Expected standard deviations are computed here from each kernel's shape and the layer's own
layout, independently of jinit.fans.
"""

from __future__ import annotations

import functools
import math
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit.draw import stable_hash
from jinit.trees import describe, path_key, reinit

nn = pytest.importorskip("flax.linen")
nnx = pytest.importorskip("flax.nnx")
hk = pytest.importorskip("haiku")
eqx = pytest.importorskip("equinox")
jinit_haiku = pytest.importorskip("jinit.haiku")

KEY = jax.random.key(0)
HE_FAN_OUT = functools.partial(jinit.he_normal, mode="fan_out")
SMALL_NORMAL = functools.partial(jinit.normal, stddev=0.02)
RULES = {"*kernel": jinit.he_normal, "*bias": jinit.zeros}


def assert_std(w, expected: float, rel: float = 0.03) -> None:
    std = float(np.asarray(w, np.float64).std())
    assert std == pytest.approx(expected, rel=rel), f"std {std:.5f}, law says {expected:.5f}"


def he_in(shape) -> float:  # (in, out) matrix
    return math.sqrt(2 / shape[0])


def he_out(shape) -> float:
    return math.sqrt(2 / shape[1])


def xavier(shape) -> float:
    return math.sqrt(2 / (shape[0] + shape[1]))


def he_general(shape) -> float:  # DenseGeneral kernel (in, *features): fan_in = in
    return math.sqrt(2 / shape[0])


def he_conv(shape) -> float:  # HWIO kernel: fan_in = kh * kw * in
    return math.sqrt(2 / (shape[0] * shape[1] * shape[2]))


def const_002(shape) -> float:
    return 0.02


X_DENSE = jnp.ones((1, 512))
X_CONV = jnp.ones((1, 8, 8, 32))
X_TOKENS = jnp.zeros((1,), jnp.int32)


# --------------------------------------------------------------------------------------------
# Flax linen and NNX: the functions are the initializers
# --------------------------------------------------------------------------------------------

LINEN_CASES = {
    "dense_he": (lambda: nn.Dense(256, kernel_init=jinit.he_normal), X_DENSE, "kernel", he_in),
    "dense_he_fan_out": (lambda: nn.Dense(256, kernel_init=HE_FAN_OUT), X_DENSE, "kernel", he_out),
    "dense_xavier_uniform": (
        lambda: nn.Dense(256, kernel_init=jinit.xavier_uniform), X_DENSE, "kernel", xavier
    ),
    "dense_general_he": (
        lambda: nn.DenseGeneral((16, 32), kernel_init=jinit.he_normal), X_DENSE, "kernel",
        he_general,
    ),
    "conv_he": (
        lambda: nn.Conv(64, (3, 3), kernel_init=jinit.he_normal), X_CONV, "kernel", he_conv
    ),
    "embed_normal": (
        lambda: nn.Embed(1000, 64, embedding_init=SMALL_NORMAL), X_TOKENS, "embedding", const_002
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", LINEN_CASES)
def test_linen_layers_take_jinit_initializers(case):
    make, x, name, law_std = LINEN_CASES[case]
    w = make().init(KEY, x)["params"][name]
    assert_std(w, law_std(w.shape))


def test_linen_xavier_uniform_respects_its_bound():
    w = nn.Dense(256, kernel_init=jinit.xavier_uniform).init(KEY, X_DENSE)["params"]["kernel"]
    assert float(jnp.abs(w).max()) <= math.sqrt(6 / (512 + 256))


NNX_CASES = {
    "linear_he": (lambda r: nnx.Linear(512, 256, kernel_init=jinit.he_normal, rngs=r), he_in),
    "linear_he_fan_out": (lambda r: nnx.Linear(512, 256, kernel_init=HE_FAN_OUT, rngs=r), he_out),
    "linear_xavier_uniform": (
        lambda r: nnx.Linear(512, 256, kernel_init=jinit.xavier_uniform, rngs=r), xavier
    ),
    "linear_general_he": (
        lambda r: nnx.LinearGeneral(512, (16, 32), kernel_init=jinit.he_normal, rngs=r),
        he_general,
    ),
    "conv_he": (lambda r: nnx.Conv(32, 64, (3, 3), kernel_init=jinit.he_normal, rngs=r), he_conv),
    "embed_normal": (
        lambda r: nnx.Embed(1000, 64, embedding_init=SMALL_NORMAL, rngs=r), const_002
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", NNX_CASES)
def test_nnx_layers_take_jinit_initializers(case):
    make, law_std = NNX_CASES[case]
    layer = make(nnx.Rngs(0))
    w = (layer.embedding if case.startswith("embed") else layer.kernel)[...]
    assert_std(w, law_std(w.shape))


# --------------------------------------------------------------------------------------------
# Haiku: jinit.haiku.initializer draws from hk.next_rng_key()
# --------------------------------------------------------------------------------------------


def test_haiku_linear_draws_he_normal_with_haikus_key():
    def net(x):
        return hk.Linear(256, w_init=jinit_haiku.initializer(jinit.he_normal))(x)

    w = hk.transform(net).init(KEY, X_DENSE)["linear"]["w"]
    assert w.shape == (512, 256)
    assert_std(w, he_in(w.shape))
    # The first key Haiku hands out for this rng, taken in a reference transform.
    first_key = hk.transform(hk.next_rng_key).apply({}, KEY)
    np.testing.assert_array_equal(w, jinit.he_normal(first_key, (512, 256)))


def test_haiku_initializer_takes_names_and_partials():
    def net(x):
        w_init = jinit_haiku.initializer("he_normal:mode=fan_out")
        return hk.Conv2D(64, 3, w_init=w_init)(x)

    w = hk.transform(net).init(KEY, X_CONV)["conv2_d"]["w"]
    assert w.shape == (3, 3, 32, 64)
    assert_std(w, math.sqrt(2 / (9 * 64)))
    with pytest.raises(TypeError, match="expected an initializer"):
        jinit_haiku.initializer(3)


def test_haiku_missing_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "haiku", None)
    with pytest.raises(ImportError, match=re.escape("pip install jinit[haiku]")):
        jinit_haiku.initializer(jinit.he_normal)


# --------------------------------------------------------------------------------------------
# Equinox: reinit with the torch layout
# --------------------------------------------------------------------------------------------


def test_equinox_linear_uses_out_in_layout():
    layer = eqx.nn.Linear(2000, 20, key=KEY)
    new = reinit(KEY, layer, {"*weight": jinit.he_normal, "*bias": jinit.zeros})
    assert new.weight.shape == (20, 2000)
    assert_std(new.weight, math.sqrt(2 / 2000))  # (out, in) layout read as (in, out): 2/20
    assert not new.bias.any()
    assert new(jnp.ones(2000)).shape == (20,)


def test_equinox_mlp_keeps_activations_and_still_runs():
    mlp = eqx.nn.MLP(784, 10, 300, 2, key=KEY)
    new = reinit(KEY, mlp, {"*weight": jinit.he_normal, "*bias": jinit.zeros})
    for layer in new.layers:
        assert_std(layer.weight, math.sqrt(2 / layer.in_features), rel=0.05)
        assert not layer.bias.any()
    assert new.activation is mlp.activation
    assert new.final_activation is mlp.final_activation
    out = new(jnp.ones(784))
    assert out.shape == (10,) and bool(jnp.isfinite(out).all())


def test_equinox_conv_uses_out_in_spatial_layout():
    conv = eqx.nn.Conv2d(16, 64, 3, key=KEY)
    new = reinit(KEY, conv, {"*weight": jinit.he_normal, "*bias": jinit.zeros})
    assert new.weight.shape == (64, 16, 3, 3)
    assert_std(new.weight, math.sqrt(2 / (16 * 9)))
    assert new.bias.shape == (64, 1, 1) and not new.bias.any()
    assert new(jnp.ones((16, 8, 8))).shape == (64, 6, 6)


def test_equinox_orthogonal_rows_are_orthonormal():
    layer = eqx.nn.Linear(300, 20, key=KEY)  # weight (20, 300): 20 orthonormal rows
    new = reinit(KEY, layer, {"*weight": jinit.orthogonal, "*bias": jinit.zeros})
    w = new.weight
    np.testing.assert_allclose(w @ w.T, np.eye(20), atol=1e-5)


# --------------------------------------------------------------------------------------------
# reinit on each framework's trees
# --------------------------------------------------------------------------------------------


def _mlp(n_layers: int):
    return nn.Sequential([nn.Dense(64) for _ in range(n_layers)])


def test_reinit_linen_params_bitwise():
    variables = nn.Dense(64).init(KEY, jnp.ones((1, 32)))
    new = reinit(KEY, variables, RULES)
    path = "['params']['kernel']"
    expected = jinit.he_normal(path_key(KEY, path), (32, 64))
    np.testing.assert_array_equal(new["params"]["kernel"], expected)
    assert not new["params"]["bias"].any()
    assert path_key(KEY, path) == jax.random.fold_in(KEY, stable_hash(path))


def test_reinit_linen_named_dense_bitwise():
    variables = _mlp(2).init(KEY, jnp.ones((1, 32)))
    new = reinit(KEY, variables, RULES)
    path = "['params']['layers_1']['kernel']"
    expected = jinit.he_normal(path_key(KEY, path), (64, 64))
    np.testing.assert_array_equal(new["params"]["layers_1"]["kernel"], expected)


def test_reinit_keeps_linen_partitioning_boxes():
    init = nn.with_partitioning(jinit.lecun_normal, (None, "model"))
    variables = nn.Dense(64, kernel_init=init).init(KEY, jnp.ones((1, 32)))
    kernel = reinit(KEY, variables, {"*kernel": jinit.he_normal})["params"]["kernel"]
    assert isinstance(kernel, nn.Partitioned) and kernel.names == (None, "model")
    expected = jinit.he_normal(path_key(KEY, "['params']['kernel']"), (32, 64))
    np.testing.assert_array_equal(kernel.value, expected)


def test_path_key_formula_is_crc32_masked():
    import zlib

    path = "['params']['Dense_0']['kernel']"
    assert stable_hash(path) == zlib.crc32(path.encode("utf-8")) & 0x7FFFFFFF
    assert 0 <= stable_hash(path) < 2**31


def test_adding_a_layer_leaves_other_draws_alone():
    small = reinit(KEY, _mlp(2).init(KEY, jnp.ones((1, 32))), RULES)
    big = reinit(KEY, _mlp(3).init(KEY, jnp.ones((1, 32))), RULES)
    for name in ("layers_0", "layers_1"):
        np.testing.assert_array_equal(
            small["params"][name]["kernel"], big["params"][name]["kernel"]
        )
    assert not np.array_equal(
        big["params"]["layers_1"]["kernel"], big["params"]["layers_2"]["kernel"]
    )


class _TwoLayers(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(64, 32, rngs=rngs)
        self.bn = nnx.BatchNorm(32, rngs=rngs)
        self.drop = nnx.Dropout(0.1, rngs=rngs)
        self.l2 = nnx.Linear(32, 8, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(self.bn(self.l1(x))))


def test_reinit_nnx_state_and_update():
    model = _TwoLayers(nnx.Rngs(0, dropout=1))
    before = np.asarray(model.l1.kernel[...])
    state = reinit(KEY, nnx.state(model), RULES)
    assert isinstance(state, nnx.State)
    np.testing.assert_array_equal(model.l1.kernel[...], before)  # reinit mutated nothing
    nnx.update(model, state)
    expected = jinit.he_normal(path_key(KEY, "['l1']['kernel']"), (64, 32))
    np.testing.assert_array_equal(model.l1.kernel[...], expected)
    assert not model.l2.bias[...].any()
    assert not model.bn.bias[...].any() and bool((model.bn.scale[...] == 1).all())
    assert model(jnp.ones((2, 64))).shape == (2, 8)


def test_reinit_nnx_module_returns_its_state():
    model = _TwoLayers(nnx.Rngs(0, dropout=1))
    rng_key = model.drop.rngs.key[...]
    from_module = reinit(KEY, model, RULES)
    from_state = reinit(KEY, nnx.state(model), RULES)
    assert isinstance(from_module, nnx.State)
    for a, b in zip(jax.tree.leaves(from_module), jax.tree.leaves(from_state), strict=True):
        np.testing.assert_array_equal(_bits(a), _bits(b))
    nnx.update(model, from_module)
    np.testing.assert_array_equal(_bits(model.drop.rngs.key[...]), _bits(rng_key))


def _bits(x):
    return jax.random.key_data(x) if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else x


def test_reinit_haiku_params():
    params = hk.transform(lambda x: hk.Linear(256)(x)).init(KEY, X_DENSE)
    new = reinit(KEY, params, {"*w": jinit.he_normal, "*b": jinit.zeros})
    expected = jinit.he_normal(path_key(KEY, "['linear']['w']"), (512, 256))
    np.testing.assert_array_equal(new["linear"]["w"], expected)
    assert_std(new["linear"]["w"], he_in((512, 256)))


def test_reinit_plain_dict_leaves_others_alone():
    keep = jnp.full((4,), 7.0)
    tree = {
        "w": jnp.ones((300, 100)),
        "keep": keep,
        "step": jnp.array(3),
        "mask": jnp.ones(3, bool),
        "rng": jax.random.key(1),
        "nothing": None,
        "name": "dense",
        "lr": 0.1,
    }
    new = reinit(KEY, tree, {"w": "he_normal"})
    assert new["keep"] is keep
    assert new["step"] is tree["step"] and new["mask"] is tree["mask"]
    assert new["rng"] is tree["rng"] and new["nothing"] is None
    assert new["name"] == "dense" and new["lr"] == 0.1
    assert_std(new["w"], he_in((300, 100)), rel=0.05)


# --------------------------------------------------------------------------------------------
# describe
# --------------------------------------------------------------------------------------------


def _row(description, suffix: str):
    (row,) = [r for r in description.rows if r.path.endswith(suffix)]
    return row


def test_describe_flax_dense_default_is_lecun_truncated():
    d = describe(nn.Dense(256).init(KEY, X_DENSE))
    kernel = _row(d, "['kernel']")
    assert (kernel.fan_in, kernel.fan_out) == (512, 256)
    assert (kernel.law, kernel.distribution) == ("lecun", "truncated_normal")
    assert kernel.ratio == pytest.approx(1, rel=0.03)
    assert _row(d, "['bias']").law == "zeros"


def test_describe_equinox_linear_default_is_torch_uniform():
    d = describe(eqx.nn.Linear(2000, 20, key=KEY))
    weight = _row(d, ".weight")
    assert (weight.fan_in, weight.fan_out) == (2000, 20)
    assert (weight.law, weight.distribution) == ("torch_default", "uniform")
    assert (_row(d, ".bias").fan_in, _row(d, ".bias").law) == (None, "small")


def test_describe_he_zeros_orthogonal_small_and_haiku_default():
    tree = {
        "he": jinit.he_normal(KEY, (512, 256)),
        "zeros": jnp.zeros((512, 256)),
        "ortho": jinit.orthogonal(KEY, (512, 128)),
        "small": jinit.normal(KEY, (512, 256)),
    }
    d = describe(tree)
    assert (_row(d, "['he']").law, _row(d, "['he']").distribution) == ("he", "normal")
    assert _row(d, "['zeros']").law == "zeros"
    assert _row(d, "['ortho']").law == "orthogonal"
    assert _row(d, "['ortho']").ratio == pytest.approx(1, rel=1e-3)
    assert (_row(d, "['small']").law, _row(d, "['small']").distribution) == ("small", "normal")
    haiku = describe(hk.transform(lambda x: hk.Linear(256)(x)).init(KEY, X_DENSE))
    w = _row(haiku, "['w']")  # truncated normal with stddev 1/sqrt(fan_in), uncorrected
    assert (w.law, w.distribution) == ("lecun", "truncated_normal")
    assert w.ratio == pytest.approx(0.8796, rel=0.03)


def test_describe_str_and_dicts():
    d = describe(nnx.Linear(512, 256, rngs=nnx.Rngs(0)))
    text = str(d)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["path", "shape", "dtype"]
    assert any(line.startswith("['kernel']") and "lecun truncated_normal" in line for line in lines)
    law_column = lines[0].index("law")
    assert all(line[law_column:].startswith(("lecun", "zeros")) for line in lines[1:])
    dicts = d.to_dicts()
    assert len(dicts) == len(d) == 2
    expected = {"path", "shape", "fan_in", "fan_out", "mean", "std", "law", "ratio", "label"}
    assert expected <= set(dicts[0])
