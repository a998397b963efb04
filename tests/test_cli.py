"""The jinit command: listing, reproducing, comparing, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from jinit.cli import main, split_inits

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env(tmp_cache: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": REPO}
    if tmp_cache:
        env["JINIT_CACHE_DIR"] = tmp_cache
    return env


def run_cli(*args: str, cache: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jinit.cli", *args],
        capture_output=True, text=True, timeout=300, env=_env(cache),
    )  # fmt: skip


def assert_usage_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """rc 2, exactly one stderr line starting ``jinit: error:``, no traceback."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jinit: error:"), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


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
    assert "REFERENCE" not in out  # internal labels stay inside


def test_every_option_has_help():
    import argparse

    from jinit.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            assert action.help, f"jinit {name} {action.option_strings or action.dest}: no help"


def test_compare_without_model_names_the_default(capsys):
    assert main(["compare", "--inits", "he_normal", "--seeds", "2", "--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "model None" not in out and "model mlp:2,10,5,1" in out


def test_probe_json_is_honoured(capsys):
    assert main(["probe", "--model", "mlp:4,8,2", "--inits", "he_normal", "--seeds", "2",
                 "--batch", "4", "--json"]) == 0  # fmt: skip
    saved = json.loads(capsys.readouterr().out)
    assert saved["he_normal"]["n_seeds"] == 2


def test_progress_bar_on_a_terminal(tmp_path):
    """A run whose stderr is a terminal shows the progress bar."""
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a real terminal's size (a fresh pty is 0x0, where tqdm draws an empty bar)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.run(
        [sys.executable, "-m", "jinit.cli", "compare", "--inits", "he_normal", "--seeds", "2",
         "--steps", "20", "--eval-every", "10", "--no-cache"],
        stdout=subprocess.DEVNULL, stderr=slave, timeout=300, env=_env(),
    )  # fmt: skip
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"2/2" in seen, seen  # "2/2 chunks" (built-in bar) or tqdm's "2/2 [..]"


BAD_NAMES = [
    (["reproduce", "coursera-inti"], "unknown experiment 'coursera-inti'. Did you mean"),
    (["compare", "--inits", "he_nromal", "--steps", "1"], "unknown initializer 'he_nromal'"),
    (["compare", "--inits", "normal:stdev=1", "--steps", "1"], "no option 'stdev'"),
    (["compare", "--model", "mlp:2,x,1", "--steps", "1"], "malformed model spec"),
    (["compare", "--model", "rnn:2", "--steps", "1"], "accepted: 'mlp:"),
    (["compare", "--data", "cirlces", "--steps", "1"], "cirlces"),
    (["compare", "--data", "mnist", "--mnist", "/nonexistent/mnist", "--steps", "1"],
     "/nonexistent/mnist"),
    (["compare", "--optimizer", "rmsprop", "--steps", "1"], "unknown optimizer"),
]  # fmt: skip

# Each must fail before any training: --steps 2000000 would take minutes if it trained.
BAD_VALUES = [
    (["compare", "--seeds", "-3"], ["--seeds", ">= 1", "-3"]),
    (["compare", "--seeds", "0"], ["--seeds", ">= 1"]),
    (["compare", "--steps", "-1"], ["--steps", ">= 1"]),
    (["compare", "--batch-size", "0"], ["--batch-size", ">= 1"]),
    (["compare", "--lr", "-0.1"], ["--lr", "> 0"]),
    (["compare", "--model", "mlp:3,8,1"], ["--model mlp:3,8,1", "(3,)", "(2,)"]),
    (["compare", "--inits", "normal:stddev="], ["normal:stddev=", "stddev"]),
    (["compare", "--inits", "variance_scaling:distribution=unif"], ["unif", "accepted"]),
    (["compare", "--inits", "he_normal,he_normal"], ["'he_normal' twice"]),
    (["probe", "--batch", "0"], ["--batch", ">= 1"]),
    (["reproduce", "coursera-init", "--seeds", "0"], ["--seeds", ">= 1"]),
    (["reproduce", "coursera-init", "--mnist", "/nonexistent/mnist"], ["--mnist"]),
]  # fmt: skip


def _with_steps(args: list[str]) -> list[str]:
    return args + ([] if args[0] == "probe" or "--steps" in args else ["--steps", "2000000"])


# --out a file or an uncreatable path (AFILE: a file the fixture writes).
UNUSABLE_OUT = [
    (["compare", "--steps", "2000000"], "AFILE", "is a file"),
    (["compare", "--steps", "2000000"], "/proc/nope", "cannot create"),
    (["reproduce", "coursera-init", "--steps", "2000000"], "AFILE", "is a file"),
    (["probe"], "/proc/nope", "cannot create"),
]

# One fresh process runs every bad command through ``main`` (as ``python -m jinit.cli``
# does: argparse's exit included), each with its own stdout/stderr, and prints
# [[rc, stderr], ...]: one interpreter start instead of one per command. Anything written
# outside a command's capture (an import-time warning, an XLA log) lands in the process's
# own stderr, which the fixture requires to be empty.
DRIVER = """
import contextlib, io, json, sys, traceback
from jinit.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exit:
            rc = exit.code
        except BaseException:
            rc = "raised"
            traceback.print_exc()
    results.append([rc, err.getvalue()])
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def bad_commands(tmp_path_factory):
    """{tuple(argv): CompletedProcess} for every command of BAD_NAMES, BAD_VALUES and
    UNUSABLE_OUT, run in one fresh process; the file AFILE stands for is left unchanged."""
    afile = tmp_path_factory.mktemp("out") / "afile"
    afile.write_text("x")
    keys = [args for args, _ in BAD_NAMES] + [_with_steps(args) for args, _ in BAD_VALUES]
    keys += [[*command, "--out", out] for command, out, _ in UNUSABLE_OUT]
    argvs = [[str(afile) if a == "AFILE" else a for a in key] for key in keys]
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(argvs)],
                          capture_output=True, text=True, timeout=600, env=_env())  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr[-3000:]
    assert afile.read_text() == "x"
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        tuple(key): subprocess.CompletedProcess(argv, rc, "", err)
        for key, argv, (rc, err) in zip(keys, argvs, results, strict=True)
    }


@pytest.mark.parametrize(("args", "message"), BAD_NAMES)
def test_bad_names_give_one_line_and_exit_2(args, message, bad_commands):
    assert_usage_error(bad_commands[tuple(args)], message)


@pytest.mark.parametrize(("args", "fragments"), BAD_VALUES)
def test_bad_values_give_one_line_before_training(args, fragments, bad_commands):
    assert_usage_error(bad_commands[tuple(_with_steps(args))], *fragments)


@pytest.mark.parametrize(("command", "out", "fragment"), UNUSABLE_OUT)
def test_unusable_out_is_refused_before_training(command, out, fragment, bad_commands):
    """--out a file or an uncreatable path: rc 2 at once, not a traceback after the sweep."""
    proc = bad_commands[(*command, "--out", out)]
    assert_usage_error(proc, "--out", fragment)


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


# --------------------------------------------------------------------------- interrupts

# 40 chunks of 300 steps: long enough for the SIGINT to land mid-sweep, short enough to run
# three times (interrupted, resumed, whole) in a few seconds each.
SWEEP_STEPS, SWEEP_EVERY = 12000, 300
SWEEP_ARGS = ["compare", "--inits", "zeros,he_normal", "--seeds", "3", "--steps",
              str(SWEEP_STEPS), "--eval-every", str(SWEEP_EVERY), "--lr", "0.1"]  # fmt: skip


def interrupt_after_first_chunk(args, out, env: dict) -> subprocess.CompletedProcess:
    """Start ``jinit *args --out out``; SIGINT to it alone once its first chunk is
    checkpointed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "jinit.cli", *args, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # a shell's background job ignores SIGINT; the child must not inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    ckpt = out / "checkpoint" / "sweep_checkpoint.npz"
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=240)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def _engine_has_interrupt_protocol() -> bool:
    import jinit.engine

    return hasattr(jinit.engine, "SweepInterrupted")


