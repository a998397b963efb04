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
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jinit.fans import fans
from jinit.frameworks import detection
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


# --------------------------------------------------------------------------- leaves


@dataclass(frozen=True)
class Leaf:
    """One leaf of a tree as :func:`reinit` and :func:`jinit.describe` see it."""

    path: str  # keystr form, hashed and given to predicates
    slash: str  # slash form, for globs
    node: Any  # what sits in the tree: an array, a box around one, or anything else
    array: Any  # the float array to consider, or None


def _boxes() -> tuple[type, ...]:
    """Wrapper types whose inner array is the leaf: NNX Variables, linen AxisMetadata."""
    return detection.box_types()


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
    if detection.is_nnx(tree):
        return sys.modules["flax.nnx"].state(tree)
    return tree


def _flatten(tree: Any) -> tuple[list[Leaf], Any]:
    boxes = _boxes()
    is_box = (lambda x: isinstance(x, boxes)) if boxes else None
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_box)
    leaves = []
    for path, node in flat:
        value = _unbox(node, boxes)
        leaves.append(
            Leaf(
                path=jax.tree_util.keystr(path),
                slash=jax.tree_util.keystr(path, simple=True, separator="/"),
                node=node,
                array=value if _is_float_array(value) else None,
            )
        )
    return leaves, treedef


def _float_leaves(leaves: list[Leaf]) -> list[Leaf]:
    return [leaf for leaf in leaves if leaf.array is not None]


def _some_paths(leaves: list[Leaf]) -> str:
    paths = [leaf.path for leaf in _float_leaves(leaves)]
    if not paths:
        return "the tree has no float array leaves"
    more = f", ... ({len(paths)} in all)" if len(paths) > _SHOWN_PATHS else ""
    return "float leaves include " + ", ".join(paths[:_SHOWN_PATHS]) + more


# --------------------------------------------------------------------------- patterns


@dataclass(frozen=True)
class _Matcher:
    name: str  # for error messages
    test: Callable[[Leaf], bool]


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
    matchers: list[_Matcher], leaves: list[Leaf], all_leaves: list[Leaf], what: str
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


def _check_layout_name(value: Any, what: str) -> LayoutName:
    if value not in _LAYOUTS:
        raise ValueError(
            f"{what}: a layout must be 'jax' ((*spatial, in, out)) or 'torch' "
            f"((out, in, *spatial)), got {value!r}."
        )
    return value


def _layouts(tree: Any, layout: Any, leaves: list[Leaf], what: str) -> list[LayoutName]:
    """The layout of each float leaf."""
    auto: LayoutName = "torch" if detection.is_equinox(tree) else "jax"
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


def _parameters(init: Callable) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(init).parameters.values())
    except (TypeError, ValueError):
        return []


def _keyword_names(init: Callable) -> set[str]:
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {p.name for p in _parameters(init) if p.kind in kinds}


def layout_kwargs(init: Callable, ndim: int, layout: LayoutName) -> dict[str, int]:
    """The axis keywords that would let ``init`` draw a weight of ``ndim`` dimensions directly
    in ``layout``.

    JAX layout, or fewer than 2 dimensions: none. Torch layout ``(out, in, *spatial)``:
    ``in_axis=1, out_axis=0`` if ``init`` takes both (looked up through
    ``functools.partial``) and the partial binds neither, plus ``column_axis=0`` for an
    orthogonal law. :func:`reinit` no longer relies on these (it draws every law in the JAX
    layout and transposes, which also serves laws without axis keywords); they remain for
    calling a jinit law on a torch-layout shape by hand.

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


_AXIS_KEYWORDS = ("in_axis", "out_axis", "column_axis")
_JAX_DEFAULT_AXES = {"in_axis": -2, "out_axis": -1, "column_axis": -1}


def _states_its_layout(init: Callable) -> bool:
    """Whether ``init`` was told its axes: a partial binding ``in_axis``/``out_axis``/
    ``column_axis``, or a ``jax.nn.initializers`` product built with non-default axes (read
    from its closure). Such a law is called on the leaf's own shape."""
    if _bound_keywords(init) & set(_AXIS_KEYWORDS):
        return True
    try:
        closed = inspect.getclosurevars(init).nonlocals
    except (TypeError, ValueError):
        return False
    return any(k in closed and closed[k] != v for k, v in _JAX_DEFAULT_AXES.items())


def _is_bias(leaf: Leaf) -> bool:
    return leaf.slash.rsplit("/", 1)[-1] in _BIAS_NAMES


