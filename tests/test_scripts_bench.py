"""``scripts/bench_engine_parts.py`` runs and prints its rows (``--quick``; no timing checks)."""

from __future__ import annotations

import importlib.util
import math
import pathlib
import subprocess
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "scripts" / "bench_engine_parts.py"
LOSS_ROWS = [f"{loss} loss, {how}" for loss in ("optax", "jinit")
             for how in ("grad only", "value + divergence")]  # fmt: skip
ENGINE_ROWS = [
    "bare blocked scan (value + divergence)",
    "engine chunk (_Compiled.train)",
    "engine chunk, per-run loss value zeroed",
    'jinit.sweep (timing["run_s"])',
]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_engine_parts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rates(out: str, row: str) -> list[float]:
    """The model-steps/s printed on ``row``'s line (each repetition, the median, the best)."""
    line = next(ln for ln in out.splitlines() if ln.strip().startswith(row))
    cells = line.strip()[len(row) :].replace("median", "").replace("best", "").split()
    return [float(c.replace(",", "")) for c in cells]


def test_loss_section_prints_its_rows(capsys):
    _bench().main(["--quick", "--section", "loss"])
    out = capsys.readouterr().out
    for row in LOSS_ROWS:
        rates = _rates(out, row)
        assert len(rates) == 3 and all(r > 0 for r in rates), (row, rates)
    assert "jinit/optax loss, grad only: " in out
    assert "== engine" not in out and "== setup" not in out


def test_bad_arguments_are_refused(capsys):
    bench = _bench()
    for argv, words in [
        (["--runs", "13"], "--runs must be a positive multiple of 6"),
        (["--runs", "12", "--block", "5"], "--block must be a positive divisor"),
    ]:
        with pytest.raises(SystemExit):
            bench.parse(argv)
        assert words in capsys.readouterr().err


@pytest.mark.slow  # about 50 s on 2 busy cores: two fresh processes and five sweep compiles
def test_whole_script_quick_in_a_fresh_process():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                         text=True, check=True, cwd=SCRIPT.parents[1]).stdout  # fmt: skip
    for row in LOSS_ROWS + ENGINE_ROWS:
        rates = _rates(out, row)
        assert len(rates) == 3 and all(r > 0 for r in rates), (row, rates)
    assert "engine chunk/bare scan: " in out
    for row in ["initial draws (initial_params)", "compile (the training chunk)", "run_s"]:
        assert row in out


# ---- scripts/_bench_common.py and scripts/bench_sweep.py: interleaved rounds, robust verdicts

SWEEP_SCRIPT = SCRIPT.parent / "bench_sweep.py"


