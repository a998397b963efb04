"""How many hidden units are really distinct: the symmetry a constant init never breaks."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _as_pairs(params: Any) -> list[tuple[np.ndarray, np.ndarray | None]]:
    pairs = []
    for i, layer in enumerate(params):
        if isinstance(layer, Mapping):
            if "kernel" not in layer:
                raise ValueError(f"symmetry: layer {i} has no 'kernel' (keys: {list(layer)}).")
            w, b = layer["kernel"], layer.get("bias")
        elif isinstance(layer, Sequence) and len(layer) in (1, 2):
            w, b = layer[0], (layer[1] if len(layer) == 2 else None)
        else:
            raise TypeError(
                "symmetry: params must be a list of {'kernel', 'bias'} dicts or (W, b) pairs; "
                f"layer {i} is {type(layer).__name__}."
            )
        pairs.append((np.asarray(w, np.float64), None if b is None else np.asarray(b, np.float64)))
    return pairs


def _distinct(vectors: np.ndarray, tol: float) -> int:
    """Greedy count of rows not within ``tol`` (max-abs) of an earlier distinct row.

    Rows are visited in order of a fixed projection p = v . r (|r_i| <= 1): two rows within
    tol have |p - p'| <= tol * sum|r|, so each row is compared only with the representatives
    in that window."""
    d = vectors.shape[1]
    r = np.cos(np.arange(d) * 2.399963229728653 + 0.5)
    p = vectors @ r
    window = tol * np.abs(r).sum() * (1 + 1e-9) + 1e-300
    order = np.argsort(p, kind="stable")
    rep_p: list[float] = []
    reps: list[np.ndarray] = []
    for j in order:
        lo = bisect.bisect_left(rep_p, p[j] - window)
        if not any(np.max(np.abs(reps[k] - vectors[j])) <= tol for k in range(lo, len(reps))):
            rep_p.append(p[j])
            reps.append(vectors[j])
    return len(reps)


def symmetry(params: Any, *, tol: float = 1e-6, layout: str = "jax") -> list[int]:
    """Number of distinct hidden units in each hidden layer.

    A hidden unit is its incoming weights, its bias and its outgoing weights; units within
    ``tol`` of each other (max absolute difference) on all three count once. Units that
    agree on all three compute the same function and receive the same gradient, so gradient
    descent keeps them identical forever: a zero (or constant) init has 1 distinct unit per
    layer, a random one has the full width.

    ``params``: a list of ``{"kernel", "bias"}`` dicts (a jinit MLP/ConvNet; conv channels
    are units) or of ``(W, b)`` pairs. ``layout="jax"``: kernels ``(*spatial, in, out)``;
    ``"torch"``: ``(out, in, *spatial)`` (also the courses' ``(out, in)``).

    Example:
        >>> import jax, jinit
        >>> from jinit.diagnostics import symmetry
        >>> net = jinit.models.MLP([4, 8, 8, 1])
        >>> symmetry(net.init(jax.random.key(0), jinit.zeros))
        [1, 1]
        >>> symmetry(net.init(jax.random.key(0), jinit.he_normal))
        [8, 8]
    """
    if layout not in ("jax", "torch"):
        raise ValueError(f"symmetry: layout must be 'jax' or 'torch', got {layout!r}.")
    if not (isinstance(tol, int | float) and tol >= 0):
        raise ValueError(f"symmetry: tol must be a number >= 0, got {tol!r}.")
    pairs = _as_pairs(params)
    counts = []
    for i in range(len(pairs) - 1):
        (w, b), (w_next, _) = pairs[i], pairs[i + 1]
        if layout == "jax":
            incoming = np.moveaxis(w, -1, 0).reshape(w.shape[-1], -1)
            outgoing = np.moveaxis(w_next, -2, 0).reshape(w_next.shape[-2], -1)
        else:
            incoming = w.reshape(w.shape[0], -1)
            outgoing = np.moveaxis(w_next, 1, 0).reshape(w_next.shape[1], -1)
        n = incoming.shape[0]
        if outgoing.shape[0] != n or (b is not None and b.shape != (n,)):
            raise ValueError(
                f"symmetry: layer {i} has {n} units but its bias has shape "
                f"{None if b is None else b.shape} and layer {i + 1} takes "
                f"{outgoing.shape[0]} inputs (layout={layout!r})."
            )
        parts = [incoming, outgoing] if b is None else [incoming, b[:, None], outgoing]
        counts.append(_distinct(np.concatenate(parts, axis=1), float(tol)))
    return counts
