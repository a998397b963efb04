"""LSUV (Mishkin & Matas 2016): per-layer unit output variance, determinism, clear errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit.research import lsuv, lsuv_seeds

NET = jinit.models.MLP([16] + [32] * 30 + [10], output="softmax")
X = jax.random.normal(jax.random.key(7), (128, 16))


def _stds(params):
    _, layers = NET.apply(params, X, capture=True)
    return np.array([float(layer["z"].std()) for layer in layers])


def test_lsuv_unit_variance_in_a_30_layer_relu_mlp():
    stds = _stds(lsuv(jax.random.key(0), NET, X, tol=0.1))
    assert np.all(np.abs(stds**2 - 1) < 0.1), stds
    # the orthogonal start alone collapses: relu halves the variance per layer
    plain = _stds(NET.init(jax.random.key(0), jinit.orthogonal))
    assert plain[-1] < 1e-3


def test_lsuv_is_deterministic_per_key_and_differs_across_keys():
    a = lsuv(jax.random.key(3), NET, X)
    b = lsuv(jax.random.key(3), NET, X)
    c = lsuv(jax.random.key(4), NET, X)
    assert all(jnp.array_equal(p["kernel"], q["kernel"]) for p, q in zip(a, b, strict=True))
    assert not jnp.array_equal(a[0]["kernel"], c[0]["kernel"])


def test_lsuv_seeds_match_the_sweep_keys():
    stacked = lsuv_seeds(NET, X, [0, 1], name="lsuv")
    one = lsuv(jinit.keys.run_key(1, "lsuv"), NET, X)
    assert jnp.allclose(stacked[5]["kernel"][1], one[5]["kernel"])


def test_lsuv_names_the_layer_that_does_not_converge():
    with pytest.raises(ValueError, match="layer 0 did not reach unit output variance"):
        lsuv(jax.random.key(0), NET, jnp.zeros_like(X))


@pytest.mark.parametrize(("kw", "msg"), [({"tol": 0}, "tol"), ({"max_iters": 0}, "max_iters")])
def test_lsuv_refuses_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        lsuv(jax.random.key(0), NET, X, **kw)


def test_lsuv_model_rescales_a_flax_linen_mlp_through_its_tap():
    import flax.linen as nn

    from jinit.frameworks import as_model
    from jinit.research import lsuv_model

    class Deep(nn.Module):
        @nn.compact
        def __call__(self, x):
            for _ in range(12):
                x = nn.relu(nn.Dense(32)(x))
            return nn.Dense(10)(x)

    params = lsuv_model(jax.random.key(0), Deep(), X)
    layers = as_model(Deep(), X).tap.forward(params, X, None)[1]
    variances = np.array([float(layer["z"].var()) for layer in layers])
    assert len(variances) == 13 and np.all(np.abs(variances - 1) < 0.1), variances
    with pytest.raises(ValueError, match=r"layer 0 \(.*\) did not reach"):
        lsuv_model(jax.random.key(0), Deep(), jnp.zeros_like(X))


def test_lsuv_entry_is_an_inits_entry_of_a_sweep_with_lsuv_per_run():
    from jinit.engine.inits import as_inits, initial_params
    from jinit.engine.model import as_model, template
    from jinit.keys import run_key
    from jinit.research import lsuv_entry, lsuv_model

    net = jinit.models.MLP([16] + [32] * 8 + [10], output="softmax")
    m = as_model(net, X)
    (init,) = as_inits({"lsuv": lsuv_entry(X)})
    assert init.spec == "data-dependent LSUVEntry"
    runs = initial_params(m, (init,), np.array([0, 5]), jnp.float32, template(m, jnp.float32))
    for i, seed in enumerate((0, 5)):  # seed s: exactly lsuv_model(run_key(s, name), ...)
        one = lsuv_model(run_key(seed, "lsuv"), net, X)
        for a, b in zip(jax.tree.leaves(runs), jax.tree.leaves(one), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-7)
        _, layers = net.apply(one, X, capture=True)
        assert all(abs(float(lay["z"].var()) - 1) < 0.1 for lay in layers)
    # and a sweep trains from it
    y = np.arange(128) % 10
    data = jinit.data.Dataset.from_arrays(np.asarray(X), y, np.asarray(X), y)
    r = jinit.sweep(net, {"lsuv": lsuv_entry(X)}, data, seeds=2, steps=3, progress=False)
    assert r.final("train_loss").shape == (1, 2)
    with pytest.raises(ValueError, match=r"lsuv_entry: tol must be a float in \(0, 1\)"):
        lsuv_entry(X, tol=2.0)


def test_the_batch_is_an_argument_of_the_lsuv_programs_not_a_constant(jit_programs):
    """Captured by a closure, the batch would be folded into every variance program as a
    constant (compiled slower, once per batch)."""
    import flax.linen as nn
    from conftest import constants_of_shape

    from jinit.research import lsuv_model

    class Small(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(10)(nn.relu(nn.Dense(32)(x)))

    lsuv(jax.random.key(0), NET, X)
    lsuv_model(jax.random.key(0), Small(), X)
    for text in jit_programs:
        assert not constants_of_shape(text, X.shape)
    assert sum("tensor<128x16xf32>" in text for text in set(jit_programs)) == 2  # one each
