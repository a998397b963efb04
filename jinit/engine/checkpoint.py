"""Checkpoints and the out_dir lock.

``out_dir/sweep_checkpoint.npz`` holds the sweep's fingerprint, the number of finished chunks,
every leaf of the :class:`~jinit.engine.state.TrainState` and the evaluations so far. Leaves
are stored as raw bits (``uint8/16/32/64`` views) beside their dtype names, so bfloat16 and
float16 sweeps resume too; files are written atomically (temp file + ``os.replace``) and read
with ``allow_pickle=False``. ``out_dir/sweep.lock`` holds the pid of the process running a
sweep there; a second sweep on the same directory is refused while that process lives.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

CHECKPOINT = "sweep_checkpoint.npz"
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


def save(path: str, fingerprint: str, chunk: int, state: Any, evals: list) -> None:
    """Write the state after ``chunk`` finished chunks, atomically."""
    arrays = _encode("state", jax.tree_util.tree_leaves(state))
    for i, ev in enumerate(evals):
        arrays.update(_encode(f"eval_{i}", jax.tree_util.tree_leaves(ev)))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                fingerprint=np.array(fingerprint),
                chunk=np.array(chunk),
                n_evals=np.array(len(evals)),
                **arrays,
            )
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


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


def load(path: str, state: Any, eval_tree: Any) -> tuple[int, Any, list]:
    """``(finished chunks, state, evaluations)``; ``state`` and ``eval_tree`` give the trees."""
    with _reading(path) as f:
        chunk = int(f["chunk"])
        treedef = jax.tree_util.tree_structure(state)
        loaded = jax.tree_util.tree_unflatten(treedef, _decode(f, "state", treedef.num_leaves))
        eval_def = jax.tree_util.tree_structure(eval_tree)
        evals = [
            jax.tree_util.tree_unflatten(eval_def, _decode(f, f"eval_{i}", eval_def.num_leaves))
            for i in range(int(f["n_evals"]))
        ]
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
    process holds it. A lock left by a dead process (kill -9) is taken over."""
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
