"""Memory planning: groups that fit a budget, the same numbers as one group, clear errors."""

import math

import numpy as np
import optax
import pytest

import jinit
from jinit.engine import plan

NET = jinit.models.MLP([2, 6, 1])
DATA = jinit.data.circles(n_train=48, n_test=24)
INITS = {"he": jinit.he_normal, "xavier": jinit.xavier_normal}


def _sweep(**kw):
    return jinit.sweep(NET, INITS, DATA, optimizer=optax.sgd(0.1), steps=12, eval_every=4,
                       keep_params=True, **kw)  # fmt: skip


def _per_run():
    config = jinit.engine.config.SweepConfig.build(
        NET, INITS, DATA, optimizer=optax.sgd(0.1), loss=None, steps=12, seeds=32,
        batch_size=None, eval_every=4, extra_metrics=None, track=None, devices=None,
        dtype=np.float32, formulation="auto",
    )  # fmt: skip
    return plan.sweep_groups(config, math.inf), plan.run_bytes(
        config.model, config.loss_fn, config.optimizer, config.template, config.data,
        None, np.float32,
    )  # fmt: skip


def test_run_bytes_counts_params_and_activations():
    groups, per_run = _per_run()
    assert len(groups) == 1
    assert per_run.params == (2 * 6 + 6 + 6 + 1) * 4
    assert per_run.opt_state == 0  # plain SGD has no slots
    assert per_run.activations >= 48 * 6 * 4  # at least the hidden layer on the batch
    assert per_run.total > 3 * per_run.params
    # the initial draw of a leaf computes its size class (4096 entries here), held 4 times
    assert per_run.draws == plan.DRAW_COPIES * 4096 * 4


def _same(grouped, whole, exact):
    assert grouped.config["groups"] > 1
    assert "groups" not in whole.config
    assert grouped.inits == whole.inits and np.array_equal(grouped.seeds, whole.seeds)
    check = (
        np.testing.assert_array_equal
        if exact
        else (lambda a, b, err_msg="": np.testing.assert_allclose(a, b, rtol=1e-5, err_msg=err_msg))
    )
    for k, v in whole.metrics.items():
        check(grouped.metrics[k], v, err_msg=k)
    np.testing.assert_array_equal(grouped.diverged_step, whole.diverged_step)
    for a, b in zip(grouped.params, whole.params, strict=True):
        for name in ("kernel", "bias"):
            check(a[name], b[name], err_msg=name)


@pytest.mark.slow  # 5 compiles: about 25 s on a loaded 2-core machine
def test_grouped_sweep_equals_one_group_bit_for_bit():
    """64 runs in 4 groups of 16 (8 seeds of both inits): the same bits as one group."""
    _, per_run = _per_run()
    whole = _sweep(seeds=32)
    per_seed = per_run.order + per_run.draws  # one init's seeds drawn at a time
    grouped = _sweep(seeds=32, max_memory=16 * (per_run.state + per_run.step) + 8 * per_seed + 1)
    assert grouped.config["groups"] == 4
    _same(grouped, whole, exact=True)


@pytest.mark.slow
def test_groups_of_one_run_each_match_to_round_off():
    """One init and seed at a time (tiny groups: XLA:CPU vectorizes a 1-run step otherwise
    than a 16-run one, so the last bit of a few runs may differ)."""
    _, per_run = _per_run()
    whole = _sweep(seeds=[3, 7])
    grouped = _sweep(seeds=[3, 7], max_memory=per_run.total + 1)
    assert grouped.config["groups"] == 4
    _same(grouped, whole, exact=False)


def test_plan_groups_layout():
    per_run = plan.RunBytes(100, 0, 0, 0)  # 300 bytes a run
    assert plan.plan_groups(3, 10, per_run, 300 * 30) == [plan.Group(slice(0, 3), slice(0, 10))]
    groups = plan.plan_groups(3, 10, per_run, 300 * 9)  # 3 seeds of every init
    assert [g.seeds for g in groups] == [slice(0, 2), slice(2, 5), slice(5, 8), slice(8, 10)]
    groups = plan.plan_groups(3, 10, per_run, 300 * 2)  # one init at a time, 2 seeds
    assert len(groups) == 15 and groups[5] == plan.Group(slice(1, 2), slice(0, 2))


def test_one_run_too_big_is_a_clear_error():
    with pytest.raises(ValueError, match=r"one run needs about .* max_memory="):
        _sweep(seeds=2, max_memory=100)


