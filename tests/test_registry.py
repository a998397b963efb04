"""jinit.get / available / name_of: names, aliases and spec strings."""

from __future__ import annotations

import functools
import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit import laws

KEY = jax.random.key(0)

PUBLIC_INITIALIZERS = sorted(
    name
    for name in jinit.__all__
    if inspect.isfunction(getattr(jinit, name))
    and getattr(laws, name, None) is getattr(jinit, name)
    and "key" in inspect.signature(getattr(jinit, name)).parameters
)


def test_public_initializers_found():
    # Guard against the filter above silently selecting nothing.
    assert {"he_normal", "orthogonal", "sparse", "zeros", "kaiming_uniform"} <= set(
        PUBLIC_INITIALIZERS
    )
    assert len(PUBLIC_INITIALIZERS) == 24


def test_available_contains_every_public_initializer():
    names = jinit.available()
    assert set(PUBLIC_INITIALIZERS) <= set(names)
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:  # and nothing that is not public
        assert getattr(jinit, name) is jinit.get(name)


@pytest.mark.parametrize("name", PUBLIC_INITIALIZERS)
def test_get_by_name(name):
    assert jinit.get(name) is getattr(jinit, name)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("glorot_normal", "xavier_normal"),
        ("glorot_uniform", "xavier_uniform"),
        ("kaiming_normal", "he_normal"),
        ("kaiming_uniform", "he_uniform"),
    ],
)
def test_aliases(alias, canonical):
    assert jinit.get(alias) is jinit.get(canonical) is getattr(jinit, canonical)


def test_callable_passes_through_and_whitespace():
    fn = functools.partial(jinit.normal, stddev=2.0)
    assert jinit.get(fn) is fn
    assert jinit.get("  he_normal  ") is jinit.he_normal
    assert jinit.get("he_normal:") is jinit.he_normal


@pytest.mark.parametrize(
    ("spec", "func", "keywords"),
    [
        ("he_normal:mode=fan_out", jinit.he_normal, {"mode": "fan_out"}),
        ("normal:stddev=10", jinit.normal, {"stddev": 10}),
        ("normal:stddev=1e-2,mean=-0.5", jinit.normal, {"stddev": 0.01, "mean": -0.5}),
        (
            "variance_scaling:scale=2.0,mode=fan_avg,distribution=uniform",
            jinit.variance_scaling,
            {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
        ),
        (
            "xavier_uniform:in_axis=-1,out_axis=-2",
            jinit.xavier_uniform,
            {"in_axis": -1, "out_axis": -2},
        ),
        (
            "variance_scaling:in_axis=(0, 1),out_axis=(2,3),mode='fan_out'",
            jinit.variance_scaling,
            {"in_axis": (0, 1), "out_axis": (2, 3), "mode": "fan_out"},
        ),
        ("he_uniform: mode = fan_out , negative_slope = 0.2", jinit.he_uniform,
         {"mode": "fan_out", "negative_slope": 0.2}),
        ("constant:value=-3", jinit.constant, {"value": -3}),
        ("kaiming_normal:batch_axis=[0]", jinit.he_normal, {"batch_axis": [0]}),
    ],
)  # fmt: skip
def test_spec_strings(spec, func, keywords):
    init = jinit.get(spec)
    assert isinstance(init, functools.partial)
    assert init.func is func
    assert init.keywords == keywords
    assert type(init.keywords.get("stddev", 0.0)) in (int, float)


def test_spec_draws_the_law():
    # Independent expectations from the options themselves.
    w = jinit.get("normal:stddev=10")(KEY, (1000, 200))
    assert float(jnp.std(w)) == pytest.approx(10, rel=0.01)
    w = jinit.get("he_normal:mode=fan_out")(KEY, (3, 3, 16, 256))
    assert float(jnp.var(w)) == pytest.approx(2 / (9 * 256), rel=0.02)
    w = jinit.get("variance_scaling:scale=2.0,mode=fan_avg,distribution=uniform")(KEY, (300, 500))
    bound = math.sqrt(3 * 2.0 / 400)
    assert float(jnp.abs(w).max()) <= bound
    assert float(jnp.abs(w).max()) > 0.99 * bound
    # Course layout (out, in) = (30, 784): fan_in 784, fan_out 30.
    w = jinit.get("xavier_uniform:in_axis=-1,out_axis=-2")(KEY, (30, 784))
    assert float(jnp.abs(w).max()) <= math.sqrt(6 / (784 + 30))
    assert float(jnp.abs(w).max()) > 0.99 * math.sqrt(6 / (784 + 30))


@pytest.mark.parametrize(
    ("spec", "suggestion"),
    [("he_norml", "'he_normal'"), ("xavier_unifrom", "'xavier_uniform'"), ("ortho", None)],
)
def test_unknown_name(spec, suggestion):
    with pytest.raises(ValueError, match="unknown initializer") as info:
        jinit.get(spec)
    msg = str(info.value)
    assert "Available: constant, delta_orthogonal" in msg
    if suggestion:
        assert "Did you mean" in msg and suggestion in msg.split("Available")[0]


def test_unknown_name_with_options():
    with pytest.raises(ValueError, match=r"unknown initializer 'he_norml'.*Did you mean"):
        jinit.get("he_norml:mode=fan_out")


def test_unknown_option_lists_accepted():
    with pytest.raises(
        ValueError,
        match=r"he_normal has no option 'slope'; accepted: mode, negative_slope, distribution, "
        r"in_axis, out_axis, batch_axis",
    ):
        jinit.get("he_normal:slope=0.1")
    with pytest.raises(ValueError, match="zeros has no option 'value'; accepted: none"):
        jinit.get("zeros:value=1")


@pytest.mark.parametrize("spec", ["he_normal:mode", "normal:=3", "normal:stddev=1,mean"])
def test_malformed_option(spec):
    with pytest.raises(ValueError, match=r"malformed option .* write NAME:OPT=VALUE,OPT=VALUE"):
        jinit.get(spec)


def test_not_a_string():
    with pytest.raises(TypeError, match="expected an initializer name or spec string"):
        jinit.get(3)


def test_bad_option_value_is_caught_at_get():
    # Checked when the spec is read (by tracing one draw), not at the first draw.
    with pytest.raises(ValueError, match="unknown mode 'fan_sideways'; accepted: 'fan_in'"):
        jinit.get("he_normal:mode=fan_sideways")


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("normal:stddev=", ValueError, r"malformed option 'stddev=' .* stddev has no value"),
        ("normal:stddev=abc", TypeError, r"'normal:stddev=abc': normal: stddev must be a posit"),
        ("variance_scaling:distribution=unif", ValueError, "unknown distribution 'unif'"),
        ("normal:stddev=1,stddev=2", ValueError, "option 'stddev' is given twice"),
        ("orthogonal:gain=-1", ValueError, "gain must be a finite number > 0"),
        ("sparse:sparsity=2", ValueError, r"sparsity must be a number in \[0, 1\]"),
    ],
)
def test_bad_options_fail_at_get(spec, error, match):
    with pytest.raises(error, match=match):
        jinit.get(spec)


