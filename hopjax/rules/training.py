"""`train`: run any iterative (init, update) coupling rule with `lax.scan`, recording the
Daydreaming convergence observables (Serricchio et al. 2025, Fig. 1) at chosen epochs.

Loop structure (shapes static, P traced): an outer `lax.scan` over the recording segments
(the epochs between consecutive recorded epochs, a static array), inside it a `fori_loop` over
the segment's epochs and, inside that, a `fori_loop` over the epoch's steps, whose count
(the rule state's ``steps_per_epoch``, e.g. the number of real patterns) may be traced. A single
run therefore does exactly epochs × P steps; under vmap over a padded α grid every lane runs
the longest epoch and the finished lanes stay frozen, so nothing is masked by hand.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from hopjax._checks import check_patterns
from hopjax._reduce import fixed_div, fixed_norm  # same bits in any batch layout
from hopjax.rules.base import RuleState
from hopjax.rules.classical import float_dtype, hebb

__all__ = ["train", "TrainRecord", "log_epochs", "step_keys"]


class TrainRecord(NamedTuple):
    """Observables at the recorded epochs (R of them). Norms are Frobenius norms of the raw
    matrices (no 1/N or 1/‖J_Hebb‖ factor; divide by ``hebb_norm`` for relative values).

    epochs (R,) int32: recorded epochs (0 = the initial couplings).
    steps (R,) int32: updates done at each record (summed over the epochs' lengths).
    info: the rule's info pytree, each leaf averaged over the steps of the epoch that ends at
      the record (NaN at epoch 0); for Daydreaming ``info.delta_norm`` is the mean per-step
      ‖ΔJ‖, and τ·info.delta_norm the paper's τ‖J(t+1) − J(t)‖ per step.
    epoch_delta (R,): ‖J(e) − J(e − 1)‖ over the last epoch (per-epoch rescaling included;
      NaN at epoch 0).
    dist_hebb (R,): ‖J(e) − J_Hebb‖ (Hebb with ``hebb_normalization``, same as the
      Daydreaming default init and rescaling target).
    norm (R,): ‖J(e)‖.  hebb_norm (): ‖J_Hebb‖.
    J (R, N, N): snapshots of the couplings, or None with ``snapshots=False``.
    """

    epochs: jax.Array
    steps: jax.Array
    info: Any
    epoch_delta: jax.Array
    dist_hebb: jax.Array
    norm: jax.Array
    hebb_norm: jax.Array
    J: jax.Array | None


def step_keys(key):
    """(k_init, k_steps): `train` initialises with k_init and runs step t with
    fold_in(k_steps, t); `unlearning` uses the same scheme."""
    k_init, k_steps = jax.random.split(key)
    return k_init, k_steps


def log_epochs(epochs: int, n: int = 20) -> np.ndarray:
    """About n log-spaced epochs in [1, epochs], with 0 (initial state) and ``epochs``."""
    e = np.round(np.logspace(0, np.log10(max(epochs, 1)), n)).astype(int)
    return np.unique(np.concatenate([[0], e, [epochs]]))


def _steps_per_epoch(steps_per_epoch, state, xi, mask):
    if steps_per_epoch is None:  # the rule's own epoch (`hopjax.rules.base.RuleState`)
        if not isinstance(state, RuleState):
            raise TypeError(f"train: the rule's state ({type(state).__name__}) has no field "
                            "steps_per_epoch (hopjax.rules.base.RuleState); add it, or pass "
                            "steps_per_epoch='P', 'N' or an int to train")
        return jnp.asarray(state.steps_per_epoch, jnp.int32)
    if steps_per_epoch == "P":
        return jnp.asarray(xi.shape[-2] if mask is None else jnp.sum(jnp.asarray(mask), dtype=jnp.int32),
                           jnp.int32)
    if steps_per_epoch == "N":
        return jnp.asarray(xi.shape[-1], jnp.int32)
    return jnp.asarray(steps_per_epoch, jnp.int32)


def train(key, rule, xi, mask=None, *, epochs: int, record=None, steps_per_epoch=None,
          snapshots: bool = True, hebb_normalization: str = "N"):
    """Train couplings with an iterative rule and record convergence observables.

    Args:
      key: PRNG key; ``k_init, k_steps = split(key)``, step t (counted from 0 over the whole
        run) uses ``fold_in(k_steps, t)``, so a padded run equals an unpadded one and a
        shorter run is a prefix of a longer one.
      rule: an `hopjax.rules.base.IterativeRule` ``(init, update)``: ``init(key, xi, mask)
        -> state`` (a `RuleState`: fields ``J`` and ``steps_per_epoch``) and
        ``update(key, state, xi, mask) -> (state, info)``; e.g. `daydreaming(tau)` or
        `unlearning_rule(epsilon)`. Build it inside the function you jit / vmap when its
        hyperparameters (τ, ε) are traced.
      xi: patterns (P_max, N) ±1; mask: (P_max,) bool or None (may be traced).
      epochs: static number of epochs.
      record: static increasing epochs in [0, epochs] to record (default `log_epochs(epochs)`).
        Epochs after the last record still run (the final state is returned).
      steps_per_epoch: None (the state's ``steps_per_epoch`` field; a TypeError if it has
        none), ``"P"`` (real patterns; may be traced), ``"N"`` or an int.
      snapshots: keep J at every record (R·N² floats per run).
      hebb_normalization: the Hebb reference of ``dist_hebb`` ("N" or "P").

    Returns:
      (final state, `TrainRecord`). Works under jit and vmap (keys, masks, τ, α_D ...): all
      shapes depend only on static arguments.

    >>> import jax
    >>> from hopjax import patterns, rules
    >>> xi = patterns.random(jax.random.key(0), 20, 100)
    >>> state, rec = train(jax.random.key(1), rules.daydreaming(10.0), xi, epochs=4,
    ...                    record=[0, 2, 4])
    >>> rec.J.shape, rec.steps.tolist()
    ((3, 100, 100), [0, 40, 80])
    """
    if record is None:
        record = log_epochs(epochs)
    record = np.asarray(record, dtype=np.int64).reshape(-1)
    if record.size == 0 or np.any(np.diff(record) <= 0) or record[0] < 0 or record[-1] > epochs:
        raise ValueError(f"record must be strictly increasing epochs in [0, {epochs}]; got {record}")
    segments = np.diff(np.concatenate([[0], record]))
    tail = epochs - int(record[-1])
    if tail:
        segments = np.concatenate([segments, [tail]])

    check_patterns(xi)
    xi = jnp.asarray(xi, float_dtype(xi))  # float32, or float64 patterns under x64
    k_init, k_steps = step_keys(key)
    state = rule.init(k_init, xi, mask)
    spe = _steps_per_epoch(steps_per_epoch, state, xi, mask)
    J_hebb = hebb(xi, mask, normalization=hebb_normalization)
    info_shape = jax.eval_shape(rule.update, k_steps, state, xi, mask)[1]
    zero_info = jax.tree.map(lambda s: jnp.zeros(s.shape, jnp.float32), info_shape)

    def step(_, carry):
        state, t, acc = carry
        state, info = rule.update(jax.random.fold_in(k_steps, t), state, xi, mask)
        acc = jax.tree.map(lambda a, i: a + i.astype(jnp.float32), acc, info)
        return state, t + 1, acc

    def epoch(_, carry):
        state, t, _, _ = carry
        state, t, acc = lax.fori_loop(0, spe, step, (state, t, zero_info))
        return state, t, carry[0].J, acc

    def segment(carry, n_epochs):
        state, t = carry
        state, t, J_prev, acc = lax.fori_loop(0, n_epochs, epoch, (state, t, state.J, zero_info))
        ran = n_epochs > 0
        nan = jnp.float32(jnp.nan)
        out = dict(
            steps=t,
            info=jax.tree.map(lambda a: jnp.where(ran, fixed_div(a, spe.astype(jnp.float32)), nan),
                              acc),
            epoch_delta=jnp.where(ran, fixed_norm(state.J - J_prev), nan),
            dist_hebb=fixed_norm(state.J - J_hebb),
            norm=fixed_norm(state.J),
            J=state.J if snapshots else None,
        )
        return (state, t), out

    (state, _), out = lax.scan(segment, (state, jnp.zeros((), jnp.int32)),
                               jnp.asarray(segments, jnp.int32))
    if tail:
        out = jax.tree.map(lambda a: a[:-1], out)
    rec = TrainRecord(epochs=jnp.asarray(record, jnp.int32), hebb_norm=fixed_norm(J_hebb),
                      **out)
    return state, rec
