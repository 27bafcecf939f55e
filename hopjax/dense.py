"""Dense associative memories: polynomial (Krotov–Hopfield) and exponential (Demircigil et al.).

Energy E(σ) = −Σ_μ F(ξ^μ·σ) over stored patterns ξ (P, N) (rows, as everywhere in hopjax):

* ``F="poly"``: F(x) = x^a (Krotov & Hopfield, "Dense associative memory for pattern
  recognition", NeurIPS 2016). a = 2 is the classical Hebb network; capacity grows like N^(a−1).
* ``F="rectified"``: F(x) = x^a for x > 0, else 0 (same paper; the rectified polynomial).
* ``F="exp"``: F(x) = exp(x) (Demircigil, Heusel, Löwe, Upgang, Vermet, "On a model of
  associative memory with huge storage capacity", J. Stat. Phys. 2017); capacity exponential
  in N.

Asynchronous update by energy difference (docs/conventions.md §6):
σ_i ← sign(D_i), D_i = Σ_μ [F(ξ^μ_i + r^μ_i) − F(−ξ^μ_i + r^μ_i)], r^μ_i = Σ_{j≠i} ξ^μ_j σ_j,
and D_i = 0 keeps the spin. D_i = E(σ_i = −1) − E(σ_i = +1), so every flip strictly lowers E.
Since r^μ_i does not depend on σ_i, the new value of σ_i is a function of the other spins only.
The dynamics keeps the P overlaps o_μ = ξ^μ·σ up to date (r^μ_i = o_μ − ξ^μ_i σ_i), so one
spin update costs O(P) rather than O(PN).

Exponential memory in log space: exp(ξ·σ) overflows float32 beyond ξ·σ ≈ 88. Every term of
D_i is shifted by m = max_μ o_μ (the log-sum-exp trick), which multiplies D_i by the positive
factor e^{−m} and leaves its sign — the only thing the dynamics uses — unchanged; the shifted
exponents are ≤ 2 and the largest is ≥ −2, so nothing overflows or underflows to an all-zero
sum at any N. `energy` returns the log-energy −lse_μ(ξ^μ·σ) = −log(−E) for ``F="exp"`` (see
there).

Polynomial memories at large a: x^a overflows float32 once N^a > 3.4e38 (a ≥ 13 at N = 1000),
and D_i became inf − inf = NaN. F(x) = x^a (and its rectified form) is homogeneous,
F(c x) = c^a F(x), so every argument is multiplied by a power of two c = 2^{−k} (exact) chosen
so that P·(max argument · c)^a stays below 2^{maxexp−3} of the float dtype: energies and drives
are multiplied by c^a > 0 and every sign — all the dynamics uses — is unchanged. The dynamics
picks k per state from its largest overlap (the most dynamic range for the small terms);
`energy` picks it from N alone, so that energies of different states stay comparable. k = 0
(exactly the unscaled numbers, and no extra operation for a static a) whenever P (N + 2)^a fits,
e.g. every a ≤ 11 at N = 1000, P ≤ 100 in float32.

Padded patterns: ``mask`` (P,) marks the real rows; masked rows contribute nothing.
Batches: ``sigma`` (..., N) relax together and share each sweep's visiting order (drawn from
``key`` exactly as in `hopjax.dynamics.relax`, so a = 2 follows the Hebb trajectory).
"""

from __future__ import annotations

from functools import partial

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from hopjax import dynamics
from hopjax._checks import check_spins, concrete
from hopjax._precision import matmul
from hopjax.dynamics import FIXED_POINT, MAX_SWEEPS, TWO_CYCLE, Relaxed, sweep_order

__all__ = ["energy", "relax", "sweep", "drive", "FUNCTIONS", "MODES", "Relaxed",
           "FIXED_POINT", "TWO_CYCLE", "MAX_SWEEPS"]

FUNCTIONS = ("poly", "rectified", "exp")
MODES = ("async", "sequential", "sync")


