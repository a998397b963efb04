"""A small pre-LN Transformer encoder classifier with named parameters (plain ``jnp``).

Same protocol and key convention as :mod:`jinit.models.residual`: kernels and embedding
tables draw from ``weight_init``, biases from ``bias_init``, layer-norm scales are ones and
biases zeros, and the leaf at path ``p`` draws with ``jinit.path_key(key, keystr(p))``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jinit.models import _layers as L
from jinit.models._core import _check_output, activation_fn

POOLINGS = ("mean", "last")


@dataclasses.dataclass(frozen=True)
class Transformer(L.NamedModel):
    """Encoder classifier for token sequences ``(batch, seq_len)`` (Vaswani et al. 2017, with
    the pre-LN blocks of GPT-2 / Xiong et al. 2020).

    ``h = embed[x] + pos_embed``; ``n_layers`` blocks ``h += attn(ln1(h)); h += mlp(ln2(h))``
    with multi-head softmax attention ``softmax(q k^T / sqrt(d_head) [+ causal mask]) v``
    (``n_heads`` heads of ``d_model / n_heads``) and ``mlp = fc2(act(fc1(.)))`` (``d_ff``
    hidden units, default ``4 d_model``); then ``final_norm``, pooling over positions
    (``"mean"`` or the ``"last"`` token) and a dense readout to ``n_classes`` logits. Tokens
    arrive as floats (a :class:`jinit.data.Dataset` stores ``x`` as float32) and are cast to
    int; a token outside ``[0, vocab_size)`` gives NaN logits (a sweep reports the run as
    diverged) instead of a clamped lookup. The residual-branch ends are ``attn/out`` and
    ``mlp/fc2``.

    Parameters: ``{"embed": {"embedding": (vocab, d)}, "pos_embed": {"embedding": (seq, d)},
    "blocks": [{"ln1": {"scale", "bias"}, "attn": {"query", "key", "value", "out": {"kernel":
    (d, d), "bias"}}, "ln2": ..., "mlp": {"fc1", "fc2"}}, ...], "final_norm": ...,
    "readout": {"kernel", "bias"}}``.

    Example:
        >>> import jax, jax.numpy as jnp, jinit
        >>> net = jinit.models.Transformer(vocab_size=24, seq_len=3, n_classes=23)
        >>> params = net.init(jax.random.key(0), jinit.xavier_normal)
        >>> params["blocks"][1]["attn"]["query"]["kernel"].shape
        (64, 64)
        >>> net.apply(params, jnp.array([[3, 5, 23], [1, 2, 23]])).shape
        (2, 23)
    """

    vocab_size: int
    seq_len: int
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int | None = None
    n_classes: int = 2
    causal: bool = False
    pooling: str = "mean"
    activation: str | Callable = "gelu"
    output: str = "softmax"

    def __post_init__(self) -> None:
        L.check_positive("Transformer", vocab_size=self.vocab_size, seq_len=self.seq_len,
                         d_model=self.d_model, n_heads=self.n_heads, n_layers=self.n_layers,
                         n_classes=self.n_classes)  # fmt: skip
        if self.d_ff is not None:
            L.check_positive("Transformer", d_ff=self.d_ff)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"Transformer: d_model ({self.d_model}) must be divisible by n_heads "
                f"({self.n_heads})."
            )
        if self.pooling not in POOLINGS:
            raise ValueError(
                f"Transformer: pooling must be 'mean' or 'last', got {self.pooling!r}."
            )
        activation_fn(self.activation)
        _check_output(self.output)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.seq_len,)

    def layout(self) -> dict[str, Any]:
        """The parameter tree with :class:`~jinit.models._layers.Leaf` ``(shape, role)`` leaves."""
        d, ff = self.d_model, self.d_ff or 4 * self.d_model
        attn = {name: L.dense(d, d) for name in ("query", "key", "value", "out")}
        block = {"ln1": L.norm(d), "attn": attn, "ln2": L.norm(d),
                 "mlp": {"fc1": L.dense(d, ff), "fc2": L.dense(ff, d)}}  # fmt: skip
        return {
            "embed": L.embedding(self.vocab_size, d),
            "pos_embed": L.embedding(self.seq_len, d),
            "blocks": [block] * self.n_layers,
            "final_norm": L.norm(d),
            "readout": L.dense(d, self.n_classes),
        }

    def attention(self, p: dict, h: jax.Array) -> jax.Array:
        """Multi-head self-attention of ``h`` ``(batch, seq, d_model)``."""
        b, t, d = h.shape
        heads = self.n_heads

        def project(name):
            return L.apply_dense(p[name], h).reshape(b, t, heads, d // heads)

        q, k, v = project("query"), project("key"), project("value")
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d // heads)
        if self.causal:
            mask = jnp.tril(jnp.ones((t, t), bool))
            scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
        mixed = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v)
        return L.apply_dense(p["out"], mixed.reshape(b, t, d))

    def apply(self, params: dict[str, Any], x: jax.Array, *, capture: bool = False):
        """Logits for tokens ``x`` ``(batch, seq_len)``. With ``capture=True`` returns
        ``(logits, [{"h": residual stream after block i, "attn": its attention output,
        "mlp": its MLP output}, ...])``."""
        logits, blocks = self._forward(params, x, L.Recorder())
        return (logits, blocks) if capture else logits

    def tap_forward(self, params: dict[str, Any], x: jax.Array, perturbations: Any = None):
        """``(logits, [(name, value, kernel path)])`` at the probe's tap points: ``embed``
        (token plus position embedding), per block ``blocks/i/attn`` (the attention output),
        ``blocks/i/mlp`` (the MLP output) and ``blocks/i`` (the residual stream after the
        block), ``final_norm`` (its output) and ``readout`` (the logits); ``perturbations``
        added there."""
        rec = L.Recorder(perturbations)
        logits, _ = self._forward(params, x, rec)
        return logits, rec.points

    def _forward(self, params: dict, x: jax.Array, rec: L.Recorder):
        act = activation_fn(self.activation)
        tokens = x.reshape(x.shape[0], self.seq_len).astype(jnp.int32)
        # A token outside [0, vocab_size) embeds as NaN (jnp indexing would clamp it silently).
        table = params["embed"]["embedding"]
        tokens = jnp.where(tokens < 0, self.vocab_size, tokens)  # take wraps negative indices
        h = jnp.take(table, tokens, axis=0, mode="fill", fill_value=jnp.nan)
        h = rec("embed", h + params["pos_embed"]["embedding"], ("embed", "embedding"))
        blocks = []
        for i, p in enumerate(params["blocks"]):
            a = self.attention(p["attn"], L.layer_norm(p["ln1"], h))
            a = rec(f"blocks/{i}/attn", a, ("blocks", i, "attn", "out", "kernel"))
            h = h + a
            m = L.layer_norm(p["ln2"], h)
            m = L.apply_dense(p["mlp"]["fc2"], act(L.apply_dense(p["mlp"]["fc1"], m)))
            m = rec(f"blocks/{i}/mlp", m, ("blocks", i, "mlp", "fc2", "kernel"))
            h = rec(f"blocks/{i}", h + m)
            blocks.append({"h": h, "attn": a, "mlp": m})
        h = rec("final_norm", L.layer_norm(params["final_norm"], h))
        pooled = h.mean(axis=1) if self.pooling == "mean" else h[:, -1]
        logits = L.apply_dense(params["readout"], pooled)
        return rec("readout", logits, ("readout", "kernel")), blocks
