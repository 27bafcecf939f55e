import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import patterns


def test_random_is_pm1_balanced_and_prefix_consistent():
    xi = patterns.random(jax.random.key(0), 50, 400)
    assert xi.shape == (50, 400) and xi.dtype == jnp.float32
    assert set(np.unique(xi).tolist()) == {-1.0, 1.0}
    assert abs(float(xi.mean())) < 0.02  # 20000 fair coins: sd 0.007
    # rows drawn per index: fewer patterns are a prefix of more (padded α grids rely on it)
    np.testing.assert_array_equal(patterns.random(jax.random.key(0), 20, 400), xi[:20])
    # mutual overlaps of independent patterns are O(1/sqrt(N))
    C = xi @ xi.T / 400
    assert float(jnp.abs(C - jnp.eye(50)).max()) < 6 / np.sqrt(400)


@pytest.mark.parametrize("m0", [1.0, 0.8, 0.3, 0.0, -0.5, -1.0])
def test_flip_to_overlap_is_exact(m0):
    xi = patterns.random(jax.random.key(1), 7, 301)
    cue = patterns.flip_to_overlap(jax.random.key(2), xi, m0)
    n_flip = round((1 - m0) * 301 / 2)
    np.testing.assert_array_equal(np.sum(np.asarray(cue) != np.asarray(xi), axis=1), n_flip)


def test_flip_independent_variant_overlap_on_average():
    xi = jnp.ones((2000, 100))
    cue = patterns.flip_to_overlap(jax.random.key(3), xi, 0.6, exact=False)
    m = cue.mean(axis=1)
    assert abs(float(m.mean()) - 0.6) < 0.01
    assert float(m.std()) > 0.05  # not exact: binomial spread sqrt(1-m0^2)/sqrt(N) = 0.08


def test_flip_rejects_bad_input():
    with pytest.raises(ValueError, match="m0"):
        patterns.flip_to_overlap(jax.random.key(0), jnp.ones((2, 10)), 1.2)
    with pytest.raises(ValueError, match="±1"):
        patterns.flip_to_overlap(jax.random.key(0), jnp.full((2, 10), 0.5), 0.5)


def test_padding_and_masks():
    xi = patterns.random(jax.random.key(0), 3, 10)
    padded, mask = patterns.pad(xi, 5)
    assert padded.shape == (5, 10) and mask.tolist() == [True] * 3 + [False] * 2
    assert patterns.count_mask(3, 5).tolist() == mask.tolist()
    assert patterns.count(0.138, 1000) == 138
    with pytest.raises(ValueError, match="padded size"):
        patterns.pad(xi, 2)
    with pytest.raises(ValueError, match="padded size"):
        patterns.count_mask(6, 5)


def test_random_features_model():
    N, P, D = 400, 60, 8
    rf = patterns.random_features(jax.random.key(4), P, D, N)
    assert rf.examples.shape == (P, N) and rf.features.shape == (D, N)
    assert set(np.unique(rf.examples).tolist()) == {-1.0, 1.0}
    # examples are sign(c·f): overlap with feature k has the sign of c_k and is O(1) at small D
    m = rf.examples @ rf.features.T / N
    big = np.abs(np.asarray(rf.coefficients)) > 1.0
    assert np.all(np.sign(m)[big] == np.sign(rf.coefficients)[big])
    # correlated examples: mean |overlap| between examples far above 1/sqrt(N)
    C = np.asarray(rf.examples @ rf.examples.T / N)
    assert np.mean(np.abs(C[~np.eye(P, dtype=bool)])) > 0.15
    # padded D: traced D with D_max gives the same examples as the unpadded call
    padded = jax.jit(lambda d: patterns.random_features(jax.random.key(4), P, d, N, D_max=20))(D)
    np.testing.assert_array_equal(padded.examples, rf.examples)
    np.testing.assert_array_equal(padded.features[:D], rf.features)
    assert int(padded.feature_mask.sum()) == D


def test_random_features_binary_odd_D_has_no_ties():
    rf = patterns.random_features(jax.random.key(5), 30, 5, 200, binary=True)
    field = rf.coefficients @ rf.features
    assert float(jnp.abs(field).min()) >= 1.0
    np.testing.assert_array_equal(jnp.sign(field), rf.examples)


def test_partial_cue_keeps_known_spins():
    xi = patterns.random(jax.random.key(6), 4, 100)
    known = patterns.random_mask(jax.random.key(7), 100, 0.3, shape=(4,))
    assert known.sum(axis=1).tolist() == [30] * 4
    cue = patterns.partial_cue(jax.random.key(8), xi, known)
    np.testing.assert_array_equal(np.where(known, cue, 0), np.where(known, xi, 0))
    cue = patterns.partial_cue(jax.random.key(8), xi, known, fill="minus")
    assert bool(jnp.all(jnp.where(known, True, cue == -1)))
