"""Observables: overlaps, retrieval maps m_f(m0), basin sizes, stability of patterns."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from hopjax import dynamics
from hopjax._checks import check_overlap, check_spins, check_square
from hopjax._reduce import fixed_div, fixed_mean, fixed_norm, fixed_sum
from hopjax._precision import matmul
from hopjax.patterns import flip_to_overlap

__all__ = ["overlap", "is_fixed_point", "stable_fraction", "retrieval_map", "RetrievalMap",
           "basin_size", "masked_mean_std", "fixed_sum", "fixed_mean", "fixed_norm", "fixed_div"]

# Every float reduction of an observable goes through `fixed_sum` (hopjax._reduce): its bits
# do not depend on the batch XLA computes it in, so sweep results are the same for any chunk
# size and device count.


def overlap(sigma, xi):
    """Overlaps m^μ = (1/N) Σ_i ξ^μ_i σ_i.

    sigma: (..., N); xi: (P, N) -> (..., P), or xi: (N,) -> (...).
    """
    sigma = jnp.asarray(sigma, jnp.float32)
    return matmul(sigma, jnp.asarray(xi, jnp.float32).T) / sigma.shape[-1]


def is_fixed_point(J, sigma, bias=None):
    """True where no spin of sigma (..., N) would flip at zero temperature: h_i σ_i >= 0, with
    fields within rounding of zero counted as ties (`hopjax.dynamics.tie_tolerance`)."""
    h = dynamics.local_field(J, sigma, bias)
    tol = dynamics.tie_tolerance(jnp.asarray(J, h.dtype), bias)
    return jnp.all(h * sigma >= -tol, axis=-1)


def masked_mean_std(x, mask, axis):
    """Mean and standard deviation of x over ``axis`` counting only entries where mask
    (fixed-order sums: the same bits in any batch layout)."""
    mask = jnp.broadcast_to(mask, x.shape).astype(x.dtype)
    n = jnp.maximum(fixed_sum(mask, axis=axis), 1.0)
    mean = fixed_div(fixed_sum(x * mask, axis=axis), n)
    dev = (x - jnp.expand_dims(mean, axis)) * mask
    return mean, jnp.sqrt(fixed_div(fixed_sum(dev * dev, axis=axis), n))


def stable_fraction(J, xi, mask=None, bias=None):
    """Fraction of the (unmasked) patterns xi (P, N) that are zero-temperature fixed points."""
    check_square(J)
    check_spins(xi, "xi")
    fixed = is_fixed_point(J, xi, bias).astype(jnp.float32)
    return fixed_mean(fixed, mask=mask)


class RetrievalMap(NamedTuple):
    """m0 (M,); mean, std (M,) of the final overlap over real patterns and samples;
    fixed_point (M,) fraction of trajectories that reached a fixed point; mf (M, P, S) raw
    final overlaps (padded patterns included; use the mask)."""

    m0: jax.Array
    mean: jax.Array
    std: jax.Array
    fixed_point: jax.Array
    mf: jax.Array


def retrieval_map(key, J, xi, m0s, *, mask=None, n_samples: int = 1, exact: bool = True,
                  mode: str = "async", max_sweeps=100, bias=None, T=None,
                  method: str = "auto", block: int = 16) -> RetrievalMap:
    """Retrieval map m_f(m0): start at overlap m0 with each pattern, relax, measure the final
    overlap with the same pattern (docs/conventions.md §4; Serricchio et al. 2025, Fig. 2).

    J: (N, N) couplings, relaxed by `hopjax.dynamics.relax` with the dynamics options given
    here; or a relax function ``relax_fn(key, sigma) -> Relaxed`` (any dynamics: a dense or
    modern memory, a centred rule, your own; sigma (..., N) ±1; it must return ``sigma`` and
    ``status`` as `hopjax.dynamics.relax` does), which then takes no dynamics options here.
    xi: (P, N) patterns (or features, for a feature retrieval map); m0s: (M,) may be traced;
    mask: (P,) bool for padded pattern arrays. All M·P·n_samples trajectories relax as one
    batch (sharing each sweep's visiting order).

    >>> import jax, jax.numpy as jnp
    >>> from hopjax import patterns, rules
    >>> xi = patterns.random(jax.random.key(0), 10, 200)
    >>> rm = retrieval_map(jax.random.key(1), rules.hebb(xi), xi, jnp.array([0.4, 1.0]))
    >>> rm.mean.tolist()
    [1.0, 1.0]
    """
    if callable(J):
        given = {k: v for k, v in (("mode", mode != "async"), ("max_sweeps", max_sweeps != 100),
                                   ("bias", bias is not None), ("T", T is not None),
                                   ("method", method != "auto"), ("block", block != 16)) if v}
        if given:
            raise TypeError(f"retrieval_map: with a relax function, set the dynamics options "
                            f"({', '.join(given)}) in that function instead")
        relax_fn = J
    else:
        check_square(J)

        def relax_fn(k, sigma):
            return dynamics.relax(k, J, sigma, mode=mode, max_sweeps=max_sweeps, bias=bias,
                                  T=T, method=method, block=block)
    check_spins(xi, "xi")
    check_overlap(m0s, "m0s")
    m0s = jnp.atleast_1d(jnp.asarray(m0s, jnp.float32))
    M, (P, N) = m0s.shape[0], xi.shape
    k_cue, k_dyn = jax.random.split(key)
    start = jnp.broadcast_to(jnp.asarray(xi, jnp.float32)[None, :, None, :], (M, P, n_samples, N))

    # pattern μ's cues come from fold_in(k_cue, μ): a padded pattern array gives the real
    # patterns the same cues as an unpadded one
    def cues(mu, x):
        x = jnp.broadcast_to(x, (M, n_samples, N))
        return flip_to_overlap(jax.random.fold_in(k_cue, mu), x, m0s[:, None], exact=exact)

    cue = jnp.moveaxis(jax.vmap(cues)(jnp.arange(P), jnp.asarray(xi, jnp.float32)), 0, 1)
    out = relax_fn(k_dyn, cue)
    mf = fixed_mean(out.sigma * start, axis=-1)
    real = jnp.ones((P,), bool) if mask is None else jnp.asarray(mask, bool)
    real = jnp.broadcast_to(real[None, :, None], mf.shape)
    mean, std = masked_mean_std(mf, real, axis=(1, 2))
    fixed, _ = masked_mean_std((out.status == dynamics.FIXED_POINT).astype(jnp.float32), real,
                               axis=(1, 2))
    return RetrievalMap(m0s, mean, std, fixed, mf)


def basin_size(m0s, mf_mean, threshold: float = 0.95):
    """Basin radius read from a retrieval map: the largest fraction of flipped spins
    (1 − m0)/2 such that m_f >= threshold at that m0 and at every larger m0 of the grid
    (the plateau). 0 when only m0 = 1 retrieves; NaN when no m0 does. Batch dims lead:
    mf_mean (..., M) with m0s (M,)."""
    m0s = jnp.asarray(m0s, jnp.float32)
    order = jnp.argsort(-m0s)
    ok = jnp.take(mf_mean, order, axis=-1) >= threshold
    plateau = jnp.cumprod(ok.astype(jnp.int32), axis=-1).astype(bool)
    edge = jnp.min(jnp.where(plateau, m0s[order], jnp.inf), axis=-1)
    return jnp.where(jnp.isfinite(edge), (1.0 - edge) / 2.0, jnp.nan)
