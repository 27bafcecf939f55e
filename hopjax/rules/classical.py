"""Closed-form coupling rules: Hebb and the pseudo-inverse (projector).

Patterns are rows of ξ (..., P, N) with an optional mask (..., P) marking the real rows of a
padded array; masked rows contribute nothing. Couplings are float32 (N, N), symmetric, with a
zero diagonal.
"""

from __future__ import annotations

import jax.numpy as jnp

from hopjax._checks import check_spins
from hopjax._precision import einsum

__all__ = ["hebb", "hebb_add", "pseudo_inverse", "zero_diagonal"]


def zero_diagonal(J):
    """J with its diagonal set to 0 (no self-coupling)."""
    N = J.shape[-1]
    return jnp.where(jnp.eye(N, dtype=bool), 0.0, J)


def _masked(xi, mask):
    check_spins(xi, "xi", mask)
    xi = jnp.asarray(xi, jnp.float32)
    if mask is None:
        return xi, jnp.full(xi.shape[:-2], xi.shape[-2], jnp.float32)
    mask = jnp.asarray(mask)
    return xi * mask[..., None], jnp.sum(mask, axis=-1).astype(jnp.float32)


def hebb(xi, mask=None, *, normalization: str = "N"):
    """Hebb rule J = (1/N) Σ_μ ξ^μ ξ^μᵀ with J_ii = 0 (Hopfield 1982).

    xi: (..., P, N) ±1; mask: (..., P) bool or None. ``normalization="P"`` divides by the
    number of (unmasked) patterns instead of N (the scale used for MNIST, so that the norm of J
    does not grow with the load; at zero temperature the scale is irrelevant).

    >>> import jax
    >>> from hopjax import patterns
    >>> J = hebb(patterns.random(jax.random.key(0), 10, 100))
    >>> J.shape, float(abs(J - J.T).max()), float(abs(J.diagonal()).max())
    ((100, 100), 0.0, 0.0)
    """
    xi, P = _masked(xi, mask)
    N = xi.shape[-1]
    if normalization == "N":
        scale = jnp.float32(1.0 / N)
    elif normalization == "P":
        scale = 1.0 / jnp.maximum(P, 1.0)[..., None, None]
    else:
        raise ValueError(f"normalization must be 'N' or 'P'; got {normalization!r}")
    return zero_diagonal(einsum("...pi,...pj->...ij", xi, xi) * scale)


def hebb_add(J, xi, weight=1.0):
    """Online Hebb: J + weight (ξ ξᵀ − I) / N for one new pattern ξ (N,) (diagonal stays 0).

    ``weight`` may be a traced 0/1 value to add conditionally (masked patterns)."""
    check_spins(xi, "xi")
    N = xi.shape[-1]
    xi = jnp.asarray(xi, jnp.float32)
    return J + weight * zero_diagonal(jnp.outer(xi, xi)) / N


def pseudo_inverse(xi, mask=None, *, rcond: float = 1e-5):
    """Pseudo-inverse (projector) rule J = (1/N) ξᵀ C⁺ ξ, C = ξ ξᵀ / N, then J_ii = 0
    (Personnaz, Guyon, Dreyfus 1985; Kanter, Sompolinsky 1987).

    Every pattern is a fixed point for α = P/N < 1. C⁺ is the eigen-pseudo-inverse: eigenvalues
    below ``rcond`` × the largest are dropped, so padded (zero) rows and P ≥ N are handled
    (for P ≥ N with independent patterns J projects on everything and is 0 off the diagonal).
    Computed in float32 (eigh of the P×P matrix C); use x64 for α close to 1.
    """
    xi, _ = _masked(xi, mask)
    N = xi.shape[-1]
    C = einsum("...pi,...qi->...pq", xi, xi) / N
    w, V = jnp.linalg.eigh(C)
    keep = w > rcond * jnp.max(w, axis=-1, keepdims=True)
    winv = jnp.where(keep, 1.0 / jnp.where(keep, w, 1.0), 0.0)
    A = einsum("...pk,...k,...qk->...pq", V, winv, V)
    return zero_diagonal(einsum("...pi,...pq,...qj->...ij", xi, A, xi) / N)
