"""Seed ranges, shards and joining results (issue 15): seed s is the same run wherever it ran,
so shards joined with ``SweepResult.concat`` / ``jinit merge`` equal one sweep, bit for bit."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import optax
import pytest

import jinit
from jinit import cli
from jinit.report import Report
from jinit.results import SweepResult
from jinit.shards import parse_seeds, parse_shard, shard_seeds

NET = jinit.models.MLP([2, 8, 1])
INITS = {"he": jinit.he_normal, "xavier": jinit.xavier_normal}
KW = dict(optimizer=optax.sgd(0.1), steps=40, eval_every=10)


@pytest.fixture(scope="module")
def runs() -> dict[str, SweepResult]:
    data = jinit.data.circles(n_train=64, n_test=32, seed=0)

    def run(inits, seeds):
        return jinit.sweep(NET, inits, data, seeds=seeds, keep_params=True, **KW)

    return {
        "whole": run(INITS, 8),
        "low": run(INITS, [0, 1, 2, 3]),
        "high": run(INITS, [4, 5, 6, 7]),
        "he": run({"he": INITS["he"]}, 8),
    }


def _init_part(result: SweepResult, i: int) -> SweepResult:
    """Init ``i`` of ``result`` alone."""
    return dataclasses.replace(
        result, inits=result.inits[i : i + 1], specs=result.specs[i : i + 1],
        metrics={k: v[i : i + 1] for k, v in result.metrics.items()},
        diverged_step=result.diverged_step[i : i + 1], params=None,
    )  # fmt: skip


def _assert_same(a: SweepResult, b: SweepResult) -> None:
    assert a.inits == b.inits and a.specs == b.specs and a.seeds.tolist() == b.seeds.tolist()
    for name, values in b.metrics.items():
        np.testing.assert_array_equal(a.metrics[name], values, err_msg=name)
    np.testing.assert_array_equal(a.diverged_step, b.diverged_step)


def test_seed_text_ranges_lists_and_counts():
    assert parse_seeds("20") == 20
    assert parse_seeds("0:3,7,10:12") == [0, 1, 2, 7, 10, 11]
    assert parse_shard("2/3") == (2, 3)
    for bad, match in [("4:2", "the range '4:2' is empty"), ("1,1", "distinct"),
                       ("x", "expected an integer"), ("0", "must be >= 1")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"--seeds: .*{match}"):
            parse_seeds(bad)
    with pytest.raises(ValueError, match=r"--shard: expected I/N with 0 <= I < N, got '3/3'"):
        parse_shard("3/3")


def test_shards_split_every_seed_once_in_order():
    seeds = list(range(10, 20))
    parts = [shard_seeds(seeds, (i, 3)) for i in range(3)]
    assert parts == [[10, 11, 12, 13], [14, 15, 16], [17, 18, 19]]
    assert shard_seeds(5, "4/5") == [4]
    with pytest.raises(ValueError, match="6 jobs for only 5 seeds"):
        shard_seeds(5, (0, 6))


def test_the_command_takes_ranges_and_shards():
    args = cli.build_parser().parse_args(["compare", "--seeds", "0:50", "--shard", "1/4"])
    assert cli._compare_seeds(args) == list(range(13, 26))
    assert cli.build_parser().parse_args(["compare", "--seeds", "3,5,9"]).seeds == [3, 5, 9]


def test_joined_shards_equal_one_sweep_bit_for_bit(runs):
    by_seeds = SweepResult.concat([runs["low"], runs["high"]], axis="seeds")
    _assert_same(by_seeds, runs["whole"])
    for a, b in zip(by_seeds.params, runs["whole"].params, strict=True):
        np.testing.assert_array_equal(a["kernel"], b["kernel"])
    xavier = _init_part(runs["whole"], 1)
    by_inits = SweepResult.concat([runs["he"], xavier], axis="inits")
    _assert_same(by_inits, runs["whole"])
    assert by_seeds.timing["model_steps"] == runs["whole"].timing["model_steps"]


def test_concat_refuses_what_is_not_one_sweep(runs):
    low, high = runs["low"], runs["high"]
    cases = [
        ([low, low], "seeds", r"seeds \[0, 1, 2, 3\] are in more than one part"),
        ([low, dataclasses.replace(high, config=high.config | {"steps": 80})], "seeds",
         "result 1 is another sweep \\(config differs in steps\\)"),
        ([low, dataclasses.replace(high, config=high.config | {"partial": True})], "seeds",
         "result 1 is partial"),
        ([low, dataclasses.replace(high, inits=["he", "other"])], "seeds", "needs the same inits"),
        ([runs["he"], runs["he"]], "inits", "init 'he' is in more than one part"),
        ([runs["he"], _init_part(low, 1)], "inits", "needs the same seeds"),
        ([low, high], "runs", "axis must be 'seeds' or 'inits', got 'runs'"),
    ]  # fmt: skip
    for parts, axis, match in cases:
        with pytest.raises(ValueError, match=f"SweepResult.concat: .*{match}"):
            SweepResult.concat(parts, axis=axis)
    with pytest.raises(TypeError, match="non-empty list of SweepResults"):
        SweepResult.concat([])


def test_jinit_merge_joins_compare_outputs(runs, tmp_path, capsys):
    for name in ("high", "low"):  # as `jinit compare --out` writes them
        Report("compare", "sweep", "he vs xavier", "jinit compare", result=runs[name]).write(
            tmp_path / name, plots=False
        )
    dirs = [str(tmp_path / "high"), str(tmp_path / "low")]  # any order
    out = tmp_path / "all"
    assert cli.main(["merge", *dirs, "--out", str(out), "--json", "--no-cache"]) == 0
    saved = json.loads((out / "results.json").read_text())
    _assert_same(SweepResult.from_dict(saved["result"]), runs["whole"])
    assert saved["mode"] == "sweep (8 seeds)"
    capsys.readouterr()
    assert cli.main(["merge", dirs[0], dirs[0], "--no-cache"]) == cli.USAGE_ERROR
    err = capsys.readouterr().err.strip()
    assert err.startswith("jinit: error: merge: seeds [4, 5, 6, 7] are in more than one part")
    assert len(err.splitlines()) == 1
    assert cli.main(["merge", str(tmp_path / "nothing"), "--no-cache"]) == cli.USAGE_ERROR
    assert "merge: cannot read" in capsys.readouterr().err


def test_shards_with_one_block_size_merge_to_the_whole_run_bit_for_bit(tmp_path):
    """`--block-size 4` in every job: two shards of 3 seeds each (9 runs a job, 3 inits) and
    the 6-seed run (18 runs) compute every run in blocks of exactly 4, so the merge equals the
    whole run value for value, chaotic normal:stddev=10 runs included."""
    common = ["compare", "--steps", "30", "--block-size", "4", "--json", "--no-cache"]
    for i in range(2):
        assert cli.main([*common, "--seeds", "0:6", "--shard", f"{i}/2",
                         "--out", str(tmp_path / f"part{i}")]) == 0  # fmt: skip
    assert cli.main([*common, "--seeds", "6", "--out", str(tmp_path / "whole")]) == 0
    assert cli.main(["merge", str(tmp_path / "part0"), str(tmp_path / "part1"), "--out",
                     str(tmp_path / "all"), "--json", "--no-cache"]) == 0  # fmt: skip
    merged, whole = (SweepResult.from_dict(json.loads((tmp_path / d / "results.json")
                                                      .read_text())["result"])
                     for d in ("all", "whole"))  # fmt: skip
    _assert_same(merged, whole)
