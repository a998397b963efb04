"""The experiment options convention (jinit/experiments/options.py)."""

import inspect

import numpy as np
import optax
import pytest

from jinit import data as data_lib
from jinit import experiments, laws
from jinit.engine import sweep
from jinit.experiments.options import Options, options
from jinit.models import MLP


@options(seeds=3, steps=40, lr=0.1, batch_size=8)
def _toy(o: Options, tol: float = 0.5) -> tuple[Options, float]:
    return o, tol


def test_signature_lists_shared_own_and_checkpoint_dir_keyword_only():
    params = inspect.signature(_toy).parameters
    assert list(params) == ["seeds", "steps", "lr", "batch_size", "tol", "checkpoint_dir"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert params["steps"].default == 40 and params["checkpoint_dir"].default is None
    o, tol = _toy(steps=5, tol=0.1)
    assert (o.seeds, o.steps, o.lr, o.batch_size, o.width, tol) == (3, 5, 0.1, 8, None, 0.1)


def test_every_registered_experiment_states_its_shared_options():
    for name in experiments.available():
        exp = experiments.get(name)
        for fn in filter(None, (exp.faithful, exp.sweep)):
            assert "checkpoint_dir" in inspect.signature(fn).parameters, name


def test_bad_options_are_one_line_errors_naming_the_option():
    with pytest.raises(ValueError, match=r"unknown option 'stpes'\. Did you mean 'steps'"):
        _toy(stpes=3)
    with pytest.raises(ValueError, match="steps must be an int >= 0"):
        _toy(steps=-1)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        _toy(batch_size=0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        _toy(lr=0.0)
    with pytest.raises(ValueError, match="seeds"):
        _toy(seeds=[1, 1])
    with pytest.raises(ValueError, match="unknown shared experiment option 'widht'"):
        options(widht=3)
    with pytest.raises(TypeError):
        _toy(3)  # keyword only


def test_options_sweep_is_jinit_sweep_with_the_options_filled_in(tmp_path):
    data = data_lib.circles(n_train=32, n_test=16, seed=0)
    net = MLP([2, 4, 1], output="sigmoid")
    inits = {"he": laws.he_normal}
    o = Options(seeds=2, steps=6, lr=0.1, batch_size=8, checkpoint_dir=str(tmp_path))
    r = o.sweep(net, inits, data, "toy", evals=3, momentum=0.9)
    direct = sweep(net, inits, data, optimizer=optax.sgd(0.1, momentum=0.9), steps=6, seeds=2,
                   batch_size=8, eval_every=2)  # fmt: skip
    np.testing.assert_array_equal(r.metrics["train_loss"], direct.metrics["train_loss"])
    assert (tmp_path / "toy" / "sweep_checkpoint.npz").exists()
    assert o.replace(seeds=[4, 7]).seed_list == [4, 7]
