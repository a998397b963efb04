"""Depth scalings for Transformers, as :func:`jinit.reinit` rules.

Defaults fit :class:`jinit.models.Transformer` paths (``blocks/*/attn/{query,key,value,out}``,
``blocks/*/mlp/{fc1,fc2}``); the residual-branch ends are ``attn/out`` and ``mlp/fc2``.

- **GPT-2** (Radford et al. 2019, Sec. 2.3; the released code): every weight
  ``N(0, 0.02^2)``, the residual-branch output projections scaled by ``1/sqrt(2 n_layers)``
  (two branches per block), so the residual stream's variance at init stays bounded in depth.
- **DeepNorm / DeepNet** (Wang et al. 2022, "DeepNet: Scaling Transformers to 1,000 Layers",
  Fig. 2 / Table 1): post-LN ``x <- LN(alpha x + f(x))``; Xavier-normal weights, with the
  value, output and feed-forward projections scaled by ``beta`` (query and key gain 1).
  Encoder-only (N layers): ``alpha = (2N)^(1/4)``, ``beta = (8N)^(-1/4)``; decoder-only
  (M layers): ``alpha = (2M)^(1/4)``, ``beta = (8M)^(-1/4)``.
- **T-Fixup** (Huang et al. 2020, "Improving Transformer Optimization Through Better
  Initialization", Sec. 3.3): no layer norm, no warmup; Xavier weights with the encoder's
  value, output and MLP projections scaled by ``0.67 N^(-1/4)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Literal

from jinit.laws import normal, xavier_normal
from jinit.research.residual import Rule, _check_count, scaled
from jinit.trees import Pattern

OUT_PROJ: tuple[Pattern, ...] = ("*blocks/*/attn/out/kernel", "*blocks/*/mlp/fc2/kernel")
VALUE_FF: tuple[Pattern, ...] = (
    "*blocks/*/attn/value/kernel", "*blocks/*/attn/out/kernel",
    "*blocks/*/mlp/fc1/kernel", "*blocks/*/mlp/fc2/kernel",
)  # fmt: skip


def gpt2_rules(n_layers: int, *, std: float = 0.02, out_proj=OUT_PROJ) -> list[Rule]:
    """GPT-2: the residual output projections ``N(0, (std / sqrt(2 n_layers))^2)``, every other
    ``*kernel`` and ``*embedding`` ``N(0, std^2)``.

    Example:
        >>> import jax, jinit
        >>> from jinit.research import gpt2_rules
        >>> net = jinit.models.Transformer(vocab_size=16, seq_len=4, n_layers=8)
        >>> p = jinit.reinit(jax.random.key(0), net.init(jax.random.key(0), jinit.zeros),
        ...                  gpt2_rules(8))
        >>> round(float(p["blocks"][0]["attn"]["out"]["kernel"].std() / 0.02 * 4), 1)
        1.0
    """
    n = _check_count(n_layers, "gpt2_rules: n_layers", 1)
    base = functools.partial(normal, stddev=std)
    proj = scaled(base, 1 / math.sqrt(2 * n))
    return [*((p, proj) for p in out_proj), ("*kernel", base), ("*embedding", base)]


def deepnorm_constants(
    n_layers: int, kind: Literal["encoder", "decoder"] = "encoder"
) -> tuple[float, float]:
    """DeepNorm's ``(alpha, beta)`` for an encoder-only or decoder-only stack of ``n_layers``.

    Example:
        >>> from jinit.research import deepnorm_constants
        >>> [round(c, 4) for c in deepnorm_constants(8)]
        [2.0, 0.3536]
    """
    n = _check_count(n_layers, "deepnorm_constants: n_layers", 1)
    if kind not in ("encoder", "decoder"):
        raise ValueError(f"deepnorm_constants: kind must be 'encoder' or 'decoder', got {kind!r}.")
    return (2 * n) ** 0.25, (8 * n) ** -0.25


def deepnorm_rules(
    n_layers: int, kind: Literal["encoder", "decoder"] = "encoder", *, scaled_paths=VALUE_FF
) -> list[Rule]:
    """DeepNorm's init: ``scaled_paths`` (value, output, MLP) Xavier-normal times ``beta``,
    every other ``*kernel`` Xavier-normal. The model must apply ``LN(alpha x + f(x))`` with
    ``alpha`` from :func:`deepnorm_constants`."""
    _, beta = deepnorm_constants(n_layers, kind)
    return [*((p, scaled(xavier_normal, beta)) for p in scaled_paths), ("*kernel", xavier_normal)]


def tfixup_rules(n_layers: int, *, scaled_paths=VALUE_FF, weight_init: Callable = xavier_normal):
    """T-Fixup (encoder): ``scaled_paths`` drawn from ``weight_init`` times ``0.67 N^(-1/4)``,
    every other ``*kernel`` from ``weight_init``."""
    n = _check_count(n_layers, "tfixup_rules: n_layers", 1)
    factor = 0.67 * n**-0.25
    return [*((p, scaled(weight_init, factor)) for p in scaled_paths), ("*kernel", weight_init)]
