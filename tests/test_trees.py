"""jinit.reinit on torch-layout leaves, fan-aware rules and factory errors; jinit.describe's
fan_out laws. (Framework integration and the older reinit tests: tests/test_integration.py.)

Expected values come from the laws' formulas and PyTorch's documented defaults, computed
here from each weight's shape, independently of jinit.fans.
"""

from __future__ import annotations

import functools
import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit.trees import layout_kwargs, path_key, reinit

eqx = pytest.importorskip("equinox")
nn = pytest.importorskip("flax.linen")

KEY = jax.random.key(0)


def torch_layout(w_jax):
    """A JAX-layout (*spatial, in, out) array in the torch layout (out, in, *spatial)."""
    n = w_jax.ndim
    return np.transpose(np.asarray(w_jax), (n - 1, n - 2, *range(n - 2)))


# --------------------------------------------------------------------------- torch layout


def test_jax_factory_on_equinox_linear_gets_fan_in_right():
    # The case: weight (10, 300); He fan_in = 300 gives std sqrt(2/300) = 0.0816
    # (the old code drew it as (in, out) = (10, 300): std sqrt(2/10) = 0.447).
    layer = eqx.nn.Linear(300, 10, key=KEY)
    w = reinit(KEY, layer, {"weight": jax.nn.initializers.he_normal()}).weight
    assert w.shape == (10, 300)
    assert float(w.std()) == pytest.approx(math.sqrt(2 / 300), rel=0.05)
    lam = reinit(KEY, layer, {"weight": lambda k, s, d: jax.random.normal(k, s, d) / s[-2]})
    assert float(lam.weight.std()) == pytest.approx(1 / 300, rel=0.05)  # s[-2] is fan_in


LAWS = {
    "he_normal": jinit.he_normal,
    "jax_glorot": jax.nn.initializers.glorot_uniform(),
    "jax_orthogonal": jax.nn.initializers.orthogonal(),
    "orthogonal": jinit.orthogonal,
    "sparse": functools.partial(jinit.sparse, sparsity=0.5),
    "identity": jinit.identity,
    "lambda": lambda k, s, d: jax.random.normal(k, s, d) * jnp.arange(s[-1], dtype=d),
}


@pytest.mark.parametrize("name", LAWS)
def test_torch_layout_is_the_jax_draw_transposed_bit_for_bit(name):
    law = LAWS[name]
    layer = eqx.nn.Linear(30, 20, key=KEY)  # weight (20, 30)
    got = reinit(KEY, layer, {"weight": law}).weight
    expected = torch_layout(law(path_key(KEY, ".weight"), (30, 20), jnp.float32))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("law", [jinit.dirac, jinit.delta_orthogonal, jinit.he_normal])
def test_torch_layout_conv_is_the_jax_draw_transposed_bit_for_bit(law):
    conv = eqx.nn.Conv2d(4, 6, 3, key=KEY)  # weight (6, 4, 3, 3), HWIO (3, 3, 4, 6)
    got = reinit(KEY, conv, {"weight": law}).weight
    expected = torch_layout(law(path_key(KEY, ".weight"), (3, 3, 4, 6), jnp.float32))
    np.testing.assert_array_equal(got, expected)


def test_equinox_dirac_conv_is_the_identity_map():
    conv = eqx.nn.Conv1d(4, 4, 3, padding=1, key=KEY)
    conv = reinit(KEY, conv, {"weight": jinit.dirac, "bias": jinit.zeros})
    x = jnp.array([[1.0, 2.0, 3.0, 4.0, 5.0]] * 4) * jnp.arange(1, 5)[:, None]
    np.testing.assert_array_equal(conv(x), x)
    conv2 = eqx.nn.Conv2d(3, 3, 3, padding=1, key=KEY)
    conv2 = reinit(KEY, conv2, {"weight": jinit.dirac, "bias": jinit.zeros})
    x2 = jax.random.normal(KEY, (3, 5, 5))
    np.testing.assert_array_equal(conv2(x2), x2)


