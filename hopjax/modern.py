"""Modern continuous Hopfield networks and Hopfield layers (Ramsauer et al. 2020).

Ramsauer, Schäfl, Lehner, Seidl, Widrich, Adler, Gruber, Holzleitner, Pavlović, Sandve,
Greiff, Kreil, Kopp, Klambauer, Brandstetter, Hochreiter, "Hopfield Networks is All You Need"
(ICLR 2021, arXiv:2008.02217).

Convention: stored patterns are the ROWS of X (P, d), like ξ (P, N) elsewhere in hopjax (the
paper writes X = (x_1 … x_P) as columns; Xᵀξ there is X @ ξ here). States/queries ξ are
(..., d); any leading dimensions are a batch.

* energy E(ξ) = −lse(β, X ξ) + ½ ξ·ξ + β⁻¹ log P + ½ M², with lse(β, z) = β⁻¹ log Σ_μ e^{β z_μ}
  and M = max_μ ‖x_μ‖ (the constant terms make E ≥ 0 on the patterns' convex hull);
* update ξ ← Xᵀ softmax(β X ξ) (CCCP step: E never increases; usually converges in one step);
* large β retrieves single patterns, small β gives metastable averages of similar patterns.

Numerics: β ≥ 0 (β = inf allowed: the argmax limit). The softmax is evaluated as
softmax(β (z − max z)): its largest logit is exactly 0 at every β, where β z − max(β z) is
rounded (XLA:CPU contracts it into an FMA) to a positive logit of ~10³ at β ~ 1e9, and exp
overflowed to inf/inf = NaN. The energy is evaluated as −max z − β⁻¹ log mean_μ e^{β (z_μ − max z)}
(the same function), finite at β = 0, where it takes its limit −mean_μ z_μ.

The update is softmax attention; the equinox modules `Hopfield` (association of a query set
with a stored set), `HopfieldPooling` (learned queries pool a set) and `HopfieldLayer`
(learned lookup memory) wrap it with optional learned projections and a learnable or fixed
β. They take unbatched inputs (seq, dim); vmap them over a batch (equinox style).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from hopjax._checks import check_nonneg
from hopjax._precision import matmul
from jax import lax

__all__ = ["energy", "update", "retrieve", "Retrieved", "separation", "Hopfield",
           "HopfieldPooling", "HopfieldLayer"]


def _mask_logits(z, mask):
    return z if mask is None else jnp.where(jnp.asarray(mask, bool), z, -jnp.inf)


def _shifted(z, mask):
    """(d, zmax): d = z − max z ≤ 0 over the real keys (exactly 0 at the max; 0, not −inf, at
    masked keys so that no 0·inf appears), zmax (..., 1) without gradient (softmax and the
    energy do not depend on the shift)."""
    if mask is None:
        zmax = lax.stop_gradient(jnp.max(z, axis=-1, keepdims=True))
        return z - zmax, zmax
    m = jnp.asarray(mask, bool)
    zmax = lax.stop_gradient(jnp.max(jnp.where(m, z, -jnp.inf), axis=-1, keepdims=True))
    return jnp.where(m, z - zmax, 0.0), zmax


def _finite_beta(beta, dtype):
    # β = inf → the largest float: β·0 = 0 at the max logit, −inf (exp → 0) elsewhere
    return jnp.where(jnp.isinf(beta), jnp.finfo(dtype).max, beta).astype(dtype)


def _softmax(z, beta, mask=None):
    """softmax(β z) over the last axis for β ≥ 0, stable at any β (module docstring)."""
    d, _ = _shifted(z, mask)
    return jax.nn.softmax(_mask_logits(_finite_beta(beta, d.dtype) * d, mask), axis=-1)


def _attend(q, k, v, beta, mask=None):
    """softmax(β q kᵀ) v: q (..., n, h), k (m, h), v (m, o) -> (..., n, o); mask (m,) keys."""
    return matmul(_softmax(matmul(q, k.T), beta, mask), v)


def _check_beta(beta):
    check_nonneg(beta, "beta")  # eager values only (inside jit β is a tracer)


# ----------------------------------------------------------------------------- functions
def energy(X, xi, beta, mask=None):
    """Modern Hopfield energy E(ξ) = −lse(β, X ξ) + ½ ξ·ξ + β⁻¹ log P + ½ M² (Ramsauer et al.).

    Args:
      X: stored patterns (P, d), rows.
      xi: states (..., d).
      beta: inverse temperature β ≥ 0 (scalar, may be traced; a negative eager β raises).
        At β = 0 the energy is its limit β → 0⁺: −lse(β, z) + β⁻¹ log P → −mean_μ z_μ, so
        E(ξ) = −(1/P) Σ_μ x_μ·ξ + ½ ξ·ξ + ½ M² (minimised by the mean pattern, the β = 0 fixed
        point of `update`). β = inf gives −max_μ x_μ·ξ + ½ ξ·ξ + ½ M².
      mask: (P,) bool marking real patterns of a padded X (P and M count only those).

    Returns:
      (...) energies, float32.

    >>> import jax.numpy as jnp
    >>> X = jnp.eye(2)
    >>> round(energy(X, X[0], 1.0).item(), 4)  # −log(e + 1) + ½ + log 2 + ½
    0.3799
    >>> round(energy(X, X[0], 0.0).item(), 4)  # β → 0: −½ (1 + 0) + ½ + ½
    0.5
    """
    _check_beta(beta)
    return _energy(X, xi, beta, mask)


def _float32(*arrays):
    return tuple(jnp.asarray(a, jnp.float32) for a in arrays)


@jax.jit
def _energy(X, xi, beta, mask=None):
    X, xi, beta = _float32(X, xi, beta)
    mk = jnp.ones(X.shape[:1], bool) if mask is None else jnp.asarray(mask, bool)
    d, zmax = _shifted(matmul(xi, X.T), mk)
    P = jnp.sum(mk).astype(jnp.float32)
    positive = beta > 0
    x = _finite_beta(jnp.where(positive, beta, 1.0), d.dtype) * d  # ≤ 0
    # L = log mean_μ e^{β d_μ} ∈ [−log P, 0]: log1p of mean(expm1) when the mean is near 1
    # (small β: no cancellation), else log of the sum of exp (large β: no 1 − 1/P rounding)
    u = jnp.sum(jnp.where(mk, jnp.expm1(x), 0.0), axis=-1) / P
    S = jnp.sum(jnp.where(mk, jnp.exp(x), 0.0), axis=-1)
    L = jnp.where(u > -0.5, jnp.log1p(u), jnp.log(S) - jnp.log(P))
    mean_d = jnp.sum(jnp.where(mk, d, 0.0), axis=-1) / P  # lim_{β→0} L/β
    lse_P = zmax[..., 0] + jnp.where(positive, L / jnp.where(positive, beta, 1.0), mean_d)
    M2 = jnp.max(jnp.where(mk, jnp.sum(X * X, axis=-1), 0.0))
    return -lse_P + 0.5 * jnp.sum(xi * xi, axis=-1) + 0.5 * M2


def update(X, xi, beta, mask=None):
    """One step of the modern Hopfield update ξ ← Xᵀ softmax(β X ξ) (Ramsauer et al. 2020).

    X: (P, d) stored patterns (rows); xi: (..., d); beta: scalar β ≥ 0 (inf: the nearest
    pattern, ties averaged); mask: (P,) or None. Returns (..., d) float32, finite at any β.
    Batched queries run as two matmuls, (B, d)·(d, P) and (B, P)·(P, d).

    >>> import jax.numpy as jnp
    >>> X = jnp.array([[1., 0.], [0., 1.]])
    >>> update(X, jnp.array([0.9, 0.2]), 50.0).round(4).tolist()  # nearest pattern
    [1.0, 0.0]
    >>> update(X, jnp.array([0.9, 0.2]), 0.0).tolist()  # β = 0: the mean
    [0.5, 0.5]
    """
    _check_beta(beta)
    return _update(X, xi, beta, mask)


@jax.jit
def _update(X, xi, beta, mask=None):
    X, xi, beta = _float32(X, xi, beta)
    return _attend(xi, X, X, beta, mask)


class Retrieved(NamedTuple):
    """Result of `retrieve`: final states (..., d); ``iterations`` (...) = updates applied
    (the last one moved the state by at most ``tol`` if converged); ``converged`` (...) bool,
    never True for a state with a NaN or inf entry."""

    xi: jax.Array
    iterations: jax.Array
    converged: jax.Array


def retrieve(X, xi, beta, *, tol=1e-5, max_iter=100, mask=None) -> Retrieved:
    """Iterate `update` from ``xi`` until max_i |Δξ_i| ≤ tol (per query) or ``max_iter``.

    X: (P, d); xi: (..., d); beta (≥ 0), tol, max_iter may be traced. Converged queries stop
    moving while the others continue (one `lax.while_loop` for the batch). A query whose
    state becomes non-finite stops too, with ``converged`` False.

    >>> import jax, jax.numpy as jnp
    >>> X = jax.random.normal(jax.random.key(0), (10, 64))
    >>> out = retrieve(X, X[3] + 0.3 * jax.random.normal(jax.random.key(1), (64,)), 1.0)
    >>> bool(jnp.allclose(out.xi, X[3], atol=1e-5)), out.iterations.item(), out.converged.item()
    (True, 2, True)
    """
    _check_beta(beta)
    xi = jnp.asarray(xi, jnp.float32)
    batch, d = xi.shape[:-1], xi.shape[-1]
    s, it, conv = _retrieve_flat(jnp.asarray(X, jnp.float32), xi.reshape(-1, d),
                                 jnp.asarray(beta, jnp.float32), jnp.asarray(tol, jnp.float32),
                                 max_iter, mask)
    return Retrieved(s.reshape(xi.shape), it.reshape(batch), conv.reshape(batch))


@jax.jit
def _retrieve_flat(X, xi, beta, tol, max_iter, mask):
    B = xi.shape[0]

    def body(c):
        t, xi, active, it = c
        new = _attend(xi, X, X, beta, mask)
        # not "> tol": NaN > tol is False, which read a NaN state as converged
        moved = ~(jnp.max(jnp.abs(new - xi), axis=-1) <= tol)
        finite = jnp.all(jnp.isfinite(new), axis=-1)
        xi = jnp.where(active[:, None], new, xi)
        return t + 1, xi, active & moved & finite, it + active

    init = (0, xi, jnp.ones((B,), bool), jnp.zeros((B,), jnp.int32))
    _, xi, active, it = lax.while_loop(lambda c: (c[0] < max_iter) & jnp.any(c[2]), body, init)
    return xi, it, ~active & jnp.all(jnp.isfinite(xi), axis=-1)


def separation(X, mask=None):
    """Separation Δ_μ = x_μ·x_μ − max_{ν≠μ} x_μ·x_ν (P,) of each stored pattern.

    Ramsauer et al. (Theorem 4): from ξ near x_μ one update lands within
    2 (P−1) e^{−β(Δ_μ − 2 ‖ξ − x_μ‖ M)} M of x_μ, so β Δ_μ ≫ log P retrieves x_μ in one step.

    >>> import jax.numpy as jnp
    >>> separation(2.0 * jnp.eye(3)).tolist()
    [4.0, 4.0, 4.0]
    """
    X = jnp.asarray(X, jnp.float32)
    G = matmul(X, X.T)
    P = X.shape[0]
    off = jnp.eye(P, dtype=bool)
    if mask is not None:
        off = off | ~jnp.asarray(mask, bool)[None, :]
    return jnp.diagonal(G) - jnp.max(jnp.where(off, -jnp.inf, G), axis=-1)


# ----------------------------------------------------------------------------- modules
class _Beta(eqx.Module):
    """β = exp(log_beta): positive when learned; a fixed β gets no gradient."""

    log_beta: jax.Array
    learn: bool = eqx.field(static=True)

    def __call__(self):
        lb = self.log_beta if self.learn else lax.stop_gradient(self.log_beta)
        return jnp.exp(lb)


def _beta(beta, dim, learn):
    b = 1.0 / math.sqrt(dim) if beta is None else beta  # the paper's default β = 1/√d_k
    return _Beta(jnp.log(jnp.asarray(b, jnp.float32)), learn)


def _linear(key, n_in, n_out, project):
    # None = identity (no projection); then n_in must equal n_out
    return eqx.nn.Linear(n_in, n_out, use_bias=False, key=key) if project else None


def _apply(lin, x):
    # x (..., n_in) @ Wᵀ at full precision (eqx.nn.Linear's own product would use TF32 on GPUs)
    return x if lin is None else matmul(x, lin.weight.T)


class Hopfield(eqx.Module):
    """Hopfield association (Ramsauer et al. 2020): state patterns R attend to stored Y.

    Z = softmax(β Q Kᵀ) V with Q = R W_q, K = Y W_k, V = Y W_v (each projection optional),
    i.e. one modern-Hopfield update of the projected queries with keys K and values V.
    With ``update_steps > 1`` the queries are first moved ``update_steps − 1`` times by the
    update ξ ← Kᵀ softmax(β K ξ) in the key space (pattern retrieval), then read out.

    Shapes (unbatched, vmap for batches): R (n_q, query_dim), Y (n_k, key_dim) ->
    (n_q, value_dim). ``mask`` (n_k,) excludes stored items (padding).

    >>> import jax, jax.numpy as jnp
    >>> layer = Hopfield(8, hidden_dim=4, value_dim=3, key=jax.random.key(0))
    >>> layer(jnp.ones((5, 8)), jnp.ones((7, 8))).shape
    (5, 3)
    >>> Y = jnp.eye(3)  # no projections, large β: the layer is the Hopfield update
    >>> plain = Hopfield(3, project=False, beta=50.0, key=jax.random.key(0))
    >>> plain(jnp.array([[0.8, 0.3, 0.1]]), Y).round(3).tolist()
    [[1.0, 0.0, 0.0]]
    """

    W_q: eqx.nn.Linear | None
    W_k: eqx.nn.Linear | None
    W_v: eqx.nn.Linear | None
    beta_: _Beta
    update_steps: int = eqx.field(static=True)

    def __init__(self, query_dim: int, key_dim: int | None = None, *,
                 hidden_dim: int | None = None, value_dim: int | None = None,
                 beta: float | None = None, learn_beta: bool = False, project: bool = True,
                 project_queries: bool | None = None, project_values: bool | None = None,
                 update_steps: int = 1, key):
        key_dim = query_dim if key_dim is None else key_dim
        project_queries = project if project_queries is None else project_queries
        project_values = project if project_values is None else project_values
        hidden_dim = (query_dim if project_queries else key_dim) if hidden_dim is None else hidden_dim
        value_dim = (hidden_dim if project_values else key_dim) if value_dim is None else value_dim
        if (not project_queries and query_dim != hidden_dim) or (not project and key_dim != hidden_dim):
            raise ValueError("an unprojected query/key dimension must equal hidden_dim")
        if not project_values and value_dim != key_dim:
            raise ValueError("without a value projection value_dim must equal key_dim")
        kq, kk, kv = jax.random.split(key, 3)
        self.W_q = _linear(kq, query_dim, hidden_dim, project_queries)
        self.W_k = _linear(kk, key_dim, hidden_dim, project)
        self.W_v = _linear(kv, key_dim, value_dim, project_values)
        self.beta_ = _beta(beta, hidden_dim, learn_beta)
        self.update_steps = int(update_steps)

    @property
    def beta(self):
        return self.beta_()

    def _qkv(self, R, Y):
        return _apply(self.W_q, R), _apply(self.W_k, Y), _apply(self.W_v, Y)

    def _retrieve(self, Q, K, mask):
        for _ in range(self.update_steps - 1):
            Q = _attend(Q, K, K, self.beta, mask)
        return Q

    def __call__(self, R, Y, *, mask=None):
        Q, K, V = self._qkv(R, Y)
        return _attend(self._retrieve(Q, K, mask), K, V, self.beta, mask)

    def attention(self, R, Y, *, mask=None):
        """Association matrix softmax(β Q Kᵀ) (n_q, n_k) (after the retrieval steps)."""
        Q, K, _ = self._qkv(R, Y)
        Q = self._retrieve(Q, K, mask)
        return _softmax(matmul(Q, K.T), self.beta, mask)

    def energy(self, R, Y, *, mask=None):
        """Modern Hopfield energy (n_q,) of the projected queries w.r.t. the projected keys."""
        Q, K, _ = self._qkv(R, Y)
        return _energy(K, Q, self.beta, mask)


class HopfieldPooling(eqx.Module):
    """Hopfield pooling: ``n_queries`` learned static state patterns attend to an input set.

    Y (n_k, key_dim) -> (n_queries, value_dim): a permutation-invariant summary of a set or
    bag (Ramsauer et al. 2020, HopfieldPooling; used there for multiple-instance learning).

    >>> import jax, jax.numpy as jnp
    >>> pool = HopfieldPooling(6, n_queries=2, hidden_dim=4, key=jax.random.key(0))
    >>> Y = jax.random.normal(jax.random.key(1), (9, 6))
    >>> out = pool(Y)
    >>> out.shape, bool(jnp.allclose(out, pool(Y[::-1]), atol=1e-6))  # order-invariant
    ((2, 4), True)
    """

    query: jax.Array
    hopfield: Hopfield

    def __init__(self, key_dim: int, *, n_queries: int = 1, hidden_dim: int | None = None,
                 value_dim: int | None = None, beta: float | None = None,
                 learn_beta: bool = False, project: bool = True,
                 project_values: bool | None = None, update_steps: int = 1, key):
        hidden_dim = key_dim if hidden_dim is None else hidden_dim
        k1, k2 = jax.random.split(key)
        # the queries live directly in the hidden (key) space: no W_q needed
        self.hopfield = Hopfield(hidden_dim, key_dim, hidden_dim=hidden_dim,
                                 value_dim=value_dim, beta=beta, learn_beta=learn_beta,
                                 project=project, project_queries=False,
                                 project_values=project_values, update_steps=update_steps,
                                 key=k2)
        self.query = jax.random.normal(k1, (n_queries, hidden_dim)) / math.sqrt(hidden_dim)

    @property
    def beta(self):
        return self.hopfield.beta

    def __call__(self, Y, *, mask=None):
        return self.hopfield(self.query, Y, mask=mask)

    def attention(self, Y, *, mask=None):
        return self.hopfield.attention(self.query, Y, mask=mask)

    def energy(self, Y, *, mask=None):
        """Energies (n_queries,) of the learned queries w.r.t. the projected set."""
        return self.hopfield.energy(self.query, Y, mask=mask)


class HopfieldLayer(eqx.Module):
    """Hopfield lookup layer: inputs attend to a learned memory of ``n_memories`` items.

    R (n_q, query_dim) -> (n_q, value_dim): Z = softmax(β (R W_q) Kᵀ) V with learned stored
    patterns K (n_memories, hidden_dim) and values V (n_memories, value_dim) (Ramsauer et al.
    2020, HopfieldLayer: the stored patterns are parameters, independent of the input).

    >>> import jax, jax.numpy as jnp
    >>> layer = HopfieldLayer(5, n_memories=16, value_dim=3, key=jax.random.key(0))
    >>> layer(jnp.ones((4, 5))).shape
    (4, 3)
    """

    W_q: eqx.nn.Linear | None
    memories: jax.Array
    values: jax.Array
    beta_: _Beta

    def __init__(self, query_dim: int, *, n_memories: int, hidden_dim: int | None = None,
                 value_dim: int | None = None, beta: float | None = None,
                 learn_beta: bool = False, project: bool = True, key):
        hidden_dim = query_dim if hidden_dim is None else hidden_dim
        value_dim = hidden_dim if value_dim is None else value_dim
        if not project and hidden_dim != query_dim:
            raise ValueError("without a query projection hidden_dim must equal query_dim")
        kq, km, kv = jax.random.split(key, 3)
        self.W_q = _linear(kq, query_dim, hidden_dim, project)
        self.memories = jax.random.normal(km, (n_memories, hidden_dim)) / math.sqrt(hidden_dim)
        self.values = jax.random.normal(kv, (n_memories, value_dim)) / math.sqrt(n_memories)
        self.beta_ = _beta(beta, hidden_dim, learn_beta)

    @property
    def beta(self):
        return self.beta_()

    def __call__(self, R):
        return _attend(_apply(self.W_q, R), self.memories, self.values, self.beta)

    def attention(self, R):
        return _softmax(matmul(_apply(self.W_q, R), self.memories.T), self.beta)

    def energy(self, R):
        """Energies (n_q,) of the projected inputs w.r.t. the learned stored patterns."""
        return _energy(self.memories, _apply(self.W_q, R), self.beta)
