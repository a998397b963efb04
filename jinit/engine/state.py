"""The training state of every run, carried through the compiled program and checkpointed."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax


class TrainState(NamedTuple):
    """Every leaf has a leading (padded, sharded) run axis.

    Attributes:
      params: the model parameters of every run.
      opt_state: the optimizer state of every run (``jax.vmap(optimizer.init)(params)``).
      diverged: ``int32 [runs]``, the first step whose loss was NaN/inf, or -1.
      model_state: the non-trainable state of every run (batch statistics of a model with a
        train mode, :attr:`jinit.frameworks.Model.state`), updated by every training step
        and read by evaluation; ``()`` for models without state.
    """

    params: Any
    opt_state: Any
    diverged: jax.Array
    model_state: Any = ()