# ----------------------------------------------------------------------------- helpers
def _check_F(F):
    if F not in FUNCTIONS:
        raise ValueError(f"F must be one of {FUNCTIONS}; got {F!r}")


def _split_a(a, F):
    """(static int or None, traced float array): a Python int is applied with exact integer
    powers (and compiled per value); anything else is traced (one compilation for all a)."""
    if F == "exp":
        return None, jnp.zeros((), jnp.float32)
    if isinstance(a, (int, np.integer)) and not isinstance(a, bool):
        if a < 1:
            raise ValueError(f"a must be >= 1; got {a}")
        return int(a), jnp.zeros((), jnp.float32)
    return None, jnp.asarray(a, jnp.float32)


def _F(x, F, a_int, a):
    """F(x) elementwise; for exp the caller passes shifted arguments (see module docstring)."""
    if F == "exp":
        return jnp.exp(x)
    if F == "rectified":
        x = jnp.maximum(x, 0.0)
    if a_int is not None:
        return lax.integer_pow(x, a_int)  # exact on the integer overlaps for small a
    # traced a: x^a = sign(x)^a |x|^a for integer-valued a (odd a keeps the sign)
    odd = jnp.mod(jnp.round(a), 2.0) == 1.0
    mag = jnp.abs(x) ** a
    return jnp.where((x < 0) & odd, -mag, mag)


def _shift(o, mask, F):
    """Per-state shift m (..., 1) of the arguments of exp: max of the real overlaps."""
    if F != "exp":
        return jnp.zeros(o.shape[:-1] + (1,), o.dtype)
    m = jnp.max(jnp.where(mask, o, -jnp.inf), axis=-1, keepdims=True)
    return jnp.where(jnp.isfinite(m), m, 0.0)  # all patterns masked: any finite shift


def _poly_scale(bound, P, dtype, F, a_int, a):
    """Power of two c > 0 (shape of ``bound``) with P·(bound·c)^a ≤ 2^(maxexp − 3), or None when
    c = 1 for sure (exp; or a static a and a static bound that fit): see the module docstring.
    ``bound`` ≥ every |argument| of F. The headroom 2³ covers the differences and sums of D."""
    if F == "exp":
        return None
    budget = jnp.finfo(dtype).maxexp - 3 - math.log2(max(P, 1))
    if a_int is not None and isinstance(bound, (int, float)):
        if a_int * math.log2(bound) <= budget:
            return None
    e_max = budget / (a_int if a_int is not None else a)
    k = jnp.maximum(jnp.ceil(jnp.log2(jnp.asarray(bound, dtype)) - e_max), 0.0)
    return jnp.ldexp(jnp.ones((), dtype), -k.astype(jnp.int32))  # exact power of two


def _state_scale(o, mask, P, N, F, a_int, a):
    """Per-state scale c (B, 1) or None for the dynamics: |arguments| ≤ max_μ |o_μ| + 2."""
    if _poly_scale(N + 2, P, o.dtype, F, a_int, a) is None:  # static: never needed
        return None
    bound = jnp.max(jnp.where(mask, jnp.abs(o), 0.0), axis=-1, keepdims=True) + 2.0
    return _poly_scale(bound, P, o.dtype, F, a_int, a)


def _drive_one(o, m, c, x, s, mask, F, a_int, a):
    """D_i (B,) for one spin: overlaps o (B, P), shift m (B, 1), scale c (B, 1) or None,
    column x = ξ_{:,i} (P,), spin s (B,). r = o − x s excludes spin i."""
    r = o - x[None, :] * s[:, None] - m
    if c is not None:  # powers of two: r c and x c are exact
        r, x = r * c, x[None, :] * c
    d = _F(r + x, F, a_int, a) - _F(r - x, F, a_int, a)
    return jnp.sum(jnp.where(mask, d, 0.0), axis=-1)


