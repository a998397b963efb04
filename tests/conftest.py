"""Test-suite wiring: the slowest tests of files owned elsewhere are marked ``slow`` here by
node id, so the default run (``-m 'not slow'`` in pyproject's addopts) stays short; run them
with ``python -m pytest -m slow``."""

from __future__ import annotations

import pytest

# Measured with `python -m pytest -q -p no:cacheprovider --durations=30 tests/FILE`, one file
# at a time; each takes over a minute on 2 cores and has a cheaper sibling in the default run.
SLOW = {
    "tests/test_experiments.py::test_deep_relu_signal_and_training",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid in SLOW:
            item.add_marker(pytest.mark.slow)
