"""Every docstring example in jinit runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import jinit

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(jinit.__path__, prefix="jinit.")
    if m.name not in {"jinit.cli"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
