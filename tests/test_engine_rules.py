"""An ``inits`` entry may be reinit rules: He everywhere but a zero readout is one entry."""

import jax
import numpy as np
import optax
import pytest

import jinit
from jinit.keys import run_key

NET = jinit.models.MLP([2, 8, 8, 1])
RULES = {"[0]*kernel": jinit.he_normal, "[1]*kernel": jinit.he_normal, "[2]*kernel": jinit.zeros,
         "*bias": jinit.zeros}  # fmt: skip


@pytest.fixture(scope="module")
def result():
    data = jinit.data.circles(n_train=32, n_test=16)
    return jinit.sweep(NET, {"he, zero readout": RULES}, data, optimizer=optax.sgd(0.1),
                       steps=0, seeds=[0, 3], keep_params=True)  # fmt: skip


def test_rules_entry_draws_with_reinit_from_the_run_key(result):
    for i, seed in enumerate((0, 3)):
        key = run_key(seed, "he, zero readout")
        want = jinit.reinit(key, NET.init(key, jinit.zeros), RULES)
        got = jax.tree_util.tree_map(lambda a, i=i: a[0, i], result.params)
        jax.tree_util.tree_map(np.testing.assert_array_equal, got, want)
    assert float(np.abs(result.params[2]["kernel"]).max()) == 0.0
    assert float(np.abs(result.params[0]["kernel"]).max()) > 0.0


def test_rules_entry_is_named_in_the_spec(result):
    assert result.specs == ["rules [0]*kernel: he_normal, [1]*kernel: he_normal, "
                            "[2]*kernel: zeros, *bias: zeros"]  # fmt: skip


def test_conv_only_law_on_a_dense_leaf_names_the_leaf():
    data = jinit.data.circles(n_train=32, n_test=16)
    with pytest.raises(ValueError, match=r"dirac.*\[0\]\['kernel'\]|\[0\]\['kernel'\].*dirac"):
        jinit.sweep(NET, {"bad": {"*kernel": jinit.dirac, "*bias": jinit.zeros}}, data,
                    steps=1, seeds=1)  # fmt: skip
