import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import dynamics, metrics, patterns, rules


def _train_fn(epochs, record, **options):
    """Jitted Daydreaming training with traced key, τ, patterns and mask."""
    return jax.jit(lambda key, tau, xi, mask: rules.train(
        key, rules.daydreaming(tau, **options), xi, mask, epochs=epochs, record=record))


# ---------------------------------------------------------------- dreaming kernel

def test_kernel_is_hebb_at_t0_and_projector_at_large_t():
    xi = patterns.random(jax.random.key(0), 40, 120)  # α = 1/3
    J0 = rules.dreaming_kernel(xi, 0.0)
    np.testing.assert_allclose(J0, rules.hebb(xi), atol=1e-6)
    J_inf = rules.dreaming_kernel(xi, 1e6)
    np.testing.assert_array_equal(J_inf, J_inf.T)
    assert float(jnp.abs(jnp.diag(J_inf)).max()) == 0.0
    # (1 + t)(I + tC)⁻¹ = C⁻¹ + O(1/t): entries of J are O(√P/N) ≈ 0.05
    np.testing.assert_allclose(J_inf, rules.pseudo_inverse(xi), atol=2e-5)
    # intermediate sleep: beyond Hebb's capacity the patterns become fixed points
    assert float(metrics.stable_fraction(J0, xi)) < 0.2
    assert float(metrics.stable_fraction(rules.dreaming_kernel(xi, 10.0), xi)) == 1.0


def test_kernel_mask_and_traced_t():
    xi = patterns.random(jax.random.key(1), 30, 80)
    mask = patterns.count_mask(18, 30)
    ts = jnp.array([0.0, 1.0, 100.0])
    grid = jax.jit(jax.vmap(rules.dreaming_kernel, in_axes=(None, 0, None)))(xi, ts, mask)
    for J, t in zip(grid, ts):
        np.testing.assert_allclose(J, rules.dreaming_kernel(xi[:18], t), atol=2e-6)


# ---------------------------------------------------------------- unlearning

def test_unlearning_with_zero_epsilon_is_hebb():
    xi = patterns.random(jax.random.key(2), 10, 100)
    J = rules.unlearning(jax.random.key(3), xi, epsilon=0.0, n_dreams=5)
    np.testing.assert_array_equal(J, rules.hebb(xi))


def test_unlearning_removes_dream_outer_products_and_matches_train():
    N, n, eps = 100, 7, 0.01
    xi = patterns.random(jax.random.key(4), 20, N)
    J = rules.unlearning(jax.random.key(5), xi, epsilon=eps, n_dreams=n)
    np.testing.assert_array_equal(J, J.T)
    # Hebb − J = (ε/N) Σ_d σ*σ*ᵀ off the diagonal: integer entries with the parity of n
    counts = np.asarray((rules.hebb(xi) - J) * N / eps)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-2)
    off = np.round(counts)[~np.eye(N, dtype=bool)]
    assert np.all(np.abs(off) <= n) and np.all(off % 2 == n % 2)
    assert np.all(np.diag(counts) == 0)
    # the same dreams through the generic driver; a traced dream count under jit
    state, rec = rules.train(jax.random.key(5), rules.unlearning_rule(eps), xi, epochs=n,
                             record=[0, n])
    np.testing.assert_allclose(state.J, J, atol=1e-6)
    traced = jax.jit(lambda k, e, d: rules.unlearning(k, xi, epsilon=e, n_dreams=d))
    np.testing.assert_allclose(traced(jax.random.key(5), eps, n), J, atol=1e-6)


# ---------------------------------------------------------------- daydreaming

def _paper_step(key, J, xi, tau):
    """One step of Serricchio et al. (2025) written out: dream σ → σ*, random μ, J update."""
    P, N = xi.shape
    k_start, k_relax, k_mu = jax.random.split(key, 3)
    start = jax.random.rademacher(k_start, (N,), dtype=jnp.float32)
    s = dynamics.relax(k_relax, J, start).sigma
    x = xi[jax.random.randint(k_mu, (), 0, P)]
    return J + (jnp.outer(x, x) - jnp.outer(s, s)) / (tau * N)


