"""The probe runs models with BatchNorm and Dropout (linen, NNX, Equinox, Haiku, jinit
ResNet) in evaluation mode by default (the model's initial running statistics, no dropout)
or in training mode (batch statistics), reading norm outputs too."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_stateful import KINDS, make

import jinit
from jinit import frameworks
from jinit.diagnostics import probe, probe_seeds
from jinit.keys import run_key

NORM_LAYER = {"linen": "BatchNorm_0", "nnx": "bn", "equinox": "bn", "haiku": "batch_norm"}


@pytest.fixture(scope="module")
def x():
    return jnp.asarray(jinit.data.digits(flatten=False).x_train[:32])


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_probe_seeds_of_batchnorm_dropout_models_in_both_modes(kind, x):
    model = make(kind)
    m = frameworks.as_model(model, x[:1])
    ev = probe_seeds(model, jinit.he_normal, x, seeds=2, name="he")
    tr = probe_seeds(model, jinit.he_normal, x, seeds=2, name="he", mode="train")
    assert ev.layers == tr.layers and NORM_LAYER[kind] in ev.layers
    norm = ev.layers.index(NORM_LAYER[kind])
    # The last layer is the model output, computed here by the adapter's own calls.
    for seed in range(2):
        params = m.init(run_key(seed, "he"), jinit.he_normal)
        out_eval = m.apply_eval(params, m.init_state(), x)
        out_train = m.apply_train(params, m.init_state(), x, jax.random.key(0))[0]
        np.testing.assert_allclose(ev.stats["std"][seed, -1], out_eval.std(), rtol=1e-4)
        np.testing.assert_allclose(tr.stats["std"][seed, -1], out_train.std(), rtol=1e-4)
    # Training mode normalizes with the batch's statistics: unit std after the norm.
    np.testing.assert_allclose(tr.stats["z_std"][:, norm], 1.0, rtol=1e-2)
    if kind in ("linen", "nnx"):  # initial running mean 0, var 1: the norm is ~identity
        # (Haiku's and Equinox's initial averages are zero-debiased / empty buffers)
        np.testing.assert_allclose(ev.stats["z_std"][:, norm], ev.stats["z_std"][:, norm - 1],
                                   rtol=1e-4)  # fmt: skip


def test_probe_of_a_linen_module_with_its_own_batch_stats(x):
    model = make("linen")
    m = frameworks.as_model(model, x[:1])
    params = m.init(run_key(0, "he"), jinit.he_normal)
    stats = jax.tree_util.tree_map(lambda a: a + 3.0, m.state)  # a shifted running mean/var
    r = probe(model, {"params": params, **stats}, x)
    np.testing.assert_allclose(r.stats["std"][-1], m.apply_eval(params, stats, x).std(),
                               rtol=1e-4)  # fmt: skip
    with pytest.raises(ValueError, match="unknown mode 'training'; accepted: 'eval', 'train'"):
        probe(model, {"params": params, **stats}, x, mode="training")


@pytest.mark.slow
def test_probe_of_jinit_resnet_reads_blocks_and_batch_norm_modes():
    x = jax.random.normal(jax.random.key(0), (16, 8, 8, 1))
    plain = jinit.models.ResNet((8, 8, 1), (4, 8))
    bn = jinit.models.ResNet((8, 8, 1), (4, 8), norm="batch")
    r = probe_seeds(plain, jinit.he_normal, x, seeds=2)
    assert r.layers == ("stem", "blocks/0/branch", "blocks/0", "blocks/1/branch", "blocks/1",
                        "readout")  # fmt: skip
    params = plain.init(run_key(1, "he_normal"), jinit.he_normal)
    _, blocks = plain.apply(params, x, capture=True)
    np.testing.assert_allclose(r.stats["std"][1, 2], blocks[0]["h"].std(), rtol=1e-5)
    np.testing.assert_allclose(r.stats["std"][1, 3], blocks[1]["branch"].std(), rtol=1e-5)
    ev = probe_seeds(bn, jinit.he_normal, x, seeds=2)
    np.testing.assert_allclose(ev.stats["std"], r.stats["std"], rtol=1e-3)  # identity norms
    tr = probe_seeds(bn, jinit.he_normal, x, seeds=2, mode="train")
    np.testing.assert_allclose(tr.stats["std"][:, 1], 1.0, rtol=1e-2)  # branch after norm2
    y = jnp.arange(16) % 10
    g = probe_seeds(plain, jinit.he_normal, x, seeds=2, y=y)
    assert np.isfinite(g.stats["grad_z_std"]).all() and (g.stats["grad_z_std"] > 0).all()


@pytest.mark.slow
def test_probe_of_jinit_transformer_reads_attention_and_stream():
    net = jinit.models.Transformer(24, 3, d_model=16, n_heads=2, n_layers=2, n_classes=23)
    x = jax.random.randint(jax.random.key(0), (16, 3), 0, 24).astype(jnp.float32)
    r = probe_seeds(net, jinit.xavier_normal, x, seeds=2, y=jnp.arange(16) % 23)
    assert r.layers[:4] == ("embed", "blocks/0/attn", "blocks/0/mlp", "blocks/0")
    params = net.init(run_key(0, "xavier_normal"), jinit.xavier_normal)
    _, blocks = net.apply(params, x, capture=True)
    np.testing.assert_allclose(r.stats["std"][0, 4], blocks[1]["attn"].std(), rtol=1e-5)
    assert np.isfinite(r.stats["w_std"][:, 1]).all() and np.isnan(r.stats["w_std"][:, 3]).all()


def test_probe_of_jinit_residual_mlp_reads_branches_and_stream_with_gradients():
    net = jinit.models.ResidualMLP(8, width=16, depth=3, n_out=3)
    x = jax.random.normal(jax.random.key(0), (32, 8))
    r = probe_seeds(net, jinit.he_normal, x, seeds=3, y=jnp.arange(32) % 3)
    assert r.layers == ("embed", "blocks/0/branch", "blocks/0", "blocks/1/branch", "blocks/1",
                        "blocks/2/branch", "blocks/2", "readout")  # fmt: skip
    params = net.init(run_key(2, "he_normal"), jinit.he_normal)
    _, blocks = net.apply(params, x, capture=True)
    np.testing.assert_allclose(r.stats["std"][2, 6], blocks[2]["h"].std(), rtol=1e-5)
    assert (np.diff(r.mean("std")[[2, 4, 6]]) > 0).all()  # unscaled branches: the stream grows
    assert (r.stats["grad_z_std"] > 0).all()
