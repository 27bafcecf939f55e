import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hopjax import modern


def _gauss(seed, shape):
    # numpy draws: every new shape of an eager jax.random call costs a compilation
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def test_large_beta_retrieves_in_one_step():
    P, d = 50, 64
    X = _gauss(0, (P, d))
    beta = 2.0
    # Theorem 4 precondition: β Δ ≫ log P (separations Δ ≈ 24…70 here)
    assert float(beta * modern.separation(X).min()) > np.log(P) + 20
    queries = X + 0.2 * _gauss(1, (P, d))
    np.testing.assert_allclose(modern.update(X, queries, beta), X, atol=1e-5)
    out = modern.retrieve(X, queries, beta)
    assert out.converged.all() and out.iterations.max() <= 2  # one move + one confirmation


def _pair(seed, d, u_norm2):
    """Two equal-norm patterns c ± u (c ⟂ u, ‖u‖² = u_norm2) and their midpoint c."""
    c, u = _gauss(seed, (2, d))
    u = u - (u @ c) / (c @ c) * c
    u = u * jnp.sqrt(u_norm2 / (u @ u))
    return c, u


@pytest.mark.parametrize("kappa", [0.5, 3.0])
def test_two_close_patterns_metastable_average_or_split(kappa):
    # For patterns c ± u, the update maps c + t u to c + tanh(κ t) u with κ = β ‖u‖²:
    # κ < 1 -> the average c is the attractor; κ > 1 -> c + t* u with t* = tanh(κ t*).
    d, beta = 64, 1.0
    c, u = _pair(2, d, kappa / beta)
    far = _gauss(3, (8, d))  # other patterns: c·x ≈ N(0, d) ≪ c·c ≈ d, weight ~ e^{-40}
    X = jnp.concatenate([jnp.stack([c + u, c - u]), far])
    out = modern.retrieve(X, c + u, beta, tol=1e-6, max_iter=500)
    assert bool(out.converged)
    t_star = 0.0
    if kappa > 1:
        t_star = 1.0
        for _ in range(200):
            t_star = np.tanh(kappa * t_star)  # 0.99505 for κ = 3
    np.testing.assert_allclose(out.xi, c + t_star * u, atol=2e-4)
    # a single step from c + u already follows the map: t = tanh(κ)
    np.testing.assert_allclose(modern.update(X, c + u, beta), c + np.tanh(kappa) * u, atol=1e-4)


@pytest.mark.parametrize("beta", [0.05, 1.0, 20.0])
def test_energy_never_increases_and_is_nonnegative(beta):
    X = _gauss(4, (30, 16))
    xi = 3.0 * _gauss(5, (200, 16))
    E = modern.energy(X, xi, beta)
    assert bool(jnp.all(E >= -1e-4))  # E ≥ ½(‖ξ‖ − M)² ≥ 0
    for _ in range(6):
        xi = modern.update(X, xi, beta)
        E_new = modern.energy(X, xi, beta)
        assert bool(jnp.all(E_new <= E + 1e-4 * (1 + jnp.abs(E)))), float(jnp.max(E_new - E))
        assert bool(jnp.all(E_new >= -1e-4))
        E = E_new


def test_fixed_point_iteration_converges():
    X = _gauss(6, (40, 32))
    xi = _gauss(7, (5, 7, 32))  # batch dims (5, 7)
    for beta in (0.1, 0.5, 2.0):
        out = modern.retrieve(X, xi, beta, tol=1e-6, max_iter=500)
        assert out.xi.shape == xi.shape and out.iterations.shape == (5, 7)
        assert bool(out.converged.all())
        np.testing.assert_allclose(modern.update(X, out.xi, beta), out.xi, atol=1e-5)
    capped = modern.retrieve(X, xi, 0.5, tol=0.0, max_iter=3)
    assert not bool(capped.converged.any()) and capped.iterations.max() == 3


def test_mask_ignores_padded_patterns():
    X = _gauss(8, (12, 10))
    junk = 5.0 * _gauss(9, (4, 10))
    Xp, mask = jnp.concatenate([X, junk]), jnp.arange(16) < 12
    xi = _gauss(10, (3, 10))
    np.testing.assert_allclose(modern.energy(Xp, xi, 0.7, mask), modern.energy(X, xi, 0.7), rtol=1e-5)
    np.testing.assert_allclose(modern.update(Xp, xi, 0.7, mask), modern.update(X, xi, 0.7), atol=1e-6)
    np.testing.assert_allclose(modern.retrieve(Xp, xi, 0.7, mask=mask).xi,
                               modern.retrieve(X, xi, 0.7).xi, atol=1e-6)


# one compilation per call signature (eager module calls would compile op by op)
_call = eqx.filter_jit(lambda f, *args: f(*args))