def _to_jax_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The JAX-layout shape ``(*spatial, in, out)`` of a torch-layout ``(out, in, *spatial)``."""
    return (*shape[2:], shape[1], shape[0])


def _from_jax(array: Array) -> Array:
    """A JAX-layout ``(*spatial, in, out)`` array in the torch layout ``(out, in, *spatial)``."""
    n = array.ndim
    return jnp.transpose(array, (n - 1, n - 2, *range(n - 2)))


def _factory_hint(init: Callable) -> str | None:
    """For a callable that cannot be an initializer ``(key, shape, dtype)`` (no required
    positional argument: a factory such as ``jax.nn.initializers.he_normal``), how to call
    it; ``None`` otherwise."""
    params = _parameters(init)
    if not params or isinstance(init, functools.partial):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    if any(p.kind in positional and p.default is p.empty for p in params):
        return None
    name = getattr(init, "__name__", repr(init))
    module = getattr(init, "__module__", "") or ""
    if module.startswith("jax"):
        name = f"jax.nn.initializers.{name}"
    elif module.startswith("flax"):
        name = f"flax.linen.initializers.{name}"
    return f"{name}()"


def check_initializer(init: Any, what: str) -> Callable:
    """``init`` (a callable, or a name/spec for :func:`jinit.get`) as an initializer
    ``(key, shape, dtype)``; an uncalled factory (``jax.nn.initializers.he_normal``) raises
    ``TypeError`` saying to call it. ``what`` names the caller and the argument.

    Example:
        >>> import jax, jinit
        >>> jinit.trees.check_initializer(jax.nn.initializers.he_normal, "w_init")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        TypeError: w_init: ... call the factory: jax.nn.initializers.he_normal().
    """
    if not (callable(init) or isinstance(init, str)):
        raise TypeError(
            f"{what} needs an initializer (expected an initializer function init(key, shape, "
            f"dtype) or a name such as 'he_normal'), got {type(init).__name__} {init!r}."
        )
    init = get(init)
    hint = _factory_hint(init)
    if hint is not None:
        raise TypeError(
            f"{what}: {hint[:-2]} is a factory, not an initializer (key, shape, dtype); call "
            f"the factory: {hint}."
        )
    return init


# --------------------------------------------------------------------------- fans of owners

_OWNER_NAMES = ("kernel", "weight", "w")


def _wants_fan_in(init: Callable) -> bool:
    """``init`` takes a required ``fan_in`` keyword no partial binds (``torch_default_bias``)."""
    if "fan_in" in _bound_keywords(init):
        return False
    return any(p.name == "fan_in" and p.default is p.empty for p in _parameters(init))


def _fan_in(leaf: Leaf, layout: LayoutName) -> int:
    shape = tuple(leaf.array.shape)
    return fans(shape, *((1, 0) if layout == "torch" else (-2, -1)))[0]


def _owner_fan_in(leaf: Leaf, floats: list[Leaf], layouts: list[LayoutName], init: Callable) -> int:
    """The fan-in of the layer ``leaf`` belongs to: its own for a weight of 2+ dimensions,
    else that of the one sibling (same parent path) named kernel, weight or w."""
    if leaf.array.ndim >= 2 and not _is_bias(leaf):
        return _fan_in(leaf, layouts[floats.index(leaf)])
    parent = leaf.slash.rpartition("/")[0]
    owners = [
        (f, lay)
        for f, lay in zip(floats, layouts, strict=True)
        if f.slash.rpartition("/")[0] == parent
        and f.slash.rpartition("/")[2] in _OWNER_NAMES
        and f.array.ndim >= 2
    ]
    if len(owners) != 1:
        raise ValueError(
            f"reinit: the rule for {leaf.path} ({getattr(init, '__name__', init)}) needs the "
            f"fan_in of its layer, but {len(owners)} weights named kernel, weight or w sit "
            "beside it; bind it: functools.partial(init, fan_in=...)."
        )
    return _fan_in(*owners[0])


# --------------------------------------------------------------------------- reinit


def _call(init: Callable, key: Array, shape: tuple, dtype: Any, kwargs: dict, where: str):
    try:
        out = init(key, shape, dtype, **kwargs)
    except (ValueError, TypeError) as err:
        raise type(err)(f"reinit: drawing {where}: {err}") from err
    if callable(out) and not hasattr(out, "shape"):
        raise TypeError(
            f"reinit: the initializer for {where} returned a function, not an array: a "
            "factory? Call it (e.g. jax.nn.initializers.he_normal())."
        )
    return out


def _draw(key: Array, leaf: Leaf, init: Callable, layout: LayoutName, dtype: Any,
          kwargs: dict) -> Array:  # fmt: skip
    """Draw ``leaf`` with ``init``. A torch-layout weight ``(out, in, *spatial)`` is drawn in
    the JAX layout ``(*spatial, in, out)`` and transposed, so every law (fans, orthogonal
    columns, dirac and delta-orthogonal taps, sparse units) sees the layout it is written
    for; a law told its axes (:func:`_states_its_layout`) is called on the leaf's shape."""
    shape = tuple(leaf.array.shape)
    dt = leaf.array.dtype if dtype is None else dtype
    k = path_key(key, leaf.path)
    transpose = (
        layout == "torch" and len(shape) >= 2 and not _is_bias(leaf)
        and not _states_its_layout(init)
    )  # fmt: skip
    where = f"{leaf.path} (shape {shape}, {layout} layout)"
    if transpose:
        out = _from_jax(_call(init, k, _to_jax_shape(shape), dt, kwargs, where))
    else:
        out = _call(init, k, shape, dt, kwargs, where)
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
    inits = [check_initializer(init, f"reinit: the rule for {p!r}") for p, init in pairs]
    return matchers, inits


