"""Use every CPU core for sweeps by splitting the host into several XLA devices.

Why a call and not a side effect of ``import jinit``: the split changes ``jax.devices()`` for
all the JAX code of the process (a user's own ``pmap`` or ``Mesh(jax.devices())`` would
silently change), and a sweep's numbers agree across device counts only to float round-off
(``tests/test_sweep.py`` compares 1 and 4 devices with ``rtol=1e-6``), so an automatic split
would make the last digits of every result depend on the core count of the machine it ran on.
The ``jinit`` command owns its process and splits; Python users call :func:`use_cpu_cores`
first (the README's first example does).
"""

from __future__ import annotations

import os

ENV_VAR = "JINIT_CPU_CORES"
_FLAG = "xla_force_host_platform_device_count"


def cores_wanted(n: int | None = None) -> int:
    """The CPU device count to ask for: ``n``, else ``$JINIT_CPU_CORES`` (``0``: do not
    split), else one per core (``os.cpu_count()``)."""
    if n is None:
        text = os.environ.get(ENV_VAR, "").strip()
        if text:
            try:
                n = int(text)
            except ValueError:
                raise ValueError(
                    f"${ENV_VAR}={text!r} is not a number; give a device count >= 1, or 0 "
                    "to keep one CPU device."
                ) from None
        else:
            n = os.cpu_count() or 1
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(
            f"use_cpu_cores: n must be an int >= 0 (0 or 1: one device) or None, got {n!r}."
        )
    return n


def use_cpu_cores(n: int | None = None) -> bool:
    """Ask XLA for ``n`` CPU devices (default :func:`cores_wanted`: ``$JINIT_CPU_CORES``, else
    one per core) so a sweep's run axis is sharded across cores, through JAX's public
    ``jax_num_cpu_devices`` option. Call it right after the imports, before JAX starts its
    backend (the first ``jax.devices()`` or computation); it returns False, changing nothing,
    if the backend has started, if ``XLA_FLAGS`` already sets a device count (the user chose),
    or if the count is 0 or 1 or already in effect. On a 2-core machine this took the circles
    sweep from 66k to 114k model-steps/s (docs/benchmarks.md). On a GPU machine the sweep
    runs on the GPUs (``jax.devices()``) and the extra CPU devices stay idle.

    Example:
        >>> import jinit
        >>> jinit.use_cpu_cores()  # doctest: +SKIP
        True
    """
    import jax

    n = cores_wanted(n)
    if n <= 1 or _FLAG in os.environ.get("XLA_FLAGS", "") or jax.config.jax_num_cpu_devices == n:
        return False
    try:
        jax.config.update("jax_num_cpu_devices", n)
    except RuntimeError:  # "should be updated before backends are initialized"
        return False
    return True