def test_layers_match_the_update_jit_and_vmap():
    X, R = _gauss(11, (20, 8)), _gauss(12, (5, 8))
    plain = modern.Hopfield(8, project=False, beta=2.0, key=jax.random.key(0))
    two = modern.Hopfield(8, project=False, beta=2.0, update_steps=2, key=jax.random.key(0))
    got = _call(lambda p, t: (p(R, X), p.energy(R, X), p.attention(R, X), t(R, X)), plain, two)
    np.testing.assert_allclose(got[0], modern.update(X, R, 2.0), atol=1e-6)
    np.testing.assert_allclose(got[1], modern.energy(X, R, 2.0), rtol=1e-6)
    np.testing.assert_allclose(got[2].sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got[3], modern.update(X, modern.update(X, R, 2.0), 2.0), atol=1e-5)

    key = jax.random.key(1)
    hop = modern.Hopfield(8, 6, hidden_dim=4, value_dim=3, learn_beta=True, key=key)
    pool = modern.HopfieldPooling(6, n_queries=2, hidden_dim=4, key=key)
    look = modern.HopfieldLayer(8, n_memories=16, value_dim=3, key=key)
    Rb, Yb = _gauss(13, (4, 5, 8)), _gauss(14, (4, 7, 6))

    def outputs(hop, pool, look, r, y):
        return (hop(r, y), pool(y), look(r), pool(y[::-1]),
                hop.energy(r, y), pool.energy(y), look.energy(r))

    batched = _call(jax.vmap(outputs, in_axes=(None, None, None, 0, 0)), hop, pool, look, Rb, Yb)
    single = _call(outputs, hop, pool, look, Rb[2], Yb[2])
    shapes = [(5, 3), (2, 4), (5, 3), (2, 4), (5,), (2,), (5,)]
    for b, s, shape in zip(batched, single, shapes):
        assert b.shape == (4,) + shape
        np.testing.assert_allclose(b[2], s, atol=1e-5)
    np.testing.assert_allclose(batched[1], batched[3], atol=1e-6)  # pooling is a set function


def test_beta_is_learnable_or_fixed():
    R, Y = _gauss(15, (3, 8)), _gauss(16, (6, 8))
    grad = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(R, Y) ** 2)))
    for learn in (True, False):
        m = modern.Hopfield(8, beta=0.5, learn_beta=learn, key=jax.random.key(0))
        assert abs(float(m.beta) - 0.5) < 1e-6
        g = grad(m)
        assert (float(g.beta_.log_beta) != 0.0) == learn


def _bags(seed, protos, n, bag=8):
    """Bags of `bag` noise vectors; one is replaced by a noisy copy of prototype `label`."""
    rng = np.random.default_rng(seed)
    C, d = protos.shape
    labels = rng.integers(0, C, n)
    x = rng.standard_normal((n, bag, d))
    x[np.arange(n), rng.integers(0, bag, n)] = protos[labels] + 0.3 * rng.standard_normal((n, d))
    return jnp.asarray(x, jnp.float32), jnp.asarray(labels)


class _BagClassifier(eqx.Module):
    pool: modern.HopfieldPooling
    head: eqx.nn.Linear

    def __init__(self, d, C, key):
        k1, k2 = jax.random.split(key)
        self.pool = modern.HopfieldPooling(d, n_queries=1, hidden_dim=16, learn_beta=True, key=k1)
        self.head = eqx.nn.Linear(16, C, key=k2)

    def __call__(self, bag):
        return self.head(self.pool(bag)[0])


def test_hopfield_pooling_trains_with_optax():
    # classify a bag by which stored class prototype it contains (multiple-instance task)
    d, C = 16, 4
    protos = np.asarray(_gauss(17, (C, d)))
    model = _BagClassifier(d, C, jax.random.key(18))
    opt = optax.adam(1e-2)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))

    @eqx.filter_jit
    def loss_fn(m, x, y):
        logits = jax.vmap(m)(x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @eqx.filter_jit
    def step(m, s, x, y):
        loss, g = eqx.filter_value_and_grad(loss_fn)(m, x, y)
        upd, s = opt.update(g, s, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, upd), s, loss

    x_test, y_test = _bags(19, protos, 256)
    loss0 = float(loss_fn(model, x_test, y_test))
    for t in range(50):
        x, y = _bags(1000 + t, protos, 64)
        model, state, _ = step(model, state, x, y)
    loss1 = float(loss_fn(model, x_test, y_test))
    acc = float(_call(lambda m: jnp.mean(jnp.argmax(jax.vmap(m)(x_test), -1) == y_test), model))
    assert loss1 < 0.5 * loss0, (loss0, loss1)
    assert acc > 0.8, acc
