"""Research-grade initialization: data-dependent, residual, width-transfer and deterministic
methods (issue 16).

=============  ==========================================  ===================================
method         function                                    paper
=============  ==========================================  ===================================
LSUV           :func:`lsuv`, :func:`lsuv_seeds`            Mishkin & Matas 2016
=============  ==========================================  ===================================
"""

from jinit.research.lsuv import lsuv, lsuv_runs, lsuv_seeds

__all__ = ["lsuv", "lsuv_runs", "lsuv_seeds"]
