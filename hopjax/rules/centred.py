"""Centred rules for biased patterns: centred Hebb, centred pseudo-inverse, centred Daydreaming.

Biased patterns have P(ξ_i = +1) = (1 + a)/2, mean a (`hopjax.patterns.biased`). Every rule
here works with the centred patterns ξ − a, and they retrieve with the centred dynamics

    σ_i ← sign(h_i),  h_i = Σ_{j≠i} J_ij (σ_j − a) + θ,
    E_c(σ) = −½ Σ_{i≠j} (σ_i − a) J_ij (σ_j − a) − θ Σ_i (σ_i − a)

(θ = 0 by default). The centred field is the ordinary field Σ_{j≠i} J_ij σ_j plus the bias
b_i = θ − a Σ_{j≠i} J_ij (`centred_bias`), so the centred dynamics is `hopjax.dynamics.relax`
with ``bias=centred_bias(J, a)``, with all its modes, its tie convention and its CPU kernel
(`centred_relax`), and E_c is the ordinary energy with that bias up to a constant
(`hopjax.energy.centred_energy`): every asynchronous flip lowers it.

θ = 0 keeps the pseudo-inverse's guarantee: with the centred pseudo-inverse the centred field
of a pattern is (1 − J_ii)(ξ_i − a), so every pattern is a fixed point for any α < 1, but the
margin of the +1 spins is only (1 − a). θ = a (σ_i ← sign(a + [J(σ − a)]_i), the sign of the
reconstructed spin) makes centred Hebb's margins symmetric (±1); the zero-diagonal centred
pseudo-inverse then stores a pattern only while J_ii < 1/(1 + a) (about α < 1/(1 + a)).

Source of the definitions. Centred Daydreaming is the rule of Doi, Ohzeki and Ricci-Tersenghi,
"Daydreaming algorithm for biased patterns", arXiv:2604.19258 (2026), who introduce "the
retrieval dynamics and an energy function based on the centered representation" and derive
centred Daydreaming from the rationale of the pseudo-inverse rule. Only the paper's abstract
and introduction could be read, not its equations: the formulas here are the standard centred
(covariance) rules for biased patterns (Amit, Gutfreund, Sompolinsky, Phys. Rev. A 35, 2293
(1987); Tsodyks, Feigel'man, Europhys. Lett. 6, 101 (1988)) and the Daydreaming step of
Serricchio et al. (2025) written for centred patterns and dreams. They are NOT checked against
the paper's equations: its threshold, normalisation and dream starts may differ. At a = 0
(θ = 0) every function here is its uncentred counterpart, bit for bit.

``a`` is the generative bias, a scalar that may be traced (a grid over biases compiles once);
a concrete a outside (−1, 1) raises a ValueError before any compute. Masks mark the real rows
of a padded pattern array, as in `hopjax.rules.classical`: masked rows contribute nothing
(they are zeroed after centring).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from hopjax import dynamics
from hopjax._checks import check_patterns, check_spins, concrete
from hopjax._precision import einsum
from hopjax._reduce import fixed_sum  # same bits in any batch layout
from hopjax.rules.classical import _projector, float_dtype, zero_diagonal
from hopjax.rules.base import RelaxFn, dream_dynamics
from hopjax.rules.daydreaming import (Daydreaming, _check_options, initial_state,
                                      update_function)

__all__ = ["centred_hebb", "centred_pseudo_inverse", "centred_bias", "centred_relax",
           "centred_daydreaming", "centred_daydreaming_rule", "check_bias", "STARTS"]

STARTS = ("biased", "uniform")


def check_bias(a, name: str = "a") -> None:
    """A scalar bias; a concrete value must lie in the open interval (−1, 1) (NaN does not)."""
    if jnp.ndim(a) != 0:
        raise ValueError(f"{name} must be a scalar bias; got shape {jnp.shape(a)}")
    v = concrete(a)
    if v is not None and not np.abs(v) < 1:
        raise ValueError(f"{name} must lie in the open interval (-1, 1), the mean of the "
                         f"patterns (P(ξ_i = +1) = (1 + {name})/2); got {float(v)!r}")


def _centred(xi, a, mask):
    """Centred patterns (ξ − a)·mask in `float_dtype` (xi) and the number of real rows."""
    check_patterns(xi)
    check_spins(xi, "xi", mask)
    check_bias(a)
    dt = float_dtype(xi)
    x = jnp.asarray(xi, dt) - jnp.asarray(a, dt)
    if mask is None:
        return x, jnp.full(x.shape[:-2], x.shape[-2], dt)
    mask = jnp.asarray(mask)
    return x * mask[..., None].astype(dt), jnp.sum(mask, axis=-1).astype(dt)


def centred_hebb(xi, a, mask=None, *, normalization: str = "N"):
    """Centred Hebb rule J = Σ_μ (ξ^μ − a)(ξ^μ − a)ᵀ / (N (1 − a²)), J_ii = 0.

    The covariance rule for biased patterns (Amit, Gutfreund, Sompolinsky 1987; Tsodyks,
    Feigel'man 1988): with the centred dynamics (`centred_bias`) the field on a pattern is
    (ξ_i − a) plus crosstalk of variance α (1 − a²), so small loads are stored at any |a| < 1,
    where plain Hebb fails (every other pattern adds ≈ a² ξ^μ_i to the field: a common
    component a³ P that beats the signal once a³ P ≳ 1).

    xi: (..., P, N) ±1, P ≥ 1; a: scalar in (−1, 1), may be traced; mask: (..., P) bool or
    None. ``normalization="P"`` divides by (number of real patterns)·(1 − a²) instead of
    N (1 − a²), as `hebb` does. Returns (..., N, N) in `float_dtype` (xi). a = 0 gives
    `hebb` bit for bit.

    >>> import jax
    >>> from hopjax import patterns
    >>> xi = patterns.biased(jax.random.key(0), 10, 100, 0.5)
    >>> J = centred_hebb(xi, 0.5)
    >>> J.shape, float(abs(J - J.T).max()), float(abs(J.diagonal()).max())
    ((100, 100), 0.0, 0.0)
    """
    if normalization not in ("N", "P"):
        raise ValueError(f"normalization must be 'N' or 'P'; got {normalization!r}")
    x, P = _centred(xi, a, mask)
    N = x.shape[-1]
    if normalization == "N":
        scale = jnp.asarray(1.0 / N, x.dtype)
    else:
        scale = 1.0 / jnp.maximum(P, 1.0)[..., None, None]
    J = einsum("...pi,...pj->...ij", x, x) * scale
    return zero_diagonal(J / (1.0 - jnp.square(jnp.asarray(a, x.dtype))))


def centred_pseudo_inverse(xi, a, mask=None, *, rcond: float = 1e-5):
    """Centred pseudo-inverse J = (ξ − a)ᵀ C⁺ (ξ − a) / N, C = (ξ − a)(ξ − a)ᵀ / N, J_ii = 0.

    With its diagonal J is the projector onto the span of the centred patterns, so the
    centred field of pattern μ is h_i = (1 − J_ii)(ξ^μ_i − a), of the sign of ξ^μ_i: every
    pattern is a fixed point of the centred dynamics for α < 1 and any |a| < 1. Eigenvalues
    of C below ``rcond`` × the largest are dropped (padded rows, P ≥ N), as in
    `pseudo_inverse`; a = 0 gives `pseudo_inverse` bit for bit. Arguments as `centred_hebb`.
    """
    x, _ = _centred(xi, a, mask)
    return _projector(x, rcond)


def centred_bias(J, a, theta=None):
    """Bias b (..., N) that turns the ordinary field into the centred one:
    b_i = θ − a Σ_{j≠i} J_ij, so Σ_{j≠i} J_ij σ_j + b_i = Σ_{j≠i} J_ij (σ_j − a) + θ.

    Pass it as ``bias=`` to `hopjax.dynamics.relax`, `hopjax.metrics.retrieval_map`,
    `stable_fraction`, `is_fixed_point` (J symmetric: row and column sums agree). a scalar in
    (−1, 1), may be traced; θ (``theta``) an optional uniform threshold, None = 0. a = 0 and
    θ = None give zeros. The row sums are fixed-order sums (same bits in any batch layout)."""
    check_bias(a)
    J = jnp.asarray(J)
    dt = jnp.promote_types(J.dtype, jnp.float32)
    b = -jnp.asarray(a, dt) * fixed_sum(zero_diagonal(J.astype(dt)), axis=-1)
    return b if theta is None else b + jnp.asarray(theta, dt)


def centred_relax(key, J, sigma, a, *, theta=None, **kwargs):
    """Centred dynamics σ_i ← sign(Σ_{j≠i} J_ij (σ_j − a) + θ): `hopjax.dynamics.relax`
    with ``bias=centred_bias(J, a, theta)``; every other option (mode, T, frozen, method,
    max_sweeps ...) is relax's. Returns `hopjax.dynamics.Relaxed`."""
    return dynamics.relax(key, J, sigma, bias=centred_bias(J, a, theta), **kwargs)


def _spins(key, shape, a, dtype):
    """±1 spins with P(+1) = (1 + a)/2: the draw of `jax.random.rademacher` (uniform < p in
    the default float dtype), so a = 0 gives rademacher's spins bit for bit."""
    fdt = jnp.result_type(float)
    p = (1.0 + jnp.asarray(a, fdt)) / 2.0
    up = jax.random.uniform(key, shape, fdt) < p
    return (2 * up.astype(dtype) - 1).astype(dtype)


def centred_daydreaming(tau, a, *, theta=None, init: str = "hebb", start: str = "biased",
                        steps_per_epoch="P", normalize: str | None = "frobenius",
                        norm_period: int = 1, j_max=None, mode: str = "async", max_sweeps=100,
                        batch: int = 1, method: str | None = None, block: int = 16,
                        relax: RelaxFn | None = None) -> Daydreaming:
    """Centred Daydreaming for biased patterns (Doi, Ohzeki, Ricci-Tersenghi 2026, as assumed
    here: see the module docstring) as an ``(init, update)`` pair for `hopjax.rules.train`.

    Each step relaxes K random starts with the centred dynamics to fixed points σ*, draws K
    real patterns ξ^μ and adds

        ΔJ = Σ_k [(ξ^μ_k − a)(ξ^μ_k − a)ᵀ − (σ*_k − a)(σ*_k − a)ᵀ] / (τ N K),  diagonal 0

    (the diagonal is zeroed explicitly: (ξ_i − a)² − (σ_i − a)² = ∓4a where ξ_i ≠ σ_i). J
    stops changing when the centred pattern correlations equal those of the centred dynamics'
    attractors. ``a`` is the pattern bias (scalar in (−1, 1), may be traced). ``init``
    ``"hebb"`` / ``"hebb_P"`` start from `centred_hebb` (1/N or 1/P); ``"zeros"`` and
    ``"gaussian"`` as in `daydreaming`; the Frobenius rescaling targets that norm (centred
    Hebb's for ``"zeros"``). ``start``: the dreams' random starts, ``"biased"`` (spins with
    mean a, like the patterns; default) or ``"uniform"`` (mean 0, as in Daydreaming); the
    paper's choice is not known here. ``theta``: the threshold θ of the dreams' centred
    dynamics (None = 0; retrieve with the same θ, ``centred_bias(J, a, theta)``). ``relax``:
    the dreams' dynamics ``relax(key, J, sigma)``, e.g. ``partial(centred_relax, a=a,
    mode="sync")``; None: `centred_relax` with ``theta``, ``mode``, ``max_sweeps``,
    ``method``, ``block`` (which then keep their defaults). Every other option, the state
    (`DaydreamingState`), the info (`DaydreamingInfo`; delta_norm = ‖ΔJ‖_F with the zeroed
    diagonal) and the random numbers (``k_start, k_relax, k_mu = split(key, 3)``) are those
    of `daydreaming`, so a = 0 (θ None) gives its trajectory bit for bit (either ``start``).

    xi: patterns (P_max, N) ±1 with the bias a (`hopjax.patterns.biased`); mask: (P_max,)
    bool or None. J stays exactly symmetric with a zero diagonal.

    >>> import jax
    >>> from hopjax import patterns
    >>> xi = patterns.biased(jax.random.key(0), 20, 100, 0.4)
    >>> rule = centred_daydreaming(20.0, 0.4)
    >>> state = rule.init(jax.random.key(1), xi)
    >>> state, info = rule.update(jax.random.key(2), state, xi)
    >>> int(state.step), bool((state.J == state.J.T).all()), float(abs(state.J.diagonal()).max())
    (1, True, 0.0)
    """
    check_bias(a)
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}; got {start!r}")
    _check_options(tau, init=init, steps_per_epoch=steps_per_epoch, normalize=normalize,
                   norm_period=norm_period, j_max=j_max, batch=batch)
    if relax is not None and theta is not None:
        raise TypeError("centred_daydreaming: with a relax function, set theta in that "
                        "function instead (e.g. partial(centred_relax, a=a, theta=theta))")
    relax = dream_dynamics(relax, mode=mode, max_sweeps=max_sweeps, method=method, block=block,
                           bias=lambda J: centred_bias(J, a, theta), rule="centred_daydreaming")
    a_start = a if start == "biased" else 0.0

    def init_fn(key, xi, mask=None):
        return initial_state(key, xi, mask, init=init, steps_per_epoch=steps_per_epoch,
                             hebb_fn=lambda xi, mask, n: centred_hebb(xi, a, mask,
                                                                      normalization=n))

    update_fn = update_function(
        tau, relax=relax, batch=batch, j_max=j_max, normalize=normalize == "frobenius",
        norm_period=norm_period, a=a,
        starts=lambda key, shape, dtype: _spins(key, shape, a_start, dtype))
    return Daydreaming(init_fn, update_fn)


centred_daydreaming_rule = centred_daydreaming  # the `*_rule` name (hopjax.rules)
