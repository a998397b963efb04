"""MNIST if the user has it, else the 8x8 digits shipped with jinit: one fallback for the
experiments that train on MNIST (nielsen, ng-epsilon)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Self

from jinit import data as data_lib


def mnist_directory(mnist: str | os.PathLike[str] | None) -> tuple[str | None, str]:
    """Where MNIST is: ``(directory or None, why)``.

    An explicit ``mnist`` directory is returned as is (a wrong one then fails loudly when
    read); otherwise ``$JINIT_MNIST`` if it names an existing directory; otherwise None with
    the reason, for the report's notes.
    """
    if mnist is not None:
        return os.fspath(mnist), f"MNIST from {os.fspath(mnist)}"
    env = os.environ.get(data_lib.MNIST_ENV)
    if not env:
        return None, f"no MNIST: no mnist=DIR option and ${data_lib.MNIST_ENV} is not set"
    if not os.path.isdir(env):
        return None, f"no MNIST: ${data_lib.MNIST_ENV}={env} is not a directory"
    return env, f"MNIST from ${data_lib.MNIST_ENV}={env}"


@dataclasses.dataclass(frozen=True)
class Setup:
    """The data an experiment trains on, whether it is MNIST, and where it came from (for the
    report's notes)."""

    data: data_lib.Dataset
    on_mnist: bool
    origin: str

    @classmethod
    def load(
        cls, mnist: str | os.PathLike[str] | None, read: Callable[[str], data_lib.Dataset]
    ) -> Self:
        """``read(directory)`` of MNIST (:func:`mnist_directory`), else the 8x8 digits; an
        explicit ``mnist`` that cannot be read raises rather than falls back."""
        directory, origin = mnist_directory(mnist)
        if directory is not None:
            try:
                return cls(read(directory), True, origin)
            except FileNotFoundError as err:
                if mnist is not None:  # asked for explicitly: say so rather than fall back
                    raise
                origin = f"no MNIST: {str(err).splitlines()[0]}"
        return cls(data_lib.digits(), False, origin)
