"""Coupling rules. Closed forms return J (N, N); iterative rules are (init, update) pairs."""

from hopjax.rules.classical import hebb, hebb_add, pseudo_inverse, zero_diagonal
from hopjax.rules.training import TrainRecord, log_epochs, train
from hopjax.rules.dreaming import (Unlearning, UnlearningInfo, UnlearningState, dreaming_kernel,
                                   unlearning, unlearning_rule)
from hopjax.rules.daydreaming import (Daydreaming, DaydreamingInfo, DaydreamingState,
                                      daydreaming)
from hopjax.rules.centred import (centred_bias, centred_daydreaming, centred_hebb,
                                  centred_pseudo_inverse, centred_relax)

__all__ = ["hebb", "hebb_add", "pseudo_inverse", "zero_diagonal",
           "dreaming_kernel", "unlearning", "unlearning_rule", "Unlearning", "UnlearningState",
           "UnlearningInfo", "daydreaming", "Daydreaming", "DaydreamingState", "DaydreamingInfo",
           "train", "TrainRecord", "log_epochs", "centred_hebb", "centred_pseudo_inverse",
           "centred_bias", "centred_relax", "centred_daydreaming"]