def test_update_keeps_symmetry_zero_diagonal_and_follows_the_paper():
    N, P, tau = 80, 16, 5.0
    xi = patterns.random(jax.random.key(6), P, N)
    for batch in (1, 3):
        rule = rules.daydreaming(tau, batch=batch, normalize=None)
        state = rule.init(jax.random.key(0), xi)
        for t in range(4):
            J_old = state.J
            state, info = rule.update(jax.random.key(10 + t), state, xi)
            np.testing.assert_array_equal(state.J, state.J.T)
            assert float(jnp.abs(jnp.diag(state.J)).max()) == 0.0
            # τNK ΔJ = Σ_k (ξξᵀ − σ*σ*ᵀ): even integers in [−2K, 2K]
            steps = np.asarray((state.J - J_old) * tau * N * batch)
            whole = np.round(steps)
            np.testing.assert_allclose(steps, whole, atol=1e-3)
            assert np.all(whole % 2 == 0) and np.abs(whole).max() <= 2 * batch
            np.testing.assert_allclose(info.delta_norm, np.linalg.norm(steps) / (tau * N * batch),
                                       rtol=1e-5)
    # MNIST options: Hebb 1/P, clipping; the bound survives the per-epoch rescaling
    rule = rules.daydreaming(tau, init="hebb_P", j_max=0.2, steps_per_epoch=2)
    state = rule.init(jax.random.key(0), xi)
    for t in range(4):
        state, _ = rule.update(jax.random.key(30 + t), state, xi)
        np.testing.assert_array_equal(state.J, state.J.T)
        assert float(jnp.abs(state.J).max()) <= np.float32(0.2)
    # mini-batch with K = 1 is the paper's algorithm
    rule = rules.daydreaming(tau, batch=1, normalize=None)
    state = rule.init(jax.random.key(0), xi)
    J = state.J
    for t in range(4):
        state, _ = rule.update(jax.random.key(20 + t), state, xi)
        J = _paper_step(jax.random.key(20 + t), J, xi, tau)
        np.testing.assert_allclose(state.J, J, atol=1e-6)


@pytest.mark.parametrize("batch", [1, 3])
def test_fused_outer_product_update_equals_the_matrix_product(batch, monkeypatch):
    # small K builds ΔJ from fused outer products (rows by a one-hot product), larger K by
    # one rank-2K product: exact integers times the same scale, so the same J bit for bit
    dd = importlib.import_module("hopjax.rules.daydreaming")  # the module, not the function
    xi = patterns.random(jax.random.key(7), 12, 60)
    mask = jnp.arange(12) < 9  # padded rows must never be reinforced by either path

    def run():
        rule = rules.daydreaming(5.0, batch=batch)
        state = rule.init(jax.random.key(0), xi, mask)
        for t in range(6):
            state, _ = jax.jit(rule.update)(jax.random.key(40 + t), state, xi, mask)
        return np.asarray(state.J)

    assert batch <= dd.OUTER_MAX_BATCH
    fused = run()
    monkeypatch.setattr(dd, "OUTER_MAX_BATCH", 0)
    np.testing.assert_array_equal(fused, run())


def test_infinite_tau_moves_nothing_and_normalisation_keeps_the_norm():
    xi = patterns.random(jax.random.key(7), 12, 60)
    run = _train_fn(3, [0, 1, 3], block=4)
    J_hebb = rules.hebb(xi)
    state, rec = run(jax.random.key(8), 1e12, xi, None)
    np.testing.assert_allclose(rec.J, jnp.broadcast_to(J_hebb, rec.J.shape), atol=1e-7)
    np.testing.assert_allclose(rec.norm, rec.hebb_norm, rtol=1e-6)
    assert int(state.step) == 36
    # a finite τ moves J, and the per-epoch rescaling keeps the Frobenius norm of Hebb
    _, rec = run(jax.random.key(8), 2.0, xi, None)
    assert float(rec.dist_hebb[-1]) > 0.1 * float(rec.hebb_norm)
    np.testing.assert_allclose(rec.norm, rec.hebb_norm, rtol=1e-5)
    assert np.isnan(rec.epoch_delta[0]) and np.all(rec.epoch_delta[1:] > 0)


