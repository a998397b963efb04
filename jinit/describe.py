"""What a tree's initializers did: per float leaf, its fans, statistics and the closest law.

:func:`describe` reads a Flax linen variables dict, an ``nnx.State`` or NNX module, a Haiku
params dict, an Equinox module or a plain dict (leaves and layouts as :func:`jinit.reinit`
reads them) and names, for each float leaf, the standard law its values are closest to.

Example:
    >>> import jax, jinit
    >>> w = jinit.he_normal(jax.random.key(0), (512, 256))
    >>> jinit.describe({"w": w}).rows[0].label
    'he normal'
    >>> fan_out = jinit.he_normal(jax.random.key(0), (256, 512), mode="fan_out")
    >>> jinit.describe({"w": fan_out}).rows[0].label   # the same std as LeCun for this shape
    'lecun=he_fan_out normal'
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from jinit import _format
from jinit.fans import fans
from jinit.trees import Layout, LayoutName, Leaf, float_leaves

_BIAS_NAMES = ("bias", "b")

# Excess kurtosis of each distribution the laws draw from.
_KURTOSIS = {"uniform": -1.2, "truncated_normal": -0.6366, "normal": 0.0}
_FAN_LAWS = ("lecun", "xavier", "he", "torch_default", "he_fan_out")
_MATCH = math.log(1.2)  # a fan law matches when measured std / law std is within 1.2x
_SMALL_STD = 0.05
_MIN_FOR_KURTOSIS = 20
_ORTHO_COLUMNS = 64


@dataclass(frozen=True)
class Row:
    """One float leaf as :func:`describe` sees it.

    ``law`` is one of ``zeros``, ``constant``, ``orthogonal``, ``lecun``, ``xavier``, ``he``,
    ``torch_default``, ``he_fan_out`` (He with ``mode="fan_out"``), ``small`` (std < 0.05
    and no fan law matches) or ``other``;
    ``distribution`` is ``normal``, ``truncated_normal`` or ``uniform`` (by kurtosis) where it
    applies; ``ratio`` is measured std / the law's std; ``also`` lists laws with the same std
    for this shape (LeCun and Xavier coincide for a square matrix).
    """

    path: str
    shape: tuple[int, ...]
    dtype: str
    fan_in: int | None
    fan_out: int | None
    mean: float
    std: float
    law: str
    distribution: str | None
    ratio: float | None
    kurtosis: float | None
    also: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The law as one phrase, e.g. ``lecun truncated_normal`` or ``lecun=xavier normal``."""
        law = "=".join((self.law, *self.also))
        return f"{law} {self.distribution}" if self.distribution else law


_COLUMNS = ("path", "shape", "dtype", "fan_in", "fan_out", "mean", "std", "law", "ratio")


def _cells(row: Row) -> tuple[str, ...]:
    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.3g}"

    return (
        row.path,
        "(" + ", ".join(map(str, row.shape)) + (",)" if len(row.shape) == 1 else ")"),
        row.dtype,
        "-" if row.fan_in is None else str(row.fan_in),
        "-" if row.fan_out is None else str(row.fan_out),
        f"{row.mean:+.3g}",
        num(row.std),
        row.label,
        num(row.ratio),
    )


