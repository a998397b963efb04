"""Checkpoints and the out_dir lock.

A checkpoint is two parts, so that a chunk writes the same number of bytes whatever its index
(rewriting every past evaluation each chunk made the I/O grow with the square of the chunks):

- ``out_dir/sweep_checkpoint.npz``: the sweep's fingerprint, the number of finished chunks, the
  number of evaluations kept and every leaf of the :class:`~jinit.engine.state.TrainState`;
  rewritten after every chunk.
- ``out_dir/sweep_evals/eval_NNNNN.npz``: evaluation ``N`` (with the fingerprint), written once,
  when its chunk finishes and before the state that counts it. Files past the state's count
  (a crash between the two writes) are ignored and written again.

Leaves are stored as raw bits (``uint8/16/32/64`` views) beside their dtype names, so bfloat16
and float16 sweeps resume too; every file is written atomically (temp file + ``os.replace``)
and read with ``allow_pickle=False``. A checkpoint of the older one-file layout (evaluations
inside ``sweep_checkpoint.npz``) still loads. ``out_dir/sweep.lock`` holds the pid of the
process running a sweep there; a second sweep on the same directory is refused while that
process lives. Across processes (``jax.distributed``) only process 0 writes; every process
takes part in gathering the state (:func:`jinit.engine.sharding.to_host`).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jinit.engine.sharding import to_host

CHECKPOINT = "sweep_checkpoint.npz"
EVALS = "sweep_evals"
LOCK = "sweep.lock"


def _encode(prefix: str, leaves: list) -> dict[str, np.ndarray]:
    out = {}
    for i, leaf in enumerate(leaves):
        a = np.asarray(leaf)
        raw = a.dtype.kind not in "biu" and a.dtype.itemsize in (1, 2, 4, 8)
        out[f"{prefix}_{i}"] = a.view(f"u{a.dtype.itemsize}") if raw else a
        out[f"{prefix}_{i}_dtype"] = np.array(a.dtype.name)
    return out


def _decode(f: Any, prefix: str, n: int) -> list[np.ndarray]:
    return [f[f"{prefix}_{i}"].view(jnp.dtype(str(f[f"{prefix}_{i}_dtype"]))) for i in range(n)]


def eval_path(path: str, index: int) -> str:
    """The file of evaluation ``index`` of the checkpoint at ``path``."""
    return os.path.join(os.path.dirname(path) or ".", EVALS, f"eval_{index:05d}.npz")


def _write(path: str, arrays: dict[str, np.ndarray]) -> int:
    """``np.savez`` ``arrays`` to ``path`` atomically; returns the bytes written."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getbuffer()
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    return len(data)


def _write_evals(path: str, fingerprint: str, evals: list, first: int = 0) -> None:
    """Write ``evals[first:]``, one file each (process 0 only)."""
    if jax.process_index() != 0:
        return
    os.makedirs(os.path.join(os.path.dirname(path) or ".", EVALS), exist_ok=True)
    for i in range(first, len(evals)):
        arrays = _encode("eval", jax.tree_util.tree_leaves(evals[i]))
        _write(eval_path(path, i), {"fingerprint": np.array(fingerprint), **arrays})


def save(
    path: str, fingerprint: str, chunk: int, state: Any, evals: list, first_new: int = 0
) -> None:
    """Write the evaluations ``evals[first_new:]`` (one file each), then the state after
    ``chunk`` finished chunks, each file atomically. Across processes every process must call
    it (the state is gathered); only process 0 writes."""
    leaves = to_host(jax.tree_util.tree_leaves(state))
    if jax.process_index() != 0:
        return
    _write_evals(path, fingerprint, evals, first_new)
    head = {"fingerprint": np.array(fingerprint), "chunk": np.array(chunk)}
    head |= {"n_evals": np.array(len(evals)), "layout": np.array(EVALS)}
    _write(path, head | _encode("state", leaves))


@contextlib.contextmanager
def _reading(path: str) -> Iterator[Any]:
    try:
        with np.load(path, allow_pickle=False) as f:
            yield f
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"sweep: checkpoint {path} is unreadable; remove it or use another out_dir "
            f"({type(err).__name__}: {err})."
        ) from err


def fingerprint_of(path: str) -> str:
    """The fingerprint stored in the checkpoint at ``path``."""
    with _reading(path) as f:
        return str(f["fingerprint"])


def _load_eval(path: str, index: int, fingerprint: str, n_leaves: int) -> list[np.ndarray]:
    file = eval_path(path, index)
    with _reading(file) as f:
        if str(f["fingerprint"]) != fingerprint:
            raise ValueError(
                f"sweep: checkpoint {file} belongs to a different sweep than {path}; remove "
                f"the directory {os.path.dirname(file)} or use another out_dir."
            )
        return _decode(f, "eval", n_leaves)


def load(path: str, state: Any, eval_tree: Any) -> tuple[int, Any, list]:
    """``(finished chunks, state, evaluations)``; ``state`` and ``eval_tree`` give the trees."""
    eval_def = jax.tree_util.tree_structure(eval_tree)
    with _reading(path) as f:
        chunk, n_evals, fingerprint = int(f["chunk"]), int(f["n_evals"]), str(f["fingerprint"])
        treedef = jax.tree_util.tree_structure(state)
        loaded = jax.tree_util.tree_unflatten(treedef, _decode(f, "state", treedef.num_leaves))
        appended = "layout" in f.files
        if not appended:  # the older layout: every evaluation in this file, moved out
            leaves = [_decode(f, f"eval_{i}", eval_def.num_leaves) for i in range(n_evals)]
            _write_evals(path, fingerprint, [jax.tree_util.tree_unflatten(eval_def, lv)
                                             for lv in leaves])  # fmt: skip
    if appended:
        leaves = [_load_eval(path, i, fingerprint, eval_def.num_leaves) for i in range(n_evals)]
    evals = [jax.tree_util.tree_unflatten(eval_def, lv) for lv in leaves]
    return chunk, loaded, evals


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


@contextlib.contextmanager
def locked(out_dir: str) -> Iterator[None]:
    """Hold ``out_dir/sweep.lock`` (with this pid) for the block; a ``RuntimeError`` if a live
    process holds it. A lock left by a dead process (kill -9) is taken over. Across processes
    only process 0 takes it."""
    if jax.process_index() != 0:  # across processes, process 0 holds it for all
        yield
        return
    path = os.path.join(out_dir, LOCK)
    mine = str(os.getpid())
    try:
        with open(path) as f:
            owner = int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        owner = 0
    if owner and owner != os.getpid() and _pid_alive(owner):
        raise RuntimeError(
            f"sweep: out_dir {out_dir} is in use by process {owner} (lock file {path}); wait "
            "for that sweep to finish, or use another out_dir."
        )
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".lock.tmp")
    with os.fdopen(fd, "w") as f:
        f.write(mine)
    os.replace(tmp, path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            with open(path) as f:
                still_mine = f.read().strip() == mine
            if still_mine:
                os.remove(path)
