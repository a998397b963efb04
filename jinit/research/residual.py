"""Residual nets without normalization: Fixup, SkipInit and ReZero as path rules.

Each method is a list of :func:`jinit.reinit` rules (``(pattern, initializer)`` pairs, first
match wins) for a residual model's parameter paths; the defaults fit
:class:`jinit.models.ResidualMLP` (``blocks/*/fc1``, branch end ``blocks/*/fc2``, ``readout``)
and any tree with the same names (a Flax model's ``params/blocks_0/fc2/kernel`` matches
``*fc2/kernel`` as well).

- **Fixup** (Zhang, Dauphin & Ma 2019, "Fixup Initialization: Residual Learning Without
  Normalization", Sec. 3): with ``L`` residual branches of ``m`` layers each, (1) the last
  layer of every branch and the classification layer start at 0; (2) the other branch layers
  are drawn from a standard init (He) and scaled by ``L^(-1/(2m-2))``; (3) scalar biases
  start at 0 and scalar multipliers at 1 (leaves matched by ``scalar_biases`` /
  ``multipliers``, when the model has them).
- **SkipInit** (De & Smith 2020, "Batch Normalization Biases Residual Blocks Towards the
  Identity Function in Deep Networks"): each branch ends in a learnable scalar ``alpha`` that
  starts at 0, ``h + alpha * f(h)``; the rest is drawn as usual.
- **ReZero** (Bachlechner et al. 2020, "ReZero is All You Need"): the same form ``h + alpha *
  f(h)`` with ``alpha = 0`` at init, and no normalization layers.

At init all three make every block the identity, so the network is its shortcut path
``readout(embed(x))`` (Fixup: 0). :func:`with_branch_gates` adds the scalar ``gate`` leaf
to each block of a params tree for a model that multiplies its branch by it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jinit.laws import he_normal, ones, zeros
from jinit.trees import Pattern, reinit

Rule = tuple[Pattern, Callable]


def scaled(init: Callable, factor: float) -> Callable:
    """The law ``factor * init(key, shape, dtype)``.

    Example:
        >>> import jax, jinit
        >>> from jinit.research import scaled
        >>> w = scaled(jinit.ones, 0.5)(jax.random.key(0), (2,))
        >>> w.tolist()
        [0.5, 0.5]
    """
    factor = float(factor)

    def law(key: jax.Array, shape: Any, dtype: Any = jnp.float32) -> jax.Array:
        return (init(key, shape, dtype) * factor).astype(dtype)

    law.__name__ = f"scaled_{getattr(init, '__name__', 'init')}_{factor:.4g}"
    return law


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return value


def fixup_scale(n_branches: int, branch_layers: int) -> float:
    """Fixup's scale of the non-final branch layers: ``L^(-1/(2m-2))`` for ``L`` branches of
    ``m >= 2`` layers (Zhang et al. 2019, Sec. 3, rule 2).

    Example:
        >>> from jinit.research import fixup_scale
        >>> fixup_scale(16, 2), fixup_scale(16, 3)
        (0.25, 0.5)
    """
    n = _check_count(n_branches, "fixup_scale: n_branches", 1)
    m = _check_count(branch_layers, "fixup_scale: branch_layers", 2)
    return n ** (-1.0 / (2 * m - 2))


def fixup_rules(
    n_branches: int,
    branch_layers: int = 2,
    *,
    branch_inner: Pattern = "*blocks/*/fc1/kernel",
    branch_end: Pattern = "*blocks/*/fc2/kernel",
    readout: Pattern = "*readout/kernel",
    weight_init: Callable = he_normal,
    scalar_biases: Pattern | None = None,
    multipliers: Pattern | None = None,
    biases: Pattern | None = "*bias",
) -> list[Rule]:
    """Fixup's rules (see the module docstring): ``branch_end`` and ``readout`` kernels zero,
    ``branch_inner`` kernels ``weight_init`` times :func:`fixup_scale`, ``biases`` zero,
    ``scalar_biases`` zero and ``multipliers`` one. Other weights (the embedding) keep their
    values unless you add a rule. A pattern set to None is left out (:func:`jinit.reinit`
    refuses a pattern that matches nothing). Pass the result to :func:`jinit.reinit`."""
    scale = fixup_scale(n_branches, branch_layers)
    rules: list[Rule] = [
        (branch_end, zeros),
        (readout, zeros),
        (branch_inner, scaled(weight_init, scale)),
    ]
    if multipliers is not None:
        rules.append((multipliers, ones))
    if scalar_biases is not None:
        rules.append((scalar_biases, zeros))
    return rules if biases is None else [*rules, (biases, zeros)]


def fixup(key: jax.Array, params: Any, n_branches: int, branch_layers: int = 2, **kw) -> Any:
    """``jinit.reinit(key, params, fixup_rules(n_branches, branch_layers, **kw))``.

    Example:
        >>> import jax, jinit
        >>> from jinit.research import fixup
        >>> net = jinit.models.ResidualMLP(8, width=16, depth=4, n_out=3)
        >>> p = fixup(jax.random.key(0), net.init(jax.random.key(0), jinit.he_normal), 4)
        >>> float(abs(p["blocks"][3]["fc2"]["kernel"]).max())
        0.0
    """
    return reinit(key, params, fixup_rules(n_branches, branch_layers, **kw))


def skipinit_rules(gate: Pattern = "*blocks/*/gate") -> list[Rule]:
    """SkipInit (De & Smith 2020): the scalar ``gate`` ending each branch starts at 0."""
    return [(gate, zeros)]


def rezero_rules(gate: Pattern = "*blocks/*/gate") -> list[Rule]:
    """ReZero (Bachlechner et al. 2020): the residual weight ``alpha`` (``gate``) starts at 0;
    use with a model without normalization layers."""
    return [(gate, zeros)]


def with_branch_gates(params: dict, name: str = "gate", value: float = 0.0) -> dict:
    """A copy of ``params`` whose every ``params["blocks"][i]`` dict has a scalar leaf
    ``name`` = ``value`` (for SkipInit / ReZero, ``h + gate * branch(h)``)."""
    if not isinstance(params, dict) or not isinstance(params.get("blocks"), list | tuple):
        raise ValueError(
            "with_branch_gates: params must be a dict with a 'blocks' list (as "
            f"jinit.models.ResidualMLP's), got {type(params).__name__}."
        )
    dtype = jax.tree.leaves(params)[0].dtype if jax.tree.leaves(params) else jnp.float32
    blocks = [dict(b) | {name: jnp.asarray(value, dtype)} for b in params["blocks"]]
    return dict(params) | {"blocks": blocks}