@dataclass(frozen=True)
class Description:
    """What :func:`describe` found: ``rows`` (one :class:`Row` per float leaf).

    ``str()`` is an aligned text table; ``to_dicts()`` gives plain dicts (e.g. for pandas).
    """

    rows: list[Row]

    def __str__(self) -> str:
        right = {"fan_in", "fan_out", "mean", "std", "ratio"}
        rows = [_COLUMNS, *(_cells(r) for r in self.rows)]
        return _format.table(rows, right={_COLUMNS.index(c) for c in right}, rule=False)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts, one per leaf, with the keys of :class:`Row` and ``label``."""
        return [{**asdict(r), "label": r.label} for r in self.rows]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _leaf_fans(leaf: Leaf, layout: LayoutName) -> tuple[int | None, int | None]:
    shape = tuple(leaf.array.shape)
    name = leaf.slash.rsplit("/", 1)[-1]
    if len(shape) < 2 or name in _BIAS_NAMES:
        return None, None
    axes = (1, 0) if layout == "torch" else (-2, -1)
    return fans(shape, *axes)


def _excess_kurtosis(w: np.ndarray) -> float | None:
    if w.size < _MIN_FOR_KURTOSIS:
        return None
    c = w - w.mean()
    m2 = float(np.mean(c**2))
    return float(np.mean(c**4)) / m2**2 - 3.0 if m2 > 0 else None


def _distribution(kurtosis: float | None) -> str | None:
    if kurtosis is None:
        return None
    return min(_KURTOSIS, key=lambda d: abs(_KURTOSIS[d] - kurtosis))


def _orthogonal_ratio(w: np.ndarray, dtype: np.dtype) -> float | None:
    """For a 2-D ``w`` with orthonormal columns or rows times a gain: std * sqrt(max dim)."""
    if w.ndim != 2 or min(w.shape) < 2:
        return None
    tall = w if w.shape[0] >= w.shape[1] else w.T
    cols = tall[:, :_ORTHO_COLUMNS]
    gram = cols.T @ cols
    scale = float(np.mean(np.diag(gram)))
    if scale <= 0:
        return None
    tol = max(1e-3, 10 * float(jnp.finfo(dtype).eps))
    if np.abs(gram / scale - np.eye(len(gram))).max() > tol:
        return None
    return float(w.std()) * math.sqrt(max(w.shape))


def _fan_law_stds(fan_in: int, fan_out: int) -> dict[str, float]:
    return {
        "lecun": math.sqrt(1 / fan_in),
        "xavier": math.sqrt(2 / (fan_in + fan_out)),
        "he": math.sqrt(2 / fan_in),
        "torch_default": math.sqrt(1 / (3 * fan_in)),
        "he_fan_out": math.sqrt(2 / fan_out),
    }


def _closest_fan_law(std: float, fan_in: int, fan_out: int, n: int) -> tuple[str, float, tuple]:
    """The fan law whose std is nearest (in ratio), its ratio, and the laws tied with it.

    Laws whose stds differ by less than the sampling error of the measured std (two standard
    errors, at least 1%) are tied: the first in ``_FAN_LAWS`` order is named, the rest go
    to ``also``.
    """
    if fan_in <= 0 or fan_out <= 0:
        return "", math.inf, ()
    targets = _fan_law_stds(fan_in, fan_out)
    best = min(_FAN_LAWS, key=lambda name: abs(math.log(std / targets[name])))
    tie = math.log1p(max(0.01, 2 / math.sqrt(2 * n)))
    tied = [name for name in _FAN_LAWS if abs(math.log(targets[name] / targets[best])) < tie]
    return tied[0], std / targets[tied[0]], tuple(tied[1:])


def _classify(leaf: Leaf, fan_in, fan_out) -> dict[str, Any]:
    array = np.asarray(leaf.array).astype(np.float64)
    w = array.ravel()
    mean, std = (float(w.mean()), float(w.std())) if w.size else (0.0, 0.0)
    out = {"mean": mean, "std": std, "law": "other", "distribution": None}
    out |= {"ratio": None, "kurtosis": None, "also": ()}
    if w.size and not w.any():
        return out | {"law": "zeros"}
    if w.size and std == 0:
        return out | {"law": "constant"}
    ortho = _orthogonal_ratio(array, leaf.array.dtype)
    if ortho is not None:
        return out | {"law": "orthogonal", "ratio": ortho}
    kurtosis = _excess_kurtosis(w)
    out |= {"kurtosis": kurtosis, "distribution": _distribution(kurtosis)}
    if w.size == 0 or abs(mean) > max(5 * std / math.sqrt(w.size), 0.1 * std):
        return out  # not a zero-mean law
    if fan_in is not None:
        law, ratio, tied = _closest_fan_law(std, fan_in, fan_out, w.size)
        if abs(math.log(ratio)) <= _MATCH:
            return out | {"law": law, "ratio": ratio, "also": tied}
    if std < _SMALL_STD:
        return out | {"law": "small"}
    return out


def _describe_leaf(leaf: Leaf, layout: LayoutName) -> Row:
    fan_in, fan_out = _leaf_fans(leaf, layout)
    return Row(
        path=leaf.path,
        shape=tuple(leaf.array.shape),
        dtype=str(leaf.array.dtype),
        fan_in=fan_in,
        fan_out=fan_out,
        **_classify(leaf, fan_in, fan_out),
    )


def describe(tree: Any, *, layout: Layout = "auto") -> Description:
    """Per real float leaf: path, shape, dtype, fans, mean, std and the closest standard law.

    The laws tried, in order: ``zeros``; ``constant``; ``orthogonal`` (a 2-D ``W`` with
    ``W^T W = c I`` on its shorter side; ratio = the gain); then by std, for leaves of 2+
    dimensions, ``lecun`` (1/fan_in), ``xavier`` (2/(fan_in+fan_out)), ``he`` (2/fan_in),
    ``torch_default`` (1/(3 fan_in)) and ``he_fan_out`` (2/fan_out, He's ``mode="fan_out"``)
    as variances: the nearest wins if measured std / law std is within 1.2x, and laws of the
    same std for this shape are all named in ``label`` (``lecun=he_fan_out`` when fan_out =
    2 fan_in: the values cannot tell them apart). Otherwise ``small`` (std < 0.05, the
    N(0, 0.01) kind) or ``other`` (also for a clearly non-zero mean). Normal, truncated
    normal (at 2 sigma) and uniform are told apart by excess kurtosis (0, -0.64, -1.2).

    Fans follow ``layout`` as in :func:`reinit` and assume ``(*spatial, in, out)`` (JAX) or
    ``(out, in, *spatial)`` (torch); 0-D/1-D leaves and leaves named ``bias`` or ``b`` have
    none. A Flax DenseGeneral kernel or an embedding table is not laid out that way, so its
    fan-law verdict is not meaningful. Handy to see what a framework's defaults did.

    Example:
        >>> import jax, jinit
        >>> w = jinit.he_normal(jax.random.key(0), (512, 256))
        >>> row = jinit.describe({"w": w}).rows[0]
        >>> row.law, row.distribution, round(row.ratio, 1)
        ('he', 'normal', 1.0)
    """
    _, _, floats, layouts = float_leaves(tree, layout, "describe")
    return Description(
        [
            _describe_leaf(f, lay)
            for f, lay in zip(floats, layouts, strict=True)
            if jnp.issubdtype(f.array.dtype, jnp.floating)
        ]
    )