def _drive_all(xi, o, m, c, s, mask, F, a_int, a):
    """D (B, N) for all spins at once with two matmuls (no (B, N, P) array).

    With ξ^μ_i σ_i = ±1, r^μ_i = o_μ ∓ 1 and F(r+ξ) − F(r−ξ) = ξ^μ_i·A_μ if ξ^μ_i σ_i = 1,
    ξ^μ_i·C_μ otherwise, where A = F(o) − F(o−2), C = F(o+2) − F(o). Hence
    D_i = Σ_μ ξ^μ_i (A_μ + C_μ)/2 + σ_i Σ_μ (A_μ − C_μ)/2. Shift m, scale c (or None) as in
    `_drive_one`.
    """
    o = o - m
    two = 2.0
    if c is not None:
        o, two = o * c, 2.0 * c
    f0 = _F(o, F, a_int, a)
    A = jnp.where(mask, f0 - _F(o - two, F, a_int, a), 0.0)
    C = jnp.where(mask, _F(o + two, F, a_int, a) - f0, 0.0)
    return matmul(0.5 * (A + C), xi) + s * jnp.sum(0.5 * (A - C), axis=-1, keepdims=True)


def _new_spin(d, s, frozen):
    new = jnp.where(d > 0, 1.0, jnp.where(d < 0, -1.0, s))  # zero difference keeps the spin
    return jnp.where(frozen, s, new).astype(s.dtype)


def _check_patterns(xi, mask):
    """±1 check of the real rows only: padded rows (zeros from `patterns.pad`) may be anything."""
    v, m = concrete(xi), None if mask is None else concrete(mask)
    if v is None:  # traced patterns (inside jit / vmap): nothing to check
        return
    if v.ndim == 2 and m is not None and m.shape == v.shape[:1]:
        v = v[m.astype(bool)]
    check_spins(v, "xi")


def _prepare(xi, sigma, mask, frozen):
    _check_patterns(xi, mask)
    check_spins(sigma, "sigma")
    xi = jnp.asarray(xi)
    sigma = jnp.asarray(sigma)
    if xi.ndim != 2:
        raise ValueError(f"xi must be (P, N); got shape {tuple(xi.shape)}")
    P, N = xi.shape
    if sigma.shape[-1] != N:
        raise ValueError(f"sigma has {sigma.shape[-1]} spins but xi has N = {N}")
    dt = jnp.promote_types(sigma.dtype, jnp.float32)  # float32, float64 under x64
    batch = sigma.shape[:-1]
    s = sigma.astype(dt).reshape(-1, N)
    mk = jnp.ones((P,), bool) if mask is None else jnp.asarray(mask, bool)
    if mk.shape != (P,):
        raise ValueError(f"mask must have shape ({P},); got {tuple(mk.shape)}")
    fz = jnp.zeros((N,), bool) if frozen is None else jnp.asarray(frozen, bool)
    fz = jnp.broadcast_to(fz, batch + (N,)).reshape(-1, N)
    return xi.astype(dt), s, mk, fz, batch


