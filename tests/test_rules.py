import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import metrics, patterns, rules


def test_hebb_symmetric_zero_diagonal_and_scale():
    xi = patterns.random(jax.random.key(0), 10, 100)
    J = rules.hebb(xi)
    np.testing.assert_array_equal(J, J.T)
    assert float(jnp.abs(jnp.diag(J)).max()) == 0.0
    expected = np.asarray(xi).T @ np.asarray(xi) / 100
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(J, expected, atol=1e-6)
    np.testing.assert_allclose(rules.hebb(xi, normalization="P"), expected * 100 / 10, atol=1e-6)


def test_hebb_online_equals_batch_and_mask_equals_subset():
    xi = patterns.random(jax.random.key(1), 6, 50)
    J = jnp.zeros((50, 50))
    for x in xi:
        J = rules.hebb_add(J, x)
    np.testing.assert_allclose(J, rules.hebb(xi), atol=1e-6)
    mask = jnp.array([True, True, False, True, False, False])
    np.testing.assert_array_equal(rules.hebb(xi, mask), rules.hebb(xi[np.asarray(mask)]))


def test_hebb_stores_patterns_at_low_load():
    # P = 5 << N / (4 ln N) = 20 at N = 500 (McEliece et al. 1987): every pattern is stable
    xi = patterns.random(jax.random.key(2), 5, 500)
    assert float(metrics.stable_fraction(rules.hebb(xi), xi)) == 1.0


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.9])
def test_pseudo_inverse_is_projector_and_stores_up_to_alpha_1(alpha):
    N = 200
    xi = patterns.random(jax.random.key(3), round(alpha * N), N)
    J = rules.pseudo_inverse(xi)
    np.testing.assert_allclose(J, J.T, atol=1e-5)
    # with the diagonal restored J is the projector onto span(ξ): J ξ = ξ, so the field on
    # every spin is ξ_i (1 - J_ii) with J_ii = P/N on average
    h = xi @ J
    np.testing.assert_allclose(h * xi, np.broadcast_to(1 - _projector_diag(xi), h.shape), atol=5e-4)
    assert float(metrics.stable_fraction(J, xi)) == 1.0


def _projector_diag(xi):
    xi = np.asarray(xi, np.float64)
    proj = xi.T @ np.linalg.solve(xi @ xi.T, xi)
    return np.diag(proj)


def test_pseudo_inverse_with_mask_equals_subset():
    xi = patterns.random(jax.random.key(4), 40, 100)
    mask = patterns.count_mask(25, 40)
    np.testing.assert_allclose(rules.pseudo_inverse(xi, mask), rules.pseudo_inverse(xi[:25]),
                               atol=2e-5)


def test_rules_accept_zero_padded_rows():
    xi = patterns.random(jax.random.key(5), 4, 30)
    padded, mask = patterns.pad(xi, 7)
    np.testing.assert_array_equal(rules.hebb(padded, mask), rules.hebb(xi))
    with pytest.raises(ValueError, match="±1"):
        rules.hebb(padded)  # without the mask the zero rows are not spins


def test_rules_reject_non_spin_patterns():
    with pytest.raises(ValueError, match="±1"):
        rules.hebb(jnp.full((3, 10), 0.3))
    with pytest.raises(ValueError, match="±1"):
        rules.pseudo_inverse(jnp.zeros((3, 10)))
