"""Replica-symmetric T = 0 theory of the random-features Hopfield model: storage and learning.

Negri, Lauditi, Perugini, Lucibello, Malatesta, "Storage and learning phase transitions in the
random-features Hopfield model", Phys. Rev. Lett. 131, 257301 (2023), arXiv:2303.16880; their
saddle-point code is github.com/ArtLabBocconi/random_feature_hopfield (``saddle_point/``).

Model: D = α_D N binary features f^k ∈ {±1}^N, P = α N examples
ξ^μ = sign(Σ_k c^μ_k f^k / √D) with Gaussian c, Hebb couplings J = (1/N) Σ_μ ξ^μ ξ^μᵀ (zero
diagonal), T = 0 (zero-temperature dynamics), limit N → ∞ at fixed α = P/N, α_D = D/N.
Uncondensed examples are replaced by their Gaussian equivalent κ1 Σ_k c_k f^k/√D + κ* η
(κ1² = 2/π, κ*² = 1 − 2/π for sign). Two retrieval states:

- ``state="example"``: close to the example ξ¹ (overlap m = ξ¹·s/N); it exists below the
  storage line α_s(α_D) (`rf_storage_threshold`), which tends to AGS's α_c = 0.1379 as
  α_D → ∞.
- ``state="feature"``: close to the feature f¹ (m = f¹·s/N); it exists above the learning
  line α_l(α_D) (`rf_learning_threshold`), which diverges as α_D → α_c = 0.1379 from below,
  like 0.23/(α_c − α_D) (for α → ∞ the Hebb matrix is a Hopfield model of the features at
  load α_D); α_l ≈ 9 α_D at small α_D.

Order parameters (names as in the authors' code; ``dq`` is AGS's C = β(1 − q) and ``qh`` is
AGS's r: the noise on the local field has variance α·qh): δq, q̂, δp = β(p_d − p), p̂, the
latent self-overlap p_d, p̂_d, the overlap m and the single-site signal m̂. With a = α/α_D,
K1 = κ1², KS = κ*², L = 1 − K1 δp − KS δq and K = 1 − a δq p̂, the T = 0 equations are

    p̂ = K1 / L,             p̂_d = K1 (KS + K1 p_d) / L²,      δp = δq / K,
    p_d = m_lat²/α_D + (1 + a δq² p̂_d) / K²,
    q̂ = KS (KS + K1 p_d) / L² + (p̂_d + a p̂²) / K²,
    m = ⟨erf(h / √(2α q̂))⟩,  δq = ⟨√(2/(π α q̂)) exp(−h² / (2α q̂))⟩,

(α_D → ∞: δp = δq, p_d = 1, q̂ = 1/(1 − δq)², AGS) with the single-site field h and the
condensed latent overlap m_lat:

- feature: h = m̂ = a p̂ m, m_lat = m (the condensed feature is a direction of latent space);
- example, ``equations="paper"``: h = m, m_lat = 0 (the authors' equations);
- example, ``equations="corrected"``: h = m + m̂ λ, averaged over λ ~ N(0, 1) (ξ¹ = sign λ,
  λ = Σ_k c¹_k f^k/√D the example's pre-activation), m̂ = a p̂ m_λ, m_lat = m_λ = ⟨λ sign h⟩:
  a state aligned with ξ¹ also has the latent component F s/√N ∝ c¹ of size √N m_λ, which
  enters p_d and the field exactly as a condensed feature does.

``equations="paper"`` reproduces the published lines (Fig. 1A; the authors' tables
``saddle_point/pattern/alphac_pattern.txt`` and ``saddle_point/factor/alphac_factor.txt``)
to < 1 %, using for the feature state their p̂_d = K1 (KS + K1 p_d)/L (``update_dpdh`` in
``saddle_point/factor/hopfield_RF_features_T=0.jl``: L, not the L² of their example code and
of the stationarity of their own feature free energy there). ``equations="corrected"`` uses
L² (learning line 0.6 % higher at α_D = 0.1, 5 % at 0.01) and the m_λ terms, which lower the
storage line at small α_D: α_s ≈ 0.5 α_D instead of ≈ 0.37 √α_D (0.0049 instead of 0.0364 at
α_D = 0.01, 0.105 instead of 0.125 at 1). Zero-temperature simulations side with the
corrected storage line: the authors' N = 10000 run (``run/magnetisations_aD0.01.txt``) has
lost the example at α = 0.0112 for α_D = 0.01 (m = 0.07), and at α_D = 0.1, N = 3000 it is
lost between α = 0.04 and 0.05. The paper's two lines cross at α_D ≈ 0.002; the corrected
ones do not. The default is "paper".

What is here (numpy, float64; vectorised over broadcast arrays; α_D = inf is AGS):
`rf_storage_threshold`, `rf_learning_threshold`, `solve_rf` (order parameters at (α, α_D),
`RFSolution`) and `rf_overlap`. The equations are reduced to the unknowns (m, δq) (and m_λ):
δp is the small root of K1 δp² − b δp + δq (1 − KS δq) = 0, b = 1 − KS δq + K1 δq (1 − a),
and p_d is linear. As in `hopjax.theory`, the retrieval branch is followed by continuation in
α with Newton's method (adaptive steps; from α = 1e-3 α_D up for the example, from α = 1e6
down for the feature, found there by damped fixed-point iteration from m = 1), and a
threshold is the bisected end of the branch (in α for α_s, in log α for α_l; α_l = ∞ where
there is no feature state at α = 1e6). The λ average is Gauss–Legendre on [0, 10] (48 nodes).

Example:

>>> from hopjax import theory_rf
>>> round(float(theory_rf.rf_storage_threshold(1.0)), 4)
0.1253
>>> round(float(theory_rf.rf_learning_threshold(0.05)), 3)
0.781
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.polynomial.legendre import leggauss

from .theory import erf

__all__ = ["RFSolution", "solve_rf", "rf_overlap", "rf_storage_threshold",
           "rf_learning_threshold", "KAPPA1_SQ", "KAPPA_STAR_SQ"]

KAPPA1_SQ = 2.0 / np.pi                 # κ1² = ⟨z sign z⟩² for σ = sign
KAPPA_STAR_SQ = 1.0 - 2.0 / np.pi       # κ*² = ⟨sign²⟩ − κ1²
_K1, _KS = KAPPA1_SQ, KAPPA_STAR_SQ
_M_LAMBDA0 = np.sqrt(2.0 / np.pi)       # ⟨|λ|⟩: m_λ when s = ξ¹ exactly

# Half-normal average over λ = |λ| ≥ 0 (Gauss–Legendre on [0, 10]; the density is 1e-22 there;
# 48 nodes agree with 96 to 1e-13 on the integrands here).
_HN_X, _HN_W = leggauss(48)
_HN_L = 5.0 * (_HN_X + 1.0)
_HN_W = 5.0 * _HN_W * np.sqrt(2.0 / np.pi) * np.exp(-_HN_L ** 2 / 2.0)

_EQUATIONS = ("paper", "corrected")
_STATES = ("example", "feature")
_TINY_SIGMA = 1e-150


class RFSolution(NamedTuple):
    """RS order parameters at (α, α_D), T = 0; every field has the broadcast shape.

    m: overlap with the example ξ¹ (state "example") or the feature f¹ ("feature");
    dq: δq = β(1 − q) (AGS's C); qh: q̂, noise variance per unit load (AGS's r);
    dp: δp = β(p_d − p); dph: p̂; pd: p_d, latent self-overlap |F s|²/(N D);
    dphd: p̂_d; mh: the single-site signal (m, a p̂ m, or the λ coefficient a p̂ m_λ of the
    corrected example); m_lambda: overlap with the example's pre-activation λ (corrected
    example; 0 otherwise); exists: the retrieval branch (m > m_min, residual < 1e-12)
    reaches (α, α_D) — where not, the float fields are NaN and m is 0.
    """

    m: np.ndarray
    dq: np.ndarray
    qh: np.ndarray
    dp: np.ndarray
    dph: np.ndarray
    pd: np.ndarray
    dphd: np.ndarray
    mh: np.ndarray
    m_lambda: np.ndarray
    exists: np.ndarray


def _check(state, equations):
    if state not in _STATES:
        raise ValueError(f"state must be one of {_STATES}, not {state!r}")
    if equations not in _EQUATIONS:
        raise ValueError(f"equations must be one of {_EQUATIONS}, not {equations!r}")
    return state, equations, state == "example" and equations == "corrected"


def _latent(alpha, aD, dq, m_lat, squared):
    """Closed-form latent part: (dp, dph, pd, dphd, qh, valid) from δq and m_lat."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = np.where(np.isinf(aD), 0.0, alpha / aD)
        b = 1.0 - _KS * dq + _K1 * dq * (1.0 - a)
        disc = b * b - 4.0 * _K1 * dq * (1.0 - _KS * dq)
        dp = 2.0 * dq * (1.0 - _KS * dq) / (b + np.sqrt(np.maximum(disc, 0.0)))
        L = 1.0 - _K1 * dp - _KS * dq
        dph = _K1 / L
        K = 1.0 - a * dq * dph
        Lp = L * L if squared else L
        den = 1.0 - a * dq * dq * _K1 * _K1 / (Lp * K * K)
        lat = np.where(np.isinf(aD), 0.0, m_lat * m_lat / aD)
        pd = (lat + (1.0 + a * dq * dq * _K1 * _KS / Lp) / (K * K)) / den
        dphd = _K1 * (_KS + _K1 * pd) / Lp
        qh = _KS * (_KS + _K1 * pd) / (L * L) + (dphd + a * dph * dph) / (K * K)
        valid = ((dq >= 0) & (disc >= 0) & (b > 0) & (L > 0) & (K > 0) & (den > 0)
                 & np.isfinite(qh) & (qh > 0))
    return dp, dph, pd, dphd, qh, a, valid


