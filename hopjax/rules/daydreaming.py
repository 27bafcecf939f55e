"""Daydreaming (Serricchio, Bocchi, Chilin, Marino, Negri, Cammarota, Ricci-Tersenghi,
Neural Networks 186, 107216 (2025), arXiv:2405.08777) as an optax-style (init, update) pair.

Each step reinforces a random stored pattern and unlearns a zero-temperature dream:
J ← J + (ξ^μ ξ^μᵀ − σ*σ*ᵀ) / (τN). At stationarity the pattern correlations equal those of
the fixed points reached from random starts (moment matching sampled at T = 0).
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
from hopjax.rules.classical import float_dtype, hebb, zero_diagonal

__all__ = ["daydreaming", "Daydreaming", "DaydreamingState", "DaydreamingInfo", "INITS"]

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


class Daydreaming(NamedTuple):
    init: callable
    update: callable


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
                batch: int = 1, method: str | None = None, block: int = 16) -> Daydreaming:
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
        method None = relax's default).
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
    normalize = normalize == "frobenius"
    K = batch
    relax_options = dict(block=block) if method is None else dict(method=method, block=block)

    def init_fn(key, xi, mask=None):
        check_patterns(xi)
        dt = float_dtype(xi)
        xi = jnp.asarray(xi, dt)
        P_max, N = xi.shape
        P, _ = _real_patterns(xi, mask)
        J_hebb = hebb(xi, mask)
        if init == "hebb":
            J = J_hebb
        elif init == "hebb_P":
            J = hebb(xi, mask, normalization="P")
        elif init == "zeros":
            J = jnp.zeros((N, N), dt)
        else:
            A = jax.random.normal(key, (N, N), dt)
            J = zero_diagonal(A + A.T) * (jnp.sqrt(P.astype(dt) / 2.0) / N)
        norm = fixed_norm(J_hebb if init == "zeros" else J)
        spe = {"P": P, "N": N}.get(steps_per_epoch, steps_per_epoch)
        spe = jnp.maximum(jnp.asarray(spe, jnp.int32), 1)
        return DaydreamingState(J, norm, jnp.zeros((), jnp.int32), spe)

    def update_fn(key, state, xi, mask=None):
        check_patterns(xi)
        J = state.J
        xi = jnp.asarray(xi, J.dtype)
        N = J.shape[-1]
        P, real = _real_patterns(xi, mask)
        k_start, k_relax, k_mu = jax.random.split(key, 3)
        start = jax.random.rademacher(k_start, (K, N), dtype=J.dtype)
        dream = dynamics.relax(k_relax, J, start, mode=mode, max_sweeps=max_sweeps, **relax_options)
        mu = real[jax.random.randint(k_mu, (K,), 0, jnp.maximum(P, 1))]
        s = dream.sigma
        if K <= OUTER_MAX_BATCH:  # rows as a one-hot product (see below)
            x = matmul(jax.nn.one_hot(mu, xi.shape[0], dtype=J.dtype), xi)
        else:
            x = xi[mu]
        # no real pattern: no step at all (the dream term alone would break the zero diagonal)
        scale = jnp.where(P > 0, 1.0 / (jnp.asarray(tau, J.dtype) * (N * K)), 0.0)
        # ΔJ = (XᵀX − SᵀS)·scale: its entries are exact integers times scale, so J stays
        # exactly symmetric with a zero diagonal, whichever way it is built
        if K <= OUTER_MAX_BATCH:  # elementwise: XLA fuses it into one pass over J
            # (x came from a one-hot product, exact: a gather fused into that pass would redo
            # its index arithmetic for every element of J, a 6x slower update on a CPU)
            D = sum(x[k][:, None] * x[k][None, :] - s[k][:, None] * s[k][None, :]
                    for k in range(K))
        else:  # one rank-2K product of ±1 matrices
            D = matmul(jnp.concatenate([x, s]).T, jnp.concatenate([x, -s]))
        new = J + D * scale
        if j_max is not None:
            new = jnp.clip(new, -j_max, j_max)
            delta_norm = fixed_norm(new - J)
        else:  # ‖XᵀX − SᵀS‖²_F = ‖XXᵀ‖² + ‖SSᵀ‖² − 2‖XSᵀ‖², without a pass over N²
            sq = [fixed_sum(jnp.square(matmul(a, b.T))) for a, b in ((x, x), (s, s), (x, s))]
            delta_norm = scale * jnp.sqrt(jnp.maximum(sq[0] + sq[1] - 2 * sq[2], 0.0))
        step = state.step + 1
        if normalize:
            due = step % (state.steps_per_epoch * norm_period) == 0
            new = lax.cond(due, lambda J: J * (state.norm / jnp.maximum(fixed_norm(J), 1e-30)),
                           lambda J: J, new)
            if j_max is not None:  # the bound holds after the rescaling too
                new = lax.cond(due, lambda J: jnp.clip(J, -j_max, j_max), lambda J: J, new)
        info = DaydreamingInfo(delta_norm, jnp.mean(dream.sweeps.astype(jnp.float32)),
                               jnp.mean((dream.status == dynamics.FIXED_POINT).astype(jnp.float32)))
        return state._replace(J=new, step=step), info

    return Daydreaming(init_fn, update_fn)
