"""Re-initialize any pytree by path rules, and describe what a tree's initializers did.

Flax (linen and NNX) and Haiku take initializers as layer arguments, so jinit's functions
drop in as written (``nnx.Linear(..., kernel_init=jinit.he_normal)``; Haiku through
:func:`jinit.haiku.initializer`). Equinox has no init hooks: build the module, then redraw
its leaves with :func:`reinit`::

    import equinox as eqx, jax, jinit
    model = eqx.nn.MLP(784, 10, 256, 2, key=jax.random.key(0))
    model = jinit.reinit(jax.random.key(1), model,
                         {"*weight": jinit.he_normal, "*bias": jinit.zeros})

:func:`reinit` works the same on a Flax linen variables dict, an ``nnx.State`` or NNX module,
a Haiku params dict, an Equinox module or a plain dict; :func:`describe` prints a table of
every float leaf's fans, statistics and the standard law it is closest to.

Paths. A leaf's path string is ``jax.tree_util.keystr(path)``: ``['params']['Dense_0']
['kernel']`` (linen), ``['linear']['w']`` (Haiku), ``.layers[0].weight`` (Equinox),
``['l1']['kernel']`` (NNX: a ``Variable`` or a linen ``Partitioned`` box counts as the leaf,
so its ``.value`` is not part of the path). Globs are matched against this string and also
against its slash form (``params/Dense_0/kernel``, ``layers/0/weight``); write globs in the
slash form or as ``*kernel``, since ``[...]`` in a glob is a character class.

Keys. Each leaf draws with its own key, a function of the root key and its path only::

    path_key(key, path_str) = jax.random.fold_in(
        key, zlib.crc32(path_str.encode("utf-8")) & 0x7FFFFFFF)

so adding, removing or reordering other layers never changes a layer's draw.

Layout. Fan-based laws need to know which axes are in and out. Flax and Haiku kernels are
JAX layout ``(*spatial, in, out)``; Equinox (like PyTorch) stores ``Linear.weight`` as
``(out, in)`` and ``Conv.weight`` as ``(out, in, *spatial)``. ``layout="auto"`` uses the
torch layout when the tree is an Equinox module and JAX layout otherwise.
"""

from __future__ import annotations

import fnmatch
import functools
import inspect
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jinit.fans import fans
from jinit.keys import path_key
from jinit.registry import get

Array = jax.Array
Initializer = Callable[..., Array]
Pattern = str | re.Pattern[str] | Callable[[str, Any], bool]
Rules = Mapping[Pattern, Initializer | str] | Sequence[tuple[Pattern, Initializer | str]]
LayoutName = Literal["jax", "torch"]
Layout = Literal["auto", "jax", "torch"] | Mapping[Pattern, LayoutName]

_LAYOUTS = ("jax", "torch")
_TORCH_KWARGS = {"in_axis": 1, "out_axis": 0}
_BIAS_NAMES = ("bias", "b")
_SHOWN_PATHS = 8


# --------------------------------------------------------------------------- keys


# --------------------------------------------------------------------------- leaves


@dataclass(frozen=True)
class _Leaf:
    path: str  # keystr form, hashed and given to predicates
    slash: str  # slash form, for globs
    node: Any  # what sits in the tree: an array, a box around one, or anything else
    array: Any  # the float array to consider, or None


def _boxes() -> tuple[type, ...]:
    """Wrapper types whose inner array is the leaf: NNX Variables, linen AxisMetadata."""
    types = []
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None:
        types.append(nnx.Variable)
    meta = sys.modules.get("flax.core.meta")
    if meta is not None:
        types.append(meta.AxisMetadata)
    return tuple(types)


def _unbox(node: Any, boxes: tuple[type, ...]) -> Any:
    if not (boxes and isinstance(node, boxes)):
        return node
    get_value = getattr(node, "get_value", None)
    return get_value() if get_value is not None else node.unbox()


def _rebox(node: Any, value: Array, boxes: tuple[type, ...]) -> Any:
    if not (boxes and isinstance(node, boxes)):
        return value
    replace_boxed = getattr(node, "replace_boxed", None)
    return replace_boxed(value) if replace_boxed is not None else node.replace(value)


def _is_float_array(x: Any) -> bool:
    return isinstance(x, jax.Array | np.ndarray) and jnp.issubdtype(x.dtype, jnp.inexact)


def _as_tree(tree: Any) -> Any:
    """An NNX module is read through ``nnx.state(module)``; anything else as it is."""
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None and isinstance(tree, nnx.Module):
        return nnx.state(tree)
    return tree