def test_equinox_delta_orthogonal_has_only_the_centre_tap():
    conv = eqx.nn.Conv2d(8, 8, 3, key=KEY)
    w = np.array(reinit(KEY, conv, {"weight": jinit.delta_orthogonal}).weight)
    centre = w[:, :, 1, 1]
    np.testing.assert_allclose(centre @ centre.T, np.eye(8), atol=1e-5)
    w[:, :, 1, 1] = 0
    assert not w.any()


def test_equinox_sparse_zeroes_per_output_unit():
    layer = eqx.nn.Linear(10, 4, key=KEY)  # weight (4, 10): row o = output unit o's inputs
    w = reinit(KEY, layer, {"weight": functools.partial(jinit.sparse, sparsity=0.9)}).weight
    assert (np.asarray(w) == 0).sum(axis=1).tolist() == [9, 9, 9, 9]


def test_laws_told_their_axes_draw_in_the_leaf_shape():
    layer = eqx.nn.Linear(300, 10, key=KEY)
    bound = functools.partial(jinit.he_normal, in_axis=1, out_axis=0)
    w = reinit(KEY, layer, {"weight": bound}).weight
    np.testing.assert_array_equal(w, bound(path_key(KEY, ".weight"), (10, 300)))
    jax_axes = jax.nn.initializers.he_normal(in_axis=1, out_axis=0)
    w2 = reinit(KEY, layer, {"weight": jax_axes}).weight
    np.testing.assert_array_equal(w2, jax_axes(path_key(KEY, ".weight"), (10, 300)))
    assert float(w2.std()) == pytest.approx(math.sqrt(2 / 300), rel=0.05)


def test_conv_only_laws_on_a_dense_leaf_name_the_leaf():
    with pytest.raises(ValueError, match=r"\.weight.*dirac"):
        reinit(KEY, eqx.nn.Linear(3, 4, key=KEY), {"weight": jinit.dirac})
    tree = {"dense": {"kernel": jnp.ones((3, 4))}}
    with pytest.raises(ValueError, match=r"\['dense'\]\['kernel'\].*delta_orthogonal"):
        reinit(KEY, tree, {"*kernel": jinit.delta_orthogonal})


# --------------------------------------------------------------------------- fan-aware rules

TORCH_RULES = {"weight": jinit.torch_default, "bias": jinit.torch_default_bias}


def assert_torch_uniform(a, fan_in: int) -> None:
    """PyTorch's nn.Linear / nn.Conv*d default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
    weight (kaiming_uniform_ with a=sqrt(5)) and the bias; std bound / sqrt(3)."""
    a = np.asarray(a, np.float64)
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(a).max() <= bound
    assert np.abs(a).max() > 0.8 * bound
    if a.size >= 1000:
        assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


def test_equinox_linear_and_conv_initialised_like_torch():
    layer = reinit(KEY, eqx.nn.Linear(300, 200, key=KEY), TORCH_RULES)
    assert_torch_uniform(layer.weight, 300)
    assert_torch_uniform(layer.bias, 300)
    conv = reinit(KEY, eqx.nn.Conv2d(16, 256, 3, key=KEY), TORCH_RULES)
    assert conv.bias.shape == (256, 1, 1)
    assert_torch_uniform(conv.weight, 16 * 3 * 3)
    assert_torch_uniform(conv.bias, 16 * 3 * 3)


def test_bias_rule_gets_the_fan_in_of_its_kernel_in_jax_layout():
    variables = nn.Dense(200).init(KEY, jnp.ones((1, 300)))
    new = reinit(KEY, variables, {"*kernel": jinit.torch_default, "*bias": "torch_default_bias"})
    assert_torch_uniform(new["params"]["kernel"], 300)
    assert_torch_uniform(new["params"]["bias"], 300)
    k = path_key(KEY, "['params']['bias']")
    np.testing.assert_array_equal(
        new["params"]["bias"], jinit.torch_default_bias(k, (200,), fan_in=300)
    )