@pytest.mark.parametrize("bad", [0, -5, "1GB", True])
def test_bad_max_memory_refused(bad):
    with pytest.raises(ValueError, match="max_memory must be a positive number"):
        _sweep(seeds=2, max_memory=bad)


def test_optimizer_slots_and_default_budget():
    import jax

    template = NET.init(jax.random.key(0), jinit.he_normal)
    per_run = plan.run_bytes(NET, jinit.losses.get("binary_cross_entropy"), optax.adam(1e-3),
                             template, DATA, 8, np.float32)  # fmt: skip
    assert per_run.opt_state >= 2 * per_run.params  # adam: two moments per parameter
    assert plan.memory_budget(jax.devices()) > 0
    assert plan.memory_budget(jax.devices(), 1e9) == 10**9


def test_group_inits_cuts_explicit_params_to_the_group_seeds():
    import jax

    params = jax.vmap(lambda k: NET.init(k, jinit.he_normal))(
        jax.random.split(jax.random.key(1), 4)
    )
    inits = jinit.engine.inits.as_inits({"given": params, "he": jinit.he_normal})
    sub = plan.group_inits(inits, plan.Group(slice(0, 2), slice(1, 3)))
    np.testing.assert_array_equal(sub["given"][0]["kernel"], params[0]["kernel"][1:3])
    assert sub["he"] == (jinit.he_normal, jinit.zeros)


def test_only_the_runs_computed_at_once_hold_activations():
    """Blocks: a group holds every run's state but one block's activations, so 64 runs with
    blocks of 8 fit where 64 runs' activations would not (the old plan split them)."""
    per_run = plan.RunBytes(100, 0, 1000, 0)  # state 300, activations 1000 a run
    budget = 64 * 300 + 8 * 1000
    assert plan.plan_groups(2, 32, per_run, budget, at_once=8) == [
        plan.Group(slice(0, 2), slice(0, 32))
    ]
    assert len(plan.plan_groups(2, 32, per_run, budget)) > 1  # all at once: it does not fit
    # a budget for 16 runs of state and 8 of activations: groups of 8 seeds of both inits
    groups = plan.plan_groups(2, 32, per_run, 16 * 300 + 8 * 1000, at_once=8)
    assert [g.seeds for g in groups] == [slice(8 * i, 8 * i + 8) for i in range(4)]


def test_the_data_order_counts_once_per_seed():
    per_run = plan.RunBytes(100, 0, 0, 0, order=10_000)
    budget = 20 * 300 + 5 * 10_000  # 10 seeds x 2 inits of state, 5 seeds of order
    groups = plan.plan_groups(2, 10, per_run, budget)
    assert [g.seeds for g in groups] == [slice(0, 5), slice(5, 10)]
    assert plan.order_bytes(48, 48, 100) == 0  # full batch: no order
    # 100 steps of 8 of 48 examples: two chunks of indices, 18 epochs of permutations
    assert plan.order_bytes(48, 8, 100) == 4 * (2 * 100 * 8 + 18 * 48)


def test_a_blocked_sweep_fits_in_one_group_where_its_runs_activations_would_not():
    _, per_run = _per_run()
    state_of_all = 64 * per_run.state + 32 * per_run.draws  # 32 seeds drawn per init
    budget = state_of_all + 8 * per_run.step + 1  # 8 runs' activations: one block of 8
    assert budget < 64 * per_run.total  # the old plan would have split the sweep
    r = _sweep(seeds=32, block_size=8, max_memory=budget)
    assert "groups" not in r.config and r.config["block_size"] == 8


def test_a_block_too_big_for_the_budget_names_block_size():
    per_run = plan.RunBytes(100, 0, 1000, 0)
    with pytest.raises(ValueError, match=r"a block of 8 runs .* smaller block_size="):
        plan.plan_groups(2, 32, per_run, 4000, at_once=8, padded=True)
    # not padded: a group of 3 runs (fewer than a block) holds 3 runs' activations
    assert len(plan.plan_groups(2, 32, per_run, 4000, at_once=8)) > 1


def test_the_initial_draws_count_once_per_seed():
    per_run = plan.RunBytes(100, 0, 0, 0, draws=10_000)
    groups = plan.plan_groups(2, 10, per_run, 20 * 300 + 5 * 10_000)
    assert [g.seeds for g in groups] == [slice(0, 5), slice(5, 10)]
