"""SweepResult.select / tune (validation-only selection) and Dataset.split_validation."""

import json

import numpy as np
import optax
import pytest

import jinit
from jinit.results import SweepResult

CONFIGS = [{"learning_rate": 0.01}, {"learning_rate": 0.1}, {"learning_rate": 1.0}]


def _result(val_loss, test_loss, diverged=None):
    """A 4-D result: 2 inits x 3 configs x 4 seeds x 2 evals from final values [2, 3]."""

    def grow(final):
        final = np.asarray(final, float)[:, :, None, None]
        return np.concatenate([np.full_like(final, 1.0), final], -1) + np.zeros((2, 3, 4, 2))

    metrics = {
        "train_loss": grow(val_loss),
        "val_loss": grow(val_loss),
        "test_loss": grow(test_loss),
    }
    div = np.full((2, 3, 4), -1) if diverged is None else diverged
    return SweepResult(
        ["he", "xavier"],
        ["he spec", "xavier spec"],
        np.arange(4),
        np.array([0, 10]),
        metrics,
        div,
        config={"steps": 10},
        configs=CONFIGS,
    )


def test_tune_picks_by_validation_not_test():
    # Validation prefers config 0 for he and 2 for xavier; test prefers the opposite.
    r = _result(
        val_loss=[[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], test_loss=[[0.9, 0.5, 0.1], [0.1, 0.5, 0.9]]
    )
    t = r.tune("val_loss", "min")
    assert t.chosen == {"he": CONFIGS[0], "xavier": CONFIGS[2]}
    np.testing.assert_allclose(t.final("test_loss"), [[0.9] * 4, [0.9] * 4])
    assert t.metrics["val_loss"].shape == (2, 4, 2) and t.diverged_step.shape == (2, 4)
    assert t.specs == ["he spec @ learning_rate=0.01", "xavier spec @ learning_rate=1"]
    assert t.config["tuned_on"] == "val_loss" and t.configs is None
    assert r.tune("val_loss").chosen == t.chosen  # mode from the metric: a loss is minimized
    assert r.tune("val_loss", "max").chosen == {"he": CONFIGS[2], "xavier": CONFIGS[0]}


def test_tune_refuses_test_metrics_and_bad_options():
    r = _result([[0.1, 0.2, 0.3]] * 2, [[0.1, 0.2, 0.3]] * 2)
    with pytest.raises(ValueError, match="refusing to select hyperparameters on 'test_loss'"):
        r.tune("test_loss")
    with pytest.raises(ValueError, match="refusing"):
        r.tune("train_loss")  # a validation split exists: use it
    with pytest.raises(KeyError, match="val_acc"):
        r.tune("val_acc")
    with pytest.raises(ValueError, match="mode"):
        r.tune("val_loss", "lowest")
    with pytest.raises(ValueError, match="at must be"):
        r.tune("val_loss", at="last")


def test_tune_counts_diverged_runs_as_worst_and_at_best():
    div = np.full((2, 3, 4), -1)
    div[:, 0, :3] = 5  # config 0 diverged on 3 of 4 seeds (its recorded values look good)
    r = _result([[0.01, 0.2, 0.3]] * 2, [[0.1, 0.2, 0.3]] * 2, diverged=div)
    assert r.tune("val_loss").chosen["he"] == CONFIGS[1]
    r.metrics["val_loss"][0, 2, :, 0] = 0.0  # config 2 of he was best at its first eval point
    assert r.tune("val_loss", at="best").chosen["he"] == CONFIGS[2]
    assert r.tune("val_loss", at="final").chosen["he"] == CONFIGS[1]


def test_select_shapes_and_errors():
    r = _result([[0.1, 0.2, 0.3]] * 2, [[0.4, 0.5, 0.6]] * 2)
    one = r.select(learning_rate=0.1)
    np.testing.assert_allclose(one.final("test_loss"), 0.5)
    assert one.metrics["test_loss"].shape == (2, 4, 2) and one.config["hparams"] == CONFIGS[1]
    with pytest.raises(ValueError, match="matches 0 configs"):
        r.select(learning_rate=0.3)
    with pytest.raises(ValueError, match="learning_rate"):
        r.select(learning_rat=0.1)
    with pytest.raises(ValueError, match="hyperparameter axis"):
        r.table()  # 4-D: statistics need one config per init first
    with pytest.raises(ValueError, match="hyperparameter axis"):
        r.final("test_loss")


def test_split_validation_is_stratified_deterministic_and_disjoint():
    d = jinit.data.spirals(n_train=300, n_test=30, n_classes=3)
    s = d.split_validation(0.2, seed=1)
    assert len(s.x_val) == 60 and len(s.x_train) == 240
    assert np.bincount(s.y_val).tolist() == [20, 20, 20]
    again = d.split_validation(0.2, seed=1)
    np.testing.assert_array_equal(s.x_val, again.x_val)
    assert not np.array_equal(s.x_val, d.split_validation(0.2, seed=2).x_val)
    both = np.concatenate([s.x_train, s.x_val])
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, d.x_train.tolist()))
    np.testing.assert_array_equal(s.x_test, d.x_test)
    with pytest.raises(ValueError, match="fraction must be a number in"):
        d.split_validation(1.5)
    with pytest.raises(ValueError, match="already has a validation split"):
        s.split_validation(0.1)


