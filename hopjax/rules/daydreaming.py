"""Daydreaming (Serricchio, Bocchi, Chilin, Marino, Negri, Cammarota, Ricci-Tersenghi,
Neural Networks 186, 107216 (2025), arXiv:2405.08777) as an optax-style (init, update) pair.

Each step reinforces a random stored pattern and unlearns a zero-temperature dream:
J ← J + (ξ^μ ξ^μᵀ − σ*σ*ᵀ) / (τN). At stationarity the pattern correlations equal those of
the fixed points reached from random starts (moment matching sampled at T = 0).

The rule is assembled from pieces that `hopjax.rules.centred.centred_daydreaming` reuses:
`initial_state`, the step's `dream_delta`, `clip_couplings`, the per-epoch `rescale_epoch`,
and `update_function`, which chains them around the dreams' ``relax(key, J, sigma)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from hopjax import dynamics
from hopjax._checks import check_patterns, concrete
from hopjax._precision import matmul
from hopjax._reduce import fixed_norm, fixed_sum  # same bits in any batch layout
from hopjax.rules.base import IterativeRule, RelaxFn, dream_dynamics
from hopjax.rules.classical import float_dtype, hebb, zero_diagonal

__all__ = ["daydreaming", "daydreaming_rule", "Daydreaming", "DaydreamingState", "DaydreamingInfo",
           "INITS", "initial_state", "dream_delta", "clip_couplings", "rescale_epoch",
           "update_function"]

INITS = ("hebb", "hebb_P", "zeros", "gaussian")

# Up to this many dreams per update, ΔJ is a sum of outer products that XLA fuses into the
# update of J; a matrix product of inner dimension 2K is slow on a CPU for small K (vmapped
# grid of 16 runs, N = 500: 1.0 ms per update for the product alone, 0.2 ms fused).
OUTER_MAX_BATCH = 4


class DaydreamingState(NamedTuple):
    """J (N, N) couplings; norm () target Frobenius norm of the rescaling; step () int32 number
    of updates done; steps_per_epoch () int32 (P real patterns, N, or a fixed count)."""

    J: jax.Array
    norm: jax.Array
    step: jax.Array
    steps_per_epoch: jax.Array


class DaydreamingInfo(NamedTuple):
    """Per update: delta_norm = ‖ΔJ‖_F of the step (after clipping, before the per-epoch
    rescaling; τ·delta_norm is the paper's Fig. 1 observable per step); sweeps = mean sweeps of
    the dreams' relaxation; converged = fraction of dreams that reached a fixed point."""

    delta_norm: jax.Array
    sweeps: jax.Array
    converged: jax.Array


class Daydreaming(IterativeRule):
    """`IterativeRule` (init, update) of `daydreaming` and `centred_daydreaming`."""

    __slots__ = ()


def _real_patterns(xi, mask):
    """Number of real patterns P () int32 and their row indices first, (P_max,) int32."""
    P_max = xi.shape[-2]
    if mask is None:
        return jnp.asarray(P_max, jnp.int32), jnp.arange(P_max, dtype=jnp.int32)
    mask = jnp.asarray(mask, bool)
    # stable sort puts the real rows first, in order: a prefix mask gives 0, 1, 2, ...
    return jnp.sum(mask, dtype=jnp.int32), jnp.argsort(~mask, stable=True).astype(jnp.int32)


def daydreaming(tau, *, init: str = "hebb", steps_per_epoch="P", normalize: str | None = "frobenius",
                norm_period: int = 1, j_max=None, mode: str = "async", max_sweeps=100,
                batch: int = 1, method: str | None = None, block: int = 16,
                relax: RelaxFn | None = None) -> Daydreaming:
    """Daydreaming learning rule (Serricchio et al. 2025) as a pair ``(init, update)``.

    Args:
      tau: inverse learning rate τ > 0 (may be traced: build the rule inside the jitted /
        vmapped function). τ of a few tens is already in the τ-independent regime.
      init: initial couplings: ``"hebb"`` (1/N), ``"hebb_P"`` (1/P, for MNIST: the norm does not
        grow with the load), ``"zeros"`` or ``"gaussian"`` (symmetric, entries N(0, P/N²), the
        size of Hebb's). All converge to the same J; Hebb is the fastest.
      steps_per_epoch: ``"P"`` (number of real patterns; traced under a padded mask), ``"N"``
        or a positive int.
      normalize: ``"frobenius"``: every ``norm_period`` epochs (counted in the state's step
        counter, so the period follows a traced P) rescale J to the Frobenius norm of the
        initial J (for ``"zeros"``: of Hebb 1/N, since 0 has no scale). ``None`` or ``"none"``:
        never. The scale of J does not change zero-temperature dynamics; it keeps J bounded.
      j_max: clip |J_ij| ≤ j_max after every update, and again after each rescaling so that the
        bound always holds (the paper's MNIST setting); None: no clip. Must be > 0 (checked
        when concrete); may be traced.
      mode, max_sweeps, method, block: dynamics of the dreams (`hopjax.dynamics.relax`;
        method None = relax's default), when ``relax`` is None.
      relax: the dreams' dynamics ``relax(key, J, sigma) -> Relaxed`` (`hopjax.rules.base`),
        e.g. ``functools.partial(dynamics.relax, mode="sync")``; None: built from the four
        options above. With it those options keep their defaults (TypeError otherwise).
      batch: K, static. K dreams and K reinforced patterns per update with step 1/(τNK) (an
        extension, not in the paper). K = 1 is the paper's algorithm. The K dreams relax as one
        (K, N) batch sharing each sweep's visiting order: each dream is still an exact
        zero-temperature asynchronous trajectory, so the expected update is unchanged; only
        the K dreams of one update are weakly correlated. One update is one step: an epoch is
        still P (or N) updates, and the fluctuations of J shrink like 1/√K.

    Returns:
      `Daydreaming` (init, update):

      * ``init(key, xi, mask=None) -> DaydreamingState``; key is used by ``"gaussian"`` only.
      * ``update(key, state, xi, mask=None) -> (DaydreamingState, DaydreamingInfo)``: one step.
        Random numbers: ``k_start, k_relax, k_mu = split(key, 3)``; starts
        ``rademacher(k_start, (K, N))``; ``relax(k_relax, J, starts)``; reinforced patterns
        ``real[randint(k_mu, (K,), 0, P)]`` among the real (unmasked) rows.

      xi: patterns (P_max, N) ±1, P_max ≥ 1 (padded rows may hold anything); mask: (P_max,)
      bool or None. J stays symmetric with zero diagonal (ξ_i² − σ_i² = 0 exactly); its dtype
      is `float_dtype` (xi) at init (float32; float64 for float64 patterns under x64) and
      stays that of the state.

    >>> import jax
    >>> from hopjax import patterns
    >>> xi = patterns.random(jax.random.key(0), 20, 100)
    >>> rule = daydreaming(20.0)
    >>> state = rule.init(jax.random.key(1), xi)
    >>> state, info = rule.update(jax.random.key(2), state, xi)
    >>> int(state.step), bool((state.J == state.J.T).all()), float(abs(state.J.diagonal()).max())
    (1, True, 0.0)
    """
    _check_options(tau, init=init, steps_per_epoch=steps_per_epoch, normalize=normalize,
                   norm_period=norm_period, j_max=j_max, batch=batch)
    relax = dream_dynamics(relax, mode=mode, max_sweeps=max_sweeps, method=method, block=block,
                           rule="daydreaming")

    def init_fn(key, xi, mask=None):
        return initial_state(key, xi, mask, init=init, steps_per_epoch=steps_per_epoch)

    update_fn = update_function(
        tau, relax=relax, batch=batch, j_max=j_max, normalize=normalize == "frobenius",
        norm_period=norm_period,
        starts=lambda key, shape, dtype: jax.random.rademacher(key, shape, dtype=dtype))
    return Daydreaming(init_fn, update_fn)


daydreaming_rule = daydreaming  # the `*_rule` name of every iterative rule (hopjax.rules)


def _check_options(tau, *, init, steps_per_epoch, normalize, norm_period, j_max, batch):
    """ValueError naming the first bad option of a Daydreaming rule."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}; got {init!r}")
    if normalize not in ("frobenius", "none", None):
        raise ValueError(f"normalize must be 'frobenius' or None; got {normalize!r}")
    if not (steps_per_epoch in ("P", "N") or (isinstance(steps_per_epoch, int)
                                              and steps_per_epoch >= 1)):
        raise ValueError(f"steps_per_epoch must be 'P', 'N' or a positive int; got {steps_per_epoch!r}")
    if not isinstance(norm_period, int) or norm_period < 1:
        raise ValueError(f"norm_period must be a positive int; got {norm_period!r}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int; got {batch!r}")
    v = concrete(tau)
    if v is not None and not (v > 0).all():
        raise ValueError(f"tau must be > 0; got {v}")
    v = None if j_max is None else concrete(j_max)
    if v is not None and not (v > 0).all():  # 0 would zero J, < 0 inverts the clip bounds
        raise ValueError(f"j_max must be > 0 or None; got {v}")


def _hebb(xi, mask, normalization):
    return hebb(xi, mask, normalization=normalization)


def initial_state(key, xi, mask=None, *, init="hebb", steps_per_epoch="P",
                  hebb_fn=_hebb) -> DaydreamingState:
    """The initial `DaydreamingState` for the ``init`` and ``steps_per_epoch`` options of
    `daydreaming` (key: ``"gaussian"`` only). ``hebb_fn(xi, mask, normalization)`` is the Hebb
    rule of ``"hebb"`` (``"N"``), ``"hebb_P"`` (``"P"``) and of the target norm for
    ``"zeros"`` (`centred_daydreaming` passes centred Hebb)."""
    check_patterns(xi)
    dt = float_dtype(xi)
    xi = jnp.asarray(xi, dt)
    N = xi.shape[-1]
    P, _ = _real_patterns(xi, mask)
    J_hebb = hebb_fn(xi, mask, "N")
    if init == "hebb":
        J = J_hebb
    elif init == "hebb_P":
        J = hebb_fn(xi, mask, "P")
    elif init == "zeros":
        J = jnp.zeros((N, N), dt)
    else:  # symmetric, entries N(0, P/N²) off the diagonal: the size of Hebb's
        A = jax.random.normal(key, (N, N), dt)
        J = zero_diagonal(A + A.T) * (jnp.sqrt(P.astype(dt) / 2.0) / N)
    norm = fixed_norm(J_hebb if init == "zeros" else J)
    spe = {"P": P, "N": N}.get(steps_per_epoch, steps_per_epoch)
    spe = jnp.maximum(jnp.asarray(spe, jnp.int32), 1)
    return DaydreamingState(J, norm, jnp.zeros((), jnp.int32), spe)


def _rows(xi, mu, dtype):
    """Rows xi[mu] (K, N); for K <= OUTER_MAX_BATCH as an exact one-hot product: a gather fused
    into the update of J would redo its index arithmetic for every element of J, a 6x slower
    update on a CPU."""
    if mu.shape[0] <= OUTER_MAX_BATCH:
        return matmul(jax.nn.one_hot(mu, xi.shape[0], dtype=dtype), xi)
    return xi[mu]


def dream_delta(x, s):
    """XᵀX − SᵀS (N, N) for the reinforced rows x and the dreams s (K, N): the step's ΔJ before
    its scale 1/(τNK). For ±1 rows its entries are exact integers, so J stays exactly
    symmetric with a zero diagonal, whichever way it is built."""
    K = x.shape[0]
    if K <= OUTER_MAX_BATCH:  # elementwise: XLA fuses it into one pass over J
        return sum(x[k][:, None] * x[k][None, :] - s[k][:, None] * s[k][None, :]
                   for k in range(K))
    return matmul(jnp.concatenate([x, s]).T, jnp.concatenate([x, -s]))  # one rank-2K product


def _delta_norm(x, s, scale, *, diagonal_zeroed: bool):
    """‖ΔJ‖_F = scale ‖XᵀX − SᵀS‖_F (minus its diagonal with ``diagonal_zeroed``) from
    ‖XᵀX − SᵀS‖²_F = ‖XXᵀ‖² + ‖SSᵀ‖² − 2‖XSᵀ‖², without a pass over N²."""
    sq = [fixed_sum(jnp.square(matmul(u, v.T))) for u, v in ((x, x), (s, s), (x, s))]
    off = sq[0] + sq[1] - 2 * sq[2]
    if diagonal_zeroed:
        diag = fixed_sum(jnp.square(x), axis=0) - fixed_sum(jnp.square(s), axis=0)
        off = off - fixed_sum(jnp.square(diag))
    return scale * jnp.sqrt(jnp.maximum(off, 0.0))


def clip_couplings(J, j_max):
    """|J_ij| ≤ j_max (j_max None: J unchanged)."""
    return J if j_max is None else jnp.clip(J, -j_max, j_max)


def rescale_epoch(J, state, step, *, norm_period: int, j_max=None):
    """J rescaled to the Frobenius norm ``state.norm`` (then clipped to j_max) when ``step``
    ends a period of ``norm_period`` epochs of ``state.steps_per_epoch`` steps, else J."""
    due = step % (state.steps_per_epoch * norm_period) == 0
    J = lax.cond(due, lambda J: J * (state.norm / jnp.maximum(fixed_norm(J), 1e-30)),
                 lambda J: J, J)
    if j_max is not None:  # the bound holds after the rescaling too
        J = lax.cond(due, lambda J: clip_couplings(J, j_max), lambda J: J, J)
    return J


def update_function(tau, *, relax: RelaxFn, batch: int, j_max, normalize: bool,
                    norm_period: int, starts, a=None):
    """``update(key, state, xi, mask=None)`` of a Daydreaming rule (see `daydreaming`).

    ``relax(key, J, sigma)``: the dreams' dynamics; ``starts(key, shape, dtype)``: the dreams'
    random starts; ``a``: None, or the bias at which patterns and dreams are centred (then
    ΔJ's diagonal is zeroed and J re-symmetrised: `centred_daydreaming`)."""
    K = batch

    def update_fn(key, state, xi, mask=None):
        check_patterns(xi)
        J = state.J
        xi = jnp.asarray(xi, J.dtype)
        N = J.shape[-1]
        P, real = _real_patterns(xi, mask)
        k_start, k_relax, k_mu = jax.random.split(key, 3)
        dream = relax(k_relax, J, starts(k_start, (K, N), J.dtype))
        mu = real[jax.random.randint(k_mu, (K,), 0, jnp.maximum(P, 1))]
        x, s = _rows(xi, mu, J.dtype), dream.sigma
        if a is not None:
            ac = jnp.asarray(a, J.dtype)
            x, s = x - ac, s - ac
        # no real pattern: no step at all (the dream term alone would break the zero diagonal)
        scale = jnp.where(P > 0, 1.0 / (jnp.asarray(tau, J.dtype) * (N * K)), 0.0)
        new = J + dream_delta(x, s) * scale
        if a is not None:
            # centred: the (i, j) and (j, i) entries of ΔJ may round differently (a GEMM's
            # blocking; XLA contracts a product and a sum into an FMA in a vectorised loop but
            # not in its scalar tail) and its diagonal is ∓4a where ξ_i ≠ σ_i, so J is
            # symmetrised and its diagonal zeroed: exact no-ops when it already is, as at a = 0
            new = zero_diagonal((new + new.T) * 0.5)
        if j_max is not None:
            new = clip_couplings(new, j_max)
            delta_norm = fixed_norm(new - J)
        else:
            delta_norm = _delta_norm(x, s, scale, diagonal_zeroed=a is not None)
        step = state.step + 1
        if normalize:
            new = rescale_epoch(new, state, step, norm_period=norm_period, j_max=j_max)
        info = DaydreamingInfo(delta_norm, jnp.mean(dream.sweeps.astype(jnp.float32)),
                               jnp.mean((dream.status == dynamics.FIXED_POINT).astype(jnp.float32)))
        return state._replace(J=new, step=step), info

    return update_fn
