"""Closed-form coupling rules: Hebb and the pseudo-inverse (projector).

Patterns are rows of ξ (..., P, N) with an optional mask (..., P) marking the real rows of a
padded array; masked rows contribute nothing. Couplings are (N, N), symmetric, with a zero
diagonal, in the patterns' float precision (`float_dtype`): float32, or float64 for float64
patterns under ``jax_enable_x64`` (which the pseudo-inverse near α = 1 needs).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from hopjax._checks import check_patterns, check_spins
from hopjax import _linalg
from hopjax._linalg import zero_diagonal  # re-exported: rules.zero_diagonal
from hopjax._precision import einsum

__all__ = ["hebb", "hebb_add", "pseudo_inverse", "zero_diagonal", "float_dtype"]


def float_dtype(x):
    """The float dtype rules compute in for x: x's own float dtype if it is a float (at least
    float32; float64 stays float64 when x64 is enabled), else the default float dtype (±1 int
    patterns: float32, float64 under x64)."""
    dt = jnp.asarray(x).dtype if not hasattr(x, "dtype") else jax.dtypes.canonicalize_dtype(x.dtype)
    if jnp.issubdtype(dt, jnp.floating):
        return jnp.promote_types(dt, jnp.float32)
    return jnp.result_type(float)


def _masked(xi, mask):
    check_patterns(xi)
    check_spins(xi, "xi", mask)
    dt = float_dtype(xi)
    xi = jnp.asarray(xi, dt)
    if mask is None:
        return xi, jnp.full(xi.shape[:-2], xi.shape[-2], dt)
    mask = jnp.asarray(mask)
    return xi * mask[..., None].astype(dt), jnp.sum(mask, axis=-1).astype(dt)


def hebb(xi, mask=None, *, normalization: str = "N"):
    """Hebb rule J = (1/N) Σ_μ ξ^μ ξ^μᵀ with J_ii = 0 (Hopfield 1982).

    xi: (..., P, N) ±1, P ≥ 1; mask: (..., P) bool or None. Returns (..., N, N) in
    `float_dtype` (xi) (float32; float64 for float64 patterns under x64).
    ``normalization="P"`` divides by the
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
        scale = jnp.asarray(1.0 / N, xi.dtype)
    elif normalization == "P":
        scale = 1.0 / jnp.maximum(P, 1.0)[..., None, None]
    else:
        raise ValueError(f"normalization must be 'N' or 'P'; got {normalization!r}")
    return zero_diagonal(einsum("...pi,...pj->...ij", xi, xi) * scale)


def hebb_add(J, xi, weight=1.0):
    """Online Hebb: J + weight (ξ ξᵀ − I) / N for one new pattern ξ (N,) (diagonal stays 0).

    ``weight`` may be a traced 0/1 value to add conditionally (masked patterns). Computed in
    J's float dtype."""
    check_spins(xi, "xi")
    N = xi.shape[-1]
    xi = jnp.asarray(xi, float_dtype(J))
    return J + weight * zero_diagonal(jnp.outer(xi, xi)) / N


def pseudo_inverse(xi, mask=None, *, rcond: float = 1e-5):
    """Pseudo-inverse (projector) rule J = (1/N) ξᵀ C⁺ ξ, C = ξ ξᵀ / N, then J_ii = 0
    (Personnaz, Guyon, Dreyfus 1985; Kanter, Sompolinsky 1987).

    Every pattern is a fixed point for α = P/N < 1. C⁺ is the eigen-pseudo-inverse: eigenvalues
    below ``rcond`` × the largest are dropped, so padded (zero) rows and P ≥ N are handled
    (for P ≥ N with independent patterns J projects on everything and is 0 off the diagonal).
    Computed in `float_dtype` (xi) (eigh of the P×P matrix C): float32, or float64 for float64
    patterns under x64 — use that for α close to 1. P ≥ 1 required.
    """
    xi, _ = _masked(xi, mask)
    return _projector(xi, rcond)


def _projector(x, rcond):
    """(1/N) xᵀ C⁺ x with J_ii = 0, C = x xᵀ / N, for rows x (..., P, N) (masked rows zero);
    eigenvalues of C below ``rcond`` × the largest are dropped."""
    N = x.shape[-1]
    C = einsum("...pi,...qi->...pq", x, x) / N
    w, V = _linalg.eigh(C)  # one matrix per LAPACK call: see hopjax._linalg
    keep = w > rcond * jnp.max(w, axis=-1, keepdims=True)
    winv = jnp.where(keep, 1.0 / jnp.where(keep, w, 1.0), 0.0)
    A = einsum("...pk,...k,...qk->...pq", V, winv, V)
    return zero_diagonal(einsum("...pi,...pq,...qj->...ij", x, A, x) / N)