def _map(alpha, aD, x, state, equations):
    """The RS map on flat arrays: x (n, k) -> (F(x) (n, k), details); NaN rows where the
    latent equations have no physical solution. k = 2 (m, δq) or 3 (m, δq, m_λ)."""
    _, _, full = _check(state, equations)
    m, dq = x[:, 0], x[:, 1]
    m_lat = x[:, 2] if full else (m if state == "feature" else np.zeros_like(m))
    squared = not (state == "feature" and equations == "paper")
    dp, dph, pd, dphd, qh, a, valid = _latent(alpha, aD, dq, m_lat, squared)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        sigma = np.maximum(np.sqrt(alpha * np.where(valid, qh, 1.0)), _TINY_SIGMA)
        if full:
            mh = a * dph * m_lat
            sg = sigma[:, None]
            g = m[:, None] + mh[:, None] * _HN_L                     # field / ξ¹, λ ≥ 0
            e = erf(g / (np.sqrt(2.0) * sg))
            gauss = np.sqrt(2.0 / np.pi) / sg * np.exp(-g * g / (2.0 * sg * sg))
            out = np.stack([e @ _HN_W, gauss @ _HN_W, (e * _HN_L) @ _HN_W], axis=1)
        else:
            mh = a * dph * m if state == "feature" else m
            out = np.stack([erf(mh / (np.sqrt(2.0) * sigma)),
                            np.sqrt(2.0 / np.pi) / sigma * np.exp(-mh * mh / (2.0 * sigma ** 2))],
                           axis=1)
    out[~valid] = np.nan
    details = dict(dp=dp, dph=dph, pd=pd, dphd=dphd, qh=qh, mh=mh, valid=valid)
    return out, details


