"""Bidirectional associative memory (BAM): hetero-associative recall of pairs (x, y).

B. Kosko, "Bidirectional associative memories", IEEE Trans. Syst. Man Cybern. 18, 49 (1988).

Pairs (x^μ, y^μ), x^μ ∈ {±1}^N, y^μ ∈ {±1}^M, μ = 1..P ("name ↔ face") are stored in one
(M, N) matrix W = (1/N) Σ_μ y^μ x^μᵀ (`couplings`). Recall alternates the two layers,

    y ← sign(W x),   x ← sign(Wᵀ y),

with the zero-temperature convention of `hopjax.dynamics`: a unit whose field is a tie
(|h| ≤ its tolerance, see `tie_tolerance`) keeps its value. Each layer update with the other
layer fixed minimises E(x, y) = −yᵀ W x over that layer, and every flip lowers E by 2|h| > 0,
so E never rises and, the state space being finite, the dynamics stops at a fixed point for
*any* real W (Kosko's theorem; no 2-cycles, unlike synchronous Hopfield dynamics).

Capacity (signal-to-noise). From the exact x^ν the field on y_i is
h_i = y_i^ν + (1/N) Σ_{μ≠ν} y_i^μ (x^μ · x^ν): N y_i^ν h_i = N + S with S a sum of (P − 1) N
independent ±1 terms (each x^μ · x^ν is a sum of N of them, and the sign y_i^μ y_i^ν does not
change its law). A bit is wrong when N + S < 0 (S = −N is a tie: the bit keeps its value), so
the one-step bit error rate is exactly P(Bin(L, ½) < (L − N)/2) with L = (P − 1) N
(`bit_error_rate`), ≈ Φ(−√(N/(P − 1))) (crosstalk variance (P − 1)/N) for large N. From the
exact y^ν the field on x_j is (1/N)[M x_j^ν + Σ_{μ≠ν} x_j^μ (y^μ · y^ν)], so the x-layer bit
error rate is the same function with N → M (`bit_error_rate(P, M)`).

Shapes: states are batched over leading dims, x (..., N), y (..., M); W is (M, N) (vmap for
several matrices). float32 (float64 under x64 for a float64 W). Eager inputs are checked;
inside jit / vmap the value checks are skipped (shape checks always run).
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from hopjax._checks import check_finite, check_spins, concrete
from hopjax._precision import einsum, matmul
from hopjax._reduce import fixed_mean

__all__ = ["couplings", "energy", "relax", "Recalled", "update_y", "update_x", "recall_y",
           "recall_x", "tie_tolerance", "bit_error_rate", "stable_pairs"]


def _dtype(a):
    return jnp.promote_types(jnp.asarray(a).dtype, jnp.float32)


def _check_pairs(x, y, mask):
    xs, ys = np.shape(x), np.shape(y)
    if len(xs) < 2 or len(ys) < 2:
        raise ValueError(f"x and y must be pairs (..., P, N) and (..., P, M); got shapes "
                         f"{tuple(xs)} and {tuple(ys)}")
    if xs[-2] != ys[-2] or xs[:-2] != ys[:-2]:
        raise ValueError(f"x and y must hold the same number of pairs: x has shape {tuple(xs)} "
                         f"(P = {xs[-2]}), y has shape {tuple(ys)} (P = {ys[-2]})")
    if xs[-2] == 0:
        raise ValueError(f"need at least one pair, got P = 0 (x has shape {tuple(xs)})")
    if xs[-1] == 0 or ys[-1] == 0:
        raise ValueError(f"x and y need at least one unit each; got shapes {tuple(xs)} and "
                         f"{tuple(ys)}")
    if mask is not None and np.shape(mask) != xs[:-1]:
        raise ValueError(f"mask must have shape {tuple(xs[:-1])} (one entry per pair); got "
                         f"{tuple(np.shape(mask))}")
    check_spins(x, "x", mask)
    check_spins(y, "y", mask)


def couplings(x, y, mask=None):
    """Kosko's Hebbian BAM matrix W = (1/N) Σ_μ y^μ x^μᵀ, shape (..., M, N).

    x: (..., P, N) ±1; y: (..., P, M) ±1 (same P ≥ 1); mask: (..., P) bool or None — pairs
    where it is False (padding of a grid over P) contribute nothing, so a padded set gives
    exactly the couplings of the unpadded one (the sums are sums of integers, exact in float32).

    >>> import jax
    >>> from hopjax import patterns
    >>> x = patterns.random(jax.random.key(0), 3, 50)
    >>> y = patterns.random(jax.random.key(1), 3, 20)
    >>> couplings(x, y).shape
    (20, 50)
    """
    _check_pairs(x, y, mask)
    dt = jnp.promote_types(_dtype(x), _dtype(y))
    x, y = jnp.asarray(x, dt), jnp.asarray(y, dt)
    if mask is not None:
        y = y * jnp.asarray(mask)[..., None].astype(dt)
    return einsum("...pm,...pn->...mn", y, x) / x.shape[-1]


def _check_W(W):
    if jnp.ndim(W) != 2:
        raise ValueError(f"W must be an (M, N) matrix (vmap for several); got shape "
                         f"{tuple(np.shape(W))}")
    check_finite(W, "W")


def _check_states(W, x, y):
    M, N = np.shape(W)
    if x is not None and np.shape(x)[-1:] != (N,):
        raise ValueError(f"x must be states (..., N) with N = {N} (W is {M}×{N}); got shape "
                         f"{tuple(np.shape(x))}")
    if y is not None and np.shape(y)[-1:] != (M,):
        raise ValueError(f"y must be states (..., M) with M = {M} (W is {M}×{N}); got shape "
                         f"{tuple(np.shape(y))}")
    if x is not None and y is not None and np.shape(x)[:-1] != np.shape(y)[:-1]:
        raise ValueError(f"x and y must have the same batch shape; got {tuple(np.shape(x))} "
                         f"and {tuple(np.shape(y))}")
    if x is not None:
        check_spins(x, "x")
    if y is not None:
        check_spins(y, "y")


def energy(W, x, y):
    """E(x, y) = −yᵀ W x for states x (..., N), y (..., M); returns (...)."""
    _check_W(W)
    _check_states(W, x, y)
    dt = _dtype(W)
    return -jnp.sum(jnp.asarray(y, dt) * matmul(jnp.asarray(x, dt), jnp.asarray(W, dt).T), -1)


def tie_tolerance(W):
    """Per-unit tie tolerances (tol_y (M,), tol_x (N,)) for W (M, N).

    As `hopjax.dynamics.tie_tolerance`: 4 eps × (number of terms) × (largest |coupling| of the
    unit), a bound on the float rounding of its field, so the trajectory does not depend on the
    summation order. y_i's field Σ_j W_ij x_j has N terms (row i), x_j's field Σ_i W_ij y_i has
    M terms (column j). For Hebbian W the smallest non-zero field is 1/N, far above it."""
    W = jnp.asarray(W)
    M, N = W.shape[-2:]
    eps = jnp.finfo(W.dtype).eps
    return (4 * eps * (jnp.max(jnp.abs(W), axis=-1) * N),
            4 * eps * (jnp.max(jnp.abs(W), axis=-2) * M))


def _update(h, s, tol):
    return jnp.where(h * s < -tol, -s, s)  # a tie (|h| <= tol) keeps the value


def update_y(W, x, y):
    """One y-layer update y ← sign(W x), ties keep y (states as in `relax`)."""
    _check_W(W)
    _check_states(W, x, y)
    dt = _dtype(W)
    W = jnp.asarray(W, dt)
    return _update(matmul(jnp.asarray(x, dt), W.T), jnp.asarray(y, dt), tie_tolerance(W)[0])


def update_x(W, x, y):
    """One x-layer update x ← sign(Wᵀ y), ties keep x (states as in `relax`)."""
    _check_W(W)
    _check_states(W, x, y)
    dt = _dtype(W)
    W = jnp.asarray(W, dt)
    return _update(matmul(jnp.asarray(y, dt), W), jnp.asarray(x, dt), tie_tolerance(W)[1])


class Recalled(NamedTuple):
    """Result of `relax`: final states x (..., N), y (..., M); ``iters`` (...) int32 = number
    of iterations (y update then x update) that changed the state; ``converged`` (...) bool =
    a full iteration changed nothing (a fixed point of both layers) within ``max_iters``."""

    x: jax.Array
    y: jax.Array
    iters: jax.Array
    converged: jax.Array


def relax(W, x, y=None, *, max_iters=100, clamp_x: bool = False) -> Recalled:
    """Alternating BAM dynamics until neither layer changes, at most ``max_iters`` iterations.

    Args:
      W: couplings (M, N), finite (any real matrix: Kosko's theorem needs no symmetry).
      x: initial x states (..., N), ±1.
      y: initial y states (..., M), ±1, or None: then y starts at sign(W x) with ties → +1.
      max_iters: cap on the iterations (may be traced). One iteration is y ← sign(W x), then
        x ← sign(Wᵀ y); a unit with a tied field keeps its value.
      clamp_x: keep x fixed (pure feed-forward recall of y from the cue x: y = sign(W x) after
        one iteration, so the result is one-step recall; ``converged`` is True once
        ``max_iters`` >= 2, the second iteration confirming that nothing changes).

    Returns:
      `Recalled` (x, y in W's float dtype, iters, converged). Each trajectory stops on its own
      (a finished one is held still while others run).

    The energy `energy` never rises along the iterations and strictly falls at each change,
    so the dynamics ends at a fixed point (Kosko 1988) for large enough ``max_iters``.

    >>> import jax
    >>> from hopjax import patterns
    >>> x = patterns.random(jax.random.key(0), 4, 200)
    >>> y = patterns.random(jax.random.key(1), 4, 100)
    >>> cue = patterns.flip_to_overlap(jax.random.key(2), x, 0.8)
    >>> out = relax(couplings(x, y), cue)
    >>> bool((out.y == y).all()), bool((out.x == x).all()), out.converged.tolist()
    (True, True, [True, True, True, True])
    """
    _check_W(W)
    _check_states(W, x, y)
    mi = concrete(max_iters)
    if mi is not None and (mi.ndim or mi < 0):
        raise ValueError(f"max_iters must be a non-negative integer; got {max_iters!r}")
    dt = _dtype(W)
    W = jnp.asarray(W, dt)
    M, N = W.shape
    x = jnp.asarray(x, dt)
    batch = x.shape[:-1]
    xf = x.reshape(-1, N)
    if y is None:
        h = matmul(xf, W.T)
        yf = jnp.where(h < -tie_tolerance(W)[0], -1.0, 1.0).astype(dt)
    else:
        yf = jnp.asarray(y, dt).reshape(-1, M)
    xo, yo, iters, conv = _relax_flat(W, xf, yf, jnp.asarray(max_iters, jnp.int32),
                                      clamp_x=bool(clamp_x))
    return Recalled(xo.reshape(batch + (N,)), yo.reshape(batch + (M,)), iters.reshape(batch),
                    conv.reshape(batch))


@partial(jax.jit, static_argnames=("clamp_x",))
def _relax_flat(W, x, y, max_iters, *, clamp_x):
    tol_y, tol_x = tie_tolerance(W)
    B = x.shape[0]

    def body(c):
        t, x, y, active, iters = c
        ny = _update(matmul(x, W.T), y, tol_y)
        nx = x if clamp_x else _update(matmul(ny, W), x, tol_x)
        ny = jnp.where(active[:, None], ny, y)
        nx = jnp.where(active[:, None], nx, x)
        changed = jnp.any(ny != y, -1) | jnp.any(nx != x, -1)
        return t + 1, nx, ny, active & changed, iters + changed

    init = (jnp.int32(0), x, y, jnp.ones((B,), bool), jnp.zeros((B,), jnp.int32))
    _, x, y, active, iters = lax.while_loop(lambda c: (c[0] < max_iters) & jnp.any(c[3]),
                                            body, init)
    return x, y, iters, ~active


def recall_y(W, x_cue, *, max_iters=100) -> jax.Array:
    """y recalled from a cue x (..., N): `relax` from (x_cue, sign(W x_cue)), both layers free
    (the x layer cleans up the cue). For one-shot recall use ``relax(..., clamp_x=True)``."""
    return relax(W, x_cue, max_iters=max_iters).y


def recall_x(W, y_cue, *, max_iters=100) -> jax.Array:
    """x recalled from a cue y (..., M): x starts at sign(Wᵀ y_cue) (ties → +1), then `relax`
    with both layers free."""
    _check_W(W)
    _check_states(W, None, y_cue)
    dt = _dtype(W)
    W = jnp.asarray(W, dt)
    y_cue = jnp.asarray(y_cue, dt)
    x0 = jnp.where(matmul(y_cue, W) < -tie_tolerance(W)[1], -1.0, 1.0).astype(dt)
    return relax(W, x0, y_cue, max_iters=max_iters).x


def stable_pairs(W, x, y, mask=None):
    """Fraction of pairs (x^μ, y^μ) ((..., P, N), (..., P, M)) that are fixed points of both
    layer updates; pairs where ``mask`` (..., P) is False (padding) are left out (fixed-order
    mean: the same bits in any batch layout)."""
    _check_W(W)
    _check_pairs(x, y, mask)
    dt = _dtype(W)
    W, x, y = jnp.asarray(W, dt), jnp.asarray(x, dt), jnp.asarray(y, dt)
    tol_y, tol_x = tie_tolerance(W)
    fixed = (jnp.all(_update(matmul(x, W.T), y, tol_y) == y, -1)
             & jnp.all(_update(matmul(y, W), x, tol_x) == x, -1)).astype(jnp.float32)
    return fixed_mean(fixed, axis=-1, mask=mask)


def bit_error_rate(P: int, N: int) -> float:
    """Exact one-step bit error rate of y ← sign(W x^ν) from the stored y^ν for random pairs
    with Hebbian W (see the module docstring): P(N + S < 0), S = 2K − L, K ~ Bin(L, ½),
    L = (P − 1) N. For large N it is ≈ Φ(−√(N/(P − 1))). (For the x layer from the exact
    y^ν use N = M.)"""
    L = (int(P) - 1) * int(N)
    if L <= 0:
        return 0.0
    kmax = math.ceil((L - N) / 2) - 1  # K < (L − N)/2
    if kmax < 0:
        return 0.0
    log_half = -L * math.log(2.0)
    lg = math.lgamma
    terms = [lg(L + 1) - lg(k + 1) - lg(L - k + 1) + log_half for k in range(kmax + 1)]
    top = max(terms)
    return float(math.exp(top) * sum(math.exp(t - top) for t in terms))
