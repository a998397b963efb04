"""ZerO (Zhao et al. 2021): deterministic, identity on square layers, Hadamard when growing."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jinit.research import zero_init


def test_zero_init_is_deterministic_across_keys():
    draws = jnp.stack([zero_init(jax.random.key(s), (24, 40)) for s in range(5)])
    assert float(jnp.var(draws, axis=0).max()) == 0.0


def test_zero_init_is_the_identity_on_square_and_partial_identity_on_shrinking_layers():
    key = jax.random.key(0)
    assert jnp.array_equal(zero_init(key, (16, 16)), jnp.eye(16))
    assert jnp.array_equal(zero_init(key, (16, 4)), jnp.eye(16, 4))


def test_zero_init_growing_layer_is_a_scaled_hadamard_block():
    w = np.asarray(zero_init(jax.random.key(0), (8, 32)))  # m = 5, c = 2^-2
    assert set(np.unique(np.abs(w))) == {0.25}
    np.testing.assert_allclose(w @ w.T, 32 / 16 * np.eye(8), atol=1e-6)  # rows orthogonal


def test_zero_init_refuses_non_matrices():
    with pytest.raises(ValueError, match="2-D"):
        zero_init(jax.random.key(0), (3, 3, 4, 4))
