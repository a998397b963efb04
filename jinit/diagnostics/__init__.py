"""Per-layer diagnostics at initialization: what an init does to the signal, going forward
and coming back.

- :func:`layer_stats` (:mod:`~jinit.diagnostics.stats`): statistics of one layer's
  pre-activations ``z`` and activations ``h``.
- :func:`probe` (:mod:`~jinit.diagnostics.probe`): those statistics for every layer of a
  model, and with labels and a loss the spread of the gradients with respect to each
  layer's pre-activations and weights; one jitted program. :func:`probe_seeds` draws the
  parameters :func:`jinit.sweep` starts from (same model protocol, same keys) for many
  seeds and vmaps the probe over them, so that every statistic comes with its spread over
  seeds.
- :func:`symmetry` (:mod:`~jinit.diagnostics.symmetry`): how many hidden units are really
  distinct (a zero init has one).
- :func:`jacobian_spectrum` (:mod:`~jinit.diagnostics.spectrum`): singular values of the
  input-output Jacobian (dynamical isometry), in float64.
- :func:`activation_histograms` (:mod:`~jinit.diagnostics.histograms`): per-layer
  histograms (Glorot & Bengio 2010, Figs. 6-7).

Models are read through a :class:`Tap` that each framework adapter provides
(:mod:`jinit.frameworks`): a jinit model (or its ``apply``), a Flax linen module, a Flax NNX
module, an Equinox ``MLP`` / ``Sequential`` or a Haiku model. A tap's forward pass returns
the model output and, per layer (each dense or conv layer, in call order), its
pre-activation ``z`` and activation ``h``, with an additive perturbation on ``z`` whose
gradient is the gradient with respect to ``z``.

Example:
    >>> import jax, jinit
    >>> from jinit.diagnostics import probe
    >>> net = jinit.models.MLP([16, 32, 32, 4], output="softmax")
    >>> x = jax.random.normal(jax.random.key(1), (64, 16))
    >>> result = probe(net, net.init(jax.random.key(0), jinit.he_normal), x)
    >>> result.layers
    ('1', '2', '3')
    >>> bool(result.mean("frac_dead")[0] == 0.0)
    True
"""

from jinit.diagnostics.histograms import Histograms, activation_histograms
from jinit.diagnostics.probe import ProbeResult, init_params, probe, probe_seeds, tap
from jinit.diagnostics.spectrum import jacobian_spectrum
from jinit.diagnostics.stats import BACKWARD_STATS, FORWARD_STATS, activation_name, layer_stats
from jinit.diagnostics.symmetry import symmetry
from jinit.frameworks.base import Tap
from jinit.frameworks.equinox import tap_equinox
from jinit.frameworks.haiku import tap_haiku
from jinit.frameworks.jinit_models import tap_jinit
from jinit.frameworks.linen import tap_flax
from jinit.frameworks.nnx import tap_nnx

__all__ = [
    "BACKWARD_STATS",
    "FORWARD_STATS",
    "Histograms",
    "ProbeResult",
    "Tap",
    "activation_histograms",
    "activation_name",
    "init_params",
    "jacobian_spectrum",
    "layer_stats",
    "probe",
    "probe_seeds",
    "symmetry",
    "tap",
    "tap_equinox",
    "tap_flax",
    "tap_haiku",
    "tap_jinit",
    "tap_nnx",
]