def _flatten(tree: Any) -> tuple[list[_Leaf], Any]:
    boxes = _boxes()
    is_box = (lambda x: isinstance(x, boxes)) if boxes else None
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_box)
    leaves = []
    for path, node in flat:
        value = _unbox(node, boxes)
        leaves.append(
            _Leaf(
                path=jax.tree_util.keystr(path),
                slash=jax.tree_util.keystr(path, simple=True, separator="/"),
                node=node,
                array=value if _is_float_array(value) else None,
            )
        )
    return leaves, treedef


def _float_leaves(leaves: list[_Leaf]) -> list[_Leaf]:
    return [leaf for leaf in leaves if leaf.array is not None]


def _some_paths(leaves: list[_Leaf]) -> str:
    paths = [leaf.path for leaf in _float_leaves(leaves)]
    if not paths:
        return "the tree has no float array leaves"
    more = f", ... ({len(paths)} in all)" if len(paths) > _SHOWN_PATHS else ""
    return "float leaves include " + ", ".join(paths[:_SHOWN_PATHS]) + more


# --------------------------------------------------------------------------- patterns


@dataclass(frozen=True)
class _Matcher:
    name: str  # for error messages
    test: Callable[[_Leaf], bool]


def _matcher(pattern: Pattern, what: str) -> _Matcher:
    if isinstance(pattern, str):
        return _Matcher(
            repr(pattern),
            lambda leaf: (
                fnmatch.fnmatchcase(leaf.path, pattern) or fnmatch.fnmatchcase(leaf.slash, pattern)
            ),
        )
    if isinstance(pattern, re.Pattern):
        return _Matcher(
            f"re.compile({pattern.pattern!r})",
            lambda leaf: bool(pattern.search(leaf.path) or pattern.search(leaf.slash)),
        )
    if callable(pattern):
        name = getattr(pattern, "__name__", repr(pattern))
        return _Matcher(f"predicate {name}", lambda leaf: bool(pattern(leaf.path, leaf.array)))
    raise TypeError(
        f"{what}: a pattern must be a glob str, a compiled re.Pattern or a predicate "
        f"callable(path_str, leaf) -> bool; got {type(pattern).__name__} {pattern!r}."
    )


def _pairs(spec: Any, what: str) -> list[tuple[Any, Any]]:
    if isinstance(spec, Mapping):
        return list(spec.items())
    if isinstance(spec, Sequence) and not isinstance(spec, str):
        pairs = list(spec)
        for item in pairs:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise TypeError(f"{what}: expected (pattern, value) pairs, got the item {item!r}.")
        return pairs
    raise TypeError(
        f"{what}: expected a dict {{pattern: value}} or a list of (pattern, value) pairs, "
        f"got {type(spec).__name__}."
    )


def _assign(
    matchers: list[_Matcher], leaves: list[_Leaf], all_leaves: list[_Leaf], what: str
) -> list[int | None]:
    """Index of the first matching matcher for each leaf; every matcher must win a leaf."""
    chosen: list[int | None] = []
    hit = [False] * len(matchers)
    for leaf in leaves:
        first = None
        for i, m in enumerate(matchers):
            if m.test(leaf):
                hit[i] = True
                first = i if first is None else first
        chosen.append(first)
    for i, m in enumerate(matchers):
        if not hit[i]:
            raise ValueError(
                f"{what}: the pattern {m.name} matches no float leaf (a typo?). Patterns are "
                f"matched against paths such as \"['params']['Dense_0']['kernel']\" and "
                f"'params/Dense_0/kernel'; {_some_paths(all_leaves)}."
            )
        if i not in chosen:
            raise ValueError(
                f"{what}: the pattern {m.name} matches only leaves an earlier pattern already "
                "takes, so it would never apply; put it first or remove it."
            )
    return chosen


# --------------------------------------------------------------------------- layout


def _is_equinox(tree: Any) -> bool:
    eqx = sys.modules.get("equinox")
    return eqx is not None and isinstance(tree, eqx.Module)


def _check_layout_name(value: Any, what: str) -> LayoutName:
    if value not in _LAYOUTS:
        raise ValueError(
            f"{what}: a layout must be 'jax' ((*spatial, in, out)) or 'torch' "
            f"((out, in, *spatial)), got {value!r}."
        )
    return value


def _layouts(tree: Any, layout: Any, leaves: list[_Leaf], what: str) -> list[LayoutName]:
    """The layout of each float leaf."""
    auto: LayoutName = "torch" if _is_equinox(tree) else "jax"
    if isinstance(layout, str):
        if layout == "auto":
            return [auto] * len(leaves)
        return [_check_layout_name(layout, what)] * len(leaves)
    if not isinstance(layout, Mapping):
        raise TypeError(
            f"{what}: layout must be 'auto', 'jax', 'torch' or a dict {{pattern: 'jax' | "
            f"'torch'}}, got {type(layout).__name__} {layout!r}."
        )
    names = [_check_layout_name(v, what) for v in layout.values()]
    matchers = [_matcher(p, what) for p in layout]
    chosen = _assign(matchers, leaves, leaves, f"{what} (layout)")
    return [auto if i is None else names[i] for i in chosen]


