"""Replica-symmetric mean-field theory of the Hebb Hopfield network, to overlay on simulations.

Amit, Gutfreund and Sompolinsky (AGS), "Storing infinite numbers of patterns in a spin-glass
model of neural networks", Phys. Rev. Lett. 55, 1530 (1985), and "Statistical mechanics of
neural networks near saturation", Ann. Phys. 173, 30 (1987). Couplings J = (1/N) Ξᵀ Ξ (zero
diagonal), load α = P/N, temperature T = 1/β (Glauber dynamics, ``docs/conventions.md`` §1).

Replica-symmetric (RS) saddle point with one condensed pattern (overlap m), spin-glass order
parameter q and the noise r produced by the P − 1 uncondensed patterns (z ~ N(0, 1)):

    m = ⟨tanh β(m + √(αr) z)⟩_z,   q = ⟨tanh² β(m + √(αr) z)⟩_z,   r = q / (1 − C)²,

with C = β(1 − q). At T = 0 (β → ∞, q → 1, C finite):

    m = erf(m / √(2αr)),   C = √(2 / (παr)) exp(−m² / (2αr)),   r = 1 / (1 − C)².

What is here (numpy, float64, vectorised over broadcast arrays of α and T):

- `solve_rs(alpha, T)`: damped fixed-point iteration from the retrieval state (m = 1, q = 1),
  returning m, q, r, a converged flag and the number of iterations (`RSSolution`).
- `overlap(alpha, T)`: the retrieval overlap m, 0 where no retrieval solution exists.
- `alpha_c(T)`: largest load with a retrieval solution (m > m_min) at temperature T, by
  bisection with continuation; ``alpha_c(0.0)`` ≈ 0.1379 (AGS 0.138), with m ≈ 0.967 there.
- `retrieval_line(alphas)`: T_M(α), the largest temperature with a retrieval solution (the
  spinodal of the retrieval state): T_M → 1 as α → 0 (AGS: T_M ≈ 1 − 1.95 √α) and T_M → 0 at
  α_c(0).
- `glass_temperature(alpha)`: T_g(α) = 1 + √α, where the paramagnet becomes unstable.
- `gaussian_averages(m, sigma, T)`: ⟨tanh⟩, ⟨tanh²⟩ and β⟨sech²⟩ over z, accurate at every T.

The random-features Hopfield model (Negri et al., PRL 131, 257301, 2023: storage line α_s(α_D)
and learning line α_l(α_D) at T = 0) is in `hopjax.theory_rf`; its public names are
re-exported here (`rf_storage_threshold`, `rf_learning_threshold`, `solve_rf`, `rf_overlap`,
`RFSolution`).

The thermodynamic transition T_c(α) (below it retrieval states are global minima of the free
energy; α < 0.051 at T = 0, AGS) and the instability of replica symmetry are not computed here.
The RS retrieval line is slightly re-entrant at low T: α_c(T) rises from 0.13791 at T = 0 to
≈ 0.13819 at T ≈ 0.023 before decreasing (an RS feature: the replica-symmetric theory is not
exact at low T), so `retrieval_line` just above α_c(0) is nonzero (T_M(0.138) ≈ 0.042).

Gaussian averages: Gauss–Hermite quadrature (`numpy.polynomial.hermite_e.hermegauss`, 128
nodes) while the integrand is smooth on the scale of z (βσ ≤ 1, σ = √(αr)); at lower T, where
tanh β(m + σz) is a near step that Gauss–Hermite cannot resolve, the step is integrated exactly
(an erf) and the smooth remainder by Gauss–Legendre quadrature in u = β(m + σz). Both agree to
~1e-12 everywhere, and the low-T form tends continuously to the T = 0 equations above.

Example:

>>> from hopjax import theory
>>> round(float(theory.alpha_c(0.0)), 3)
0.138
>>> sol = theory.solve_rs(0.05, 0.0)
>>> bool(sol.converged), round(float(sol.m), 4)
(True, 1.0)
>>> [round(float(t), 3) for t in theory.retrieval_line([1e-4, 0.05])]
[0.98, 0.542]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

__all__ = ["RSSolution", "solve_rs", "overlap", "alpha_c", "retrieval_line",
           "glass_temperature", "gaussian_averages", "erf",
           # random-features Hopfield model (hopjax.theory_rf), re-exported lazily below
           "RFSolution", "solve_rf", "rf_overlap", "rf_storage_threshold",
           "rf_learning_threshold"]

# Gauss–Hermite (probabilists') nodes and weights normalised to the standard normal density.
_GH_Z, _GH_W = hermegauss(128)
_GH_W = _GH_W / np.sqrt(2.0 * np.pi)

# Gauss–Legendre on u in [0, _U_MAX] for the low-temperature form (tanh u − 1 and sech² u
# are below 1e-17 beyond u = 20).
_U_MAX = 20.0
_GL_X, _GL_W = leggauss(64)
_GL_U = (_GL_X + 1.0) * _U_MAX / 2.0
_GL_WU = _GL_W * _U_MAX / 2.0
_G_U = -2.0 / (np.exp(2.0 * _GL_U) + 1.0)                       # tanh u − sign u, u > 0
_SECH2_U = 4.0 * np.exp(-2.0 * _GL_U) / (1.0 + np.exp(-2.0 * _GL_U)) ** 2

# Gauss–Legendre for erf(x) = (2/√π) ∫_0^x exp(−t²) dt, |x| clipped at 6.5 (erf = 1 there).
_ERF_X, _ERF_W = leggauss(64)

# βσ at which the Gaussian averages switch from Gauss–Hermite to the low-temperature form.
_SWITCH = 1.0
# Largest C = β(1 − q) used in r = q / (1 − C)² (physical solutions have C < 1).
_C_MAX = 1.0 - 1e-12


class RSSolution(NamedTuple):
    """Replica-symmetric order parameters at (α, T); every field has the broadcast shape.

    m: overlap with the condensed pattern; q: spin-glass (Edwards–Anderson) parameter;
    r: noise variance per unit load from the uncondensed patterns; converged: residual below
    tol; n_iter: iterations used.
    """

    m: np.ndarray
    q: np.ndarray
    r: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def erf(x):
    """Error function in numpy float64 (absolute error ~1e-14), without scipy."""
    x = np.asarray(x, dtype=np.float64)
    a = np.minimum(np.abs(x), 6.5)[..., None]
    t = a * (_ERF_X + 1.0) / 2.0
    return np.sign(x) * np.sum(_ERF_W * np.exp(-t * t), axis=-1) * a[..., 0] / np.sqrt(np.pi)


def _sech2(x):
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def gaussian_averages(m, sigma, T):
    """Gaussian averages of the RS equations at temperature T = 1/β.

    Returns (M, q, C) with M = ⟨tanh β(m + σz)⟩, q = ⟨tanh² β(m + σz)⟩ and
    C = β ⟨sech² β(m + σz)⟩ = β(1 − q), z ~ N(0, 1), broadcast over m, sigma (≥ 0), T (≥ 0).
    At T = 0: M = erf(m/(√2σ)), q = 1, C = √(2/π)/σ · exp(−m²/(2σ²)).

    >>> M, q, C = gaussian_averages(0.5, 0.0, 0.5)      # no noise: tanh(m/T)
    >>> round(float(M), 6), round(float(q), 6)
    (0.761594, 0.580026)
    """
    m, sigma, T = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (m, sigma, T)))
    out = _averages_flat(m.ravel(), sigma.ravel(), T.ravel())
    return tuple(x.reshape(m.shape) for x in out)


def _avg_zero(m, sigma):
    pos = sigma > 0.0
    s = np.where(pos, sigma, 1.0)
    M = np.where(pos, erf(m / (np.sqrt(2.0) * s)), np.sign(m))
    C = np.where(pos, np.sqrt(2.0 / np.pi) / s * np.exp(-m**2 / (2.0 * s**2)), 0.0)
    return M, np.ones_like(m), C


def _avg_smooth(m, sigma, beta):                        # Gauss–Hermite in z
    x = beta[:, None] * (m[:, None] + sigma[:, None] * _GH_Z)
    s2 = _sech2(x) @ _GH_W
    return np.tanh(x) @ _GH_W, 1.0 - s2, beta * s2


def _avg_cold(m, sigma, beta):                          # erf step + Gauss–Legendre in u
    mu, sd = (beta * m)[:, None], (beta * sigma)[:, None]
    norm = 1.0 / (sd * np.sqrt(2.0 * np.pi))
    p_pos = norm * np.exp(-0.5 * ((_GL_U - mu) / sd) ** 2)     # density of u = β(m + σz)
    p_neg = norm * np.exp(-0.5 * ((_GL_U + mu) / sd) ** 2)
    M = erf(m / (np.sqrt(2.0) * sigma)) + (_G_U * (p_pos - p_neg)) @ _GL_WU
    s2 = (_SECH2_U * (p_pos + p_neg)) @ _GL_WU
    return M, 1.0 - s2, beta * s2


def _averages_flat(m, sigma, T):
    zero = T <= 0.0
    beta = 1.0 / np.where(zero, 1.0, T)
    smooth = beta * sigma <= _SWITCH
    kind = np.where(zero, 0, np.where(smooth, 1, 2))
    funcs = (lambda mm, ss, bb: _avg_zero(mm, ss), _avg_smooth, _avg_cold)
    first = kind[0] if kind.size else 0
    if np.all(kind == first):                           # common case: one method for all
        return funcs[first](m, sigma, beta)
    M, q, C = np.empty_like(m), np.empty_like(m), np.empty_like(m)
    for k in range(3):
        sel = kind == k
        if np.any(sel):
            M[sel], q[sel], C[sel] = funcs[k](m[sel], sigma[sel], beta[sel])
    return M, q, C


def _iterate(alpha, T, m, r, *, damping, tol, max_iter, stop_below=None):
    """Damped fixed-point iteration on flat arrays (m, r); updates only the active entries.

    With stop_below, an entry whose m falls below it is stopped (retrieval lost) and left
    unconverged.
    """
    m, r = m.copy(), r.copy()
    n = m.size
    converged = np.zeros(n, dtype=bool)
    n_iter = np.zeros(n, dtype=np.int64)
    active = np.arange(n)
    step = 1.0 - damping
    for it in range(1, max_iter + 1):
        if active.size == 0:
            break
        a, ma, ra = alpha[active], m[active], r[active]
        M, q, C = _averages_flat(ma, np.sqrt(a * ra), T[active])
        r_new = np.maximum(q, 0.0) / (1.0 - np.minimum(C, _C_MAX)) ** 2
        res = np.maximum(np.abs(M - ma), np.abs(r_new - ra) / (1.0 + ra))
        m[active] = ma + step * (M - ma)
        r[active] = ra + step * (r_new - ra)
        n_iter[active] = it
        done = res < tol
        converged[active[done]] = True
        if stop_below is not None:
            done |= m[active] < stop_below
        active = active[~done]
    return m, r, converged, n_iter


def _q_of(alpha, T, m, r):
    _, q, _ = _averages_flat(m, np.sqrt(alpha * r), T)
    return np.clip(q, 0.0, 1.0)


def _prepare(alpha, T):
    alpha, T = np.broadcast_arrays(np.asarray(alpha, dtype=np.float64),
                                   np.asarray(T, dtype=np.float64))
    if np.any(alpha < 0) or np.any(T < 0) or not (np.all(np.isfinite(alpha))
                                                  and np.all(np.isfinite(T))):
        raise ValueError("alpha and T must be finite and >= 0")
    return alpha.shape, alpha.ravel(), T.ravel()


def solve_rs(alpha, T, *, m0=1.0, r0=1.0, damping=0.5, tol=1e-11, max_iter=20000):
    """Solve the AGS replica-symmetric equations at load alpha and temperature T.

    Damped fixed-point iteration x ← damping·x + (1 − damping)·F(x) on (m, r), started from
    the retrieval state m = m0 = 1, q = 1 (r = r0 = 1), so that it lands on the retrieval
    solution when one exists (otherwise on the spin-glass or paramagnetic one, m ≈ 0).
    Converged when max(|Δm|, |Δr|/(1 + r)) < tol for the undamped step. Near the edge of the
    retrieval phase (T_M, α_c) convergence slows down and may hit max_iter.

    alpha, T: broadcastable arrays (T = 0 uses the β → ∞ equations). Returns `RSSolution`
    with the broadcast shape.

    >>> sol = solve_rs([0.05, 0.13], 0.0)
    >>> [round(float(x), 4) for x in sol.m]
    [1.0, 0.9872]
    """
    if not 0.0 <= damping < 1.0:
        raise ValueError("damping must be in [0, 1)")
    shape, a, t = _prepare(alpha, T)
    m_init = np.broadcast_to(np.asarray(m0, dtype=np.float64), shape).ravel()
    r_init = np.broadcast_to(np.asarray(r0, dtype=np.float64), shape).ravel()
    m, r, conv, n_it = _iterate(a, t, m_init, r_init, damping=damping, tol=tol,
                                max_iter=max_iter)
    q = _q_of(a, t, m, r)
    return RSSolution(m.reshape(shape), q.reshape(shape), r.reshape(shape),
                      conv.reshape(shape), n_it.reshape(shape))


def overlap(alpha, T, *, m_min=0.1, **solver_options):
    """Retrieval overlap m(α, T) of the RS theory (AGS); 0 where no retrieval solution with
    m > m_min exists. Broadcast over alpha and T.

    >>> round(float(overlap(1e-4, 0.5)), 4)    # Curie–Weiss: m = tanh(m/T)
    0.9575
    """
    sol = solve_rs(alpha, T, **solver_options)
    return np.where(sol.m > m_min, sol.m, 0.0)


def _residual(alpha, T, m, r):
    """G(m, r) = F(m, r) − (m, r) for the RS map F; flat arrays."""
    M, q, C = _averages_flat(m, np.sqrt(alpha * r), T)
    return M - m, np.maximum(q, 0.0) / (1.0 - np.minimum(C, _C_MAX)) ** 2 - r


def _newton(alpha, T, m, r, *, tol=1e-12, max_steps=100, patience=8):
    """Newton's method on G(m, r) = 0 (finite-difference Jacobian, bounded steps) on flat
    arrays, from a nearby retrieval solution (continuation). Returns (m, r, converged).

    Used to decide whether a retrieval solution exists: unlike the fixed-point iteration it
    does not slow down near the edge of the retrieval phase (a saddle-node), where it still
    converges (linearly) from the stable side; beyond the edge there is no root near the
    branch and it does not converge. Either root of the pair that meets at the edge counts.
    """
    m, r = m.copy(), r.copy()
    converged = np.zeros(m.size, dtype=bool)
    active = np.arange(m.size)
    best = np.full(m.size, np.inf)                       # smallest residual so far
    stalled = np.zeros(m.size, dtype=np.int64)           # steps since it last halved
    for _ in range(max_steps):
        if active.size == 0:
            break
        a, t, ma, ra = alpha[active], T[active], m[active], r[active]
        g1, g2 = _residual(a, t, ma, ra)
        res = np.maximum(np.abs(g1), np.abs(g2) / (1.0 + ra))
        done = res < tol
        converged[active[done]] = True
        improved = res < 0.5 * best[active]
        best[active] = np.where(improved, res, best[active])
        stalled[active] = np.where(improved, 0, stalled[active] + 1)
        keep = ~done & (stalled[active] < patience)      # no root nearby: give up
        active, a, t, ma, ra, g1, g2 = (x[keep] for x in (active, a, t, ma, ra, g1, g2))
        if active.size == 0:
            break
        hm = 1e-7
        hr = 1e-7 * (1.0 + ra)
        g1m, g2m = _residual(a, t, ma - hm, ra)          # m < 1 side keeps m in range
        g1r, g2r = _residual(a, t, ma, ra + hr)
        j11, j21 = (g1 - g1m) / hm, (g2 - g2m) / hm
        j12, j22 = (g1r - g1) / hr, (g2r - g2) / hr
        det = j11 * j22 - j12 * j21
        det = np.where(np.abs(det) < 1e-300, 1e-300, det)
        dm = (-g1 * j22 + g2 * j12) / det
        dr = (-g2 * j11 + g1 * j21) / det
        step = np.maximum(np.abs(dm) / 0.1, np.abs(dr) / (0.5 * (1.0 + ra)))  # bounded steps
        scale = 1.0 / np.maximum(1.0, step)
        m[active] = np.clip(ma + scale * dm, 1e-6, 1.0)
        r[active] = np.maximum(ra + scale * dr, 1e-12)
    return m, r, converged


def _retrieval_exists(a, t, m, r, *, m_min):
    """Continuation step: look for a retrieval solution (m > m_min) near (m, r)."""
    m, r, conv = _newton(a, t, m, r)
    return conv & (m > m_min), m, r


def _solve_fp(a, t, *, damping=0.5, max_iter=20000):
    m, r, _, _ = _iterate(a, t, np.ones(a.size), np.ones(a.size), damping=damping, tol=1e-11,
                          max_iter=max_iter)
    return m, r


def _start(a, t, m_min):
    """Retrieval solution from m = 1 (fixed point, then Newton polish) and where it exists."""
    m, r = _solve_fp(a, t, max_iter=3000)
    ok, m2, r2 = _retrieval_exists(a, t, m, r, m_min=m_min)
    return ok, np.where(ok, m2, m), np.where(ok, r2, r)


def _bisect(lo, hi, ok, m_lo, r_lo, trial, tol):
    """Vectorised bisection of the edge of the retrieval phase, continuing each trial from the
    retrieval solution at lo; trial(idx, mid, m, r) -> (exists, m, r)."""
    idx = np.nonzero(ok)[0]
    while idx.size and np.max(hi[idx] - lo[idx]) > tol:
        mid = 0.5 * (lo[idx] + hi[idx])
        yes, m_new, r_new = trial(idx, mid, m_lo[idx], r_lo[idx])
        lo[idx] = np.where(yes, mid, lo[idx])
        hi[idx] = np.where(yes, hi[idx], mid)
        m_lo[idx] = np.where(yes, m_new, m_lo[idx])
        r_lo[idx] = np.where(yes, r_new, r_lo[idx])
    return lo


def alpha_c(T=0.0, *, m_min=0.1, xtol=1e-9, alpha_max=0.2):
    """Storage capacity α_c(T): the largest load with an RS retrieval solution (m > m_min).

    Bisection in α on [0, alpha_max] (vectorised over T); each trial is continued (Newton)
    from the retrieval solution at the largest load known to retrieve, the first one found by
    fixed-point iteration from m = 1. AGS: α_c(0) = 0.138 (0.1379), with m ≈ 0.967 at α_c;
    α_c(T) decreases to 0 as T → 1. Returns 0 where even α → 0 has no retrieval (T ≳ 1).

    >>> round(float(alpha_c(0.0)), 4)
    0.1379
    """
    shape, _, t = _prepare(0.0, T)
    n = t.size
    ok, m_lo, r_lo = _start(np.zeros(n), t, m_min)
    m_hi, _ = _solve_fp(np.full(n, float(alpha_max)), t)
    if np.any(ok & (m_hi > m_min)):
        raise ValueError("retrieval persists at alpha_max; increase alpha_max")

    def trial(idx, mid, m, r):
        return _retrieval_exists(mid, t[idx], m, r, m_min=m_min)

    lo = _bisect(np.zeros(n), np.full(n, float(alpha_max)), ok, m_lo, r_lo, trial, xtol)
    return np.where(ok, lo, 0.0).reshape(shape)


def retrieval_line(alphas, *, m_min=0.1, ttol=1e-9, reentrance_scan=None):
    """Retrieval (spinodal) line T_M(α) of the RS theory (AGS): the largest temperature at
    which a retrieval solution (m > m_min, continued from m = 1) exists.

    Bisection in T on [T_lo, 1] (vectorised over alphas); each trial is continued (Newton)
    from the retrieval solution at the highest temperature known to retrieve. T_lo = 0 where
    α < α_c(0); above it T_lo is looked for on the grid reentrance_scan (default 0.002 … 0.1),
    to follow the small RS re-entrance, and T_M = 0 where none retrieves. At α = 0, T_M is
    where the Curie–Weiss overlap m = tanh(m/T) equals m_min (just below 1).
    Limits: T_M → 1 as α → 0 (AGS: T_M ≈ 1 − 1.95 √α), T_M → 0 at α_c(0) ≈ 0.138.

    >>> [round(float(x), 3) for x in retrieval_line([0.01, 0.1])]
    [0.801, 0.315]
    """
    shape, a, _ = _prepare(alphas, 0.0)
    n = a.size
    lo = np.zeros(n)
    ok, m_lo, r_lo = _start(a, lo, m_min)
    scan = (np.concatenate([np.linspace(0.002, 0.02, 10), np.linspace(0.03, 0.1, 8)])
            if reentrance_scan is None else np.asarray(reentrance_scan, dtype=np.float64))
    for t_try in scan:                       # α slightly above α_c(0): RS re-entrance
        idx = np.nonzero(~ok)[0]
        if idx.size == 0:
            break
        yes, m_new, r_new = _start(a[idx], np.full(idx.size, t_try), m_min)
        good = idx[yes]
        ok[good], lo[good], m_lo[good], r_lo[good] = True, t_try, m_new[yes], r_new[yes]

    def trial(idx, mid, m, r):
        return _retrieval_exists(a[idx], mid, m, r, m_min=m_min)

    lo = _bisect(lo, np.ones(n), ok, m_lo, r_lo, trial, ttol)
    return np.where(ok, lo, 0.0).reshape(shape)


def glass_temperature(alpha):
    """Spin-glass transition T_g(α) = 1 + √α (AGS): below it the paramagnet (m = q = 0) is
    unstable and q > 0.

    >>> float(glass_temperature(0.04))
    1.2
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    if np.any(alpha < 0):
        raise ValueError("alpha must be >= 0")
    return 1.0 + np.sqrt(alpha)


_RF_NAMES = ("RFSolution", "solve_rf", "rf_overlap", "rf_storage_threshold",
             "rf_learning_threshold")


def __getattr__(name):
    """Lazy re-export of hopjax.theory_rf (which imports erf from here: no import cycle)."""
    if name in _RF_NAMES:
        from hopjax import theory_rf
        return getattr(theory_rf, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