def test_padded_training_equals_unpadded_and_compiles_once():
    N, P_max, P = 60, 20, 12
    xi = patterns.random(jax.random.key(9), P_max, N)
    run = _train_fn(3, [0, 1, 3], block=4)
    key = jax.random.key(10)
    _, padded = run(key, 4.0, xi, patterns.count_mask(P, P_max))
    _, other = run(key, 7.0, xi, patterns.count_mask(P_max, P_max))  # another τ and α
    assert run._cache_size() == 1
    _, plain = run(key, 4.0, patterns.random(jax.random.key(9), P, N), None)
    np.testing.assert_array_equal(padded.steps, [0, P, 3 * P])
    np.testing.assert_array_equal(other.steps, [0, P_max, 3 * P_max])
    np.testing.assert_allclose(padded.J, plain.J, atol=1e-6)
    np.testing.assert_allclose(padded.dist_hebb, plain.dist_hebb, rtol=1e-5)
    # vmap over seeds, τ and the padded α grid gives the individual runs
    keys = jnp.stack([key, key])
    grid = jax.jit(jax.vmap(run))(keys, jnp.array([4.0, 7.0]), jnp.stack([xi, xi]),
                                  jnp.stack([patterns.count_mask(P, P_max),
                                             patterns.count_mask(P_max, P_max)]))[1]
    np.testing.assert_allclose(grid.J[0], padded.J, atol=1e-6)
    np.testing.assert_allclose(grid.J[1], other.J, atol=1e-6)


def test_daydreaming_stores_patterns_beyond_hebb_capacity():
    # N = 200, α = 0.3 > α_c ≈ 0.138. Expected: Hebb leaves no pattern a fixed point (each spin
    # is unstable with probability Φ(−1/√α) ≈ 0.034, so all 200 are stable with p ≈ 1e-3)
    # and m_f(1) ≈ 0.5; after ~2τ epochs of Daydreaming at τ = 20 every pattern is a fixed
    # point (stable fraction ≥ 0.95, measured 1.0) with a basin: m_f(0.8) ≈ 1.
    N, P, tau, epochs = 200, 60, 20.0, 40
    xi = patterns.random(jax.random.key(0), P, N)
    run = _train_fn(epochs, [0, epochs])
    state, rec = run(jax.random.key(1), tau, xi, None)
    J_hebb, J = rec.J
    m0s = jnp.array([1.0, 0.8])
    hebb_map = metrics.retrieval_map(jax.random.key(2), J_hebb, xi, m0s).mean
    dd_map = metrics.retrieval_map(jax.random.key(2), J, xi, m0s).mean
    assert float(metrics.stable_fraction(J_hebb, xi)) < 0.05
    assert float(hebb_map[0]) < 0.7
    assert float(metrics.stable_fraction(J, xi)) >= 0.95
    assert float(dd_map[0]) >= 0.99 and float(dd_map[1]) >= 0.97
    # Fig. 1 observables: τ‖ΔJ‖ per step is √(2(1 − m²)) ≤ √2 (dreams ≈ orthogonal to ξ^μ);
    # J has moved away from Hebb; dreams reach fixed points
    assert 1.3 < tau * float(rec.info.delta_norm[-1]) <= np.sqrt(2) + 1e-5
    assert float(rec.dist_hebb[-1]) > 0.3 * float(rec.hebb_norm)
    assert float(rec.info.converged[-1]) == 1.0


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="init"):
        rules.daydreaming(10.0, init="ones")
    with pytest.raises(ValueError, match="tau"):
        rules.daydreaming(0.0)
    with pytest.raises(ValueError, match="record"):
        rules.train(jax.random.key(0), rules.daydreaming(1.0), jnp.ones((2, 10)), epochs=3,
                    record=[2, 1])
