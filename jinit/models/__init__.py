"""Small functional models: ``init(key, weight_init, bias_init)`` and a pure ``apply``.

- :class:`MLP` and :class:`ConvNet` (:mod:`jinit.models._core`): parameters are a list of
  ``{"kernel", "bias"}`` dicts, layer ``i`` drawn with ``split(fold_in(key, i))``.
- :class:`ResidualMLP`, :class:`ResNet` (:mod:`jinit.models.residual`) and
  :class:`Transformer` (:mod:`jinit.models.transformer`): parameters are nested dicts with
  named paths (``blocks/0/attn/query/kernel``), each leaf drawn with
  ``jinit.path_key(key, keystr(path))``, the key :func:`jinit.reinit` uses for that path.

Kernels are in JAX layout (``(in, out)``, HWIO), so every parameter tree stacks on a run axis
and vmaps. ``apply(params, x)`` returns the logits; the output nonlinearity (``output``:
``"sigmoid"``, ``"softmax"`` or ``"linear"``) is applied by the loss and by ``predict``.
``apply(params, x, capture=True)`` also returns per-layer (MLP, ConvNet) or per-block
(residual models) activations for probes.
"""

from jinit.models._core import (
    ACTIVATIONS,
    MLP,
    OUTPUTS,
    ConvNet,
    Initializer,
    Params,
    activation_fn,
    count_flops,
    output_transform,
)
from jinit.models._parse import is_factory, load_factory, parse
from jinit.models.residual import ResidualMLP, ResNet
from jinit.models.transformer import Transformer

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "OUTPUTS",
    "ConvNet",
    "Initializer",
    "Params",
    "ResNet",
    "ResidualMLP",
    "Transformer",
    "activation_fn",
    "count_flops",
    "is_factory",
    "load_factory",
    "output_transform",
    "parse",
]
