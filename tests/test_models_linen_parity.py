"""The jinit ResNet and Transformer written as Flax linen modules: the same parameters (count,
shapes, a path mapping), the same outputs with the same weights, both trained by
``jinit.sweep`` through the linen adapter, and ``probe_seeds`` of the linen ResNet reading its
per-block residual stream from exactly the sweep's initial parameters."""

from __future__ import annotations

import functools
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit import frameworks
from jinit.activations import activation_fn
from jinit.diagnostics import probe, probe_seeds

# --------------------------------------------------------------------------- the modules


class Block(nn.Module):
    """``relu(h' + conv2(relu(conv1(h))))``, ``h'`` the (1x1, strided) projection if needed."""

    channels: int
    stride: int

    @nn.compact
    def __call__(self, h):
        s = (self.stride, self.stride)
        branch = nn.relu(nn.Conv(self.channels, (3, 3), s, "SAME", name="conv1")(h))
        branch = nn.Conv(self.channels, (3, 3), padding="SAME", name="conv2")(branch)
        if self.stride != 1 or h.shape[-1] != self.channels:
            h = nn.Conv(self.channels, (1, 1), s, "SAME", name="shortcut")(h)
        return nn.relu(h + branch)


class LinenResNet(nn.Module):
    """:class:`jinit.models.ResNet` with ``norm=None``."""

    stages: tuple = (4, 8)
    blocks_per_stage: int = 1
    n_classes: int = 10

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Conv(self.stages[0], (3, 3), padding="SAME", name="stem")(x))
        i = 0
        for s, c in enumerate(self.stages):
            for b in range(self.blocks_per_stage):
                h = Block(c, 2 if s > 0 and b == 0 else 1, name=f"blocks_{i}")(h)
                i += 1
        return nn.Dense(self.n_classes, name="readout")(h.mean(axis=(1, 2)))


class Attention(nn.Module):
    d: int
    heads: int

    @nn.compact
    def __call__(self, h):
        b, t, _ = h.shape
        q, k, v = (nn.Dense(self.d, name=n)(h).reshape(b, t, self.heads, -1)
                   for n in ("query", "key", "value"))  # fmt: skip
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(self.d // self.heads)
        mixed = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, -1), v)
        return nn.Dense(self.d, name="out")(mixed.reshape(b, t, self.d))


class MLP(nn.Module):
    d: int
    ff: int

    @nn.compact
    def __call__(self, h):
        gelu = activation_fn("gelu")
        return nn.Dense(self.d, name="fc2")(gelu(nn.Dense(self.ff, name="fc1")(h)))


class TBlock(nn.Module):
    d: int
    heads: int

    @nn.compact
    def __call__(self, h):
        norm = dict(epsilon=1e-5, use_fast_variance=False)
        h = h + Attention(self.d, self.heads, name="attn")(nn.LayerNorm(**norm, name="ln1")(h))
        return h + MLP(self.d, 4 * self.d, name="mlp")(nn.LayerNorm(**norm, name="ln2")(h))


class LinenTransformer(nn.Module):
    """:class:`jinit.models.Transformer` (pre-LN, mean pooling)."""

    vocab_size: int
    seq_len: int
    d_model: int = 16
    n_heads: int = 2
    n_layers: int = 2
    n_classes: int = 2

    @nn.compact
    def __call__(self, x):
        tokens = x.reshape(x.shape[0], self.seq_len).astype(jnp.int32)
        h = nn.Embed(self.vocab_size, self.d_model, name="embed")(tokens)
        h = h + nn.Embed(self.seq_len, self.d_model, name="pos_embed")(jnp.arange(self.seq_len))
        for i in range(self.n_layers):
            h = TBlock(self.d_model, self.n_heads, name=f"blocks_{i}")(h)
        h = nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, name="final_norm")(h)
        return nn.Dense(self.n_classes, name="readout")(h.mean(axis=1))


# --------------------------------------------------------------------------- the mapping


def linen_path(jinit_path: str) -> str:
    """jinit's ``blocks/3/attn/out/kernel`` is linen's ``blocks_3/attn/out/kernel``."""
    return re.sub(r"blocks/(\d+)", r"blocks_\1", jinit_path)


