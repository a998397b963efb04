"""Research-grade initialization: data-dependent, residual, width-transfer, deterministic and
depth-scaled methods (issue 16). Each is a function or a list of :func:`jinit.reinit` rules.

- LSUV (Mishkin & Matas 2016): :func:`lsuv`, :func:`lsuv_runs`, :func:`lsuv_seeds`,
  :func:`lsuv_model` (Flax, NNX, Equinox, Haiku through the probe's taps), :func:`lsuv_entry`
  (an ``inits`` entry of :func:`jinit.sweep`: LSUV per run).
- Fixup (Zhang et al. 2019): :func:`fixup`, :func:`fixup_rules`, :func:`fixup_scale`.
- SkipInit (De & Smith 2020) and ReZero (Bachlechner et al. 2020): :func:`skipinit_rules`,
  :func:`rezero_rules`, :func:`with_branch_gates`.
- muP (Yang et al. 2022, Tensor Programs V): :func:`mup_info`, :func:`mup_init`,
  :func:`lr_multipliers`, :func:`scale_by_mup`.
- ZerO (Zhao et al. 2021): :func:`zero_init`.
- MetaInit (Dauphin & Schoenholz 2019): :func:`metainit`, :func:`gradient_quotient`.
- GradInit (Zhu et al. 2021): :func:`gradinit`, :func:`step_loss`.
- GPT-2 (Radford et al. 2019), DeepNorm (Wang et al. 2022), T-Fixup (Huang et al. 2020):
  :func:`gpt2_rules`, :func:`deepnorm_constants`, :func:`deepnorm_rules`, :func:`tfixup_rules`.
"""

from jinit.research.gradinit import StepLoss, gradinit, step_loss
from jinit.research.lsuv import LSUVEntry, lsuv, lsuv_entry, lsuv_model, lsuv_runs, lsuv_seeds
from jinit.research.metainit import gradient_quotient, metainit
from jinit.research.mup import MupInfo, lr_multipliers, mup_info, mup_init, scale_by_mup
from jinit.research.residual import (
    fixup,
    fixup_rules,
    fixup_scale,
    rezero_rules,
    scaled,
    skipinit_rules,
    with_branch_gates,
)
from jinit.research.transformer import deepnorm_constants, deepnorm_rules, gpt2_rules, tfixup_rules
from jinit.research.zero import zero_init

__all__ = [
    "LSUVEntry", "MupInfo", "StepLoss", "deepnorm_constants", "deepnorm_rules", "fixup",
    "fixup_rules", "fixup_scale", "gpt2_rules", "gradient_quotient", "gradinit",
    "lr_multipliers", "lsuv", "lsuv_entry", "lsuv_model", "lsuv_runs", "lsuv_seeds", "metainit",
    "mup_info", "mup_init", "rezero_rules", "scale_by_mup", "scaled", "skipinit_rules",
    "step_loss", "tfixup_rules", "with_branch_gates", "zero_init",
]  # fmt: skip
