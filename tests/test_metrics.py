import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import dense, dynamics, metrics, patterns, rules

M0S = jnp.array([0.2, 0.6, 1.0])


def _padded_map(key, N, P_max, P, m0s, T=None, mode="async"):
    """Hebb retrieval map for the first P of P_max padded patterns (everything traced)."""
    k_xi, k_map = jax.random.split(key)
    xi = patterns.random(k_xi, P_max, N)
    mask = patterns.count_mask(P, P_max)
    J = rules.hebb(xi, mask)
    rm = metrics.retrieval_map(k_map, J, xi, m0s, mask=mask, n_samples=2, T=T, mode=mode,
                               max_sweeps=30)
    return rm.mean, rm.std, metrics.stable_fraction(J, xi, mask)


def test_overlap_shapes_and_values():
    xi = patterns.random(jax.random.key(0), 4, 50)
    m = metrics.overlap(xi, xi)
    assert m.shape == (4, 4)
    np.testing.assert_allclose(jnp.diag(m), 1.0)
    assert metrics.overlap(xi, xi[0]).shape == (4,)
    np.testing.assert_allclose(metrics.overlap(-xi[1], xi[1]), -1.0)


def test_vmap_over_padded_alpha_grid_equals_unpadded_runs():
    N, P_max, Ps = 120, 24, [6, 15, 24]
    key = jax.random.key(1)
    grid = jax.jit(jax.vmap(lambda P: _padded_map(key, N, P_max, P, M0S)))(jnp.array(Ps))
    k_xi, k_map = jax.random.split(key)
    for g, P in enumerate(Ps):
        xi = patterns.random(k_xi, P, N)
        J = rules.hebb(xi)
        rm = metrics.retrieval_map(k_map, J, xi, M0S, n_samples=2, max_sweeps=30)
        np.testing.assert_allclose(grid[0][g], rm.mean, atol=1e-6)
        np.testing.assert_allclose(grid[1][g], rm.std, atol=1e-6)
        np.testing.assert_allclose(grid[2][g], metrics.stable_fraction(J, xi), atol=1e-6)


def test_no_recompilation_when_traced_parameters_change():
    f = jax.jit(lambda P, m0s, T: _padded_map(jax.random.key(2), 60, 12, P, m0s, T=T,
                                               mode="glauber"))
    for P, m0, T in [(4, 0.5, 0.0), (12, 0.9, 0.3), (7, -0.2, 1.5)]:
        jax.block_until_ready(f(P, jnp.array([m0, 1.0, 0.0]), T))
    assert f._cache_size() == 1


def test_hebb_retrieval_collapses_between_alpha_0_1_and_0_2():
    # AGS: m_f(1) ≈ 0.97+ up to α_c ≈ 0.138, then collapse; measured at N = 400
    N, alphas = 400, jnp.array([0.05, 0.1, 0.2, 0.25])
    P_max = round(0.25 * N)
    run = jax.jit(jax.vmap(lambda P: _padded_map(jax.random.key(3), N, P_max, P,
                                                 jnp.array([1.0]))))
    mean, _, stable = run(patterns.count(alphas, N))
    mf = np.asarray(mean[:, 0])
    assert mf[0] == 1.0 and mf[1] > 0.97, mf
    assert mf[2] < 0.85 and mf[3] < 0.6, mf
    assert stable[0] == 1.0 and stable[3] == 0.0


def test_retrieval_map_and_basin_size():
    xi = patterns.random(jax.random.key(4), 10, 300)
    J = rules.hebb(xi)
    m0s = jnp.linspace(-1, 1, 11)
    rm = metrics.retrieval_map(jax.random.key(5), J, xi, m0s, n_samples=3)
    assert rm.mf.shape == (11, 10, 3)
    mean = np.asarray(rm.mean)
    # low load: wide basin; negative m0 fall into the ghost -ξ
    assert np.all(mean[m0s >= 0.35] == 1.0) and np.all(mean[m0s <= -0.35] == -1.0)
    assert abs(mean[5]) < 0.5  # m0 = 0: no retrieval (by symmetry ±ξ equally likely)
    assert float(metrics.basin_size(m0s, rm.mean)) == pytest.approx((1 - m0s[mean >= 0.95].min()) / 2)
    assert float(metrics.basin_size(m0s, rm.mean)) >= 0.3
    assert bool(jnp.isnan(metrics.basin_size(m0s, jnp.zeros(11))))
    assert float(metrics.basin_size(m0s, (m0s == 1.0).astype(float))) == 0.0
    # at higher load the pseudo-inverse keeps patterns stable where Hebb cannot
    xi = patterns.random(jax.random.key(6), 90, 300)
    rm_pi = metrics.retrieval_map(jax.random.key(7), rules.pseudo_inverse(xi), xi, jnp.array([1.0]))
    rm_h = metrics.retrieval_map(jax.random.key(7), rules.hebb(xi), xi, jnp.array([1.0]))
    assert float(rm_pi.mean[0]) == 1.0 and float(rm_h.mean[0]) < 0.9


def test_retrieval_map_rejects_bad_input():
    xi = patterns.random(jax.random.key(0), 3, 20)
    J = rules.hebb(xi)
    with pytest.raises(ValueError, match="m0s"):
        metrics.retrieval_map(jax.random.key(0), J, xi, jnp.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="±1"):
        metrics.retrieval_map(jax.random.key(0), J, xi * 2, jnp.array([0.5]))
    with pytest.raises(ValueError, match="square"):
        metrics.retrieval_map(jax.random.key(0), J[:, :5], xi, jnp.array([0.5]))


def test_retrieval_map_takes_any_relax_function():
    """Dynamics passed in: the default is dynamics.relax on J, bit for bit; a dense memory's
    relax retrieves at a load where Hebb's map has collapsed (Krotov & Hopfield 2016: the
    cubic memory stores P ∝ N² patterns)."""
    xi = patterns.random(jax.random.key(8), 60, 100)  # α = 0.6, far above Hebb's 0.138
    m0s = jnp.array([0.6, 1.0])
    J = rules.hebb(xi)
    a = metrics.retrieval_map(jax.random.key(9), J, xi, m0s)
    b = metrics.retrieval_map(jax.random.key(9), lambda k, s: dynamics.relax(k, J, s), xi, m0s)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert float(a.mean[1]) < 0.9
    d = metrics.retrieval_map(jax.random.key(9), lambda k, s: dense.relax(k, xi, s, a=3), xi, m0s)
    assert np.asarray(d.mean).tolist() == [1.0, 1.0] and float(d.fixed_point[0]) == 1.0
    with pytest.raises(TypeError, match="mode"):
        metrics.retrieval_map(jax.random.key(9), lambda k, s: dynamics.relax(k, J, s), xi, m0s,
                              mode="sync")