def float_leaves(tree: Any, layout: Layout = "auto", what: str = "reinit"):
    """``(leaves, treedef, floats, layouts)`` of ``tree`` (an NNX module read through its
    state): every :class:`Leaf`, the float ones, and the layout of each float one."""
    tree = _as_tree(tree)
    leaves, treedef = _flatten(tree)
    floats = _float_leaves(leaves)
    return leaves, treedef, floats, _layouts(tree, layout, floats, what)


def patterns_taking_leaves(tree: Any, patterns: Sequence[Pattern]) -> list[bool]:
    """For each pattern, in order, whether it is the first to match some float leaf of
    ``tree`` (what :func:`reinit` requires of every rule)."""
    _, _, floats, _ = float_leaves(tree)
    matchers = [_matcher(p, "patterns") for p in patterns]
    won = [False] * len(matchers)
    for leaf in floats:
        first = next((i for i, m in enumerate(matchers) if m.test(leaf)), None)
        if first is not None:
            won[first] = True
    return won


def reinit(
    key: Array, tree: Any, rules: Rules, *, layout: Layout = "auto", dtype: Any = None
) -> Any:
    """Redraw the float leaves of ``tree`` chosen by ``rules``; return a tree of the same kind.

    ``rules`` is a dict (in order) or a list of ``(pattern, initializer)`` pairs. A pattern
    is a glob (``fnmatch``, tried on the key string ``['params']['Dense_0']['kernel']`` and
    its slash form ``params/Dense_0/kernel``), a compiled regex (``search`` on either), or a
    predicate ``callable(path_str, leaf) -> bool`` (given the key string and the array). The
    first matching rule wins. An initializer is a function ``init(key, shape, dtype)`` or a
    name/spec string for :func:`jinit.get` (an uncalled factory such as
    ``jax.nn.initializers.he_normal`` is refused: call it).

    The leaf at ``path_str`` draws ``init(path_key(key, path_str), shape, dtype or
    leaf.dtype)`` with ``path_key(key, p) = jax.random.fold_in(key, zlib.crc32(p.encode(
    "utf-8")) & 0x7FFFFFFF)``: each draw depends only on the root key and its own path, so
    adding a layer never changes the others.

    - Layout: a torch-layout weight ``(out, in, *spatial)`` (not a ``bias``/``b``) is drawn
      in the JAX layout ``(*spatial, in, out)`` and transposed, for every law: jinit's,
      ``jax.nn.initializers`` products and lambdas alike, so fans, orthogonal rows,
      ``dirac``/``delta_orthogonal`` centre taps and ``sparse`` units are right. A law given
      its axes (a partial binding ``in_axis``/``out_axis``/``column_axis``, or a jax factory
      built with non-default axes) is called on the leaf's own shape.
    - Fans for biases: a law with a required ``fan_in`` keyword (``torch_default_bias``) gets
      the fan-in of its layer: of the leaf itself if it is a weight, else of the one sibling
      named ``kernel``, ``weight`` or ``w``. So ``{"weight": jinit.torch_default, "bias":
      jinit.torch_default_bias}`` initialises an Equinox ``Linear``/``Conv`` as PyTorch does.
    - Only float (and complex) array leaves are considered; ints, bools, PRNG keys, ``None``
      and non-array leaves (Equinox activation functions, static fields) stay untouched, as
      do float leaves no rule matches.
    - A rule that matches no float leaf, or only leaves an earlier rule takes, raises
      ``ValueError`` naming the pattern; a law that cannot draw a leaf (``dirac`` on a dense
      weight) raises naming the leaf's path.
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
    leaves, treedef, floats, layouts = float_leaves(tree, layout, "reinit")
    chosen = _assign(matchers, floats, leaves, "reinit")
    boxes = _boxes()
    new_nodes = {}
    for leaf, rule, lay in zip(floats, chosen, layouts, strict=True):
        if rule is None:
            continue
        init = inits[rule]
        kwargs = {"fan_in": _owner_fan_in(leaf, floats, layouts, init)} if _wants_fan_in(
            init) else {}  # fmt: skip
        value = _draw(key, leaf, init, lay, dtype, kwargs)
        new_nodes[id(leaf)] = _rebox(leaf.node, value, boxes)
    return jax.tree_util.tree_unflatten(
        treedef, [new_nodes.get(id(leaf), leaf.node) for leaf in leaves]
    )


def __getattr__(name: str) -> Any:
    # describe moved to jinit.describe (which imports this module); re-exported lazily.
    if name in ("describe", "Description", "Row"):
        return getattr(importlib.import_module("jinit.describe"), name)
    raise AttributeError(f"module 'jinit.trees' has no attribute {name!r}")
