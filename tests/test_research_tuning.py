"""MetaInit lowers the gradient quotient; GradInit meets its gradient-norm bound and lowers the
loss after one step; both are pure (jit/vmap) and refuse bad arguments."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jinit
from jinit.experiments import research_tuning as rt
from jinit.research import gradient_quotient, gradinit, metainit, step_loss

NET = jinit.models.MLP([8, 16, 16, 16, 4], activation="relu", output="softmax")
X = jax.random.normal(jax.random.key(1), (96, 8))
Y = jax.random.randint(jax.random.key(2), (96,), 0, 4)


def _gq(params):
    return float(gradient_quotient(
        lambda p: jinit.losses.softmax_cross_entropy(NET.apply(p, X), Y), params))  # fmt: skip


def _draw(std, seed=0):
    return NET.init(jax.random.key(seed), functools.partial(jinit.normal, stddev=std))


def test_gradient_quotient_of_a_quadratic_is_its_curvature():
    # L = h/2 |w|^2: g = h w, H g = h^2 w, (g - Hg)/g - 1 = -h
    for h in (0.1, 0.5, 2.0):
        got = gradient_quotient(lambda w, h=h: 0.5 * h * jnp.sum(w**2), jnp.arange(1.0, 5.0))
        assert float(got) == pytest.approx(h, rel=1e-3)  # eps = 1e-5 in the denominator


def test_metainit_lowers_the_gradient_quotient_of_a_too_large_init():
    p0 = _draw(0.5)  # He would be 0.35 for 16 inputs
    p1 = metainit(jax.random.key(3), NET, p0, X, Y, steps=60)
    assert _gq(p1) < 0.1 * _gq(p0)
    # only the weight tensors' norms change (a norm may cross 0, as in the paper's signSGD:
    # the direction is kept up to its sign); biases are kept
    for a, b in zip(p0, p1, strict=True):
        k0, k1 = a["kernel"].ravel(), b["kernel"].ravel()
        cos = float(k0 @ k1 / (jnp.linalg.norm(k0) * jnp.linalg.norm(k1)))
        assert abs(cos) == pytest.approx(1.0)
        np.testing.assert_array_equal(a["bias"], b["bias"])


@pytest.mark.slow
def test_metainit_is_vmappable_over_runs_and_matches_one_run():
    p0 = jax.vmap(lambda k: NET.init(k, jinit.he_normal))(jax.random.split(jax.random.key(0), 2))
    keys = jax.random.split(jax.random.key(4), 2)
    runs = jax.vmap(lambda k, p: metainit(k, NET, p, X, Y, steps=3, batch_size=32))(keys, p0)
    one = metainit(keys[1], NET, jax.tree.map(lambda a: a[1], p0), X, Y, steps=3, batch_size=32)
    np.testing.assert_allclose(runs[0]["kernel"][1], one[0]["kernel"], rtol=1e-5)


def test_gradinit_meets_the_gradient_bound_and_lowers_the_post_step_loss():
    p0 = _draw(1.0)
    s0 = step_loss(NET, p0, X, Y, lr=0.1)
    assert float(s0.grad_norm) > 10  # the start violates ||g||_2 <= 1
    p1 = gradinit(jax.random.key(3), NET, p0, X, Y, lr=0.1, gamma=1.0, steps=300, batch_size=64)
    s1 = step_loss(NET, p1, X, Y, lr=0.1)
    assert float(s1.grad_norm) <= 1.25  # full batch; GradInit enforces it per mini-batch
    assert float(s1.loss_after) < float(s0.loss_after)
    # the weights' scales respect the lower bound alpha >= min_scale
    for a, b in zip(p0, p1, strict=True):
        ratio = float(jnp.linalg.norm(b["kernel"]) / jnp.linalg.norm(a["kernel"]))
        assert 0.01 - 1e-6 <= ratio < 1


def test_gradinit_adam_uses_the_l1_norm_and_stays_finite():
    p0 = _draw(0.3)
    s = step_loss(NET, p0, X, Y, optimizer="adam", lr=1e-3)
    g = jax.grad(lambda p: jinit.losses.softmax_cross_entropy(NET.apply(p, X), Y))(p0)
    assert float(s.grad_norm) == pytest.approx(
        sum(float(jnp.abs(a).sum()) for a in jax.tree.leaves(g)), rel=1e-5)  # fmt: skip
    p1 = gradinit(jax.random.key(0), NET, p0, X, Y, optimizer="adam", lr=1e-3, steps=20,
                  batch_size=32)  # fmt: skip
    assert all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree.leaves(p1))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: metainit(jax.random.key(0), NET, _draw(1.0), X, Y, steps=0),
         "metainit: steps must be a positive int, got 0"),
        (lambda: metainit(jax.random.key(0), NET, _draw(1.0), X, Y[:5]),
         "metainit: x and y must be arrays with the same number"),
        (lambda: metainit(jax.random.key(0), NET, _draw(1.0), X, Y, momentum=1.0),
         r"metainit: momentum must be a number in \[0, 1\)"),
        (lambda: metainit(jax.random.key(0), 3, _draw(1.0), X, Y),
         "metainit: model must be a jinit model"),
        (lambda: gradinit(jax.random.key(0), NET, _draw(1.0), X, Y, optimizer="sgdm"),
         "gradinit: optimizer must be 'sgd' or 'adam', got 'sgdm'"),
        (lambda: gradinit(jax.random.key(0), NET, _draw(1.0), X, Y, batch_size=96),
         "gradinit: batch_size must be >= 2 and 1.5 x batch_size <= the rows of x"),
        (lambda: gradinit(jax.random.key(0), NET, _draw(1.0), X, Y, gamma=-1.0),
         "gradinit: gamma must be a positive number, got -1.0"),
    ],
)  # fmt: skip
def test_bad_arguments_get_one_line_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_the_tuning_batch_is_an_argument_of_the_experiments_programs(jit_programs):
    """MetaInit's and GradInit's experiment programs take the tuning rows as arguments: a
    closure would fold them (512 digits rows) into each program as constants."""
    import types

    from conftest import constants_of_shape

    o = types.SimpleNamespace(width=8, depth=2, seed_list=[0, 1])
    def tune(net, key, params, x, y):  # reads the batch, as MetaInit and GradInit do
        return jax.tree.map(lambda a: a * jnp.mean(x) * jnp.mean(y), params)

    _, net, _, bad, _, (x, y) = rt._setup(o, 0.3, "metainit", tune)
    programs = [rt._quotients.lower(net, bad, x, y).as_text(),
                rt._step_terms.lower(net, bad, x, y, 0.01).as_text()]  # fmt: skip
    batch = f"tensor<{x.shape[0]}x{x.shape[1]}xf32>"
    for text in [*jit_programs, *programs]:
        assert not constants_of_shape(text, x.shape)
    assert all(batch in text for text in programs)
    assert sum(batch in text for text in jit_programs) == 1  # the tuning program
