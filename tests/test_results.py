"""jinit.results: structured metrics, one definition of "failed", paired comparisons."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from jinit import stats
from jinit.results import FAIL_BELOW, Metric, SweepResult


def _result(
    final: dict[str, np.ndarray], diverged=None, first_loss=2.0, loss="binary_cross_entropy"
):
    """A result with two eval points: the train loss starts at ``first_loss``."""
    n_inits, n_seeds = next(iter(final.values())).shape
    metrics = {}
    for name, values in final.items():
        start = np.full_like(values, first_loss if name == "train_loss" else 0.5)
        metrics[name] = np.stack([start, values], axis=-1).astype(np.float64)
    div = np.full((n_inits, n_seeds), -1) if diverged is None else np.asarray(diverged)
    names = [f"init{i}" for i in range(n_inits)]
    return SweepResult(
        names, names, np.arange(n_seeds), np.array([0, 100]), metrics, div,
        config={"steps": 100, "loss": loss},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test_acc", Metric("test", "acc", (0.0, 1.0), True)),
        ("train_loss", Metric("train", "loss", (0.0, math.inf), False)),
        ("val_loss", Metric("val", "loss", (0.0, math.inf), False)),
        ("test_grad_norm", Metric("test", "grad_norm", (-math.inf, math.inf), None)),
        ("sharpness", Metric(None, "sharpness", (-math.inf, math.inf), None)),
    ],
)
def test_metric_parse(name, expected):
    m = Metric.parse(name)
    assert m == expected and m.key == name


def test_failed_has_one_definition_with_the_accuracy_threshold():
    acc = np.array([[0.95, 0.80, 0.99]])
    loss = np.array([[0.1, 0.5, 0.05]])
    r = _result({"train_loss": loss, "train_acc": acc})
    # The old default counted only diverged and stuck runs: 0 failures here.
    assert r.failed().tolist() == [[False, True, False]]
    assert r.summary()[0]["failed"] == 1 and FAIL_BELOW == 0.9
    assert r.failed(fail_below=0).sum() == 0
    assert r.failed(fail_below=0.96).sum() == 2
    title = r.table().splitlines()[0]
    assert "failed = diverged, stuck at the initial loss, or final train_acc < 0.9" in title
    # Regression (no accuracy measured): diverged or stuck only.
    reg = _result({"train_loss": np.array([[0.1, 2.0]])}, loss="mean_squared_error")
    assert reg.failed().tolist() == [[False, True]]
    assert "train_acc" not in reg.fail_definition()


def test_summary_intervals_are_clipped_to_the_metric_range():
    loss = np.array([[0.0001, 0.0002, 0.0003, 0.11]])
    r = _result({"train_loss": loss, "train_acc": np.array([[0.99, 1.0, 1.0, 0.9]])})
    row = r.summary()[0]
    assert row["train_loss"]["ci_low"] == 0.0  # the t interval alone reaches below 0
    assert row["train_acc"]["ci_high"] == 1.0
    assert row["train_loss"]["iqm"] == pytest.approx(0.00025)
    boot = r.summary(ci="bca")[0]["train_loss"]
    assert 0.0 <= boot["ci_low"] <= boot["ci_high"]
    # A loss of the user's own may be negative: not clipped at 0.
    custom = _result({"train_loss": -loss}, loss="<lambda>")
    assert custom.metric("train_loss").bounds == (-math.inf, math.inf)


def test_compare_counts_divergent_runs_at_the_worst_value():
    acc = np.array([[0.95, 0.97, 0.96, 0.98, 0.97], [0.99, 0.99, 0.99, 0.99, math.nan]])
    diverged = np.array([[-1] * 5, [-1, -1, -1, -1, 40]])
    r = _result({"test_acc": acc}, diverged)
    c = r.compare("init0", "init1", metric="test_acc")
    expected = stats.compare(acc[0], np.array([0.99, 0.99, 0.99, 0.99, 0.0]))
    assert c == expected and c.n_pairs == 5


def test_compare_loss_direction():
    loss = np.array([[0.10, 0.12, 0.11, 0.09, 0.10, 0.13], [0.20, 0.22, 0.25, 0.21, 0.24, 0.2]])
    r = _result({"test_loss": loss})
    c = r.compare("init0", "init1", metric="test_loss")
    assert c.diff < 0  # in the metric's units: a lower loss
    assert c.prob_improvement == 1.0  # a is better in every pair
    diverged = np.array([[-1] * 6, [-1] * 5 + [3]])
    div = _result({"test_loss": loss}, diverged).compare("init0", "init1", metric="test_loss")
    assert div.diff == -math.inf and div.prob_improvement == 1.0


def test_compare_all_with_holm():
    rng = np.random.default_rng(0)
    acc = np.clip(rng.normal([[0.9], [0.92], [0.95]], 0.01, (3, 8)), 0, 1)
    r = _result({"test_acc": acc})
    pairs = r.compare_all("test_acc")
    assert [(p.a, p.b) for p in pairs] == [("init0", "init1"), ("init0", "init2"),
                                           ("init1", "init2")]  # fmt: skip
    np.testing.assert_allclose([p.p_holm for p in pairs],
                               stats.holm([p.comparison.p_value for p in pairs]))  # fmt: skip
    base = r.compare_all("test_acc", baseline="init2")
    assert [(p.a, p.b) for p in base] == [("init0", "init2"), ("init1", "init2")]
    assert "p (Holm)" in r.comparison_table("test_acc", baseline="init2")


def test_compare_errors():
    r = _result({"test_acc": np.full((2, 3), 0.9), "test_sharp": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"unknown init 'init9'\. Did you mean .*'init0'"):
        r.compare("init9", "init1")
    with pytest.raises(ValueError, match="higher_is_better"):
        r.compare("init0", "init1", metric="test_sharp")
    assert r.compare("init0", "init1", metric="test_sharp", higher_is_better=False).n_pairs == 3
    with pytest.raises(KeyError, match="no metric"):
        r.compare("init0", "init1", metric="val_acc")


def test_results_does_not_import_plots():
    code = "import sys, jinit.results; print('jinit.plots' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_jinit_loads_faces_lazily():
    code = (
        "import sys, jinit; lazy = ('jinit.experiments', 'jinit.plots', 'jinit.report');"
        "print(any(m in sys.modules for m in lazy));"
        "print(all(hasattr(jinit, n) for n in jinit.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
