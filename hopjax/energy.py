"""Energies of spin configurations."""

from __future__ import annotations

import jax.numpy as jnp

from hopjax._precision import einsum, matmul

__all__ = ["energy"]


def energy(J, sigma, bias=None):
    """Quadratic Hopfield energy E(σ) = −½ σᵀ J σ − bᵀ σ.

    J: (N, N); sigma: (..., N); bias: (N,) or None. Returns (...). The diagonal of J enters as
    a constant −½ Σ J_ii; the rules of hopjax give J_ii = 0.
    """
    sigma = jnp.asarray(sigma, J.dtype)
    e = -0.5 * einsum("...i,ij,...j->...", sigma, J, sigma)
    if bias is not None:
        e = e - matmul(sigma, jnp.asarray(bias, J.dtype))
    return e