def test_bias_rule_without_a_kernel_beside_it_raises():
    tree = {"a": {"w": jnp.ones((3, 4))}, "b": {"bias": jnp.ones(4)}}
    with pytest.raises(ValueError, match=r"\['b'\]\['bias'\].*fan_in"):
        reinit(KEY, tree, {"*bias": jinit.torch_default_bias})
    bound = functools.partial(jinit.torch_default_bias, fan_in=9)
    out = reinit(KEY, {"b2": jnp.ones(4)}, {"b2": bound})["b2"]
    assert float(jnp.abs(out).max()) <= 1 / 3


# --------------------------------------------------------------------------- factories


def test_uncalled_jax_factory_says_call_it():
    tree = {"kernel": jnp.ones((3, 4))}
    msg = r"call the factory: jax\.nn\.initializers\.he_normal\(\)"
    with pytest.raises(TypeError, match=msg):
        reinit(KEY, tree, {"kernel": jax.nn.initializers.he_normal})
    with pytest.raises(TypeError, match=msg):
        jinit.haiku.initializer(jax.nn.initializers.he_normal)
    reinit(KEY, tree, {"kernel": jax.nn.initializers.zeros})  # an initializer, not a factory


# --------------------------------------------------------------------------- describe


def test_describe_names_he_fan_out():
    he_out = functools.partial(jinit.he_normal, mode="fan_out")
    tall = jinit.describe({"w": he_out(KEY, (512, 256))}).rows[0]
    assert (tall.law, tall.distribution) == ("he_fan_out", "normal")
    assert tall.ratio == pytest.approx(1, rel=0.03)
    wide = jinit.describe({"w": he_out(KEY, (256, 512))}).rows[0]  # same std as LeCun here
    assert "he_fan_out" in wide.label and "lecun" in wide.label
    he = jinit.describe({"w": jinit.he_normal(KEY, (512, 256))}).rows[0]
    assert he.label == "he normal"


def test_describe_and_description_still_importable_from_trees():
    from jinit.trees import Description, describe

    assert describe is jinit.describe and isinstance(describe({"w": jnp.ones((3, 3))}), Description)


# --------------------------------------------------------------------------- rules, errors, layout
# (moved from tests/test_integration.py)

HE_FAN_OUT = functools.partial(jinit.he_normal, mode="fan_out")
RULES = {"*kernel": jinit.he_normal, "*bias": jinit.zeros}


def assert_std(w, expected: float, rel: float = 0.03) -> None:
    """The std of ``w`` is the law's, within ``rel``."""
    np.testing.assert_allclose(np.asarray(w, np.float64).std(), expected, rtol=rel)


TREE = {"dense": {"kernel": jnp.ones((300, 100)), "bias": jnp.ones(100)}, "step": jnp.array(3)}


def test_rule_matching_nothing_raises_with_paths():
    with pytest.raises(ValueError, match=r"'\*kernal' matches no float leaf.*\['dense'\]"):
        reinit(KEY, TREE, {"*kernal": jinit.he_normal})


def test_rule_on_int_leaf_raises_and_int_leaves_are_untouched():
    with pytest.raises(ValueError, match="'step' matches no float leaf"):
        reinit(KEY, TREE, {"step": jinit.zeros})
    new = reinit(KEY, TREE, {"*": jinit.zeros})
    assert new["step"] is TREE["step"]


def test_shadowed_rule_raises():
    with pytest.raises(ValueError, match="earlier pattern already takes"):
        reinit(KEY, TREE, [("*", jinit.normal), ("*bias", jinit.zeros)])


def test_first_matching_rule_wins_and_unmatched_stays():
    new = reinit(KEY, TREE, [("*kernel", jinit.zeros), ("*", jinit.ones)])
    assert not new["dense"]["kernel"].any()
    new = reinit(KEY, TREE, {"*kernel": jinit.zeros})
    assert new["dense"]["bias"] is TREE["dense"]["bias"]


