"""Pattern generators, noisy copies, cues and the padded-mask convention.

Every generator draws row μ from ``fold_in(key, μ)``, so ``random(key, P, N)`` is the first
P rows of ``random(key, P_max, N)``: a grid over loads α = P/N draws the patterns once at the
largest P and masks the rest, and each grid point sees exactly the patterns an unpadded run
with the same key would see. Spins are ±1 in float32 unless a dtype is given.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hopjax._checks import check_count, check_overlap, check_spins, concrete
from hopjax._precision import matmul

__all__ = [
    "random",
    "biased",
    "random_features",
    "RandomFeatures",
    "flip_to_overlap",
    "random_mask",
    "partial_cue",
    "count",
    "count_mask",
    "pad",
]


def count(ratio, N: int):
    """Number of items for a ratio: P = round(α N), D = round(α_D N) (round half to even).

    Works on Python floats (returns int) and on traced arrays (returns int32).
    """
    if isinstance(ratio, (int, float, np.floating, np.integer)):
        return int(round(float(ratio) * N))
    return jnp.round(jnp.asarray(ratio) * N).astype(jnp.int32)


def count_mask(P, P_max: int):
    """Boolean mask (P_max,) selecting the first P rows; P may be traced."""
    check_count(P, P_max)
    return jnp.arange(P_max) < P


def pad(xi, P_max: int):
    """Pad patterns (P, N) with zero rows to (P_max, N); returns (padded, mask)."""
    P = xi.shape[-2]
    if P > P_max:
        raise ValueError(f"cannot pad {P} patterns to P_max={P_max}: P > padded size")
    widths = [(0, 0)] * (xi.ndim - 2) + [(0, P_max - P), (0, 0)]
    return jnp.pad(xi, widths), jnp.arange(P_max) < P


def _rowwise(key, n: int, draw):
    """Stack draw(fold_in(key, i)) for i < n: rows independent of n (prefix-consistent)."""
    return jax.vmap(lambda i: draw(jax.random.fold_in(key, i)))(jnp.arange(n))


def random(key, P: int, N: int, *, dtype=jnp.float32):
    """Uncorrelated patterns: i.i.d. ±1 spins with probability ½, shape (P, N).

    P = 0 gives an empty (0, N) array (the rules reject it: they need at least one pattern);
    a negative P or N raises."""
    if int(P) < 0 or int(N) < 0:  # arange(−1) would silently give an empty array
        raise ValueError(f"P and N must be >= 0; got P = {P}, N = {N}")
    return _rowwise(key, P, lambda k: jax.random.rademacher(k, (N,), dtype=dtype))


def biased(key, P: int, N: int, a, *, dtype=jnp.float32):
    """Biased patterns: i.i.d. spins with P(ξ_i = +1) = (1 + a)/2, i.e. mean a, shape (P, N).

    a: scalar bias in (−1, 1), may be traced (a grid over biases compiles once); a concrete
    a outside (−1, 1) is a ValueError. Row μ comes from ``fold_in(key, μ)`` as in `random`
    (prefix-consistent in P), drawn as ``uniform < (1 + a)/2`` exactly as
    `jax.random.rademacher` draws its spins, so a = 0 gives ``random(key, P, N)`` bit for
    bit. Store them with the centred rules (`hopjax.rules.centred_hebb`, ...).

    >>> import jax
    >>> xi = biased(jax.random.key(0), 100, 1000, 0.5)
    >>> round(float(xi.mean()), 2)
    0.5
    """
    if jnp.ndim(a) != 0:
        raise ValueError(f"a must be a scalar bias; got shape {jnp.shape(a)}")
    v = concrete(a)
    if v is not None and not np.abs(v) < 1:  # NaN fails too
        raise ValueError(f"a must lie in the open interval (-1, 1), the mean of the patterns "
                         f"(P(ξ_i = +1) = (1 + a)/2); got {float(v)!r}")
    if int(P) < 0 or int(N) < 0:
        raise ValueError(f"P and N must be >= 0; got P = {P}, N = {N}")
    fdt = jnp.result_type(float)  # rademacher's uniform draw: float32 (float64 under x64)
    p = (1.0 + jnp.asarray(a, fdt)) / 2.0

    def row(k):
        up = jax.random.uniform(k, (N,), fdt) < p
        return (2 * up.astype(dtype) - 1).astype(dtype)

    return _rowwise(key, P, row)


class RandomFeatures(NamedTuple):
    """Random-features data: examples (P, N), features (D_max, N), coefficients (P, D_max),
    feature_mask (D_max,) (True for the D real features)."""

    examples: jax.Array
    features: jax.Array
    coefficients: jax.Array
    feature_mask: jax.Array


def random_features(key, P: int, D, N: int, *, D_max: int | None = None, binary: bool = False,
                    dtype=jnp.float32) -> RandomFeatures:
    """Random-features (hidden-manifold) model (Negri et al., PRL 131, 257301, 2023).

    D features f^k ∈ {±1}^N, coefficients c^μ_k ~ N(0, 1) (or ±1 with ``binary=True``; use odd
    D to avoid ties), examples ξ^μ = sign(Σ_k c^μ_k f^k) (the 1/√D scale does not change the
    sign; a zero sum maps to +1). D may be traced when ``D_max`` (static) is given: features
    beyond D are masked and carry zero coefficients, so a grid over α_D = D/N pads to D_max.
    Coefficient c^μ_k is drawn from its own key, so results do not depend on P_max or D_max.

    >>> import jax
    >>> rf = random_features(jax.random.key(0), P=20, D=5, N=100)
    >>> rf.examples.shape, rf.features.shape, rf.coefficients.shape
    ((20, 100), (5, 100), (20, 5))
    """
    if D_max is None:
        D_max = int(D)
    check_count(D, D_max, "D")
    kf, kc = jax.random.split(key)
    features = random(kf, D_max, N, dtype=dtype)

    def coefficient(k):
        return jax.random.rademacher(k, (), dtype=jnp.float32) if binary else jax.random.normal(k, ())

    coeffs = _rowwise(kc, P, lambda kr: _rowwise(kr, D_max, coefficient))
    fmask = jnp.arange(D_max) < D
    coeffs = jnp.where(fmask, coeffs, 0.0)
    field = matmul(coeffs, features.astype(jnp.float32))
    examples = jnp.where(field >= 0, 1, -1).astype(dtype)
    return RandomFeatures(examples, features, coeffs, fmask)


def flip_to_overlap(key, xi, m0, *, exact: bool = True):
    """Copy of ξ at overlap m0: flip round((1 − m0) N / 2) distinct random spins.

    xi: (..., N) ±1; m0: scalar or broadcastable to xi.shape[:-1] (may be traced).
    With ``exact=False`` each spin flips independently with probability (1 − m0)/2, so the
    overlap is m0 only on average.

    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((3, 100))
    >>> (flip_to_overlap(jax.random.key(1), x, 0.6) == -1).sum(-1).tolist()  # (1 − m0)N/2
    [20, 20, 20]
    """
    check_spins(xi, "xi")
    check_overlap(m0)
    N = xi.shape[-1]
    m0 = jnp.asarray(m0, jnp.float32)
    u = jax.random.uniform(key, xi.shape)
    if exact:
        n_flip = jnp.round((1.0 - m0) * N / 2.0)
        # rank of each spin in a uniformly random order; flipping the n_flip lowest ranks
        # picks a uniformly random subset of exactly n_flip distinct spins
        rank = jnp.argsort(jnp.argsort(u, axis=-1), axis=-1)
        flip = rank < n_flip[..., None]
    else:
        flip = u < ((1.0 - m0) / 2.0)[..., None]
    return jnp.where(flip, -xi, xi)


def random_mask(key, N: int, known_fraction, shape=()):
    """Boolean mask (*shape, N) with exactly round(known_fraction N) True entries per row."""
    u = jax.random.uniform(key, (*shape, N))
    rank = jnp.argsort(jnp.argsort(u, axis=-1), axis=-1)
    return rank < jnp.round(jnp.asarray(known_fraction) * N)


def partial_cue(key, xi, known, *, fill: str = "random"):
    """Cue for pattern completion: keep ξ where ``known`` (bool, broadcastable to xi) is True,
    replace the rest by random ±1 (``fill="random"``) or by −1 / +1 (``fill="minus"|"plus"``).

    Pass ``frozen=known`` to `hopjax.dynamics.relax` to clamp the known neurons.
    """
    check_spins(xi, "xi")
    if fill == "random":
        other = jax.random.rademacher(key, xi.shape, dtype=xi.dtype)
    elif fill in ("minus", "plus"):
        other = jnp.full_like(xi, -1 if fill == "minus" else 1)
    else:
        raise ValueError(f"fill must be one of 'random', 'minus', 'plus'; got {fill!r}")
    return jnp.where(known, xi, other)