def _load(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _common():
    return _load(SCRIPT.parent / "_bench_common.py")


def test_rounds_are_interleaved():
    calls = []
    thunks = {name: (lambda n=name: calls.append(n) or len(calls)) for name in "abc"}
    out = _common().rounds(thunks, 3, warmup=True)
    assert calls == list("abc") * 4  # one warm-up call each, then round by round
    assert out == {"a": [4, 7, 10], "b": [5, 8, 11], "c": [6, 9, 12]}
    with pytest.raises(ValueError, match="reps must be a positive"):
        _common().rounds(thunks, 0)


def test_verdict_is_the_median_of_per_round_ratios():
    c = _common()
    v = c.Verdict.judge(c.round_ratios([35, 29, 28], [10, 10, 10]), 3)
    assert not v.met and (v.met_rounds, v.n_rounds) == (1, 3)
    assert v.text() == "2.9x [2.8-3.5] (>= 3x: NOT met; met in 1 of 3 rounds)"
    v = c.Verdict.judge([3.1, 2.0, 3.0], 3)
    assert v.met and v.text().endswith("(>= 3x: met; met in 2 of 3 rounds)")
    assert c.Spread.of([3.0, 1.0, 2.0]).text(".1f", "s") == "2.0s [1.0-3.0]"


def test_unmeasured_rounds_are_left_out():
    c, nan = _common(), float("nan")
    v = c.Verdict.judge([nan, 3.5, 2.0], 3)
    assert v.text() == "2.8x [2.0-3.5] (>= 3x: NOT met; met in 1 of 2 rounds)"
    assert c.Spread.of([nan, nan]).text() == "n/a"
    assert c.Verdict.judge([nan], 3).text() == "n/a (>= 3x: not measured in any round)"


def test_warm_sweep_rate_is_nan_not_absurd_when_noise_leaves_no_extra_time(monkeypatch):
    bench = _load(SWEEP_SCRIPT)
    run_s = iter([0.5, 0.30, 0.29])  # cold, again, twice (twice no slower: noise)
    monkeypatch.setattr(bench, "bench_sweep",
                        lambda w, **kw: {"run_s": next(run_s), "model_steps": 100})  # fmt: skip
    assert math.isnan(bench.cold_and_warm_sweep({"steps": 10})["warm"])
    run_s = iter([0.5, 0.30, 0.55])
    assert bench.cold_and_warm_sweep({"steps": 10})["warm"] == pytest.approx(400.0)


def _rows(b_warm: list[float]) -> dict:
    """Two rounds of (a), (b), (c), (c2) rows: (c) is 3.5x, then 2.5x (b) warm, unless
    ``b_warm`` says otherwise."""
    def row(rates):
        return [("", (0.1, r, r, r)) for r in rates]

    return {
        "(a) python loop of a jitted step": row([10.0, 10.0]),
        "(b) jitted lax.scan per run": row(b_warm),
        "(c) jinit.sweep, 1 device": [("vmap, blocks of 60", (1.0, 35.0, 35.0, 35.0)),
                                      ("vmap, blocks of 60", (1.0, 30.0, 30.0, 30.0))],
        "(c2) jinit.sweep, 2 devices": row([120.0, 100.0]),
    }  # fmt: skip


def test_targets_are_judged_round_by_round(capsys):
    bench = _load(SWEEP_SCRIPT)
    bench.print_targets(_rows([10.0, 12.0]), "circles")
    out = capsys.readouterr().out
    assert "median of 2 rounds" in out
    warm = next(ln for ln in out.splitlines() if ln.startswith("  targets, warm: "))
    # ratios 3.5 and 2.5: median 3.0 meets >= 3x; (c2)/(b) 12 and 8.33: median >= 5x
    assert "(c)/(b) 3.0x [2.5-3.5] (>= 3x: met; met in 1 of 2 rounds)" in warm
    assert "(c2)/(b) 10.2x [8.3-12.0] (>= 5x: met; met in 2 of 2 rounds)" in warm
    assert "(c)/(d)" not in warm  # no torch row: no (d) target
    # a deliberately slow-looking (b) in one round moves only the median, not a lone verdict
    bench.print_targets(_rows([10.0, 5.0]), "circles")
    warm = capsys.readouterr().out.splitlines()[-1]
    assert "(c)/(b) 4.8x [3.5-6.0] (>= 3x: met; met in 2 of 2 rounds)" in warm
    bench.print_targets(_rows([20.0, 20.0]), "circles")
    warm = capsys.readouterr().out.splitlines()[-1]
    assert "(c)/(b) 1.6x [1.5-1.8] (>= 3x: NOT met; met in 0 of 2 rounds)" in warm


def test_rows_print_median_and_range_and_skip_unmeasured_rounds(capsys):
    rows = _rows([10.0, 12.0])
    nan = float("nan")
    rows["(c) jinit.sweep, 1 device"][1] = ("vmap, blocks of 60", (1.2, 30.0, 30.0, nan))
    _load(SWEEP_SCRIPT).print_rows(rows, gflop=1e-6, peak=1.0)
    lines = capsys.readouterr().out.splitlines()
    c = next(ln for ln in lines if ln.startswith("  (c) jinit.sweep, 1 device (vmap, blocks "))
    cells = " ".join(c.split()[8:])  # compile, cold job, cached: median [range]; warm: round 1
    assert cells.startswith("1.10s [1.00-1.20] 32 [30-35] 32 [30-35] 35 "), c
    b = next(ln for ln in lines if ln.startswith("  (b) jitted lax.scan per run"))
    assert "11 [10-12]" in b


def test_per_run_rows_pay_their_draws_and_evaluations():
    """A per-run job draws every run (the first of each init cold), evaluates it before and
    after training, as the sweep's result holds: 6 runs of 10 steps, the first draws of 2
    inits 1 s, each later draw 0.1 s, compile 2 s, the evaluation's compile 0.5 s, one
    evaluation 0.05 s, 10 model-steps/s warm: cold = 60 steps in 1 + 4 x 0.1 + 2.5 + 6 +
    12 x 0.05 s; cached = every draw, evaluation and step warm. Leaving the draws out
    (60 / 8 s) would overstate the loop; so would leaving out the evaluations the sweep
    does."""
    bench = _load(SWEEP_SCRIPT)
    w = {"inits": {"a": None, "b": None}, "seeds": 3, "steps": 10}
    cost = {"compile_s": 2.0, "first_draws_s": 1.0, "draw_s": 0.1, "warm": 10.0,
            "eval_compile_s": 0.5, "eval_s": 0.05}  # fmt: skip
    compile_s, cold, cached, warm = bench.per_run_row(w, cost)
    assert (compile_s, warm) == (2.5, 10.0)
    assert cold == pytest.approx(60 / 10.5) and cached == pytest.approx(60 / 7.2)


def test_bench_sweep_refuses_zero_repeats(capsys):
    with pytest.raises(SystemExit):
        _load(SWEEP_SCRIPT).main(["--repeats", "0"])
    assert "--repeats must be a positive number of rounds, got 0" in capsys.readouterr().err


@pytest.mark.slow  # about 90 s on 2 busy cores: 8 fresh processes, each compiling a sweep
def test_bench_sweep_quick_two_rounds_in_a_fresh_process():
    cmd = [sys.executable, str(SWEEP_SCRIPT), "--quick", "--workload", "circles", "--repeats", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         cwd=SCRIPT.parents[1]).stdout  # fmt: skip
    for row in ["(a) python loop", "(b) jitted lax.scan", "(c) jinit.sweep, 1 device (",
                "(c2) jinit.sweep, 2 devices ("]:  # fmt: skip
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(row))
        assert "[" in line, line  # median [lowest-highest] where the two rounds differ
    assert "median [lowest-highest] over 2 rounds" in out
    for what in ("cold job", "cached job", "warm"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"  targets, {what}: "))
        assert "(c)/(b) " in line and "(c2)/(a) " in line, line
        assert " of 2 rounds)" in line or " of 1 round)" in line, line  # (a warm n/a round)


