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
