"""Energies of spin configurations."""

from __future__ import annotations

import jax.numpy as jnp

from hopjax._precision import einsum, matmul

__all__ = ["energy", "centred_energy"]


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


def centred_energy(J, sigma, a, theta=None):
    """Centred energy E_c(σ) = −½ Σ_{i≠j} (σ_i − a) J_ij (σ_j − a) − θ Σ_i (σ_i − a)
    (``theta`` None = 0), the energy of the centred dynamics σ_i ← sign(Σ_{j≠i} J_ij (σ_j − a)
    + θ) (`hopjax.rules.centred`): it equals ``energy(J, σ, centred_bias(J, a, θ))`` up to a
    constant, so every asynchronous flip lowers it, by 2σ_i h_i for the centred field h.

    J: (N, N), its diagonal ignored (−½ J_ii (σ_i − a)² would not be a constant for a ≠ 0);
    sigma: (..., N); a: scalar, may be traced. Returns (...). a = 0 gives `energy` for a
    zero-diagonal J.
    """
    N = J.shape[-1]
    J = jnp.where(jnp.eye(N, dtype=bool), 0.0, J)
    x = jnp.asarray(sigma, J.dtype) - jnp.asarray(a, J.dtype)
    e = -0.5 * einsum("...i,ij,...j->...", x, J, x)
    if theta is not None:
        e = e - jnp.asarray(theta, J.dtype) * jnp.sum(x, axis=-1)
    return e