def _bound_keywords(init: Callable) -> set[str]:
    bound: set[str] = set()
    while isinstance(init, functools.partial):
        bound |= set(init.keywords)
        init = init.func
    return bound


def _keyword_names(init: Callable) -> set[str]:
    try:
        params = inspect.signature(init).parameters.values()
    except (TypeError, ValueError):
        return set()
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {p.name for p in params if p.kind in kinds}


def layout_kwargs(init: Callable, ndim: int, layout: LayoutName) -> dict[str, int]:
    """The axis keywords :func:`reinit` adds when it calls ``init`` for a weight of ``ndim``.

    JAX layout, or fewer than 2 dimensions: none. Torch layout ``(out, in, *spatial)``:
    ``in_axis=1, out_axis=0`` if ``init`` takes both (looked up through
    ``functools.partial``) and the partial binds neither, plus ``column_axis=0`` for an
    orthogonal law so that each output unit's row is what is orthonormal. An initializer
    without these keywords is called as it is.

    Example:
        >>> import jinit
        >>> jinit.trees.layout_kwargs(jinit.he_normal, 2, "torch")
        {'in_axis': 1, 'out_axis': 0}
        >>> jinit.trees.layout_kwargs(jinit.zeros, 2, "torch")
        {}
    """
    if layout == "jax" or ndim < 2:
        return {}
    accepted = _keyword_names(init) - _bound_keywords(init)
    kwargs = dict(_TORCH_KWARGS) if set(_TORCH_KWARGS) <= accepted else {}
    if "column_axis" in accepted:
        kwargs["column_axis"] = 0
    return kwargs


# --------------------------------------------------------------------------- reinit


def _draw(key: Array, leaf: _Leaf, init: Callable, layout: LayoutName, dtype: Any) -> Array:
    shape = tuple(leaf.array.shape)
    dt = leaf.array.dtype if dtype is None else dtype
    out = init(path_key(key, leaf.path), shape, dt, **layout_kwargs(init, len(shape), layout))
    if tuple(jnp.shape(out)) != shape:
        raise ValueError(
            f"reinit: the initializer for {leaf.path} returned shape {tuple(jnp.shape(out))}, "
            f"expected the leaf's shape {shape}."
        )
    return out


def _rules(rules: Any) -> tuple[list[_Matcher], list[Callable]]:
    pairs = _pairs(rules, "reinit: rules")
    if not pairs:
        raise ValueError("reinit: rules is empty; give at least one (pattern, initializer).")
    matchers = [_matcher(p, "reinit: rules") for p, _ in pairs]
    inits = []
    for pattern, init in pairs:
        if not (callable(init) or isinstance(init, str)):
            raise TypeError(
                f"reinit: the rule for {pattern!r} needs an initializer (a callable or a name "
                f"such as 'he_normal'), got {type(init).__name__} {init!r}."
            )
        inits.append(get(init))
    return matchers, inits