def test_sigint_keeps_partial_results_and_rerun_resumes(tmp_path):
    """Ctrl-C: rc 130 (no segfault), one line saying where the work is, results.json marked
    partial (with the finished evaluations, once the engine raises SweepInterrupted); the
    same command then resumes and ends with the numbers of an uninterrupted run."""
    cache = str(tmp_path / "xla")
    out = tmp_path / "run"
    proc = interrupt_after_first_chunk(SWEEP_ARGS, out, _env(cache))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"jinit: interrupted; finished chunks kept in {out}; re-run the same command to resume"
    )
    partial = json.loads((out / "results.json").read_text())
    assert partial["partial"] is True
    if _engine_has_interrupt_protocol():  # the engine hands over what finished
        n_done = len(partial["result"]["eval_steps"])
        assert 1 < n_done < SWEEP_STEPS // SWEEP_EVERY + 1  # some chunks finished, not all

    resumed = run_cli(*SWEEP_ARGS, "--out", str(out), cache=cache)
    assert resumed.returncode == 0, resumed.stderr
    whole = run_cli(*SWEEP_ARGS, "--out", str(tmp_path / "whole"), cache=cache)
    assert whole.returncode == 0, whole.stderr
    a = json.loads((out / "results.json").read_text())
    b = json.loads((tmp_path / "whole" / "results.json").read_text())
    assert "partial" not in a
    assert a["result"]["metrics"] == b["result"]["metrics"]
    assert a["result"]["eval_steps"] == b["result"]["eval_steps"]


def test_compare_out_resumes_and_refuses_another_sweeps_checkpoint(tmp_path, capsys):
    """--out keeps a checkpoint; the same command again gives the same table, another
    command on the same --out is refused in one line instead of overwriting it."""
    out = str(tmp_path / "cmp")
    args = ["compare", "--inits", "he_normal", "--seeds", "2", "--steps", "20", "--out", out]
    assert main(args) == 0
    first = json.loads((tmp_path / "cmp" / "results.json").read_text())["result"]["metrics"]
    assert (tmp_path / "cmp" / "checkpoint" / "sweep_checkpoint.npz").exists()
    assert main(args) == 0
    again = json.loads((tmp_path / "cmp" / "results.json").read_text())["result"]["metrics"]
    assert again == first
    capsys.readouterr()
    assert main([*args[:-3], "40", "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "different sweep" in err[0], err


CONSOLE = os.path.join(os.path.dirname(sys.executable), "jinit")


@pytest.mark.skipif(not os.path.exists(CONSOLE), reason="no installed jinit console script")
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compare", "--seeds", "0"], "--seeds"),
        (["compare", "--model", "mlp:3,8,1", "--data", "circles", "--steps", "1"], "mlp:3,8,1"),
        (["compare", "--inits", "he_normal,he_normal", "--steps", "1"], "he_normal"),
    ],
)
def test_installed_console_script_gives_one_line_rc_2(args, fragment):
    """The same errors through the installed ``jinit`` command, as a user types it."""
    proc = subprocess.run(
        [CONSOLE, *args], capture_output=True, text=True, timeout=300, env=_env(), check=False
    )
    assert_usage_error(proc, fragment)
