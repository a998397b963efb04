"""``parse``: a model from a command-line spec string."""

from __future__ import annotations

import ast
import importlib
import os
import re
import sys
from typing import Any

from jinit.models._core import MLP, ConvNet
from jinit.models.residual import ResNet
from jinit.models.transformer import Transformer

GRAMMAR = (
    "'mlp:IN,HIDDEN,...,OUT' (e.g. mlp:2,10,5,1), 'conv:HxWxC:CH1,CH2' (e.g. "
    "conv:28x28x1:16,32), 'resnet:HxWxC:CH1,CH2[:BLOCKS][:NORM]' with NORM none, layer or "
    "batch (e.g. resnet:8x8x1:16,32:1:layer) or 'transformer:VOCAB,SEQ[:D_MODEL,HEADS,LAYERS]' "
    "(e.g. transformer:24,3:64,4,2)"
)


KINDS = ("mlp", "conv", "resnet", "transformer")
FACTORY = (
    "'path.to.module:factory' or 'path.to.module:factory:key=value,...' (a module importable "
    "from the current directory, and a function returning a Flax linen, NNX, Equinox or "
    "Haiku model, called with no arguments or with those keywords; values are Python "
    "literals, else strings), or a built-in: mlp:, conv:, resnet:, transformer:"
)


def is_factory(spec: str) -> bool:
    """Whether ``spec`` names a user's model factory (``module:factory``, a dotted module
    name and a function name), not a built-in kind."""
    module, _, rest = spec.partition(":")
    dotted = bool(module) and all(part.isidentifier() for part in module.split("."))
    return module not in KINDS and dotted and rest.partition(":")[0].isidentifier()


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _keywords(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in filter(None, re.split(r",(?=\s*[A-Za-z_]\w*\s*=)", text)):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"expected key=value, got {item!r}")
        out[key.strip()] = _literal(value.strip())
    return out


def load_factory(spec: str) -> Any:
    """The model a user's factory returns, from ``"module:factory[:key=value,...]"``: the
    module is imported (the current directory first on the path, as ``python -m`` does) and
    ``factory(**keywords)`` called. Any failure raises ``ValueError`` in one line naming the
    spec and the accepted form.

    Example:
        >>> load_factory("jinit.models:MLP:widths=(2,3,1)").widths
        (2, 3, 1)
    """
    module_name, _, rest = spec.partition(":")
    name, _, kw_text = rest.partition(":")
    try:
        if not module_name or not name.isidentifier():
            raise ValueError("expected module:factory")
        keywords = _keywords(kw_text)
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_name)
        factory = getattr(module, name, None)
        if not callable(factory):
            raise ValueError(f"module {module_name!r} has no function {name!r}")
        return factory(**keywords)
    except ImportError as err:
        raise ValueError(
            f"{spec!r}: cannot import {module_name!r} ({err}); accepted: {FACTORY}."
        ) from None
    except (ValueError, TypeError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{spec!r}: {reason}; accepted: {FACTORY}.") from None


def _ints(text: str, sep: str = ",") -> list[int]:
    return [int(v) for v in text.split(sep)]


def _image(text: str) -> tuple[int, ...]:
    return tuple(_ints(text, "x"))


def _resnet(rest: str, activation: str, output: str, n_classes: int) -> ResNet:
    image, chans, *extra = rest.split(":")
    if len(extra) > 2:
        raise ValueError("too many ':' fields")
    blocks = int(extra[0]) if extra and extra[0] else 1
    norm = extra[1] if len(extra) > 1 else "none"
    if norm not in ("none", "layer", "batch"):
        raise ValueError(f"NORM must be none, layer or batch, got {norm!r}")
    stages = tuple(_ints(chans)) if chans else (16, 32)
    return ResNet(_image(image), stages, blocks, n_classes, None if norm == "none" else norm,
                  activation, output)  # fmt: skip


def _transformer(rest: str, output: str, n_classes: int) -> Transformer:
    sizes, _, arch = rest.partition(":")
    vocab, seq = _ints(sizes)
    d_model, heads, layers = _ints(arch) if arch else (64, 4, 2)
    return Transformer(vocab, seq, d_model, heads, layers, n_classes=n_classes, output=output)


def parse(spec: str, *, activation: str = "relu", output: str | None = None,
          n_classes: int = 2) -> Any:  # fmt: skip
    """A model from a spec string: ``"mlp:2,10,5,1"``, ``"conv:28x28x1:16,32"``,
    ``"resnet:8x8x1:16,32[:blocks][:norm]"`` or ``"transformer:VOCAB,SEQ[:d_model,heads,layers]"``.

    For an MLP, ``output`` defaults to sigmoid for one output unit and softmax otherwise; the
    other models default to softmax over ``n_classes``. The Transformer uses its own GELU
    activation (``activation`` applies to the MLP, conv net and ResNet).

    Example:
        >>> import jinit
        >>> jinit.models.parse("resnet:8x8x1:16,32:2:layer", n_classes=10).blocks_per_stage
        2
    """
    kind, _, rest = spec.partition(":")
    try:
        if kind == "mlp":
            widths = _ints(rest)
            out = output or ("sigmoid" if widths[-1] == 1 else "softmax")
            return MLP(widths, activation=activation, output=out)
        if kind == "conv":
            image, _, chans = rest.partition(":")
            channels = tuple(_ints(chans)) if chans else (16, 32)
            return ConvNet(_image(image), channels, n_classes, activation, output or "softmax")
        if kind == "resnet":
            return _resnet(rest, activation, output or "softmax", n_classes)
        if kind == "transformer":
            return _transformer(rest, output or "softmax", n_classes)
    except ValueError as err:
        raise ValueError(f"malformed model spec {spec!r}: {err}; accepted: {GRAMMAR}.") from None
    raise ValueError(f"malformed model spec {spec!r}; accepted: {GRAMMAR}.")
