"""Seed sets written as text, and splitting them among jobs (job arrays, preemptible machines).

A run is named by its (init, seed), never by its position (:mod:`jinit.keys`), so seed ``s``
is the same run in a 1000-seed sweep, in shard 3 of 8, or on another machine; the results of
shards join into the one sweep over all seeds (:meth:`jinit.SweepResult.concat`, ``jinit
merge``).

Example:
    >>> from jinit.shards import parse_seeds, shard_seeds
    >>> parse_seeds("0:6"), parse_seeds("3,5,9"), parse_seeds("20")
    ([0, 1, 2, 3, 4, 5], [3, 5, 9], 20)
    >>> shard_seeds(parse_seeds("0:6"), "1/2")
    [3, 4, 5]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from jinit.keys import check_seeds


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{what}: expected an integer, got {text.strip()!r}") from None


def parse_seeds(text: str, what: str = "--seeds") -> int | list[int]:
    """A seed count (``"20"``: seeds 0..19) or a list: comma-separated seeds and half-open
    ranges ``"0:50"`` (seeds 0..49), e.g. ``"0:10,20:25,99"``; seeds distinct, in
    ``[0, 2**32 - 1]``. Bad text raises a one-line ``ValueError`` naming ``what``."""
    text = text.strip()
    if text and ":" not in text and "," not in text:
        count = _int(text, what)
        check_seeds(count, what)
        return count
    seeds: list[int] = []
    for piece in text.split(","):
        if ":" in piece:
            lo, _, hi = piece.partition(":")
            a, b = _int(lo, what), _int(hi, what)
            if not a < b:
                raise ValueError(f"{what}: the range {piece.strip()!r} is empty; write A:B "
                                 "with A < B (seeds A..B-1)")  # fmt: skip
            seeds.extend(range(a, b))
        else:
            seeds.append(_int(piece, what))
    return [int(s) for s in check_seeds(seeds, what)]


def parse_shard(text: str, what: str = "--shard") -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)``: job ``I`` (counted from 0) of ``N``."""
    index, sep, count = text.partition("/")
    if not sep:
        raise ValueError(f"{what}: expected I/N (job I of N, I from 0), got {text!r}")
    i, n = _int(index, what), _int(count, what)
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"{what}: expected I/N with 0 <= I < N, got {text!r}")
    return i, n


def shard_seeds(seeds: int | Sequence[int], shard: str | tuple[int, int]) -> list[int]:
    """Job ``I`` of ``N``'s seeds: the seeds (a count or a list, in order) cut into ``N``
    consecutive blocks of near-equal size (``numpy.array_split``), block ``I``. Every seed
    lands in exactly one block, the same one on every machine."""
    i, n = parse_shard(shard if isinstance(shard, str) else "/".join(map(str, shard)))
    every = check_seeds(seeds)
    if n > len(every):
        raise ValueError(f"--shard {i}/{n}: {n} jobs for only {len(every)} seeds; use at most "
                         f"{len(every)} jobs or more seeds")  # fmt: skip
    return [int(s) for s in np.array_split(every, n)[i]]
