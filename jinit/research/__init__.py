"""Research-grade initialization: data-dependent, residual, width-transfer, deterministic and
depth-scaled methods (issue 16). Each is a function or a list of :func:`jinit.reinit` rules.

=================  ================================================  =========================
method             function                                          paper
=================  ================================================  =========================
LSUV               :func:`lsuv`, :func:`lsuv_seeds`                  Mishkin & Matas 2016
Fixup              :func:`fixup`, :func:`fixup_rules`                Zhang et al. 2019
SkipInit           :func:`skipinit_rules`, :func:`with_branch_gates` De & Smith 2020
ReZero             :func:`rezero_rules`, :func:`with_branch_gates`   Bachlechner et al. 2020
muP                :func:`mup_info`, :func:`mup_init`,               Yang et al. 2022 (TP V)
                   :func:`scale_by_mup`
ZerO               :func:`zero_init`                                 Zhao et al. 2021
GPT-2 scaling      :func:`gpt2_rules`                                Radford et al. 2019
DeepNorm           :func:`deepnorm_rules`, :func:`deepnorm_constants` Wang et al. 2022
T-Fixup            :func:`tfixup_rules`                              Huang et al. 2020
=================  ================================================  =========================
"""

from jinit.research.lsuv import lsuv, lsuv_runs, lsuv_seeds
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
    "MupInfo", "deepnorm_constants", "deepnorm_rules", "fixup", "fixup_rules", "fixup_scale",
    "gpt2_rules", "lr_multipliers", "lsuv", "lsuv_runs", "lsuv_seeds", "mup_info", "mup_init",
    "rezero_rules", "scale_by_mup", "scaled", "skipinit_rules", "tfixup_rules",
    "with_branch_gates", "zero_init",
]  # fmt: skip