def reinit(
    key: Array,
    tree: Any,
    rules: Rules,
    *,
    layout: Layout = "auto",
    dtype: Any = None,
) -> Any:
    """Redraw the float leaves of ``tree`` chosen by ``rules``; return a tree of the same kind.

    ``rules`` is a dict (in order) or a list of ``(pattern, initializer)`` pairs. A pattern
    is a glob (``fnmatch``, tried on the key string ``['params']['Dense_0']['kernel']`` and
    its slash form ``params/Dense_0/kernel``), a compiled regex (``search`` on either), or a
    predicate ``callable(path_str, leaf) -> bool`` (given the key string and the array). The
    first matching rule wins. An initializer is a function ``init(key, shape, dtype)`` or a
    name/spec string for :func:`jinit.get`.

    The leaf at ``path_str`` draws ``init(path_key(key, path_str), leaf.shape, dtype or
    leaf.dtype)`` with ``path_key(key, p) = jax.random.fold_in(key, zlib.crc32(p.encode(
    "utf-8")) & 0x7FFFFFFF)``: each draw depends only on the root key and its own path, so
    adding a layer never changes the others. Under the torch layout, fan-based initializers
    are called with ``in_axis=1, out_axis=0`` (see :func:`layout_kwargs`).

    - Only float (and complex) array leaves are considered; ints, bools, PRNG keys, ``None``
      and non-array leaves (Equinox activation functions, static fields) stay untouched, as
      do float leaves no rule matches.
    - A rule that matches no float leaf, or only leaves an earlier rule takes, raises
      ``ValueError`` naming the pattern: a typo never passes silently.
    - ``layout``: ``"auto"`` (torch for an Equinox module, JAX otherwise), ``"jax"``,
      ``"torch"``, or a dict ``{pattern: "jax" | "torch"}`` overriding "auto" per path.
    - NNX: an ``nnx.State`` comes back as an ``nnx.State`` of new Variables. An NNX module
      is not mutated: ``reinit`` returns its redrawn ``nnx.State`` (paths and draws as for
      ``nnx.state(model)``); apply it with ``nnx.update(model, state)``.
    - Works under ``jax.jit`` with the key traced (paths and shapes are static).

    Example:
        >>> import jax, jax.numpy as jnp, jinit
        >>> params = {"dense": {"kernel": jnp.ones((300, 10)), "bias": jnp.ones(10)},
        ...           "step": jnp.array(3)}
        >>> new = jinit.reinit(jax.random.key(0), params,
        ...                    {"*kernel": jinit.he_normal, "*bias": jinit.zeros})
        >>> float(new["dense"]["bias"].sum()), int(new["step"])
        (0.0, 3)
        >>> k = jinit.path_key(jax.random.key(0), "['dense']['kernel']")
        >>> bool((new["dense"]["kernel"] == jinit.he_normal(k, (300, 10))).all())
        True
    """
    matchers, inits = _rules(rules)
    if dtype is not None:
        dtype = jnp.dtype(dtype)
    tree = _as_tree(tree)
    leaves, treedef = _flatten(tree)
    floats = _float_leaves(leaves)
    chosen = _assign(matchers, floats, leaves, "reinit")
    layouts = _layouts(tree, layout, floats, "reinit")
    boxes = _boxes()
    new_nodes = {}
    for leaf, rule, lay in zip(floats, chosen, layouts, strict=True):
        if rule is not None:
            value = _draw(key, leaf, inits[rule], lay, dtype)
            new_nodes[id(leaf)] = _rebox(leaf.node, value, boxes)
    return jax.tree_util.tree_unflatten(
        treedef, [new_nodes.get(id(leaf), leaf.node) for leaf in leaves]
    )


# --------------------------------------------------------------------------- describe

# Excess kurtosis of each distribution the laws draw from.
_KURTOSIS = {"uniform": -1.2, "truncated_normal": -0.6366, "normal": 0.0}
_FAN_LAWS = ("lecun", "xavier", "he", "torch_default")
_MATCH = math.log(1.2)  # a fan law matches when measured std / law std is within 1.2x
_SMALL_STD = 0.05
_MIN_FOR_KURTOSIS = 20
_ORTHO_COLUMNS = 64


@dataclass(frozen=True)
class Row:
    """One float leaf as :func:`describe` sees it.

    ``law`` is one of ``zeros``, ``constant``, ``orthogonal``, ``lecun``, ``xavier``, ``he``,
    ``torch_default``, ``small`` (std < 0.05 and no fan law matches) or ``other``;
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
        table = [_COLUMNS, *(_cells(r) for r in self.rows)]
        widths = [max(len(line[i]) for line in table) for i in range(len(_COLUMNS))]
        right = {"fan_in", "fan_out", "mean", "std", "ratio"}
        lines = []
        for line in table:
            cells = [
                c.rjust(w) if name in right else c.ljust(w)
                for c, w, name in zip(line, widths, _COLUMNS, strict=True)
            ]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as dicts, one per leaf, with the keys of :class:`Row` and ``label``."""
        return [{**asdict(r), "label": r.label} for r in self.rows]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _leaf_fans(leaf: _Leaf, layout: LayoutName) -> tuple[int | None, int | None]:
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


def _classify(leaf: _Leaf, fan_in, fan_out) -> dict[str, Any]:
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


def _describe_leaf(leaf: _Leaf, layout: LayoutName) -> Row:
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
    dimensions, ``lecun`` (1/fan_in), ``xavier`` (2/(fan_in+fan_out)), ``he`` (2/fan_in) and
    ``torch_default`` (1/(3 fan_in)) as variances: the nearest wins if measured std / law std
    is within 1.2x. Otherwise ``small`` (std < 0.05, the N(0, 0.01) kind) or ``other`` (also
    for a clearly non-zero mean). Normal, truncated normal (at 2 sigma) and uniform are told
    apart by excess kurtosis (0, -0.64, -1.2).

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
    tree = _as_tree(tree)
    leaves, _ = _flatten(tree)
    floats = [
        leaf for leaf in _float_leaves(leaves) if jnp.issubdtype(leaf.array.dtype, jnp.floating)
    ]
    layouts = _layouts(tree, layout, floats, "describe")
    return Description([_describe_leaf(f, lay) for f, lay in zip(floats, layouts, strict=True)])