@pytest.mark.parametrize(
    "spec",
    [
        "dirac:groups=5",  # valid for a kernel with 5k output channels
        "variance_scaling:in_axis=(0,1),out_axis=(2,3)",  # valid for 4-D shapes
        "torch_default_bias:fan_in=64",
        "identity:gain=2",
        "delta_orthogonal:gain=2",
    ],
)
def test_options_valid_for_some_shape_are_accepted_at_get(spec):
    assert isinstance(jinit.get(spec), functools.partial)


@pytest.mark.parametrize("name", PUBLIC_INITIALIZERS)
def test_name_of_round_trips_plain(name):
    init = getattr(jinit, name)
    assert jinit.get(jinit.name_of(init)) is init


ROUND_TRIP = [
    functools.partial(jinit.he_normal, mode="fan_out"),
    functools.partial(jinit.normal, stddev=10.0, mean=0.5),
    functools.partial(jinit.normal, stddev=1e-3),
    functools.partial(jinit.variance_scaling, scale=2.0, mode="fan_avg", distribution="uniform"),
    functools.partial(jinit.xavier_uniform, in_axis=-1, out_axis=-2),
    functools.partial(jinit.variance_scaling, in_axis=(0, 1), out_axis=(2, 3)),
    functools.partial(jinit.constant, value=-0.25),
    functools.partial(jinit.sparse, sparsity=0.5, stddev=0.1),
    functools.partial(functools.partial(jinit.kaiming_uniform, negative_slope=0.2), mode="fan_out"),
    functools.partial(jinit.glorot_normal, distribution="truncated_normal"),
    functools.partial(jinit.torch_default_bias, fan_in=64),
]


@pytest.mark.parametrize("init", ROUND_TRIP, ids=jinit.name_of)
def test_name_of_round_trips_partials(init):
    name = jinit.name_of(init)
    back = jinit.get(name)
    assert back.func is init.func
    assert back.keywords == init.keywords
    shape = (4, 3, 8, 8) if "in_axis=(0, 1)" in name else (8, 8)
    a, b = back(KEY, shape), init(KEY, shape)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_name_of_examples():
    assert jinit.name_of(jinit.kaiming_normal) == "he_normal"
    assert jinit.name_of(functools.partial(jinit.he_normal, mode="fan_out")) == (
        "he_normal:mode=fan_out"
    )
    assert jinit.name_of(functools.partial(jinit.zeros)) == "zeros"

    def my_init(key, shape, dtype=jnp.float32):
        return jnp.zeros(shape, dtype)

    assert jinit.name_of(my_init) == "my_init"
