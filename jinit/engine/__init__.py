"""The sweep engine: every (initializer x seed) training run of one model in one compiled program.

Initial parameters for all runs are drawn first and stacked on a leading *run* axis
(``run = init_index * n_seeds + seed_index``). Training is one jitted function that
``lax.scan``-s over the steps of a chunk (``eval_every`` steps) a step ``vmap``-ed over runs,
with optax for the updates, then evaluates every run; the run axis is sharded over
``jax.devices()``. That function is compiled once per sweep and called once per chunk, so
compile time does not grow with the number of seeds or steps.

Randomness is tied to seeds and names, never to positions (:mod:`jinit.keys`): run (init,
seed) draws its parameters from ``run_key(seed, name)``, and the mini-batch order of seed
``s`` comes from ``data_key(s)``, shared by all inits (so init comparisons are paired by
seed). Seed 7 of a 100-seed sweep is seed 7 of a 1-seed sweep.

Memory: parameters and optimizer state grow linearly with runs (runs x parameter count x
(1 + optimizer slots) floats); metrics are kept only at eval points (runs x evals floats
each); a step's activations take runs x batch x widest layer floats, an evaluation runs x
min(n, 8192) x widest layer.

Modules: ``config`` (validated, frozen arguments; fingerprint; result config), ``model``
(the model protocol), ``inits`` (initial parameters of every run), ``state`` (``TrainState``),
``order`` (data order), ``sharding`` (run-axis layout), ``program`` (the compiled chunk),
``checkpoint`` (files and lock), ``fingerprint``, ``progress``, ``compiles`` (compilations
counted with ``jax.monitoring``), ``sweep`` (the orchestration).
"""

from jinit.engine.config import SweepConfig
from jinit.engine.state import TrainState
from jinit.engine.sweep import SweepInterrupted, sweep
from jinit.keys import DATA_STREAM, data_key, run_key, stable_hash

__all__ = [
    "DATA_STREAM",
    "SweepConfig",
    "SweepInterrupted",
    "TrainState",
    "data_key",
    "run_key",
    "stable_hash",
    "sweep",
]
