"""GPT-2, DeepNorm and T-Fixup scalings as rules on jinit.models.Transformer."""

import jax
import pytest

import jinit
from jinit.research import deepnorm_constants, deepnorm_rules, gpt2_rules, tfixup_rules

NET = jinit.models.Transformer(vocab_size=16, seq_len=4, d_model=128, n_heads=4, n_layers=8)
PARAMS = NET.init(jax.random.key(0), jinit.zeros)


def _std(params, *path):
    for p in path:
        params = params[p]
    return float(params["kernel"].std())


def test_gpt2_scales_the_output_projections_by_one_over_sqrt_2_n_layers():
    p = jinit.reinit(jax.random.key(1), PARAMS, gpt2_rules(8))
    assert _std(p, "blocks", 3, "attn", "out") == pytest.approx(0.02 / 4, rel=0.05)
    assert _std(p, "blocks", 3, "mlp", "fc2") == pytest.approx(0.02 / 4, rel=0.05)
    assert _std(p, "blocks", 3, "attn", "query") == pytest.approx(0.02, rel=0.05)
    assert float(p["embed"]["embedding"].std()) == pytest.approx(0.02, rel=0.15)


def test_deepnorm_constants_and_beta_scaling():
    alpha, beta = deepnorm_constants(8)
    assert (alpha, beta) == pytest.approx((16**0.25, 64**-0.25))
    p = jinit.reinit(jax.random.key(1), PARAMS, deepnorm_rules(8))
    xavier = (2 / 256) ** 0.5
    assert _std(p, "blocks", 0, "attn", "value") == pytest.approx(beta * xavier, rel=0.05)
    assert _std(p, "blocks", 0, "attn", "key") == pytest.approx(xavier, rel=0.05)
    with pytest.raises(ValueError, match="kind"):
        deepnorm_constants(8, "seq2seq")


def test_tfixup_scales_value_output_and_mlp_by_067_n_to_the_minus_quarter():
    p = jinit.reinit(jax.random.key(1), PARAMS, tfixup_rules(16))
    xavier = (2 / 256) ** 0.5
    assert _std(p, "blocks", 0, "attn", "out") == pytest.approx(0.67 / 2 * xavier, rel=0.05)
    assert _std(p, "blocks", 0, "attn", "query") == pytest.approx(xavier, rel=0.05)
