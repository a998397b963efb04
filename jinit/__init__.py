"""jinit: weight initializers for JAX as pure functions, and a sweep engine to compare them."""

from jinit import adapters, data, haiku, losses, models
from jinit.devices import use_cpu_cores
from jinit.draw import draw, keys_from_seeds, stable_hash
from jinit.engine import sweep
from jinit.fans import fans
from jinit.gain import gain
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
from jinit.registry import available, get, name_of
from jinit.results import SweepResult
from jinit.trees import Description, describe, path_key, reinit

__version__ = "0.1.0"

__all__ = [
    "Description",
    "SweepResult",
    "adapters",
    "available",
    "constant",
    "data",
    "delta_orthogonal",
    "describe",
    "dirac",
    "draw",
    "fans",
    "gain",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "haiku",
    "he_normal",
    "he_uniform",
    "identity",
    "kaiming_normal",
    "kaiming_uniform",
    "keys_from_seeds",
    "lecun_normal",
    "lecun_uniform",
    "losses",
    "models",
    "name_of",
    "normal",
    "ones",
    "orthogonal",
    "path_key",
    "reinit",
    "sparse",
    "stable_hash",
    "sweep",
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
