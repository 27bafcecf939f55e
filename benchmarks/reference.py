"""Reference implementations the benchmarks compare hopjax against.

* `sync_relax_numpy`: synchronous relaxation, one BLAS matrix product per parallel update
  (numpy / OpenBLAS, all cores), hopjax's tie and stopping rules.
* `async_relax_numba`: exact random-order asynchronous relaxation; local fields kept in memory
  and updated only on flips; ``prange`` over trajectories; the visiting orders are passed in, so
  it follows exactly the trajectories of `hopjax.dynamics.relax`.
* `daydream_run_numba` (one serial run), `daydream_runs_numba` (``prange`` over independent
  runs), `daydream_batch_numba` (K dreams per step, ``prange`` over them): Daydreaming training
  (zero-temperature dreams from uniform random starts, fresh random order each sweep, fields
  updated on flips, J += (ξξᵀ − σσᵀ)/(τN), Frobenius rescaling to the initial norm per epoch). Its random
  numbers come from a per-run xorshift generator, so only rates can be compared with hopjax.

All arithmetic on couplings and fields is float32, like hopjax's default.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

FIXED_POINT, TWO_CYCLE, MAX_SWEEPS = 0, 1, 2  # = hopjax.dynamics


def tie_tolerance(J, bias_max=0.0):
    """The global tie rule 4 N eps max|J| (float32). hopjax's `tie_tolerance` is per spin,
    4 N eps max_j |J_ij|, never larger; the two differ only for a field lying between them,
    which the benchmark workloads do not produce: the identity checks of `benchmarks.run`
    compare the trajectories."""
    J = np.asarray(J, np.float32)
    eps = np.finfo(np.float32).eps
    return np.float32(4 * eps * (J.shape[-1] * np.max(np.abs(J)) + bias_max))


# --------------------------------------------------------------------------- synchronous
def sync_relax_numpy(J, sigma, max_sweeps, tol):
    """Parallel updates σ ← sign(σJ) (|h| <= tol keeps the spin) until every trajectory is at a
    fixed point or in a 2-cycle, or ``max_sweeps`` updates; the whole batch is updated each
    time (same work as hopjax). Returns (sigma, sweeps, status, updates executed)."""
    J = np.asarray(J, np.float32).copy()
    np.fill_diagonal(J, 0.0)
    s = np.array(sigma, np.float32)
    B = s.shape[0]
    prev = np.zeros_like(s)
    active = np.ones(B, bool)
    sweeps = np.zeros(B, np.int32)
    status = np.full(B, MAX_SWEEPS, np.int32)
    t = 0
    while t < max_sweeps and active.any():
        h = s @ J
        new = np.where(h * s < -tol, -s, s)
        new[~active] = s[~active]
        changed = (new != s).any(axis=1)
        cycle = changed & (new == prev).all(axis=1)
        status[active & ~changed] = FIXED_POINT
        status[active & cycle] = TWO_CYCLE
        prev, s = s, new
        active = changed & ~cycle
        sweeps += changed
        t += 1
    return s, sweeps, status, t


# -------------------------------------------------------------------------- asynchronous
@njit(inline="always")
def _fields(J, s, h):
    """h = σJ, row by row (J symmetric)."""
    N = s.shape[0]
    for i in range(N):
        h[i] = 0.0
    for i in range(N):
        si = s[i]
        Ji = J[i]
        for j in range(N):
            h[j] += si * Ji[j]


@njit(inline="always")
def _sweep(J, s, h, order, tol):
    """One exact asynchronous zero-T sweep in ``order``, fields updated on flips only;
    returns whether any spin flipped."""
    N = s.shape[0]
    flipped = False
    for k in range(N):
        i = order[k]
        if h[i] * s[i] < -tol:
            new = -s[i]
            s[i] = new
            d = np.float32(2.0) * new
            Ji = J[i]
            for j in range(N):
                h[j] += d * Ji[j]
            flipped = True
    return flipped


@njit(parallel=True, cache=True, fastmath=False)
def async_relax_numba(J, sigma0, orders, tol, max_sweeps):
    """Exact asynchronous zero-temperature relaxation of each row of sigma0 (B, N) with the
    sweep orders ``orders`` (≥ max_sweeps, N). J (N, N) float32 symmetric with zero diagonal.
    Returns (sigma, sweeps, status)."""
    B, N = sigma0.shape
    sigma = sigma0.copy()
    sweeps = np.zeros(B, np.int32)
    status = np.full(B, MAX_SWEEPS, np.int32)
    for b in prange(B):
        s = sigma[b]
        h = np.zeros(N, np.float32)
        _fields(J, s, h)
        for t in range(max_sweeps):
            if not _sweep(J, s, h, orders[t], tol):
                status[b] = FIXED_POINT
                break
            sweeps[b] += 1
    return sigma, sweeps, status


# --------------------------------------------------------------------------- daydreaming
@njit(inline="always")
def _next(state, r):
    """xorshift64* step on state[r]; returns 64 random bits as uint64."""
    x = state[r]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[r] = x
    return x * np.uint64(2685821657736338717)


@njit(inline="always")
def _below(state, r, n):
    """Uniform integer in [0, n) (multiply-shift on the top 32 bits; bias < n / 2**32)."""
    return np.int64(((_next(state, r) >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(cache=True)
def _dream(J, tol, s, h, perm, state, r, max_sweeps):
    """One zero-temperature dream into s (N,): uniform random start, fields h = σJ, exact
    asynchronous sweeps in a fresh random order (Fisher–Yates) until no spin flips."""
    N = s.shape[0]
    for i in range(N):
        s[i] = np.float32(1.0) if (_next(state, r) >> np.uint64(63)) else np.float32(-1.0)
    _fields(J, s, h)
    sweeps = 0
    for _ in range(max_sweeps):
        for k in range(N):
            perm[k] = k
        for k in range(N - 1, 0, -1):
            m = _below(state, r, k + 1)
            perm[k], perm[m] = perm[m], perm[k]
        if not _sweep(J, s, h, perm, tol):
            break
        sweeps += 1
    return sweeps


@njit(cache=True)
def _update_row(J, i, xi, mu, S, c):
    """Row i of J += c (Σ_k ξ^{μ_k} ξ^{μ_k}ᵀ − Σ_k σ^k σ^kᵀ); returns max_j |J_ij| after it."""
    N = J.shape[1]
    Ji = J[i]
    for k in range(mu.shape[0]):
        x = xi[mu[k]]
        a = c * x[i]
        s = S[k]
        b = c * s[i]
        for j in range(N):
            Ji[j] += a * x[j] - b * s[j]
    m = np.float32(0.0)
    for j in range(N):
        m = max(m, abs(Ji[j]))
    return m


@njit(cache=True)
def _rescale(J, norm0):
    """J *= norm0 / ‖J‖_F (float64 accumulation); returns the new max|J|."""
    acc = 0.0
    for v in J.ravel():
        acc += np.float64(v) * np.float64(v)
    f = np.float32(norm0 / max(np.sqrt(acc), 1e-30))
    m = np.float32(0.0)
    for i in range(J.shape[0]):
        for j in range(J.shape[1]):
            J[i, j] *= f
            m = max(m, abs(J[i, j]))
    return m


@njit(cache=True)
def daydream_run_numba(J, xi, tau, steps, steps_per_epoch, seed, max_sweeps):
    """One Daydreaming run (serial), one dream per step, in place on J (N, N) (start: Hebb
    1/N), rescaled to its initial Frobenius norm every ``steps_per_epoch`` steps. Returns the
    total number of sweeps of the dreams."""
    N = J.shape[0]
    P = xi.shape[0]
    eps = np.float32(np.finfo(np.float32).eps)
    acc = 0.0
    for v in J.ravel():
        acc += np.float64(v) * np.float64(v)
    norm0 = np.sqrt(acc)
    c = np.float32(1.0 / (tau * N))
    state = np.array([np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1)])
    S = np.empty((1, N), np.float32)
    h = np.empty(N, np.float32)
    perm = np.empty(N, np.int64)
    mu = np.empty(1, np.int64)
    jmax = np.float32(np.max(np.abs(J)))
    total = 0
    for t in range(steps):
        tol = np.float32(4.0) * eps * np.float32(N) * jmax
        total += _dream(J, tol, S[0], h, perm, state, 0, max_sweeps)
        mu[0] = _below(state, 0, P)
        jmax = np.float32(0.0)
        for i in range(N):
            jmax = max(jmax, _update_row(J, i, xi, mu, S, c))
        if (t + 1) % steps_per_epoch == 0:
            jmax = _rescale(J, norm0)
    return total


@njit(parallel=True, cache=True)
def daydream_runs_numba(J0, xi, tau, steps, steps_per_epoch, seeds, max_sweeps):
    """R independent runs of `daydream_run_numba` from J0, prange over the runs. Returns
    (J (R, N, N), total sweeps of the dreams per run)."""
    R = seeds.shape[0]
    N = J0.shape[0]
    Js = np.empty((R, N, N), np.float32)
    total = np.zeros(R, np.int64)
    for r in prange(R):
        Js[r] = J0
        total[r] = daydream_run_numba(Js[r], xi, tau, steps, steps_per_epoch, seeds[r], max_sweeps)
    return Js, total


@njit(parallel=True, cache=True)
def daydream_batch_numba(J0, xi, tau, steps, steps_per_epoch, seed, K, max_sweeps):
    """One Daydreaming run with K dreams per step (K = 1: the paper's algorithm): the K dreams
    relax in parallel (prange), then J += (Σ ξξᵀ − Σ σσᵀ)/(τNK) row-parallel; rescaled to
    ‖J0‖_F every ``steps_per_epoch`` steps. Returns (J, total sweeps of the dreams)."""
    N = J0.shape[0]
    P = xi.shape[0]
    eps = np.float32(np.finfo(np.float32).eps)
    norm0 = np.sqrt(np.sum(J0.astype(np.float64) ** 2))
    c = np.float32(1.0 / (tau * N * K))
    J = J0.copy()
    state = np.empty(K + 1, np.uint64)
    for k in range(K + 1):
        state[k] = (np.uint64(seed) * np.uint64(K + 1) + np.uint64(k)) * np.uint64(0x9E3779B97F4A7C15) | np.uint64(1)
    S = np.empty((K, N), np.float32)
    H = np.empty((K, N), np.float32)
    perm = np.empty((K, N), np.int64)
    mu = np.empty(K, np.int64)
    sw = np.zeros(K, np.int64)
    rowmax = np.zeros(N, np.float32)
    jmax = np.float32(np.max(np.abs(J)))
    for t in range(steps):
        tol = np.float32(4.0) * eps * np.float32(N) * jmax
        for k in prange(K):
            sw[k] += _dream(J, tol, S[k], H[k], perm[k], state, k, max_sweeps)
        for k in range(K):
            mu[k] = _below(state, K, P)
        for i in prange(N):
            rowmax[i] = _update_row(J, i, xi, mu, S, c)
        jmax = np.max(rowmax)
        if (t + 1) % steps_per_epoch == 0:
            jmax = _rescale(J, norm0)
    return J, sw.sum()