def _scale(alpha, aD, k):
    """Natural scale of each unknown: 1 for m and m_λ, 1/(1 + a) for δq (a δq enters K)."""
    s = np.ones((alpha.size, k))
    with np.errstate(divide="ignore", invalid="ignore"):
        s[:, 1] = 1.0 / (1.0 + np.where(np.isinf(aD), 0.0, alpha / aD))
    return s


def _res_norm(g, s):
    r = np.max(np.abs(g / s), axis=1)
    return np.where(np.isfinite(r), r, np.inf)


def _clip(x, full):
    x = x.copy()
    x[:, 0] = np.clip(x[:, 0], 1e-6, 1.0)
    x[:, 1] = np.maximum(x[:, 1], 0.0)
    if full:
        x[:, 2] = np.clip(x[:, 2], 0.0, _M_LAMBDA0)
    return x


def _start(n, state, equations):
    """The retrieval state at α = 0: m = 1, δq = 0 (and m_λ = ⟨|λ|⟩)."""
    full = _check(state, equations)[2]
    x = np.zeros((n, 3 if full else 2))
    x[:, 0] = 1.0
    if full:
        x[:, 2] = _M_LAMBDA0
    return x


def _fixed_point(alpha, aD, x, state, equations, *, damping=0.5, tol=1e-11, max_iter=3000,
                 m_min=None):
    """Damped fixed-point iteration on flat arrays; entries whose m falls below m_min or
    whose map is undefined are stopped, unconverged."""
    x = x.copy()
    conv = np.zeros(len(x), dtype=bool)
    active = np.arange(len(x))
    for _ in range(max_iter):
        if active.size == 0:
            break
        xa = x[active]
        f, _ = _map(alpha[active], aD[active], xa, state, equations)
        res = _res_norm(f - xa, _scale(alpha[active], aD[active], xa.shape[1]))
        bad = ~np.isfinite(res)
        new = np.where(bad[:, None], xa, xa + (1.0 - damping) * (f - xa))
        x[active] = new
        done = res < tol
        conv[active[done]] = True
        stop = done | bad
        if m_min is not None:
            stop |= new[:, 0] < m_min
        active = active[~stop]
    return x, conv


