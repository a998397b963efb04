"""Residual nets with named parameters: :class:`ResidualMLP` and :class:`ResNet`.

Both follow the jinit model protocol (``init(key, weight_init, bias_init=zeros, dtype)``,
``apply(params, x) -> logits``, ``output``, ``input_shape``, ``n_layers``). Parameters are
nested dicts whose paths name each layer's role, so :func:`jinit.reinit` rules can target
them (``blocks/*/fc2/kernel``: the residual-branch ends). Kernels and embeddings draw from
``weight_init``, biases from ``bias_init``, norm scales are ones and norm biases zeros; each
leaf's key is ``jinit.path_key(key, keystr(path))`` (see :mod:`jinit.models._layers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jinit.models import _layers as L
from jinit.models._core import _check_output, activation_fn, output_transform


class _BatchNormState:
    """Batch norm running statistics as model state (``norm="batch"``), shared by
    :class:`ResidualMLP` and :class:`ResNet` (each defines ``_forward(params, x, state, rec)
    -> (logits, blocks, statistics used)``, recording the probe's tap points in ``rec``)."""

    norm: str | None

    def init_state(self, dtype: Any = jnp.float32) -> dict[str, Any]:
        """Batch norm running statistics (``mean`` zeros, ``var`` ones) for every norm layer,
        at the norm's path. Raises ``ValueError`` unless ``norm="batch"``."""
        if self.norm != "batch":
            raise ValueError(
                f"{type(self).__name__}.init_state: only norm='batch' has state, got "
                f"{self.norm!r}."
            )

        def stats(leaf):
            return L.constant(leaf.shape, leaf.role != "zeros", dtype)

        tree = jax.tree_util.tree_map(stats, self.layout(), is_leaf=L._is_leaf)
        return _norm_entries(tree)

    def apply(
        self, params: dict[str, Any], x: jax.Array, *, capture: bool = False,
        state: dict[str, Any] | None = None,
    ):  # fmt: skip
        """Logits for ``x`` (flat image inputs are reshaped). ``state``: batch norm running
        statistics (evaluation mode; default: the batch's own statistics). With
        ``capture=True`` returns ``(logits, [{"h": the residual stream after block i,
        "branch": its residual branch}, ...])``."""
        logits, blocks, _ = self._forward(params, x, state, L.Recorder())
        return (logits, blocks) if capture else logits

    def tap_forward(
        self, params: dict[str, Any], x: jax.Array, perturbations: Any = None,
        state: dict[str, Any] | None = None,
    ):  # fmt: skip
        """``(logits, [(name, value, kernel path)])`` at the probe's tap points: the input
        layer (``embed`` / ``stem``, the stem after its norm and activation), per block
        ``blocks/i/branch`` (the branch output) and ``blocks/i`` (the residual stream), then
        ``readout`` (the logits); ``perturbations`` added there. ``state``: batch norm running
        statistics (evaluation mode), ``None`` for the batch's own (training mode)."""
        rec = L.Recorder(perturbations)
        logits, _, _ = self._forward(params, x, state, rec)
        return logits, rec.points

    def apply_train(
        self, params: dict[str, Any], state: dict[str, Any], x: jax.Array, momentum: float = 0.9
    ) -> tuple[jax.Array, dict[str, Any]]:
        """Training mode with batch norm: logits from batch statistics and the running averages
        updated as ``momentum * running + (1 - momentum) * batch`` (``flax.linen.BatchNorm``)."""
        logits, _, used = self._forward(params, x, None, L.Recorder())
        new = jax.tree_util.tree_map(lambda r, b: momentum * r + (1 - momentum) * b, state, used)
        return logits, new


@dataclasses.dataclass(frozen=True)
class ResidualMLP(_BatchNormState, L.NamedModel):
    """``x -> embed -> depth x [h + branch(h)] -> readout``, a pre-activation residual MLP.

    ``branch(h) = fc2(act(fc1(act(norm(h)))))`` (``norm`` is the identity when ``norm=None``,
    a layer norm when ``"layer"``, a batch norm when ``"batch"``); ``fc2`` is the branch end.
    The readout sees ``act(final_norm(h))``. Every hidden layer has ``width`` units.

    ``gates=True`` multiplies each branch by a learnable scalar, ``h + gate * branch(h)``
    (the ``blocks/*/gate`` leaf, one by default; SkipInit and ReZero start it at 0:
    :func:`jinit.research.skipinit_rules`). Batch norm: ``apply(params, x)`` normalizes with
    the batch's own statistics (training mode); the running statistics are model state, as
    in :class:`ResNet` (:meth:`init_state`, ``apply(params, x, state=s)``, :meth:`apply_train`).

    Parameters: ``{"embed": {"kernel", "bias"}, "blocks": [{"fc1": ..., "fc2": ...,
    ["norm": {"scale", "bias"}], ["gate": ()]}, ...], ["final_norm": ...], "readout":
    {"kernel", "bias"}}``.

    Example:
        >>> import jax, jinit
        >>> net = jinit.models.ResidualMLP(64, width=32, depth=3, n_out=10)
        >>> params = net.init(jax.random.key(0), jinit.he_normal)
        >>> params["blocks"][2]["fc2"]["kernel"].shape
        (32, 32)
        >>> net.apply(params, jax.numpy.ones((5, 64))).shape
        (5, 10)
    """

    n_in: int
    width: int = 64
    depth: int = 4
    n_out: int = 10
    activation: str | Callable = "relu"
    norm: str | None = None
    output: str = "softmax"
    gates: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.gates, bool):
            raise TypeError(f"ResidualMLP: gates must be True or False, got {self.gates!r}.")
        L.check_positive("ResidualMLP", n_in=self.n_in, width=self.width, n_out=self.n_out)
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 0:
            raise ValueError(f"ResidualMLP: depth must be an int >= 0, got {self.depth!r}.")
        L.check_norm(self.norm, "ResidualMLP")
        activation_fn(self.activation)
        _check_output(self.output)

    @property
    def n_layers(self) -> int:
        """Dense layers: embed, two per block, readout."""
        return 2 * self.depth + 2

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_in,)

    def layout(self) -> dict[str, Any]:
        """The parameter tree with :class:`~jinit.models._layers.Leaf` ``(shape, role)`` leaves."""
        w = self.width
        block = {"fc1": L.dense(w, w), "fc2": L.dense(w, w)}
        if self.norm:
            block["norm"] = L.norm(w)
        if self.gates:
            block["gate"] = L.Leaf((), "ones")
        out: dict[str, Any] = {"embed": L.dense(self.n_in, w), "blocks": [block] * self.depth}
        if self.norm:
            out["final_norm"] = L.norm(w)
        out["readout"] = L.dense(w, self.n_out)
        return out

    def _forward(self, params: dict, x: jax.Array, state: dict | None, rec: L.Recorder):
        act = activation_fn(self.activation)
        norm = _norm_fn(self.norm)
        used: dict[str, Any] = {"blocks": []}
        h = rec("embed", L.apply_dense(params["embed"], x.reshape(x.shape[0], -1)),
                ("embed", "kernel"))  # fmt: skip
        blocks = []
        for i, p in enumerate(params["blocks"]):
            st = None if state is None else state["blocks"][i]
            out: dict[str, Any] = {}
            branch = L.apply_dense(p["fc1"], act(norm(p, "norm", h, st, out)))
            branch = rec(f"blocks/{i}/branch", L.apply_dense(p["fc2"], act(branch)),
                         ("blocks", i, "fc2", "kernel"))  # fmt: skip
            h = rec(f"blocks/{i}", h + (p["gate"] * branch if self.gates else branch))
            used["blocks"].append(out)
            blocks.append({"h": h, "branch": branch})
        h = norm(params, "final_norm", h, state, used)
        logits = L.apply_dense(params["readout"], act(h))
        return rec("readout", logits, ("readout", "kernel")), blocks, used


