"""jinit: weight initializers for JAX as pure functions, and a sweep engine to compare them.

``jinit.experiments``, ``jinit.plots`` and ``jinit.report`` load on first use (``import
jinit`` does not import them, nor matplotlib).
"""

import importlib as _importlib

from jinit import (
    activations,
    adapters,
    data,
    diagnostics,
    distributed,
    haiku,
    hparams,
    keys,
    losses,
    meanfield,
    models,
    ops,
    stats,
)
from jinit.cache import enable_compilation_cache
from jinit.devices import use_cpu_cores
from jinit.diagnostics import (
    activation_histograms,
    jacobian_spectrum,
    probe,
    probe_seeds,
    symmetry,
)
from jinit.draw import draw, keys_from_seeds
from jinit.engine import sweep
from jinit.fans import fans
from jinit.gain import gain, random_walk_gain
from jinit.hparams import grid
from jinit.keys import stable_hash
from jinit.laws import (
    constant,
    delta_orthogonal,
    dirac,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    identity,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    ones,
    orthogonal,
    sparse,
    torch_default,
    torch_default_bias,
    truncated_normal,
    uniform,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
    zeros,
)
from jinit.meanfield import critical_weight_variance
from jinit.registry import available, get, name_of
from jinit.results import SweepResult
from jinit.trees import Description, describe, path_key, reinit

__version__ = "0.1.0"

_LAZY = ("experiments", "plots", "report", "research")


def __getattr__(name: str):
    """Load ``jinit.experiments``, ``jinit.plots``, ``jinit.report`` and ``jinit.research`` on
    first access."""
    if name in _LAZY:
        return _importlib.import_module(f"jinit.{name}")
    raise AttributeError(f"module 'jinit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "Description",
    "SweepResult",
    "activation_histograms",
    "activations",
    "adapters",
    "available",
    "constant",
    "critical_weight_variance",
    "data",
    "delta_orthogonal",
    "describe",
    "diagnostics",
    "dirac",
    "distributed",
    "draw",
    "enable_compilation_cache",
    "experiments",
    "fans",
    "gain",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "grid",
    "haiku",
    "he_normal",
    "he_uniform",
    "hparams",
    "identity",
    "jacobian_spectrum",
    "kaiming_normal",
    "kaiming_uniform",
    "keys",
    "keys_from_seeds",
    "lecun_normal",
    "lecun_uniform",
    "losses",
    "meanfield",
    "models",
    "name_of",
    "normal",
    "ones",
    "ops",
    "orthogonal",
    "path_key",
    "plots",
    "probe",
    "probe_seeds",
    "random_walk_gain",
    "reinit",
    "report",
    "research",
    "sparse",
    "stable_hash",
    "stats",
    "sweep",
    "symmetry",
    "torch_default",
    "torch_default_bias",
    "truncated_normal",
    "uniform",
    "use_cpu_cores",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