def flat(tree) -> dict[str, jax.Array]:
    def key(path):
        return "/".join(str(getattr(p, "key", getattr(p, "idx", p))) for p in path)

    return {key(p): v for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def to_linen(params, template):
    """jinit parameters copied into a linen parameter tree shaped like ``template``."""
    src = {linen_path(k): v for k, v in flat(params).items()}
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template),
                                        [src[k] for k in flat(template)])  # fmt: skip


def to_jinit(linen_params, net):
    """Linen parameters copied into ``net``'s parameter tree."""
    src, like = flat(linen_params), net.init(jax.random.key(0), jinit.zeros)
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(like),
                                        [src[linen_path(k)] for k in flat(like)])  # fmt: skip


PAIRS = {
    "resnet": (lambda: jinit.models.ResNet((8, 8, 1), (4, 8), blocks_per_stage=2),
               lambda: LinenResNet((4, 8), 2), (5, 8, 8, 1)),
    "transformer": (lambda: jinit.models.Transformer(24, 3, 16, 2, 2, n_classes=23),
                    lambda: LinenTransformer(24, 3, 16, 2, 2, 23), (5, 3)),
}  # fmt: skip


def _inputs(name, shape):
    if name == "transformer":
        return jax.random.randint(jax.random.key(1), shape, 0, 24).astype(jnp.float32)
    return jax.random.normal(jax.random.key(1), shape)


@pytest.mark.slow
@pytest.mark.parametrize("name", PAIRS)
def test_same_parameters_and_same_outputs(name):
    make_jinit, make_linen, shape = PAIRS[name]
    net, module, x = make_jinit(), make_linen(), _inputs(name, shape)
    params = net.init(jax.random.key(0), jinit.he_normal,
                      functools.partial(jinit.normal, stddev=0.1))  # fmt: skip
    adapted = frameworks.as_model(module, x[:1])
    mine = {linen_path(k): v.shape for k, v in flat(params).items()}
    theirs = {k: v.shape for k, v in flat(adapted.template).items()}
    assert mine == theirs  # same parameters, one to one, same shapes
    copied = to_linen(params, adapted.template)
    np.testing.assert_allclose(adapted.apply(copied, x), net.apply(params, x), rtol=2e-5,
                               atol=2e-5)  # fmt: skip


def test_probe_seeds_of_the_linen_resnet_is_the_sweeps_initial_parameters():
    data = jinit.data.digits(flatten=False)
    module, net = LinenResNet((4, 8), 2), jinit.models.ResNet((8, 8, 1), (4, 8), 2)
    x, seeds = jnp.asarray(data.x_train[:64]), [3, 11]
    r = jinit.sweep(module, {"he": jinit.he_normal}, data, steps=0, seeds=seeds,
                    keep_params=True, loss="softmax_cross_entropy")  # fmt: skip
    swept = jax.tree_util.tree_map(lambda a: a[0], r.params)
    got = probe_seeds(module, jinit.he_normal, x, seeds=seeds, name="he")
    ref = probe(frameworks.as_model(module, x[:1]), swept, x, stacked=True)
    assert got.layers == ("stem", "blocks_0", "blocks_1", "blocks_2", "blocks_3", "readout")
    for k in ref.stats:  # the same weights, bit for bit, so the same statistics
        np.testing.assert_array_equal(got.stats[k], ref.stats[k], err_msg=k)
    # Per-block residual-stream std: the jinit ResNet with the same weights agrees.
    for i in range(len(seeds)):
        one = jax.tree_util.tree_map(lambda a, i=i: a[i], swept)
        _, blocks = net.apply(to_jinit(one, net), x, capture=True)
        np.testing.assert_allclose(got.stats["std"][i, 1:5], [b["h"].std() for b in blocks],
                                   rtol=1e-4)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", PAIRS)
def test_both_train_in_a_sweep(name):
    make_jinit, make_linen, _ = PAIRS[name]
    if name == "resnet":
        data, steps = jinit.data.digits(flatten=False), 100
    else:
        data, steps = jinit.data.modular_addition(23), 100
    kw = dict(optimizer=optax.adam(1e-3), loss="softmax_cross_entropy", steps=steps, seeds=2,
              batch_size=64, eval_every=steps)  # fmt: skip
    for model in (make_jinit(), make_linen()):
        r = jinit.sweep(model, {"he": jinit.he_normal}, data, **kw)
        loss = r.metrics["train_loss"]
        # Unnormalized He ResNets learn slowly (8% in 100 steps here): the loss must fall.
        assert np.isfinite(loss).all() and (loss[..., -1] < loss[..., 0]).all(), model