def _newton(alpha, aD, x, state, equations, *, tol=1e-12, max_steps=60, patience=8):
    """Newton's method (finite-difference Jacobian, bounded steps, backtracking out of the
    region where the latent equations have no solution) on flat arrays, from a nearby
    solution. Returns (x, converged). Like `hopjax.theory`, it still converges at the
    saddle-node edge of a retrieval phase and stalls beyond it."""
    full = _check(state, equations)[2]
    x = x.copy()
    n, k = x.shape
    conv = np.zeros(n, dtype=bool)
    best = np.full(n, np.inf)
    stalled = np.zeros(n, dtype=np.int64)
    active = np.arange(n)
    direction = np.array([-1.0, 1.0, -1.0][:k])          # m, m_λ downward; δq upward
    for _ in range(max_steps):
        if active.size == 0:
            break
        a, d, xa = alpha[active], aD[active], x[active]
        sc = _scale(a, d, k)
        g = _map(a, d, xa, state, equations)[0] - xa
        res = _res_norm(g, sc)
        done = res < tol
        conv[active[done]] = True
        improved = res < 0.5 * best[active]
        best[active] = np.where(improved, res, best[active])
        stalled[active] = np.where(improved, 0, stalled[active] + 1)
        keep = ~done & (stalled[active] < patience) & np.isfinite(res)
        active, a, d, xa, g, sc = (v[keep] for v in (active, a, d, xa, g, sc))
        if active.size == 0:
            break
        J = np.empty((active.size, k, k))                # in the scaled unknowns x / sc
        for j in range(k):
            h = 1e-7 * direction[j] * sc[:, j]
            xp = xa.copy()
            xp[:, j] += h
            J[:, :, j] = ((_map(a, d, xp, state, equations)[0] - xp) - g) / h[:, None]
        J = J * sc[:, None, :] / sc[:, :, None]
        ok = np.all(np.isfinite(J), axis=(1, 2))
        J[~ok] = np.eye(k)
        ok &= np.abs(np.linalg.det(J)) > 1e-300
        J[~ok] = np.eye(k)
        dz = -np.linalg.solve(J, (g / sc)[:, :, None])[:, :, 0]
        dz[~ok] = 0.0
        scale = 1.0 / np.maximum(1.0, np.max(np.abs(dz), axis=1) / 0.1)   # bounded steps
        new = _clip(xa + scale[:, None] * dz * sc, full)
        for _ in range(30):                              # backtrack into the valid region
            bad = ~np.isfinite(_res_norm(_map(a, d, new, state, equations)[0] - new, sc))
            if not np.any(bad):
                break
            scale = np.where(bad, 0.5 * scale, scale)
            new = np.where(bad[:, None], _clip(xa + scale[:, None] * dz * sc, full), new)
        x[active] = new
    return x, conv


# continuation steps in log α: first, largest and smallest ratio between successive loads
_LOG_STEP0, _LOG_STEP_MAX, _LOG_STEP_MIN = np.log(1.5), np.log(2.0), np.log(1.005)


def _retrieval(alpha, aD, x0, state, equations, m_min):
    """Continuation step: is there a retrieval solution (m > m_min) near x0? (Newton.)"""
    x, conv = _newton(alpha, aD, x0, state, equations)
    return conv & (x[:, 0] > m_min), x


