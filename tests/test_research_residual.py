"""Fixup, SkipInit, ReZero: zero branch ends make the net its shortcut path; Fixup's scale."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit.research import (
    fixup,
    fixup_rules,
    fixup_scale,
    rezero_rules,
    skipinit_rules,
    with_branch_gates,
)

X = jax.random.normal(jax.random.key(5), (64, 8))


def test_fixup_scale_is_L_to_the_minus_one_over_2m_minus_2():
    assert fixup_scale(16, 2) == pytest.approx(16**-0.5)
    assert fixup_scale(16, 3) == pytest.approx(16**-0.25)
    assert fixup_scale(81, 3) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="branch_layers must be an int >= 2"):
        fixup_scale(4, 1)


def test_fixup_zeroes_branch_ends_and_readout_and_scales_the_inner_layers():
    net = jinit.models.ResidualMLP(8, width=256, depth=16, n_out=3)
    params = fixup(jax.random.key(1), net.init(jax.random.key(0), jinit.xavier_normal), 16)
    for block in params["blocks"]:
        assert not jnp.any(block["fc2"]["kernel"])
        # He std sqrt(2/256), times 16^(-1/2)
        assert float(block["fc1"]["kernel"].std()) == pytest.approx((2 / 256) ** 0.5 / 4, rel=0.05)
    assert not jnp.any(params["readout"]["kernel"])
    # every block is the identity: the residual stream never moves from the embedding
    _, blocks = net.apply(params, X, capture=True)
    embedded = X @ params["embed"]["kernel"] + params["embed"]["bias"]
    for b in blocks:
        assert jnp.array_equal(b["h"], embedded)


def test_fixup_rules_set_scalar_biases_and_multipliers():
    tree = {"blocks": [{"fc1": {"kernel": jnp.ones((4, 4))}, "fc2": {"kernel": jnp.ones((4, 4))},
                        "scale": jnp.array(3.0), "shift": jnp.array(3.0)}],
            "readout": {"kernel": jnp.ones((4, 2))}}  # fmt: skip
    rules = fixup_rules(1, scalar_biases="*shift", multipliers="*scale", biases=None)
    out = jinit.reinit(jax.random.key(0), tree, rules)
    assert float(out["blocks"][0]["scale"]) == 1.0 and float(out["blocks"][0]["shift"]) == 0.0


def _gated_net(params, x):
    """A hand-made residual MLP with a scalar gate per branch: h + gate * fc2(relu(fc1(h)))."""
    h = x @ params["embed"]["kernel"]
    for p in params["blocks"]:
        h = h + p["gate"] * (jax.nn.relu(h @ p["fc1"]["kernel"]) @ p["fc2"]["kernel"])
    return h @ params["readout"]["kernel"]


@pytest.mark.parametrize("rules", [skipinit_rules, rezero_rules])
def test_zero_gates_make_the_network_its_shortcut_path(rules):
    net = jinit.models.ResidualMLP(8, width=32, depth=6, n_out=3)
    params = with_branch_gates(net.init(jax.random.key(0), jinit.he_normal), value=1.0)
    gated = jinit.reinit(jax.random.key(0), params, rules())
    shortcut = X @ params["embed"]["kernel"] @ params["readout"]["kernel"]
    np.testing.assert_allclose(_gated_net(gated, X), shortcut, rtol=1e-6)
    assert not np.allclose(_gated_net(params, X), shortcut, rtol=1e-3)  # gate 1: branches count
    assert all(float(b["gate"]) == 0.0 for b in gated["blocks"])


def test_with_branch_gates_refuses_a_tree_without_blocks():
    with pytest.raises(ValueError, match="'blocks' list"):
        with_branch_gates({"layers": []})


@pytest.mark.parametrize("rules", [skipinit_rules, rezero_rules])
def test_residual_mlp_gates_start_at_one_and_skipinit_rezero_zero_them(rules):
    net = jinit.models.ResidualMLP(8, width=32, depth=6, n_out=3, gates=True)
    params = net.init(jax.random.key(0), jinit.he_normal)
    assert all(float(b["gate"]) == 1.0 for b in params["blocks"])
    plain = jinit.models.ResidualMLP(8, width=32, depth=6, n_out=3)
    np.testing.assert_allclose(net.apply(params, X), plain.apply(
        {k: v for k, v in params.items()} | {"blocks": [
            {k: v for k, v in b.items() if k != "gate"} for b in params["blocks"]]}, X),
        rtol=1e-6)  # fmt: skip
    gated = jinit.reinit(jax.random.key(0), params, rules())
    _, blocks = net.apply(gated, X, capture=True)
    embedded = X @ params["embed"]["kernel"] + params["embed"]["bias"]
    for b in blocks:  # every block is the identity
        np.testing.assert_array_equal(b["h"], embedded)
    # the gates are trained: their gradient is not zero
    grad = jax.grad(lambda p: net.apply(p, X).sum())(gated)
    assert any(float(abs(b["gate"])) > 0 for b in grad["blocks"])


def test_residual_mlp_batch_norm_normalizes_with_batch_or_running_statistics():
    net = jinit.models.ResidualMLP(8, width=16, depth=3, n_out=3, norm="batch")
    params = net.init(jax.random.key(0), jinit.he_normal)
    x = 3.0 + 2.0 * X
    state = net.init_state()
    assert sorted(state) == ["blocks", "final_norm"] and sorted(state["blocks"][0]) == ["norm"]
    logits, new = net.apply_train(params, state, x)
    np.testing.assert_allclose(logits, net.apply(params, x), rtol=1e-6)
    # after one update the running mean of block 0 moved 10% of the way to the batch mean
    h0 = x @ params["embed"]["kernel"] + params["embed"]["bias"]
    np.testing.assert_allclose(new["blocks"][0]["norm"]["mean"], 0.1 * h0.mean(0), rtol=1e-4,
                               atol=1e-5)  # fmt: skip
    # evaluation mode with the initial statistics (mean 0, var 1) differs from batch mode
    assert not np.allclose(net.apply(params, x, state=state), logits, atol=1e-3)
    with pytest.raises(ValueError, match="only norm='batch' has state"):
        jinit.models.ResidualMLP(8, norm="layer").init_state()
    with pytest.raises(TypeError, match="gates must be True or False"):
        jinit.models.ResidualMLP(8, gates=1)
