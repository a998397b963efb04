"""ResidualMLP, ResNet and Transformer: named parameter paths, the path-key convention,
shapes, gradients, vmap over runs and training in jinit.sweep."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jinit
from jinit.models import ResidualMLP, ResNet, Transformer

KEY = jax.random.key(3)

MODELS = {
    "residual_mlp": lambda: ResidualMLP(6, width=8, depth=2, n_out=3),
    "residual_mlp_ln": lambda: ResidualMLP(6, width=8, depth=2, n_out=3, norm="layer"),
    "resnet": lambda: ResNet((8, 8, 1), stages=(4, 8), n_classes=3),
    "resnet_ln": lambda: ResNet((8, 8, 1), stages=(4, 8), n_classes=3, norm="layer"),
    "resnet_bn": lambda: ResNet((8, 8, 1), stages=(4, 8), n_classes=3, norm="batch"),
    "transformer": lambda: Transformer(7, 3, d_model=8, n_heads=2, n_layers=2, n_classes=3),
    "transformer_causal": lambda: Transformer(
        7, 3, d_model=8, n_heads=2, n_layers=1, n_classes=3, causal=True, pooling="last"
    ),
}


def _inputs(model, n=5):
    if isinstance(model, Transformer):
        return jax.random.randint(KEY, (n, model.seq_len), 0, model.vocab_size).astype(float)
    return jax.random.normal(KEY, (n, *model.input_shape))


def _paths(tree):
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    return {jax.tree_util.keystr(p, simple=True, separator="/") for p, _ in leaves}


@pytest.mark.parametrize("name", MODELS)
def test_shapes_grad_and_determinism(name):
    model = MODELS[name]()
    params = model.init(KEY, jinit.he_normal)
    again = model.init(KEY, jinit.he_normal)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    other = model.init(jax.random.key(4), jinit.he_normal)
    assert not np.array_equal(other["readout"]["kernel"], params["readout"]["kernel"])
    x = _inputs(model)
    logits = model.apply(params, x)
    assert logits.shape == (5, 3) and bool(jnp.isfinite(logits).all())
    grads = jax.jit(jax.grad(lambda p: jnp.sum(model.apply(p, x) ** 2)))(params)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree.leaves(grads))
    _, blocks = model.apply(params, x, capture=True)
    assert len(blocks) == len(params["blocks"]) and "h" in blocks[0]


@pytest.mark.parametrize("name", MODELS)
def test_vmap_over_stacked_params(name):
    model = MODELS[name]()
    keys = jax.random.split(KEY, 3)
    stacked = jax.vmap(lambda k: model.init(k, jinit.he_normal, jinit.normal))(keys)
    x = _inputs(model)
    got = jax.vmap(model.apply, in_axes=(0, None))(stacked, x)
    for r in range(3):
        one = model.init(keys[r], jinit.he_normal, jinit.normal)
        np.testing.assert_allclose(got[r], model.apply(one, x), rtol=1e-5, atol=1e-5)


def test_named_paths():
    assert _paths(MODELS["residual_mlp_ln"]().init(KEY, jinit.he_normal)) == {
        "embed/kernel", "embed/bias", "readout/kernel", "readout/bias",
        "final_norm/scale", "final_norm/bias",
        *(f"blocks/{i}/{layer}/{leaf}" for i in range(2) for layer in ("fc1", "fc2", "norm")
          for leaf in (("scale", "bias") if layer == "norm" else ("kernel", "bias"))),
    }  # fmt: skip
    resnet = _paths(MODELS["resnet_bn"]().init(KEY, jinit.he_normal))
    assert "blocks/1/shortcut/kernel" in resnet and "blocks/0/shortcut/kernel" not in resnet
    assert {"stem/kernel", "stem_norm/scale", "blocks/0/norm2/scale"} <= resnet
    tf = _paths(MODELS["transformer"]().init(KEY, jinit.he_normal))
    roles = ("query", "key", "value", "out")
    assert {f"blocks/1/attn/{r}/kernel" for r in roles} <= tf
    assert {"embed/embedding", "pos_embed/embedding", "blocks/0/mlp/fc2/kernel",
            "blocks/0/ln1/scale", "final_norm/bias", "readout/kernel"} <= tf  # fmt: skip


@pytest.mark.parametrize("name", ["residual_mlp_ln", "resnet_bn", "transformer"])
def test_init_is_reinit_with_path_keys(name):
    """Every leaf draws with path_key(key, keystr(path)): init equals reinit of the same
    tree with the weight law on kernels/embeddings and the bias law on non-norm biases;
    norm scales are ones and norm biases zeros."""
    model = MODELS[name]()
    params = model.init(KEY, jinit.he_normal, jinit.normal)
    is_norm = re.compile(r"norm|ln\d")
    rules = {
        re.compile(r"(kernel|embedding)'\]$"): jinit.he_normal,
        (lambda path, leaf: path.endswith("['bias']") and not is_norm.search(path)): jinit.normal,
    }
    want = jinit.reinit(KEY, params, rules)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(params), jax.tree.leaves(want),
                            strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b, err_msg=jax.tree_util.keystr(path))
        if is_norm.search(jax.tree_util.keystr(path)):
            fill = 1.0 if jax.tree_util.keystr(path).endswith("['scale']") else 0.0
            np.testing.assert_array_equal(a, jnp.full_like(a, fill))


def test_resnet_batch_norm_state():
    model = MODELS["resnet_bn"]()
    params = model.init(KEY, jinit.he_normal)
    x = _inputs(model, 16)
    state = model.init_state()
    assert set(state) == {"stem_norm", "blocks"} and set(state["blocks"][1]) == {
        "norm1", "norm2", "shortcut_norm"}  # fmt: skip
    logits, new = model.apply_train(params, state, x, momentum=0.0)
    np.testing.assert_array_equal(logits, model.apply(params, x))
    np.testing.assert_allclose(model.apply(params, x, state=new), logits, rtol=1e-4, atol=1e-4)
    # evaluation with running statistics is not the batch's own normalization
    assert not np.allclose(model.apply(params, x[:2], state=new), model.apply(params, x[:2]))
    with pytest.raises(ValueError, match="only norm='batch'"):
        MODELS["resnet"]().init_state()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"norm": "group"}, "norm must be one of"),
        ({"stages": ()}, "at least one stage"),
        ({"blocks_per_stage": 0}, "blocks_per_stage must be a positive int"),
    ],
)
def test_resnet_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResNet((8, 8, 1), **kwargs)


def test_transformer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="divisible by n_heads"):
        Transformer(7, 3, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="d_ff must be a positive int, got 0"):
        Transformer(7, 3, d_ff=0)
    with pytest.raises(TypeError, match="count_flops: model must be an MLP or a ConvNet"):
        jinit.models.count_flops(Transformer(7, 3), 4)
    with pytest.raises(ValueError, match="pooling must be"):
        Transformer(7, 3, pooling="max")
    with pytest.raises(ValueError, match="norm must be one of None, 'layer', 'batch'"):
        ResidualMLP(4, norm="group")


def test_causal_attention_ignores_later_tokens():
    model = Transformer(7, 4, d_model=8, n_heads=2, n_layers=2, n_classes=3, causal=True,
                        pooling="last")  # fmt: skip
    params = model.init(KEY, jinit.xavier_normal, jinit.normal)
    x = jnp.array([[1.0, 2, 3, 4]])
    _, blocks = model.apply(params, x, capture=True)
    _, changed = model.apply(params, x.at[0, 3].set(6), capture=True)
    np.testing.assert_allclose(blocks[-1]["h"][0, :3], changed[-1]["h"][0, :3], atol=1e-6)
    assert not np.allclose(blocks[-1]["h"][0, 3], changed[-1]["h"][0, 3])


def test_parse_grammar():
    resnet = jinit.models.parse("resnet:8x8x1:4,8:2:batch", n_classes=10)
    assert (resnet.stages, resnet.blocks_per_stage, resnet.norm) == ((4, 8), 2, "batch")
    assert jinit.models.parse("resnet:8x8x1:4,8").norm is None
    tf = jinit.models.parse("transformer:24,3:32,4,1", n_classes=23)
    assert (tf.vocab_size, tf.seq_len, tf.d_model, tf.n_heads, tf.n_layers) == (24, 3, 32, 4, 1)
    for bad in ("resnet:8x8x1:4,8:1:group", "transformer:24", "resnet:8x8:4"):
        with pytest.raises(ValueError, match=r"accepted: 'mlp:.*'transformer:VOCAB,SEQ"):
            jinit.models.parse(bad)


SWEEPS = {
    "residual_mlp": lambda: (
        ResidualMLP(64, width=16, depth=2, n_out=10),
        jinit.data.digits().subset(256, 64),
    ),
    "resnet": lambda: (
        ResNet((8, 8, 1), stages=(4, 8), n_classes=10, norm="layer"),
        jinit.data.digits_images().subset(256, 64),
    ),
    "transformer": lambda: (
        Transformer(6, 3, d_model=16, n_heads=2, n_layers=1, n_classes=5),
        jinit.data.modular_addition(p=5),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SWEEPS)
def test_sweep_trains(name):
    model, data = SWEEPS[name]()
    result = jinit.sweep(model, {"he": jinit.he_normal}, data, optimizer=optax.adam(1e-2),
                         steps=40, seeds=2, eval_every=40, progress=False)  # fmt: skip
    loss = result.metrics["train_loss"][0]
    assert loss.shape == (2, 2) and (loss[:, -1] < 0.7 * loss[:, 0]).all(), loss


def test_transformer_out_of_range_token_is_nan_not_clamped():
    model = MODELS["transformer"]()
    params = model.init(KEY, jinit.xavier_normal)
    logits = model.apply(params, jnp.array([[1.0, 2, 6], [1, 2, 7], [-1, 2, 3]]))
    assert bool(jnp.isfinite(logits[0]).all())
    assert bool(jnp.isnan(logits[1:]).all())
    # jitted: the gradient op by op costs seconds (the forward pass above stays eager)
    grads = jax.jit(jax.grad(lambda p: model.apply(p, jnp.array([[1.0, 2, 6]])).sum()))(params)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree.leaves(grads))


def test_rules_target_branch_ends_by_path():
    """Zeroing every branch end (``blocks/*/fc2/*``, the Fixup/SkipInit start) by path makes
    each residual block the identity: the stream after every block equals the embedding."""
    model = ResidualMLP(6, width=8, depth=3, n_out=3)
    params = model.init(KEY, jinit.he_normal, jinit.normal)
    zeroed = jinit.reinit(KEY, params, {"blocks/*/fc2/*": jinit.zeros})
    x = _inputs(model)
    embedded = x @ params["embed"]["kernel"] + params["embed"]["bias"]
    _, blocks = model.apply(zeroed, x, capture=True)
    for block in blocks:
        np.testing.assert_allclose(block["h"], embedded, rtol=1e-6)
    _, unzeroed = model.apply(params, x, capture=True)
    assert not np.allclose(unzeroed[-1]["h"], embedded)
