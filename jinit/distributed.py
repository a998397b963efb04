"""Sweeps across processes and machines, with JAX's own multi-process runtime.

Every process calls the same :func:`jinit.sweep` (same arguments): the run axis is sharded
over ``jax.devices()``, which after :func:`initialize` holds the devices of every process;
each process places its own shards and the evaluations are gathered, so every process returns
the full :class:`~jinit.results.SweepResult` (:mod:`jinit.engine.sharding`). Only process 0
writes checkpoints and the lock (resuming needs ``out_dir`` on a file system all processes
see). A run's numbers do not depend on how many processes there are: 2 processes of one
device each compute what 1 process of 2 devices computes, bit for bit.

Python::

    import jinit
    jinit.distributed.initialize("10.0.0.1:1234", num_processes=2, process_id=0)  # per process
    result = jinit.sweep(...)            # the same call in every process

Command line: ``jinit compare ... --processes N`` (N local processes), or on a cluster
``--coordinator HOST:PORT --num-processes N --process-id I`` in each process; under SLURM
(``srun``) nothing: JAX finds the cluster itself (:func:`slurm_tasks`).

Ctrl-C: in a job of several processes a sweep records SIGINT instead of raising
KeyboardInterrupt mid-chunk (:func:`interrupts_at_chunks`) and asks :func:`stop_requested` (a
collective) after every chunk, so every process stops after the same chunk, process 0's
checkpoint holds it, and the same call with ``resume=True`` continues to the same numbers. The
``--processes`` launcher forwards SIGINT to its processes once (:func:`launch_local`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from jinit.devices import ENV_VAR, cores_wanted

INTERRUPTED = 130  # the exit code of an interrupted command (128 + SIGINT)


def _check_address(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"coordinator: expected HOST:PORT (e.g. 10.0.0.1:1234), got {address!r}")


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    cpu_collectives: str = "gloo",
    **kwargs,
) -> None:
    """``jax.distributed.initialize`` (same arguments), with CPU collectives (``gloo``) so
    that CPU processes can exchange arrays. Call it in every process, before any JAX
    computation (right after the imports; after :func:`jinit.use_cpu_cores` if you use it).
    With no arguments JAX detects the cluster (SLURM, Open MPI with mpi4py, TPU pods, ...).

    Example:
        >>> import jinit
        >>> jinit.distributed.initialize("localhost:1234", 2, 0)  # doctest: +SKIP
    """
    import jax

    if coordinator_address is not None:
        _check_address(coordinator_address)
    if num_processes is not None and (not isinstance(num_processes, int) or num_processes < 1):
        raise ValueError(f"num_processes: expected an int >= 1, got {num_processes!r}")
    if process_id is not None and num_processes is not None:
        if not isinstance(process_id, int) or not 0 <= process_id < num_processes:
            raise ValueError(
                f"process_id: expected an int in [0, {num_processes - 1}], got {process_id!r}"
            )
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)
    _connect()


def _connect() -> None:
    """One collective now, so that every process is known to be there and gloo's
    connection message ("[Gloo] Rank 0 is connected ...", printed on stdout by C++) goes to
    stderr instead of into the program's output (``--json``)."""
    from jax.experimental import multihost_utils

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        multihost_utils.sync_global_devices("jinit.distributed.initialize")
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def slurm_tasks() -> int:
    """The number of tasks of the SLURM job step this process runs in (``srun``), else 1.
    With more than one, ``jax.distributed.initialize()`` finds the others by itself."""
    if "SLURM_PROCID" not in os.environ:
        return 1
    try:
        return int(os.environ.get("SLURM_NTASKS", "1"))
    except ValueError:
        return 1


def is_leader() -> bool:
    """True in process 0 (or when there is one process): the one that writes files."""
    import jax

    return jax.process_index() == 0


