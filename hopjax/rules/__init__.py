"""Coupling rules.

What each name returns:

* couplings J (N, N), closed forms: `hebb`, `hebb_add`, `pseudo_inverse`, `dreaming_kernel`,
  `centred_hebb`, `centred_pseudo_inverse`; and `unlearning`, the couplings after n dreams
  (it runs `unlearning_rule`);
* an `IterativeRule` (init, update) for `train` (`hopjax.rules.base`): every iterative rule
  has a ``*_rule`` name, `unlearning_rule`, `daydreaming_rule`, `centred_daydreaming_rule`;
  `daydreaming` and `centred_daydreaming` are the same constructors under their first names.
  `Unlearning` and `Daydreaming` are the `IterativeRule` types they return; their states
  satisfy `RuleState` (fields ``J`` and ``steps_per_epoch``). The rules that dream take the
  dreams' dynamics as ``relax=relax(key, J, sigma)`` (default: `hopjax.dynamics.relax` with
  the rule's mode / max_sweeps / method / block options).
"""

from hopjax.rules.base import IterativeRule, RelaxFn, RuleState, dream_dynamics
from hopjax.rules.classical import hebb, hebb_add, pseudo_inverse, zero_diagonal
from hopjax.rules.training import TrainRecord, log_epochs, train
from hopjax.rules.dreaming import (Unlearning, UnlearningInfo, UnlearningState, dreaming_kernel,
                                   unlearning, unlearning_rule)
from hopjax.rules.daydreaming import (Daydreaming, DaydreamingInfo, DaydreamingState,
                                      daydreaming, daydreaming_rule)
from hopjax.rules.centred import (centred_bias, centred_daydreaming, centred_daydreaming_rule,
                                  centred_hebb, centred_pseudo_inverse, centred_relax)

__all__ = ["hebb", "hebb_add", "pseudo_inverse", "zero_diagonal",
           "dreaming_kernel", "unlearning", "unlearning_rule", "Unlearning", "UnlearningState",
           "UnlearningInfo", "daydreaming", "daydreaming_rule", "Daydreaming",
           "DaydreamingState", "DaydreamingInfo", "train", "TrainRecord", "log_epochs",
           "centred_hebb", "centred_pseudo_inverse", "centred_bias", "centred_relax",
           "centred_daydreaming", "centred_daydreaming_rule", "IterativeRule", "RuleState",
           "RelaxFn", "dream_dynamics"]