# ----------------------------------------------------------------------------- public API
def energy(xi, sigma, *, F: str = "poly", a=3, mask=None):
    """Dense-memory energy E(σ) = −Σ_μ F(ξ^μ·σ) (Krotov & Hopfield 2016; Demircigil et al. 2017).

    Args:
      xi: patterns (P, N), ±1.
      sigma: states (..., N), ±1.
      F: ``"poly"`` (x^a), ``"rectified"`` (x^a for x > 0, else 0) or ``"exp"`` (e^x).
      a: the power (Python int, or a traced/float value — integer-valued for ``"poly"``).
      mask: (P,) bool marking real patterns of a padded array, or None.

    Returns:
      (...) energies, in sigma's float dtype (float32; float64 under x64). For ``F="exp"`` the
      value is the log-energy −lse_μ(ξ^μ·σ) = −log(−E), finite at any N (E itself is −e^{≈N}
      and overflows); it is an increasing function of E, so it orders states — and their
      changes under the dynamics — exactly as E does. For ``F="poly"``/``"rectified"`` it is
      E exactly unless P N^a would overflow the float range (at N = 1000 in float32: never
      for a ≤ 11 and P ≤ 10⁴, always for a ≥ 13); then it is E·2^{−k a}, with the smallest
      integer k ≥ 0 that keeps
      P (N 2^{−k})^a ≤ 2^{maxexp−3} — the same positive factor for every state of given N, P, a
      (see the module docstring), so it still orders states as E does.

    >>> import jax, jax.numpy as jnp
    >>> xi = jnp.array([[1., 1., 1., 1.], [1., -1., 1., -1.]])
    >>> energy(xi, xi[0], a=3).item()  # −(4³ + 0³)
    -64.0
    >>> round(energy(xi, xi[0], F="exp").item(), 4)  # −log(e⁴ + e⁰)
    -4.0181
    """
    _check_F(F)
    _check_patterns(xi, mask)
    check_spins(sigma, "sigma")
    xi = jnp.asarray(xi)
    sigma = jnp.asarray(sigma)
    dt = jnp.promote_types(sigma.dtype, jnp.float32)
    mk = jnp.ones(xi.shape[:1], bool) if mask is None else jnp.asarray(mask, bool)
    a_int, a_tr = _split_a(a, F)
    return _energy(xi.astype(dt), sigma.astype(dt), mk, a_tr, F=F, a_int=a_int)


@partial(jax.jit, static_argnames=("F", "a_int"))
def _energy(xi, sigma, mask, a, *, F, a_int):
    o = matmul(sigma, xi.T)
    if F == "exp":
        return -jax.nn.logsumexp(jnp.where(mask, o, -jnp.inf), axis=-1)
    P, N = xi.shape
    c = _poly_scale(N, P, o.dtype, F, a_int, a)  # |ξ·σ| ≤ N: one factor for every state
    if c is not None:
        o = o * c
    return -jnp.sum(jnp.where(mask, _F(o, F, a_int, a), 0.0), axis=-1)


def drive(xi, sigma, *, F: str = "poly", a=3, mask=None):
    """Energy differences D (..., N): D_i = E(σ with σ_i = −1) − E(σ with σ_i = +1).

    The zero-temperature update is σ_i ← sign(D_i) (a tie keeps the spin). For ``F="exp"``
    D is returned scaled by the positive factor e^{−max_μ ξ^μ·σ} (finite at any N); for the
    polynomials by 2^{−k a} with k ≥ 0 chosen per state (k = 0 unless it would overflow; module
    docstring).
    For ``F="poly", a=2`` D = 4 Σ_μ ξ^μ_i r^μ_i = 4N h_i with h the Hebb field.

    >>> import jax.numpy as jnp
    >>> xi = jnp.array([[1., 1., 1., 1.]])
    >>> drive(xi, jnp.array([1., 1., 1., -1.]), a=2).tolist()  # 4 Σ_{j≠i} σ_j
    [4.0, 4.0, 4.0, 12.0]
    """
    _check_F(F)
    xi, s, mk, _, batch = _prepare(xi, sigma, mask, None)
    a_int, a_tr = _split_a(a, F)
    d = _drive_flat(xi, s, mk, a_tr, F=F, a_int=a_int)
    return d.reshape(batch + (xi.shape[-1],))


@partial(jax.jit, static_argnames=("F", "a_int"))
def _drive_flat(xi, s, mask, a, *, F, a_int):
    o = matmul(s, xi.T)
    c = _state_scale(o, mask, *xi.shape, F, a_int, a)
    return _drive_all(xi, o, _shift(o, mask, F), c, s, mask, F, a_int, a)