@dataclasses.dataclass(frozen=True)
class ResNet(_BatchNormState, L.NamedModel):
    """A small ResNet (He et al. 2016) for NHWC images ``(batch, H, W, C)``.

    ``stem``: 3x3 conv -> norm -> act; then ``len(stages)`` stages of ``blocks_per_stage``
    basic blocks ``act(norm2(conv2(act(norm1(conv1(x))))) + shortcut(x))`` (3x3 convs); the
    first block of every stage after the first has stride 2, and a block whose shape changes
    has a projection shortcut (1x1 conv with that stride, then norm); then global average
    pooling and a dense readout. ``conv2`` (and ``norm2``'s scale, Goyal et al. 2017) is
    the branch end. All convolutions use :func:`jinit.ops.conv2d`.

    ``norm``: ``None``, ``"layer"`` (over channels, per position, as ``flax.linen.LayerNorm``)
    or ``"batch"``. Batch norm: ``apply(params, x)`` normalizes with the statistics of the
    batch it is given (training mode; so does a sweep, train and eval, until the engine
    carries model state); running statistics are model state: :meth:`init_state`,
    ``apply(params, x, state=s)`` (evaluation mode) and :meth:`apply_train` (training mode,
    returns the updated running averages).

    Parameters: ``{"stem": {"kernel", "bias"}, ["stem_norm"], "blocks": [{"conv1", ["norm1"],
    "conv2", ["norm2"], ["shortcut", ["shortcut_norm"]]}, ...], "readout": {"kernel", "bias"}}``.

    Example:
        >>> import jax, jinit
        >>> net = jinit.models.ResNet((8, 8, 1), stages=(8, 16), norm="layer")
        >>> params = net.init(jax.random.key(0), jinit.he_normal)
        >>> sorted(params["blocks"][1])
        ['conv1', 'conv2', 'norm1', 'norm2', 'shortcut', 'shortcut_norm']
        >>> net.apply(params, jax.numpy.ones((2, 8, 8, 1))).shape
        (2, 10)
    """

    image_shape: tuple[int, int, int]
    stages: Sequence[int] = (16, 32)
    blocks_per_stage: int = 1
    n_classes: int = 10
    norm: str | None = None
    activation: str | Callable = "relu"
    output: str = "softmax"

    def __post_init__(self) -> None:
        shape = tuple(self.image_shape)
        if len(shape) != 3 or any(isinstance(d, bool) or not isinstance(d, int) or d < 1
                                  for d in shape):  # fmt: skip
            raise ValueError(f"ResNet: image_shape must be (H, W, C) ints, got {shape!r}.")
        object.__setattr__(self, "image_shape", shape)
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise ValueError("ResNet: stages must name at least one stage's channels, got ().")
        L.check_positive("ResNet", blocks_per_stage=self.blocks_per_stage,
                         n_classes=self.n_classes,
                         **{f"stages[{i}]": c for i, c in enumerate(self.stages)})  # fmt: skip
        L.check_norm(self.norm, "ResNet")
        activation_fn(self.activation)
        _check_output(self.output)

    @property
    def n_layers(self) -> int:
        """Layers on the longest path: stem, two convs per block, readout."""
        return 2 + 2 * len(self.stages) * self.blocks_per_stage

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.image_shape

    def plan(self) -> list[tuple[int, int, int]]:
        """``(in_channels, out_channels, stride)`` of every block."""
        out, c_in = [], self.stages[0]
        for s, c in enumerate(self.stages):
            for b in range(self.blocks_per_stage):
                out.append((c_in, c, 2 if s > 0 and b == 0 else 1))
                c_in = c
        return out

    def layout(self) -> dict[str, Any]:
        """The parameter tree with :class:`~jinit.models._layers.Leaf` ``(shape, role)`` leaves."""
        c0 = self.stages[0]
        out: dict[str, Any] = {"stem": L.conv(3, self.image_shape[2], c0)}
        if self.norm:
            out["stem_norm"] = L.norm(c0)
        blocks = []
        for c_in, c, stride in self.plan():
            block = {"conv1": L.conv(3, c_in, c), "conv2": L.conv(3, c, c)}
            if self.norm:
                block.update(norm1=L.norm(c), norm2=L.norm(c))
            if stride != 1 or c_in != c:
                block["shortcut"] = L.conv(1, c_in, c)
                if self.norm:
                    block["shortcut_norm"] = L.norm(c)
            blocks.append(block)
        out["blocks"] = blocks
        out["readout"] = L.dense(self.stages[-1], self.n_classes)
        return out

    def _forward(self, params: dict, x: jax.Array, state: dict | None, rec: L.Recorder):
        act = activation_fn(self.activation)
        used: dict[str, Any] = {"blocks": []}

        norm = _norm_fn(self.norm)
        h = x.reshape(x.shape[0], *self.image_shape)
        h = act(norm(params, "stem_norm", L.apply_conv(params["stem"], h), state, used))
        h = rec("stem", h, ("stem", "kernel"))
        blocks = []
        for i, (p, (_, _, stride)) in enumerate(zip(params["blocks"], self.plan(), strict=True)):
            st = None if state is None else state["blocks"][i]
            out: dict[str, Any] = {}
            branch = act(norm(p, "norm1", L.apply_conv(p["conv1"], h, stride), st, out))
            branch = norm(p, "norm2", L.apply_conv(p["conv2"], branch), st, out)
            branch = rec(f"blocks/{i}/branch", branch, ("blocks", i, "conv2", "kernel"))
            if "shortcut" in p:
                h = norm(p, "shortcut_norm", L.apply_conv(p["shortcut"], h, stride), st, out)
            h = rec(f"blocks/{i}", act(h + branch))
            used["blocks"].append(out)
            blocks.append({"h": h, "branch": branch})
        logits = L.apply_dense(params["readout"], h.mean(axis=(1, 2)))
        return rec("readout", logits, ("readout", "kernel")), blocks, used

    def predict(self, params: dict[str, Any], x: jax.Array, state: dict | None = None):
        return output_transform(self.output)(self.apply(params, x, state=state))


def _norm_entries(tree: dict[str, Any]) -> dict[str, Any]:
    """Keep the norm layers (``*norm*`` keys) of a ResNet tree, their scale/bias renamed to
    the running ``var``/``mean``."""

    def entries(d: dict) -> dict:
        return {k: {"mean": v["bias"], "var": v["scale"]} for k, v in d.items() if "norm" in k}

    return {**entries(tree), "blocks": [entries(b) for b in tree["blocks"]]}


def _norm_fn(kind: str | None) -> Callable:
    """``norm(p, name, h, state, used)``: the identity, layer norm or batch norm of ``p[name]``
    (batch norm: with ``state[name]``'s running statistics when given, else the batch's; the
    statistics used are written to ``used[name]``)."""

    def norm(p: dict, name: str, h: jax.Array, st: dict | None, out: dict) -> jax.Array:
        if not kind:
            return h
        if kind == "layer":
            return L.layer_norm(p[name], h)
        given = None if st is None else (st[name]["mean"], st[name]["var"])
        h, (mean, var) = L.batch_norm(p[name], h, given)
        out[name] = {"mean": mean, "var": var}
        return h

    return norm
