"""Every experiment's checks can fail: each is fed a deliberately wrong measurement and must
say so. Also the report's honesty: the kind of every expected number, "not run", JSON."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from jinit import experiments
from jinit.experiments import coursera, deep, nielsen, saturation
from jinit.report import Check, LayerProfile, Report, Table

ROOT = Path(__file__).resolve().parents[1]


def wrong(check: Check) -> Check:
    """``check`` with a measurement far outside its criterion."""
    if check.tolerance is not None and isinstance(check.expected, int | float):
        if math.isinf(check.expected):
            return dataclasses.replace(check, measured=0.0)
        return dataclasses.replace(check, measured=check.expected + 10 * check.tolerance + 1)
    if check.below is not None:
        return dataclasses.replace(check, measured=check.below + abs(check.below) + 1)
    return dataclasses.replace(check, measured=check.above - abs(check.above) - 1)


def assert_every_criterion_can_fail(report: Report) -> None:
    judged = [c for c in report.checks if c.passed is not None]
    assert judged, report.text()
    for c in judged:
        assert wrong(c).passed is False, c


# --------------------------------------------------------------------------- report


def test_check_kind_is_required_and_cited():
    with pytest.raises(TypeError):
        Check("x", 1.0, 1.0)  # no kind: every expected number says what it is
    with pytest.raises(ValueError, match="kind must be one of"):
        Check("x", 1.0, 1.0, kind="measured")
    with pytest.raises(ValueError, match="needs its source"):
        Check("x", 0.98, 0.97, kind="reference run")
    assert Check("x", 2, 2, 0, kind="derived").published is None


def test_report_names_the_kind_of_every_expected_number():
    rep = Report("t", "faithful", "T", "src", checks=[
        Check("a", 0.5, 0.5, 0.1, kind="published", source="Paper, Table 1"),
        Check("b", 0.98, 0.97, kind="reference run", source="re-run over NumPy seeds 0-9"),
        Check("c", 1.0, 0.0, 0.1, kind="derived", not_run="too short"),
    ])  # fmt: skip
    text = rep.text()
    assert "kind of expected [source]" in text
    assert "published [1]" in text and "reference run [2]" in text
    assert "[1] Paper, Table 1" in text and "not run: c: too short" in text
    assert "all checks passed" not in text  # one context check, one not run
    assert "1 checks with a criterion passed (1 context only, 1 not run)" in text
    assert rep.passed and not rep.complete
    data = rep.to_dict()
    assert [c["expected_kind"] for c in data["checks"]] == ["published", "reference run",
                                                            "derived"]  # fmt: skip
    assert data["checks"][2]["passed"] is None and data["checks"][2]["not_run"] == "too short"


def test_report_json_keeps_inf_tables_and_profiles(tmp_path):
    rep = Report("t", "sweep (2 seeds)", "T", "src",
                 checks=[Check("ratio", "grows", math.inf, above=2, kind="derived")],
                 tables=[Table("steps", ["depth", "time"], [[2, 10.0], [64, math.inf]])],
                 profiles=[LayerProfile("he", 3, "std", np.array([1.0, 0.9, 0.8]))])  # fmt: skip
    files = rep.write(tmp_path)
    data = json.loads(Path(files["json"]).read_text())
    assert data["checks"][0]["measured"] == "inf" and data["checks"][0]["passed"] is True
    assert data["tables"][0]["rows"][1] == [64, "inf"]
    assert data["profiles"][0] == {"init": "he", "depth": 3, "stat": "std",
                                   "values": [1.0, 0.9, 0.8]}  # fmt: skip
    assert "never" in rep.text()  # inf steps shown as "never"
    pytest.importorskip("matplotlib")
    assert Path(files["layer_std"]).read_bytes()[:4] == b"\x89PNG"


def _jinit_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names if a.name.startswith("jinit")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jinit"):
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_plots_import_nothing_from_jinit_and_experiments_not_the_root():
    # no plots <-> results cycle: plots draws; only the phase diagram asks meanfield (a lower
    # layer) for chi when it is not given.
    plots = _jinit_imports(ROOT / "jinit" / "plots.py")
    assert plots <= {"jinit.meanfield"}, plots
    for path in (ROOT / "jinit" / "experiments").glob("*.py"):
        imported = _jinit_imports(path)
        assert "jinit" not in imported, path  # `import jinit` would be a cycle with __init__
        assert not any(n in imported for n in ("jinit.experiments.Experiment",
                                               "jinit.experiments.register")), path  # fmt: skip


# --------------------------------------------------------------------------- coursera


def test_coursera_steps_0_does_not_pass_or_claim_15000_iterations():
    rep = experiments.run("coursera-init", seeds=2, steps=0)
    text = rep.text()
    assert "all checks passed" not in text and "15000 iterations" not in text
    assert all(c.passed is None for c in rep.checks)
    assert {c.kind for c in rep.checks} == {"reference run"}  # nobody published these medians
    assert all("NumPy" in c.source and "seed" in c.source for c in rep.checks)


def test_coursera_reference_range_checks_can_fail():
    ok = coursera._rerun_check("he", "He", 0.985, full=True)
    assert ok.passed and ok.kind == "reference run"
    assert coursera._rerun_check("he", "He", 0.5, full=True).passed is False
    assert coursera._rerun_check("large x10", "x10", 0.99, full=True).passed is False
    assert coursera._rerun_check("he", "He", 0.5, full=False).passed is None  # other schedule


def test_planar_faithful_checks_fail_on_wrong_numbers():
    rep = experiments.run("planar", faithful=True)
    assert rep.passed and rep.complete, rep.text()
    assert_every_criterion_can_fail(rep)
    kinds = {c.label: c.kind for c in rep.checks}
    assert kinds["randn*0.01: cost at iteration 0"] == "published"
    assert kinds["zeros: distinct hidden units after training"] == "derived"


def test_coursera_faithful_short_run_marks_later_checks_not_run():
    rep = experiments.run("coursera-init", faithful=True, steps=1000)
    not_run = [c for c in rep.checks if c.not_run]
    assert len(not_run) == 9 and all("15000" in c.not_run for c in not_run)
    assert "all checks passed" not in rep.text()
    assert_every_criterion_can_fail(rep)  # the iteration-0 costs


# --------------------------------------------------------------------------- deep-relu


def test_deep_relu_checks_reject_the_wrong_law():
    rng = np.random.default_rng(0)
    good = deep.relu_factor_check("xavier", 30, 2**-0.5 + 0.008 * rng.standard_normal(3))
    assert good.passed
    halving = deep.relu_factor_check("xavier", 30, 0.5 + 0.008 * rng.standard_normal(3))
    assert halving.passed is False  # "the std halves per layer"
    assert deep.relu_factor_check("xavier", 30, np.array([0.7])).not_run
    assert deep.relu_depth_check("xavier", 30, np.array([-15.3, -16.1])).passed
    assert deep.relu_depth_check("xavier", 30, np.array([-30.0, -30.2])).passed is False
    assert deep.relu_depth_check("he", 30, np.array([-0.2, 0.1])).passed
    assert deep.relu_depth_check("he", 30, np.array([-15.0, -15.0])).passed is False


# --------------------------------------------------------------------------- deep-linear


def _linear_report(monkeypatch, table) -> Report:
    monkeypatch.setattr(deep, "_linear_times", lambda *args: (table, {}))
    return experiments.run("deep-linear", seeds=1, depths=(2, 8, 32))


def test_deep_linear_checks_fail_on_wrong_learning_times(monkeypatch):
    saxe = {2: [10.0, 10.0], 8: [35.0, math.inf], 32: [47.0, math.inf]}
    assert _linear_report(monkeypatch, saxe).passed
    faster = {2: [100.0, 10.0], 8: [60.0, 80.0], 32: [20.0, 90.0]}  # fixed-lr artefact
    checks = _linear_report(monkeypatch, faster).checks
    assert [c.passed for c in checks] == [False, True]
    linear = {2: [10.0, 10.0], 8: [40.0, 15.0], 32: [160.0, 12.0]}  # no saturation, flat gauss
    assert [c.passed for c in _linear_report(monkeypatch, linear).checks] == [False, False]


# --------------------------------------------------------------------------- nielsen


def test_nielsen_book_counts_are_judged_on_the_seed_distribution():
    seeds = np.array([9640.0, 9655.0, 9630.0, 9662.0, 9648.0, 9637.0])
    ok = nielsen.book_in_seed_interval("30, 1/sqrt: epoch 30", 9650, seeds)
    assert ok.passed and ok.kind == "published" and "9630..9662" in ok.note
    assert ok.tolerance == pytest.approx(2.5706 * seeds.std(ddof=1) * np.sqrt(1 + 1 / 6), rel=1e-3)
    assert nielsen.book_in_seed_interval("x", 9650, seeds - 120).passed is False
    assert nielsen.book_in_seed_interval("x", 9650, seeds[:2]).not_run


def test_nielsen_lead_check_can_fail():
    setup = nielsen._Setup(None, True, "MNIST")  # only .on_mnist is read
    assert nielsen._lead_check(setup, 30, "lead", 6.0).passed
    assert nielsen._lead_check(setup, 30, "lead", 1.0).passed is False


# --------------------------------------------------------------------------- saturation


def test_saturation_checks_fail_without_the_effect():
    steps = np.arange(0, 1100, 100)
    fig2 = np.array([0.5, 0.2, 0.03, 0.01, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4])
    assert [c.passed for c in saturation.top_layer_checks(fig2, steps)] == [True, True]
    flat = np.full(11, 0.5)
    assert [c.passed for c in saturation.top_layer_checks(flat, steps)] == [False, False]
    stuck = np.array([0.5, 0.2, 0.03, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
    assert [c.passed for c in saturation.top_layer_checks(stuck, steps)] == [True, False]

    frac = np.zeros((11, 4))
    for layer, start in enumerate((2, 4, 6, 8)):
        frac[start:, layer] = 0.1
    assert saturation.order_check(frac, steps).passed
    assert saturation.order_check(frac[:, ::-1], steps).passed is False  # top layer first
    assert saturation.order_check(np.zeros((11, 4)), steps).passed is False  # none saturates

    alike = {"normalized": {"std": np.array([1.0, 0.9, 0.85, 0.8]),
                            "grad_z_std": np.array([1.0, 1.1, 1.2, 1.2])},
             "standard": {"std": np.array([1.0, 0.58, 0.33, 0.19]),
                          "grad_z_std": np.array([0.19, 0.33, 0.58, 1.0])}}  # fmt: skip
    assert all(c.passed for c in saturation.alike_checks(alike))
    swapped = {"normalized": alike["standard"], "standard": alike["normalized"]}
    assert not any(c.passed for c in saturation.alike_checks(swapped))


def test_report_draws_each_result_and_profile_stat(tmp_path):
    pytest.importorskip("matplotlib")
    import jinit

    data = jinit.data.circles(n_train=32, n_test=16, seed=0)
    net = jinit.models.MLP([2, 4, 1], output="sigmoid")
    r = jinit.sweep(net, {"he": jinit.he_normal}, data, steps=4, seeds=2, eval_every=2)
    rep = Report("t", "sweep (2 seeds)", "T", "src", results={"a": r, "b": r},
                 profiles=[LayerProfile("he", 2, "std", np.array([1.0, 0.5])),
                           LayerProfile("he", 2, "grad_z_std", np.array([0.1, 0.2]))])  # fmt: skip
    files = rep.write(tmp_path)
    assert {"curves_a", "curves_b", "layer_std", "layer_grad_z_std"} <= set(files)
    assert "Across seeds: a" in (tmp_path / "report.md").read_text()
