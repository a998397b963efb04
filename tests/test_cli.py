"""The jinit command: listing, reproducing, comparing, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jinit.cli import main, split_inits

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jinit.cli", *args],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": REPO},
    )  # fmt: skip


def test_split_inits_keeps_options_together():
    assert split_inits("zeros,normal:stddev=10,mean=1,he_normal") == [
        "zeros",
        "normal:stddev=10,mean=1",
        "he_normal",
    ]
    assert split_inits("he_normal:mode=fan_out") == ["he_normal:mode=fan_out"]


def test_list_names_every_experiment(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("coursera-init", "planar"):
        assert name in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reproduce", "coursera-inti"], "unknown experiment 'coursera-inti'. Did you mean"),
        (["compare", "--inits", "he_nromal", "--steps", "1"], "unknown initializer 'he_nromal'"),
        (["compare", "--inits", "normal:stdev=1", "--steps", "1"], "no option 'stdev'"),
        (["compare", "--model", "mlp:2,x,1", "--steps", "1"], "malformed model spec"),
        (["compare", "--model", "rnn:2", "--steps", "1"], "accepted: 'mlp:"),
        (["compare", "--data", "cirlces", "--steps", "1"], "cirlces"),
        (["compare", "--data", "mnist", "--mnist", "/nonexistent/mnist", "--steps", "1"],
         "/nonexistent/mnist"),
        (["compare", "--optimizer", "rmsprop", "--steps", "1"], "unknown optimizer"),
    ],
)  # fmt: skip
def test_bad_names_give_one_line_and_exit_2(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jinit: error:"), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_compare_writes_results_report_and_json(tmp_path, capsys):
    out = tmp_path / "cmp"
    status = main(["compare", "--model", "mlp:2,8,1", "--data", "circles",
                   "--inits", "zeros,he_normal", "--seeds", "3", "--steps", "40",
                   "--lr", "0.1", "--eval-every", "20", "--out", str(out)])  # fmt: skip
    assert status == 0
    text = capsys.readouterr().out
    assert "he_normal" in text and "zeros" in text
    for name in ("results.json", "results.csv", "report.md"):
        assert (out / name).exists(), name
    data = json.loads((out / "results.json").read_text())
    assert data["result"]["inits"] == ["zeros", "he_normal"]
    assert len(data["result"]["metrics"]["train_loss"][0]) == 3


def test_reproduce_faithful_json(capsys):
    assert main(["reproduce", "coursera-init", "--faithful", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert data["experiment"] == "coursera-init" and data["passed"] is True
    he = {c["label"]: c for c in data["checks"]}["He: cost at iteration 14000"]
    assert abs(he["measured"] - 0.0735790) < 1e-3


def test_reproduce_sweep_mode_reports_failures(capsys):
    assert main(["reproduce", "coursera-init", "--seeds", "4", "--steps", "300"]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "4 seeds x 6 inits" in out


def test_probe_writes_tables_and_plots(tmp_path, capsys):
    """`jinit probe`: a table per init on stdout, probe.json and two PNGs under --out; the
    per-layer std in the JSON is that of jinit.probe_seeds for the same seeds."""
    import jax
    import jax.numpy as jnp

    import jinit

    out = tmp_path / "probe"
    args = ["probe", "--model", "mlp:8,16,16,16,2", "--activation", "tanh",
            "--inits", "xavier_normal,normal:stddev=1", "--seeds", "3", "--batch", "32",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "== xavier_normal" in text and "== normal:stddev=1" in text
    assert sorted(p.name for p in out.iterdir()) == ["layer_std.png", "probe.json", "signal.png"]
    for png in ("layer_std.png", "signal.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((out / "probe.json").read_text())
    assert saved["xavier_normal"]["n_seeds"] == 3
    net = jinit.models.parse("mlp:8,16,16,16,2", activation="tanh")
    x = jax.random.normal(jax.random.key(0), (32, 8), jnp.float32)
    direct = jinit.probe_seeds(net, jinit.xavier_normal, x, seeds=3)
    assert saved["xavier_normal"]["stats"]["std"]["mean"] == pytest.approx(
        direct.mean("std").tolist(), rel=1e-6
    )
    # Large N(0, 1) weights saturate the tanh units; Xavier's do not.
    sat = {k: v["stats"]["frac_saturated"]["mean"] for k, v in saved.items()}
    assert min(sat["normal:stddev=1"][:-1]) > 0.25 > 0.05 > max(sat["xavier_normal"][:-1])
