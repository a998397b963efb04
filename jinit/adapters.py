"""Adapters: a Flax linen, Flax NNX, Equinox or Haiku model in the sweep engine's model
protocol (:class:`jinit.frameworks.Model`).

:func:`jinit.sweep` trains any object with ``init(key, weight_init, bias_init, dtype) ->
params`` and ``apply(params, x) -> logits`` (``x`` batched, examples first). The functions
here wrap a framework model into such an object (one module per framework lives in
:mod:`jinit.frameworks`; this module re-exports them):

- :func:`from_flax` for a ``flax.linen`` module (its ``params`` collection is trained),
- :func:`from_nnx` for a ``flax.nnx`` module (its ``nnx.Param`` variables are trained),
- :func:`from_equinox` for an ``equinox.Module`` (its float arrays are trained; an Equinox
  module acts on one example, so ``apply`` vmaps it over the batch),
- :func:`from_haiku` for an ``hk.transform`` model (an ``hk.Transformed`` is not an
  ``(init_fn, apply_fn)`` pair in jinit's sense),
- :func:`as_model` picks one of them by the model's type; :func:`jinit.sweep` calls it, so
  ``jinit.sweep(flax_module, inits, data, loss=...)`` just works. A framework model does not
  state its output kind, so pass ``loss=`` (or build the adapter with ``output=``).

How a run's parameters are drawn. The framework builds the model once (linen:
``module.init(jax.random.key(0), example_x)``); its trainable arrays are the *template*
(``adapter.template``). Run (init ``name``, seed ``s``) then redraws the template with
:func:`jinit.reinit`::

    params = jinit.reinit(jinit.keys.run_key(s, name), adapter.template,
                          adapter.rules(weight_init, bias_init))

bit for bit (with ``dtype`` float32 and a float32 template; otherwise the template is cast to
``dtype`` first). ``reinit`` folds each leaf's path into the run key, so a layer's draw
depends only on the seed, the init's name and the layer's path. The default rules are

- linen and NNX: ``{"*kernel": weight_init, "*bias": bias_init}`` (kernels in JAX layout
  ``(*spatial, in, out)``); Haiku: ``{"*/w": weight_init, "*/b": bias_init}``,
- Equinox: every ``weight`` of two or more dimensions gets ``weight_init`` and every
  ``*bias`` gets ``bias_init`` (weights in the torch layout ``(out, in, *spatial)``: ``reinit``
  draws each law in the JAX layout and transposes; a 1-D ``weight`` such as a LayerNorm's
  scale keeps its Equinox value),

each kept only where the model has such a leaf (a model without biases is fine). Float
leaves no rule takes (a LayerNorm ``scale``, an ``embedding``) keep their template value,
the same in every run. For parameters named differently pass ``rules``, a function
``(weight_init, bias_init) -> rules`` in :func:`jinit.reinit`'s form::

    rules=lambda w, b: {"*kernel": w, "*embedding": w, "*bias": b}

Models with state or randomness get a train mode, as each framework's own examples write
them (see each function): a linen ``__call__(x, train)`` with ``nn.BatchNorm`` /
``nn.Dropout`` (``batch_stats`` is the state, ``rngs={"dropout": key}``), an NNX module with
``nnx.BatchNorm`` / ``nnx.Dropout`` (``model.train()`` / ``model.eval()``), an Equinox model
``model(x, state, *, key)`` from ``eqx.nn.make_with_state`` (pass ``(model, state)``), a
Haiku ``f(x, is_training)`` under ``hk.transform_with_state`` or ``hk.transform``. The
adapter then has ``state``, ``apply_train(params, state, x, key) -> (logits, state)`` and
``apply_eval(params, state, x)``; :func:`jinit.sweep` carries every run's state, trains in
training mode with a dropout key per (seed, step) and evaluates in evaluation mode.
``train_flag`` names another flag (``"training"``) or ``None`` for a model without one.

Example:
    >>> import flax.linen as nn, jax, jax.numpy as jnp, jinit, jinit.adapters
    >>> net = jinit.adapters.from_flax(nn.Dense(3), jnp.ones((1, 2)))
    >>> net
    jinit.adapters.from_flax(Dense(features = 3, use_bias = True, ...))
    >>> params = net.init(jax.random.key(0), jinit.he_normal, jinit.zeros)
    >>> net.apply(params, jnp.ones((5, 2))).shape
    (5, 3)
"""

from __future__ import annotations

from jinit.frameworks.base import Model
from jinit.frameworks.dispatch import adapt as as_model
from jinit.frameworks.equinox import from_equinox
from jinit.frameworks.haiku import from_haiku
from jinit.frameworks.linen import from_flax
from jinit.frameworks.nnx import from_nnx

Adapter = Model
"""A framework model in the sweep engine's protocol: :class:`jinit.frameworks.Model` (built
by :func:`from_flax`, :func:`from_nnx`, :func:`from_equinox`, :func:`from_haiku` or
:func:`as_model`; ``template``, ``rules``, ``init``, ``apply``, ``output``, ``tap``).

Example:
    >>> import equinox as eqx, jax, jinit, jinit.adapters
    >>> net = jinit.adapters.from_equinox(eqx.nn.Linear(256, 4, key=jax.random.key(0)))
    >>> key = jinit.keys.run_key(0, "he")
    >>> params = net.init(key, jinit.he_normal, jinit.zeros)
    >>> same = jinit.reinit(key, net.template, net.rules(jinit.he_normal, jinit.zeros))
    >>> bool((params.weight == same.weight).all()), params.weight.shape
    (True, (4, 256))
"""

__all__ = ["Adapter", "as_model", "from_equinox", "from_flax", "from_haiku", "from_nnx"]
