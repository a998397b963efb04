"""The one JSON encoder (_format.jsonable) that results and reports share."""

import json
import math

import numpy as np
import pytest

from jinit import _format
from jinit.report import encode


def test_jsonable_null_for_results_and_strings_for_reports():
    x = {1: np.array([1.0, math.inf, -math.inf, math.nan]), "s": (np.float32(0.5), np.int64(3))}
    assert _format.jsonable(x) == {"1": [1.0, None, None, None], "s": [0.5, 3]}
    strings = {"1": [1.0, "inf", "-inf", "nan"], "s": [0.5, 3]}
    assert _format.jsonable(x, nonfinite="string") == strings
    assert encode(x) == strings
    json.dumps(encode(x), allow_nan=False)  # valid JSON: no bare inf/nan


def test_jsonable_refuses_an_unknown_nonfinite():
    with pytest.raises(ValueError, match="nonfinite must be 'null' or 'string'"):
        _format.jsonable([math.inf], nonfinite="zero")
