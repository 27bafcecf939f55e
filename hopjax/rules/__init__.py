"""Coupling rules. Closed forms return J (N, N); iterative rules are (init, update) pairs."""

from hopjax.rules.classical import hebb, hebb_add, pseudo_inverse, zero_diagonal
from hopjax.rules.training import TrainRecord, log_epochs, train
from hopjax.rules.dreaming import (Unlearning, UnlearningInfo, UnlearningState, dreaming_kernel,
                                   unlearning, unlearning_rule)
from hopjax.rules.daydreaming import (Daydreaming, DaydreamingInfo, DaydreamingState,
                                      daydreaming)

__all__ = ["hebb", "hebb_add", "pseudo_inverse", "zero_diagonal",
           "dreaming_kernel", "unlearning", "unlearning_rule", "Unlearning", "UnlearningState",
           "UnlearningInfo", "daydreaming", "Daydreaming", "DaydreamingState", "DaydreamingInfo",
           "train", "TrainRecord", "log_epochs"]