def _ladder(aD, target, state, equations, m_min, *, alpha_max=1e6, step0=_LOG_STEP0,
            step_max=_LOG_STEP_MAX, step_min=_LOG_STEP_MIN):
    """Follow the retrieval branch in α by continuation, on flat arrays: the example state up
    from α0 = 1e-3 min(α_D, 1) (where m = 1, δq = 0 is the solution), the feature state down
    from alpha_max (found there by fixed-point iteration from m = 1), in adaptive
    log-steps (×1.5 growing to ×2, halved on a failed Newton continuation), towards target.

    Returns (reached, a_ok, x, a_fail): whether the branch reaches target; the last load on
    the branch (target where reached; NaN where the branch does not exist at the start: no
    feature state at alpha_max) and the solution there; where not reached, the nearest load
    (within a factor 1.005 of a_ok) at which continuation found no retrieval solution."""
    n = aD.size
    up = state == "example"
    x = _start(n, state, equations)
    if up:
        a = np.minimum(1e-3 * np.minimum(aD, 1.0), target)
        ok, x = _retrieval(a, aD, x, state, equations, m_min)
    else:
        a = np.full(n, float(alpha_max))
        x, _ = _fixed_point(a, aD, x, state, equations, max_iter=1000, m_min=m_min)
        ok, x = _retrieval(a, aD, x, state, equations, m_min)
    a_ok = np.where(ok, a, np.nan)
    a_fail = np.where(ok, np.nan, a)
    reached = ok & (a == target)
    step = np.full(n, step0)
    active = np.nonzero(ok & ~reached)[0]
    while active.size:
        sgn = 1.0 if up else -1.0
        trial = a_ok[active] * np.exp(sgn * step[active])
        trial = np.minimum(trial, target[active]) if up else np.maximum(trial, target[active])
        yes, x_new = _retrieval(trial, aD[active], x[active], state, equations, m_min)
        good, badi = active[yes], active[~yes]
        a_ok[good], x[good] = trial[yes], x_new[yes]
        step[good] = np.minimum(step[good] * 1.5, step_max)
        reached[good] = trial[yes] == target[good]
        step[badi] *= 0.5
        gave_up = badi[step[badi] < step_min]
        a_fail[gave_up] = trial[~yes][step[badi] < step_min]
        active = active[~reached[active] & np.isnan(a_fail[active])]
    return reached, a_ok, x, a_fail


def _prepare(*arrays):
    """Broadcast (alpha, alpha_D) or (alpha_D,) to flat float64 arrays; alpha_D > 0 (inf: AGS)."""
    arrs = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in arrays))
    if np.any(np.isnan(arrs[-1])) or np.any(arrs[-1] <= 0):
        raise ValueError("alpha_D must be > 0 (inf gives the AGS limit)")
    return arrs[0].shape, [a.ravel() for a in arrs]


def solve_rf(alpha, alpha_D, *, state="example", equations="paper", m_min=0.1):
    """RS order parameters of the random-features Hopfield model at (α, α_D), T = 0.

    The retrieval solution for ``state`` ("example": close to the stored example ξ¹,
    "feature": close to the feature f¹), followed by continuation in α (Newton) from the
    retrieval state at small α (example: m = 1, δq = 0) or at α = 1e6 (feature); see the module
    docstring for the equations and for ``equations`` ("paper" or "corrected"). Broadcast
    over alpha and alpha_D (α_D = inf gives AGS's solution). Returns `RFSolution`, float64;
    where the branch does not reach α (no retrieval solution with m > m_min), ``exists`` is
    False, m = 0 and the other float fields are NaN.

    >>> sol = solve_rf(0.1, 1.0)
    >>> bool(sol.exists), round(float(sol.m), 4)
    (True, 0.9973)
    """
    _, _, full = _check(state, equations)
    shape, (a, d) = _prepare(alpha, alpha_D)
    if np.any(np.isinf(a)) or np.any(a <= 0):
        raise ValueError("alpha must be finite and > 0")
    n = a.size
    exists, _, x, _ = _ladder(d, a, state, equations, m_min)
    x = np.where(exists[:, None], x, 1.0)
    _, det = _map(a, d, x, state, equations)
    nan = np.where(exists, 0.0, np.nan)

    def field(v):
        return (np.asarray(v, dtype=np.float64) + nan).reshape(shape)

    m_lam = x[:, 2] if full else np.zeros(n)
    return RFSolution(np.where(exists, x[:, 0], 0.0).reshape(shape), field(x[:, 1]),
                      field(det["qh"]), field(det["dp"]), field(det["dph"]), field(det["pd"]),
                      field(det["dphd"]), field(det["mh"]), field(m_lam), exists.reshape(shape))


def rf_overlap(alpha, alpha_D, *, state="example", equations="paper", m_min=0.1):
    """Overlap m(α, α_D) of the RS retrieval state (example or feature), 0 where none exists.

    >>> round(float(rf_overlap(0.3, 0.01, state="feature")), 4)
    0.9999
    """
    return solve_rf(alpha, alpha_D, state=state, equations=equations, m_min=m_min).m