def test_regex_and_predicate_rules():
    new = reinit(KEY, TREE, [(re.compile(r"kern.l"), jinit.zeros)])
    assert not new["dense"]["kernel"].any() and bool(new["dense"]["bias"].all())
    new = reinit(KEY, TREE, [(lambda path, leaf: leaf.ndim == 1, jinit.zeros)])
    assert not new["dense"]["bias"].any() and bool(new["dense"]["kernel"].all())
    with pytest.raises(TypeError, match="a pattern must be"):
        reinit(KEY, TREE, [(3, jinit.zeros)])


def test_bad_rules_and_layouts_raise_clearly():
    with pytest.raises(TypeError, match="needs an initializer"):
        reinit(KEY, TREE, {"*kernel": 3})
    with pytest.raises(ValueError, match="unknown initializer"):
        reinit(KEY, TREE, {"*kernel": "he_normall"})
    with pytest.raises(ValueError, match="rules is empty"):
        reinit(KEY, TREE, {})
    with pytest.raises(ValueError, match=r"'jax'.*'torch'"):
        reinit(KEY, TREE, {"*kernel": jinit.zeros}, layout="pytorch")
    with pytest.raises(ValueError, match="matches no float leaf"):
        reinit(KEY, TREE, {"*kernel": jinit.zeros}, layout={"*weight": "torch"})


def test_layout_forced_and_overridden_per_path():
    w = {"a": jnp.ones((10, 3000)), "b": jnp.ones((10, 3000))}
    rules = {"*": jinit.he_normal}
    as_jax = reinit(KEY, w, rules)
    assert_std(as_jax["a"], math.sqrt(2 / 10))
    as_torch = reinit(KEY, w, rules, layout="torch")
    assert_std(as_torch["a"], math.sqrt(2 / 3000))
    mixed = reinit(KEY, w, rules, layout={"b": "torch"})
    np.testing.assert_array_equal(mixed["a"], as_jax["a"])
    np.testing.assert_array_equal(mixed["b"], as_torch["b"])
    conv = eqx.nn.Conv2d(16, 64, 3, key=KEY)
    as_jax_conv = reinit(KEY, conv, {"*weight": jinit.he_normal}, layout={"*weight": "jax"})
    assert_std(as_jax_conv.weight, math.sqrt(2 / (3 * 64 * 16)))


def test_layout_kwargs_respects_bound_axes_and_signatures():
    assert layout_kwargs(jinit.he_normal, 4, "torch") == {"in_axis": 1, "out_axis": 0}
    assert layout_kwargs(jinit.he_normal, 1, "torch") == {}
    assert layout_kwargs(jinit.he_normal, 2, "jax") == {}
    assert layout_kwargs(HE_FAN_OUT, 2, "torch") == {"in_axis": 1, "out_axis": 0}
    bound = functools.partial(jinit.he_normal, in_axis=-1, out_axis=-2)
    assert layout_kwargs(bound, 2, "torch") == {}
    assert layout_kwargs(jinit.orthogonal, 2, "torch") == {"column_axis": 0}
    assert layout_kwargs(jax.nn.initializers.he_normal(), 2, "torch") == {}


def test_dtype_override_jit_and_shape_check():
    new = reinit(KEY, TREE, RULES, dtype=jnp.bfloat16)
    assert new["dense"]["kernel"].dtype == jnp.bfloat16
    jitted = jax.jit(lambda k: reinit(k, TREE, RULES))(KEY)
    np.testing.assert_array_equal(
        jitted["dense"]["kernel"], reinit(KEY, TREE, RULES)["dense"]["kernel"]
    )
    with pytest.raises(ValueError, match="returned shape"):
        reinit(KEY, TREE, {"*kernel": lambda k, shape, dtype: jnp.zeros((2,), dtype)})