# ---- scripts/bench_cold.py: the cold start of a sweep, in fresh processes

COLD_SCRIPT = SCRIPT.parent / "bench_cold.py"


def test_bench_cold_refuses_a_directory_without_jinit(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _load(COLD_SCRIPT).main(["--against", str(tmp_path)])
    assert "--against must be a jinit checkout" in capsys.readouterr().err


@pytest.mark.slow  # four fresh processes, each a sweep compiled from nothing
def test_bench_cold_prints_both_trees_and_their_ratio():
    root = str(COLD_SCRIPT.parents[1])
    out = subprocess.run([sys.executable, str(COLD_SCRIPT), "--rounds", "1", "--seeds", "2",
                          "--against", root], capture_output=True, text=True, check=True,
                         cwd=root).stdout  # fmt: skip
    assert out.count("setup, this tree / the other, round by round: ") == 2
    for row in ["setup - compile", "XLA compiles"]:
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(row))
        assert "this tree: " in line and "other: " in line


# ---- scripts/check_draw_bits.py: the bits of every law's draws, across trees and under jit

BITS_SCRIPT = SCRIPT.parent / "check_draw_bits.py"


def test_check_draw_bits_refuses_a_directory_without_jinit(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _load(BITS_SCRIPT).main(["--against", str(tmp_path)])
    assert "--against must be a jinit checkout" in capsys.readouterr().err


def test_check_draw_bits_names_a_jitted_draw_that_differs(monkeypatch, capsys, tmp_path):
    """The comparison flags what differs: a jitted case against its eager one, and an eager
    case between the trees (exit 1), on made-up hashes."""
    bits = _load(BITS_SCRIPT)
    this = {"he (5, 1) x30": "a", "he (5, 1) x30 jit": "b", "lecun (3, 7) x30": "c"}
    other = {"he (5, 1) x30": "a", "lecun (3, 7) x30": "d"}
    assert bits.jit_differs(this) == ["he (5, 1) x30"]
    monkeypatch.setattr(bits, "in_fresh_process",
                        lambda tree, quick: this if tree == bits.ROOT else other)  # fmt: skip
    (tmp_path / "jinit").mkdir()
    (tmp_path / "jinit" / "__init__.py").touch()
    assert bits.main(["--against", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "this tree: jitted != eager in 1 cases" in out
    assert "differ between the trees: 1 of 2 in both: ['lecun (3, 7) x30']" in out


def test_check_draw_bits_quick_draws_a_subset_of_the_full_grid():
    bits = _load(BITS_SCRIPT)
    (quick_dtypes, quick_shapes, quick_keys), (dtypes, shapes, keys) = map(bits.grid, (True, False))
    assert quick_dtypes == ["float32"] and quick_keys == (30,)
    assert set(quick_shapes) <= set(shapes) and set(quick_keys) <= set(keys)
    assert {"float32", "bfloat16", "float16", "float64"} == set(dtypes)


# ---- scripts/profile_sweep_setup.py: where a cold sweep's seconds go

PROFILE_SCRIPT = SCRIPT.parent / "profile_sweep_setup.py"


def test_profile_sweep_setup_times_every_step_of_a_fresh_sweep():
    cmd = [sys.executable, str(PROFILE_SCRIPT), "--quick", "--workload", "conv", "--rounds", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                         cwd=SCRIPT.parents[1]).stdout  # fmt: skip
    row = dict(zip(*[iter(out.strip().splitlines()[-1].split())] * 2, strict=True))
    assert set(row) == {"plan", "draws", "wait", "train", "lower", "sweep"}
    for step in ("plan", "draws", "train", "lower"):  # each wrapper saw its step run
        assert float(row[step]) > 0, (step, out)
    assert float(row["sweep"]) >= float(row["draws"]) + float(row["train"])