def _bisect(good, bad, x_good, trial, tol, log=False):
    """Vectorised bisection of the edge of existence between loads good (retrieving; x_good
    its solutions, continued at every trial) and bad; returns the retrieving end."""
    good, bad, x_good = good.copy(), bad.copy(), x_good.copy()

    def width(i):
        return np.abs(np.log(bad[i] / good[i])) if log else np.abs(bad[i] - good[i])

    idx = np.arange(good.size)
    idx = idx[width(idx) > tol]
    while idx.size:
        mid = np.sqrt(good[idx] * bad[idx]) if log else 0.5 * (good[idx] + bad[idx])
        yes, x_new = trial(idx, mid, x_good[idx])
        good[idx] = np.where(yes, mid, good[idx])
        bad[idx] = np.where(yes, bad[idx], mid)
        x_good[idx] = np.where(yes[:, None], x_new, x_good[idx])
        idx = idx[width(idx) > tol]
    return good


def _threshold(d, state, equations, m_min, target, tol, log, alpha_max=1e6):
    """End of the retrieval branch (continued towards target), bisected to tol; inf where
    the branch does not exist at its start. Returns (reached target, threshold)."""
    reached, a_ok, x, a_fail = _ladder(d, target, state, equations, m_min, alpha_max=alpha_max)

    def trial(idx, mid, xx):
        return _retrieval(mid, d[idx], xx, state, equations, m_min)

    found = ~reached & np.isfinite(a_ok)
    out = np.full(d.size, np.inf)
    if np.any(found):
        i = np.nonzero(found)[0]
        out[i] = _bisect(a_ok[i], a_fail[i], x[i], lambda j, mid, xx: trial(i[j], mid, xx),
                         tol, log)
    return reached, out


def rf_storage_threshold(alpha_D, *, equations="paper", m_min=0.1, xtol=1e-9, alpha_max=0.2):
    """Storage line α_s(α_D): the largest load with an RS retrieval state close to an example.

    The retrieval branch is continued (Newton, adaptive steps) up in α from α = 1e-3 α_D
    until it ends, then its end is bisected to xtol (vectorised over α_D). α_D = inf gives
    AGS's α_c = 0.1379; α_s increases with α_D. ``equations="paper"``: the published line
    (Fig. 1A: 0.0365 at α_D = 0.01, 0.126 at 1); ``"corrected"``: with the example's latent
    overlap m_λ (0.0049 at 0.01, 0.105 at 1), see the module docstring. Returns float64 with
    the shape of alpha_D (α_D > 0).

    >>> [round(float(a), 4) for a in rf_storage_threshold([0.1, float("inf")])]
    [0.084, 0.1379]
    """
    _check("example", equations)
    shape, (d,) = _prepare(alpha_D)
    reached, out = _threshold(d, "example", equations, m_min, np.full(d.size, float(alpha_max)),
                              xtol, False)
    if np.any(reached):
        raise ValueError("retrieval persists at alpha_max; increase alpha_max")
    return out.reshape(shape)


def rf_learning_threshold(alpha_D, *, equations="paper", m_min=0.1, rtol=1e-9,
                          alpha_max=1e6):
    """Learning line α_l(α_D): the smallest load with an RS retrieval state close to a feature.

    The feature state, found at α = alpha_max by fixed-point iteration from m = 1, is
    continued (Newton, adaptive steps) down in α until it ends, then its end is bisected in
    log α to the relative tolerance rtol (vectorised over α_D). inf where there is no feature
    state at alpha_max: for α_D above ≈ 0.138 (AGS's α_c: as α → ∞ the Hebb matrix is a
    Hopfield model of the features at load α_D), where α_l diverges. ``equations="paper"``:
    the published line (0.093 at α_D = 0.01, 4.1 at 0.1); ``"corrected"``: p̂_d with L²
    (0.098, 4.14), see the module docstring. Returns float64 with the shape of alpha_D.

    >>> [round(float(a), 3) for a in rf_learning_threshold([0.01, 0.1, 0.5])]
    [0.093, 4.115, inf]
    """
    _check("feature", equations)
    shape, (d,) = _prepare(alpha_D)
    reached, out = _threshold(d, "feature", equations, m_min, 1e-4 * np.minimum(d, 1.0),
                              np.log1p(rtol), True, alpha_max=float(alpha_max))
    if np.any(reached):
        raise ValueError("feature retrieval persists at very small alpha")
    return out.reshape(shape)