def join(coordinator: str | None, num_processes: int | None, process_id: int | None) -> bool:
    """Join a job from the command line's flags: all three given, :func:`initialize` with
    them; none given, :func:`initialize` with none under a SLURM step of several tasks (JAX's
    own detection), else nothing (one process). Returns whether a job was joined."""
    flags = (coordinator, num_processes, process_id)
    if all(f is None for f in flags):
        if slurm_tasks() > 1:
            initialize()
            return True
        return False
    if any(f is None for f in flags):
        raise ValueError("--coordinator, --num-processes and --process-id go together; give "
                         "all three (or none: one process, or SLURM's own)")  # fmt: skip
    try:
        initialize(*flags)
    except ValueError as err:
        raise ValueError(f"--{str(err).replace('_', '-')}") from None
    return True


class _Gate:
    """Ctrl-C (SIGINT) while a sweep runs in a job of several processes: recorded, not
    raised, so that every process stops at the same chunk boundary (:func:`stop_requested`);
    a second SIGINT raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.open, self.requested, self.answered = False, False, False

    def handler(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("jinit: interrupted; every process stops after the current chunk (Ctrl-C again "
              "to stop at once)", file=sys.stderr, flush=True)  # fmt: skip


_GATE = _Gate()


@contextlib.contextmanager
def interrupts_at_chunks(active: bool | None = None) -> Iterator[None]:
    """While a sweep builds and trains (``active``; default: in a job of several processes),
    SIGINT is recorded instead of raising KeyboardInterrupt wherever the process happens to
    be: a process leaving the chunk loop alone would leave the others blocked in the next
    collective, and the checkpoint of process 0 could belong to another chunk than theirs.
    The sweep asks :func:`stop_requested` after every chunk instead. Nested uses, threads
    other than the main one and a SIGINT the process ignores change nothing; an interrupt
    recorded after the last question is raised on exit (in this process only)."""
    if active is None:
        import jax

        active = jax.process_count() > 1
    main = threading.current_thread() is threading.main_thread()
    if not active or _GATE.open or not main or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield
        return
    previous = signal.signal(signal.SIGINT, _GATE.handler)
    _GATE.open, _GATE.requested, _GATE.answered = True, False, False
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _GATE.open = False
    if _GATE.requested and not _GATE.answered:
        raise KeyboardInterrupt


def stop_requested() -> bool:
    """Whether to stop the sweep at this chunk boundary: True if any process of the job
    got SIGINT under :func:`interrupts_at_chunks` (a collective: every process asks at the
    same boundary, so all take the same decision). In one process: whether this one did
    (never, outside ``interrupts_at_chunks``: there Ctrl-C raises KeyboardInterrupt at once).

    Example (the engine's chunk loop, in one process: nothing changes):
        >>> from jinit.distributed import interrupts_at_chunks, stop_requested
        >>> with interrupts_at_chunks():
        ...     stop_requested()
        False
    """
    import jax

    asked = _GATE.open and _GATE.requested
    if jax.process_count() > 1:
        import numpy as np
        from jax.experimental import multihost_utils

        flags = multihost_utils.process_allgather(np.asarray([asked], np.int32))
        asked = bool(np.any(flags))
    _GATE.answered = _GATE.answered or asked  # the sweep stops now: nothing left to raise
    return asked


def add_arguments(p: argparse.ArgumentParser, int_at_least: Callable) -> None:
    """The command line's flags for jobs of several processes (``int_at_least(n)``: an
    argparse type of ints >= n)."""
    flags = {
        "--processes": (1, "run as N local processes of one jax.distributed job (the runs are "
                           "split among them; the cores too)"),
        "--coordinator": (None, "HOST:PORT of process 0: run as one process of a job across "
                                "machines (with --num-processes, --process-id; none under SLURM)"),
        "--num-processes": (1, "processes in the job (with --coordinator)"),
        "--process-id": (0, "this process's index, 0..N-1 (with --coordinator)"),
    }  # fmt: skip
    for flag, (minimum, text) in flags.items():
        kind = {} if minimum is None else {"type": int_at_least(minimum)}
        p.add_argument(flag, default=None, help=text, **kind)


def without_processes(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--processes N`` (the launcher's own flag)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--processes":
            skip = True
        elif not a.startswith("--processes="):
            out.append(a)
    return out


def free_port() -> int:
    """A TCP port free on this machine now (for a local coordinator)."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def launch_local(argv: Sequence[str], n: int, module: str = "jinit.cli") -> int:
    """Run ``python -m module *argv`` as ``n`` processes of one ``jax.distributed`` job on
    this machine (coordinator ``localhost:<free port>``, the cores split among them through
    ``$JINIT_CPU_CORES``). Process 0 prints; the others' output is shown only if they fail.
    Returns process 0's exit code, or the first failure's; a failure stops the others.

    Ctrl-C: the processes run in a process group of their own, so a terminal's SIGINT (sent
    to the foreground group) and a ``kill -INT`` of this process alike reach them once,
    forwarded from here; they stop together after the current chunk (process 0 writes what
    finished) and this returns 130. A second Ctrl-C stops them at once."""
    port = free_port()
    env = {**os.environ, ENV_VAR: str(max(1, cores_wanted() // n))}
    procs, logs = [], []
    try:
        for i in range(n):
            flags = ["--coordinator", f"localhost:{port}", "--num-processes", str(n),
                     "--process-id", str(i)]  # fmt: skip
            logs.append(None if i == 0 else tempfile.TemporaryFile("w+"))
            procs.append(subprocess.Popen([sys.executable, "-m", module, *argv, *flags],
                                          env=env, stdout=logs[i], stderr=logs[i],
                                          process_group=0))  # fmt: skip
        return _wait(procs, logs)
    except KeyboardInterrupt:
        return _stop(procs, logs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for log in logs:
            if log is not None:
                log.close()


def _stop(procs: list, logs: list, grace: float = 30.0) -> int:
    """After Ctrl-C: forward SIGINT to every process and wait for them to stop (they agree on
    a chunk boundary, :func:`stop_requested`); a process still running ``grace`` seconds
    after process 0 ended (blocked in a collective) is stopped. 130, or the first failure's
    code before process 0 ended; a second Ctrl-C returns 130 at once (the caller stops the
    processes)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    stopped = (None, 0, 1, INTERRUPTED, -signal.SIGINT)  # -2: ended by SIGINT itself
    try:
        while any(p.poll() is None for p in procs):
            codes = [p.poll() for p in procs]
            failed = [i for i, c in enumerate(codes) if c not in stopped]
            if failed and (codes[0] is None or failed[0] == 0):  # after process 0: no matter
                return _failure(procs, logs, failed[0])
            if codes[0] is not None:  # process 0 has written what finished
                _wait_up_to(procs, grace)
                break
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass
    return INTERRUPTED


def _wait(procs: list, logs: list) -> int:
    """Wait for every process; on the first nonzero exit code (an error, or 1: a check
    failed) stop the rest (they would wait for it forever) and return that code, with the
    process's output unless it is process 0 (shown already) or process 0 ended the same."""
    while True:
        codes = [p.poll() for p in procs]
        failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            return _failure(procs, logs, failed[0])
        if all(c is not None for c in codes):
            return codes[0]
        time.sleep(0.05)


def _wait_up_to(procs: list, seconds: float) -> None:
    """Wait for the processes to end, ``seconds`` at most in all."""
    deadline = time.monotonic() + seconds
    for p in procs:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            return


def _failure(procs: list, logs: list, i: int, grace: float = 60.0) -> int:
    """Process ``i``'s exit code, with its output unless it is process 0 (shown already) or
    process 0 ended the same within ``grace`` seconds (it writes the report after the last
    collective: 1, a check failed, ends every process, process 0 last)."""
    code = procs[i].returncode
    if logs[i] is not None and _code_of(procs[0], grace) != code:
        logs[i].seek(0)
        sys.stderr.write(logs[i].read()[-4000:])
        print(f"jinit: process {i} of {len(procs)} exited with code {code}", file=sys.stderr)
    return code


def _code_of(proc: subprocess.Popen, grace: float = 5.0) -> int | None:
    """``proc``'s exit code, waiting up to ``grace`` seconds; None if it is still running."""
    try:
        return proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        return None