def test_sweep_evaluates_the_validation_split_and_tunes_on_it():
    d = jinit.data.circles(n_train=80, n_test=40)
    plain = jinit.sweep(
        jinit.models.MLP([2, 6, 1]),
        {"he": jinit.he_normal},
        d,
        optimizer=optax.sgd(0.1),
        steps=6,
        seeds=2,
        eval_every=3,
    )
    assert not any(k.startswith("val_") for k in plain.metrics)
    same = d._replace(x_val=d.x_test, y_val=d.y_test)  # validation = test: same numbers
    r = jinit.sweep(
        jinit.models.MLP([2, 6, 1]),
        {"he": jinit.he_normal},
        same,
        optimizer=optax.sgd,
        hparams={"learning_rate": [0.01, 0.1]},
        steps=6,
        seeds=2,
        eval_every=3,
    )
    np.testing.assert_array_equal(r.metrics["val_loss"], r.metrics["test_loss"])
    np.testing.assert_array_equal(r.metrics["val_acc"], r.metrics["test_acc"])
    assert r.config["n_val"] == 40
    t = r.tune("val_loss")
    assert t.chosen["he"] in r.configs and t.metrics["val_loss"].shape == (1, 2, 3)
    with pytest.raises(ValueError, match="x_val and y_val"):
        jinit.sweep(
            jinit.models.MLP([2, 6, 1]),
            {"he": jinit.he_normal},
            d._replace(x_val=d.x_test),
            steps=2,
            seeds=1,
        )


def test_cli_compare_tunes_each_init_on_validation(tmp_path, capsys):
    from jinit.cli import main

    out = tmp_path / "tuned"
    status = main(["compare", "--model", "mlp:2,8,1", "--data", "circles",
                   "--inits", "zeros,he_normal", "--seeds", "3", "--steps", "30",
                   "--lr", "0.01,0.3", "--val", "0.25", "--eval-every", "15",
                   "--out", str(out)])  # fmt: skip
    assert status == 0
    text = capsys.readouterr().out
    assert "each init at its best learning rate" in text
    assert "chosen learning rates" in text and "lr=0.3" in text
    assert "paired comparison against the best tuned init" in text
    assert "validation split of 25%" in text
    data = json.loads((out / "results.json").read_text())
    assert set(data["result"]["chosen"]) == {"zeros", "he_normal"}
    assert data["tables"][0]["header"] == ["init", "lr=0.01", "lr=0.3", "chosen"]
    assert data["result"]["config"]["tuned_on"] == "val_loss"
    assert len(data["result"]["metrics"]["val_loss"][0]) == 3  # [inits, seeds, evals]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lr", "0.1,0.1"], "distinct"),
        (["--val", "1.5"], "(0, 1)"),
        (["--lr", "0.1,x"], "number"),
    ],
)
def test_cli_bad_lr_and_val_are_refused(args, fragment, capsys):
    from jinit.cli import main

    with pytest.raises(SystemExit) as err:
        main(["compare", "--steps", "1", *args])
    assert err.value.code == 2 and fragment in capsys.readouterr().err


