"""Dreaming rules: the dreaming kernel (closed form) and Hopfield–Feinstein–Palmer unlearning.

Patterns are rows of ξ (..., P, N) with an optional mask (P,) marking the real rows of a padded
array; masked rows contribute nothing. Couplings are (N, N), symmetric, zero diagonal, in the
patterns' float precision (`hopjax.rules.classical.float_dtype`: float32, or float64 for
float64 patterns under x64).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from hopjax import _linalg, dynamics
from hopjax._checks import check_nonneg
from hopjax._precision import einsum
from hopjax.rules.base import IterativeRule, RelaxFn, dream_dynamics
from hopjax.rules.classical import _masked, hebb, zero_diagonal
from hopjax.rules.training import step_keys

__all__ = ["dreaming_kernel", "unlearning", "unlearning_rule", "Unlearning", "UnlearningState",
           "UnlearningInfo"]


def dreaming_kernel(xi, t, mask=None):
    """Dreaming kernel J(t) = (1/N) ξᵀ (1 + t)(I + tC)⁻¹ ξ, C = ξξᵀ/N, J_ii = 0
    (Fachechi, Agliari, Barra, Neural Networks 112, 24 (2019)).

    The sleep time t ≥ 0 interpolates between Hebb (t = 0) and the projector / pseudo-inverse
    rule (t → ∞), raising the capacity up to α = 1.

    Args:
      xi: patterns (..., P, N), ±1.
      t: sleep time, scalar ≥ 0 or broadcastable to xi.shape[:-2] (may be traced).
      mask: (..., P) bool or None. Masked rows are zeroed, so the padded block of I + tC is
        exactly the identity: the P×P system stays positive definite (eigenvalues ≥ 1) and the
        padded rows drop out.

    Returns:
      J (..., N, N) in `float_dtype` (xi) (float32; float64 for float64 patterns under x64).

    I + tC is symmetric positive definite, so we use a Cholesky factor L and J = (1+t)/N YᵀY
    with Y = L⁻¹ξ, symmetrised to the bit; well conditioned for P < N at any t (the condition
    number is at most λ_max/λ_min of C). For P ≥ N and very large t it degrades in float32 (C
    is singular); use x64 or `pseudo_inverse` there.

    >>> import jax
    >>> from hopjax import patterns
    >>> xi = patterns.random(jax.random.key(0), 30, 100)
    >>> J = dreaming_kernel(xi, 10.0)
    >>> J.shape, bool((J == J.T).all()), float(abs(J.diagonal()).max())
    ((100, 100), True, 0.0)
    """
    check_nonneg(t, "t")
    xi, _ = _masked(xi, mask)
    P, N = xi.shape[-2:]
    t = jnp.asarray(t, xi.dtype)[..., None, None]
    C = einsum("...pi,...qi->...pq", xi, xi) / N
    # one matrix per LAPACK call (a batched call can deadlock several CPU devices: _linalg)
    L = _linalg.cholesky(jnp.eye(P, dtype=xi.dtype) + t * C)
    Y = _linalg.solve_triangular(L, xi, lower=True)
    J = einsum("...pi,...pj->...ij", Y, Y) * ((1.0 + t) / N)
    # YᵀY is symmetric in exact arithmetic; the product's rounding is not (3e-8 seen): average
    # the two halves (float addition commutes, so the result is symmetric to the bit)
    return zero_diagonal(0.5 * (J + jnp.swapaxes(J, -1, -2)))


class UnlearningState(NamedTuple):
    """J (N, N); steps_per_epoch () int32 (read by `train`)."""

    J: jax.Array
    steps_per_epoch: jax.Array


class UnlearningInfo(NamedTuple):
    """Per dream: delta_norm = ‖ΔJ‖_F; sweeps of the dream's relaxation; converged (1.0 when
    the dream reached a fixed point before the sweep cap)."""

    delta_norm: jax.Array
    sweeps: jax.Array
    converged: jax.Array


class Unlearning(IterativeRule):
    """`IterativeRule` (init, update) of `unlearning_rule`."""

    __slots__ = ()


def unlearning_rule(epsilon, *, steps_per_epoch: int = 1, normalization: str = "N",
                    mode: str = "async", max_sweeps=100, method: str | None = None,
                    block: int = 16, relax: RelaxFn | None = None) -> Unlearning:
    """Hopfield–Feinstein–Palmer unlearning (Nature 304, 158 (1983)) as an (init, update) pair.

    ``init(key, xi, mask=None)`` gives Hebb couplings (``normalization`` as in `hebb`).
    ``update(key, state, xi, mask=None)`` dreams once: a uniformly random σ (N,) relaxes at
    zero temperature to σ*, then J ← J − (ε/N) σ*σ*ᵀ with the diagonal kept 0. ε
    (``epsilon``) may be traced. The dream's dynamics is ``relax(key, J, sigma)`` (e.g.
    ``functools.partial(dynamics.relax, mode="sync")``; `hopjax.rules.base`), or, with relax
    None, `hopjax.dynamics.relax` with ``mode``, ``max_sweeps``, ``method`` (None = relax's
    default) and ``block``, which keep their defaults when ``relax`` is given.
    ``steps_per_epoch`` (static int, default 1) sets what `train` calls an epoch, so that by
    default its epochs count dreams.
    """
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be a positive int; got {steps_per_epoch!r}")
    relax = dream_dynamics(relax, mode=mode, max_sweeps=max_sweeps, method=method, block=block,
                           rule="unlearning_rule")

    def init(key, xi, mask=None):
        del key
        return UnlearningState(hebb(xi, mask, normalization=normalization),
                               jnp.asarray(steps_per_epoch, jnp.int32))

    def update(key, state, xi, mask=None):
        del xi, mask  # dreams do not look at the patterns
        J = state.J
        N = J.shape[-1]
        eps = jnp.asarray(epsilon, J.dtype)
        k_start, k_relax = jax.random.split(key)
        start = jax.random.rademacher(k_start, (N,), dtype=J.dtype)
        out = relax(k_relax, J, start)
        J = J - (eps / N) * zero_diagonal(jnp.outer(out.sigma, out.sigma))
        # every off-diagonal entry of σσᵀ is ±1: ‖ΔJ‖_F = |ε| √(N(N−1)) / N
        info = UnlearningInfo(jnp.abs(eps) * jnp.sqrt(N * (N - 1.0)) / N, out.sweeps,
                              (out.status == dynamics.FIXED_POINT).astype(jnp.float32))
        return state._replace(J=J), info

    return Unlearning(init, update)


def unlearning(key, xi, mask=None, *, epsilon, n_dreams, normalization: str = "N",
               mode: str = "async", max_sweeps=100, method: str | None = None,
               block: int = 16, relax: RelaxFn | None = None):
    """Hebb couplings after ``n_dreams`` unlearning dreams (Hopfield, Feinstein, Palmer 1983).

    Repeats n_dreams times: random σ → zero-temperature fixed point σ* (asynchronous `relax`) →
    J ← J − (ε/N) σ*σ*ᵀ, diagonal 0. It improves storage for a while and then erases every
    memory, so n_dreams has a best value (scan it with `train` and `unlearning_rule`).

    Args:
      key: PRNG key. Dream d uses the same key as step d of `train` with the same key, so this
        equals ``train(key, unlearning_rule(epsilon), xi, mask, epochs=n_dreams)`` and a run
        with fewer dreams is a prefix of a longer one.
      xi: patterns (P, N) ±1; mask: (P,) bool or None.
      epsilon: dream strength ε (may be traced).
      n_dreams: number of dreams, int or traced int32 (a `fori_loop` with a traced count: no
        static maximum is needed; under vmap every lane runs to the largest count and stops).
      normalization, mode, max_sweeps, method, block, relax: as in `unlearning_rule`.

    Returns:
      J (N, N), symmetric, zero diagonal, in `float_dtype` (xi) (float32; float64 under x64).

    >>> import jax
    >>> from hopjax import patterns, rules
    >>> xi = patterns.random(jax.random.key(0), 10, 100)
    >>> J = unlearning(jax.random.key(1), xi, epsilon=0.0, n_dreams=3)
    >>> bool((J == rules.hebb(xi)).all())
    True
    """
    check_nonneg(n_dreams, "n_dreams")
    rule = unlearning_rule(epsilon, normalization=normalization, mode=mode,
                           max_sweeps=max_sweeps, method=method, block=block, relax=relax)
    k_init, k_steps = step_keys(key)
    state = rule.init(k_init, xi, mask)

    def dream(d, state):
        return rule.update(jax.random.fold_in(k_steps, d), state, xi, mask)[0]

    return lax.fori_loop(0, jnp.asarray(n_dreams, jnp.int32), dream, state).J
