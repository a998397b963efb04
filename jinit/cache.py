"""JAX's persistent compilation cache, in a per-user directory.

A sweep spends seconds compiling its programs (the initial draws and the training chunk) in
every fresh process. JAX can keep the compiled XLA executables on disk, keyed by the program,
the JAX/XLA version and the device; a second process running the same sweep then loads them
instead of compiling. Only compiled programs are stored (no data, parameters or results).
"""

from __future__ import annotations

import os

ENV_VAR = "JINIT_CACHE_DIR"


def default_cache_dir() -> str:
    """``$JINIT_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/jinit/xla``, else
    ``~/.cache/jinit/xla``."""
    if os.environ.get(ENV_VAR):
        return os.path.expanduser(os.environ[ENV_VAR])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jinit", "xla")


def enable_compilation_cache(path: str | os.PathLike | None = None) -> str:
    """Turn on JAX's persistent compilation cache in ``path`` and return the directory.

    ``path`` defaults to :func:`default_cache_dir`. Every program is cached, however small or
    quick to compile (JAX's defaults skip programs that compile in under a second, which are
    most of a sweep's). Call it before the first compilation to benefit from it in this
    process; the ``jinit`` command calls it unless given ``--no-cache``.

    Example:
        >>> import jinit.cache
        >>> jinit.cache.enable_compilation_cache("/tmp/jinit-xla")  # doctest: +SKIP
        '/tmp/jinit-xla'
    """
    import jax

    directory = os.path.abspath(os.path.expanduser(os.fspath(path or default_cache_dir())))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as err:
        raise ValueError(
            f"enable_compilation_cache: cannot create the cache directory {directory!r} "
            f"({err.strerror}); pass another path or set ${ENV_VAR}."
        ) from None
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return directory
