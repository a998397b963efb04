"""``track`` may read the model state (BatchNorm running statistics) at every eval point."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jinit
from jinit.engine.program import track_takes_state


class BNNet(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(nn.Dense(4)(x))
        return nn.Dense(1)(nn.relu(h))


def test_track_with_two_arguments_sees_the_running_statistics():
    def bn_mean(params, state):
        return {"mean": state["batch_stats"]["BatchNorm_0"]["mean"],
                "w": params["Dense_0"]["kernel"].std()}  # fmt: skip

    r = jinit.sweep(BNNet(), {"he": jinit.he_normal}, jinit.data.circles(), seeds=2, steps=6,
                    eval_every=3, batch_size=32, keep_params=True, track=bn_mean,
                    optimizer=optax.adam(1e-2), loss="sigmoid_cross_entropy")  # fmt: skip
    got = r.tracked["mean"]  # [inits, seeds, evals, units]
    assert got.shape == (1, 2, 3, 4)  # evals at steps 0, 3, 6
    final = r.model_state["batch_stats"]["BatchNorm_0"]["mean"][0]
    np.testing.assert_allclose(got[0, :, -1], final, rtol=1e-6)
    assert np.abs(got[:, :, 0]).max() == 0 and np.abs(got[:, :, -1]).min() > 0  # they moved


def test_track_with_one_argument_is_called_as_before():
    def one(params):
        return jnp.zeros(())

    def two(params, state):
        return jnp.zeros(())

    def optional(params, scale=2.0):
        return jnp.zeros(())

    assert not track_takes_state(one) and track_takes_state(two)
    assert not track_takes_state(optional) and not track_takes_state(lambda *a: 0)
    assert track_takes_state(lambda p, s: 0) and not track_takes_state(jax.nn.relu)
    # one-argument callbacks keep working in sweeps: tests/test_engine_honesty.py (track)