def test_sensitivity_plot_and_performance_profile(tmp_path):
    pytest.importorskip("matplotlib")
    from jinit import plots_hparams

    r = _result([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]], [[0.4, 0.5, 0.6]] * 2)
    assert plots_hparams.plot_sensitivity(r, str(tmp_path / "s.png")).endswith("s.png")
    assert (tmp_path / "s.png").stat().st_size > 1000
    t = r.tune("val_loss")
    t.metrics["test_loss"][0, :, -1] = [0.4, 0.5, 0.6, 0.7]
    t.metrics["test_loss"][1, :, -1] = 0.45
    t.diverged_step[1, 0] = 3  # a diverged run is never better than tau
    taus, frac = plots_hparams.performance_profile(t, "test_loss")
    assert taus[0] == pytest.approx(0.4) and taus[-1] == pytest.approx(0.7)
    assert frac["he"][0] == 0.0 and frac["he"][-1] == 0.75  # 0.7 < 0.7 is not better
    assert frac["xavier"][-1] == 0.75  # 3 of 4: the diverged one never counts
    plots_hparams.plot_performance_profile(t, str(tmp_path / "p.png"), "test_loss")
    with pytest.raises(ValueError, match="no hyperparameter axis"):
        plots_hparams.plot_sensitivity(t, str(tmp_path / "x.png"))


def test_results_with_schedules_write_json(tmp_path):
    sched = optax.cosine_decay_schedule(0.1, 10)
    r = _result([[0.1, 0.2, 0.3]] * 2, [[0.4, 0.5, 0.6]] * 2)
    r.configs = [{"learning_rate": sched}, *CONFIGS[1:]]
    d = r.to_dict()
    assert d["configs"][0] == {"learning_rate": "schedule"} and d["summary"] is None
    t = r.tune("val_loss")
    t.to_json(tmp_path / "t.json")
    assert json.loads((tmp_path / "t.json").read_text())["chosen"]["he"] == {
        "learning_rate": "schedule"
    }
    assert r.select(learning_rate=sched).config["hparams"] == {"learning_rate": "schedule"}


def _tuned_accs(zeros, x10, he):
    acc = np.array([zeros, x10, he], float)[:, :, None]
    return SweepResult(["zeros", "large x10", "he"], ["z", "x", "h"], np.arange(acc.shape[1]),
                       np.array([10]), {"test_acc": acc}, np.full(acc.shape[:2], -1))  # fmt: skip


def test_coursera_tuned_ranking_checks_can_fail():
    from jinit.experiments.coursera import ranking_checks

    noise = np.linspace(-0.01, 0.01, 8)
    holds = ranking_checks(_tuned_accs(0.5 + noise, 0.75 + noise[::-1], 0.94 + noise))
    assert [c.passed for c in holds] == [True, True]
    wrong = ranking_checks(_tuned_accs(0.5 + noise, 0.95 + noise[::-1], 0.94 + noise))
    assert [c.passed for c in wrong] == [True, False]  # x10 above He: the ranking breaks


def test_cli_reproduce_coursera_tuned(capsys):
    from jinit.cli import main

    status = main(["reproduce", "coursera-init", "--tuned", "--seeds", "3", "--steps", "60"])
    text = capsys.readouterr().out
    assert "survive tuning" in text and "Learning rates chosen on validation" in text
    assert "Expected vs measured" not in text.split("survive tuning")[0]  # no faithful run
    assert status in (0, 1)  # 60 steps need not reproduce the ranking
    assert main(["reproduce", "coursera-init", "--tuned", "--faithful"]) == 2
    assert main(["reproduce", "planar", "--tuned", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "drop --faithful" in err and "--tuned does not apply to experiment 'planar'" in err