def relax(key, xi, sigma, *, F: str = "poly", a=3, mode: str = "async", max_sweeps=100,
          mask=None, frozen=None) -> Relaxed:
    """Relax states under a dense associative memory until a fixed point (or 2-cycle).

    Krotov & Hopfield (2016) polynomial / rectified-polynomial memories, Demircigil et al.
    (2017) exponential memory; update rule and numerics in the module docstring.

    Args:
      key: PRNG key (visiting orders; same draws as `hopjax.dynamics.relax`).
      xi: stored patterns (P, N), ±1 (padded rows allowed, see ``mask``).
      sigma: initial states (..., N), ±1.
      F, a: the interaction function (see `energy`); ``a`` may be traced.
      mode: ``"async"`` (fresh random order each sweep), ``"sequential"`` (order 0..N−1) or
        ``"sync"`` (all spins from the same state; may end in a 2-cycle).
      max_sweeps: cap on the number of sweeps (may be traced).
      mask: (P,) bool, True for real patterns; masked patterns contribute nothing.
      frozen: bool mask broadcastable to sigma; frozen spins never change (clamped cue).

    Returns:
      `hopjax.dynamics.Relaxed` (sigma (..., N) in sigma's dtype, sweeps (...) = sweeps that
      changed the state, status (...) FIXED_POINT / TWO_CYCLE (sync only) / MAX_SWEEPS).

    >>> import jax
    >>> from hopjax import patterns
    >>> xi = patterns.random(jax.random.key(0), 200, 50)  # α = 4: far beyond Hebb
    >>> cue = patterns.flip_to_overlap(jax.random.key(1), xi[:8], 0.8)
    >>> out = relax(jax.random.key(2), xi, cue, F="exp")
    >>> (out.sigma == xi[:8]).all().item(), out.status.tolist()
    (True, [0, 0, 0, 0, 0, 0, 0, 0])
    """
    _check_F(F)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    dtype = jnp.asarray(sigma).dtype
    xi, s, mk, fz, batch = _prepare(xi, sigma, mask, frozen)
    a_int, a_tr = _split_a(a, F)
    s, sweeps, status = _relax_flat(key, xi, s, mk, fz, max_sweeps, a_tr, F=F, a_int=a_int,
                                    mode=mode)
    N = xi.shape[-1]
    return Relaxed(s.reshape(batch + (N,)).astype(dtype), sweeps.reshape(batch),
                   status.reshape(batch))


@partial(jax.jit, static_argnames=("F", "a_int", "mode"))
def _relax_flat(key, xi, s, mask, frozen, max_sweeps, a, *, F, a_int, mode):
    """`relax` on flat (B, N) states; jitted so that eager calls reuse one compilation."""
    N = s.shape[-1]

    if mode == "sync":
        def parallel_update(t, s):
            o = matmul(s, xi.T)
            c = _state_scale(o, mask, *xi.shape, F, a_int, a)
            return _new_spin(_drive_all(xi, o, _shift(o, mask, F), c, s, mask, F, a_int, a), s,
                             frozen)

        return dynamics.iterate_parallel(parallel_update, s, max_sweeps)

    xiT = xi.T  # (N, P): spin i's column is a contiguous row

    def one_sweep(t, s, _):
        order = sweep_order(key, t, N, mode == "async")
        o = matmul(s, xi.T)  # fresh overlaps each sweep: no drift of float sums across sweeps

        def visit(t, carry):
            s, o = carry
            i = order[t]
            x, si = xiT[i], s[:, i]
            d = _drive_one(o, _shift(o, mask, F), _state_scale(o, mask, *xi.shape, F, a_int, a),
                           x, si, mask, F, a_int, a)
            new = _new_spin(d, si, frozen[:, i])
            o = o + (new - si)[:, None] * x[None, :]  # O(P) overlap update
            return s.at[:, i].set(new), o

        s, _ = lax.fori_loop(0, N, visit, (s, o))
        return s, None

    return dynamics.iterate_sweeps(one_sweep, s, max_sweeps)


def sweep(key, xi, sigma, *, F: str = "poly", a=3, mode: str = "async", mask=None,
          frozen=None):
    """Exactly one sweep (one parallel update for ``sync``); the first sweep of `relax`."""
    return relax(key, xi, sigma, F=F, a=a, mode=mode, max_sweeps=1, mask=mask,
                 frozen=frozen).sigma
