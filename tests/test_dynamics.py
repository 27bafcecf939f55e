import itertools

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from hopjax import _native, dynamics, energy, patterns, rules


def _gaussian_J(key, N):
    A = jax.random.normal(key, (N, N))
    return rules.zero_diagonal((A + A.T) / jnp.sqrt(2 * N))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), N=st.sampled_from([2, 5, 12, 40]), mode=st.sampled_from(["async", "sequential"]),
       with_bias=st.booleans())
def test_energy_never_rises_under_async_zero_T(seed, N, mode, with_bias):
    k = jax.random.split(jax.random.key(seed), 4)
    J = _gaussian_J(k[0], N)
    b = 0.3 * jax.random.normal(k[1], (N,)) if with_bias else None
    s = jax.random.rademacher(k[2], (8, N), dtype=jnp.float32)
    E = energy.energy(J, s, b)
    for t in range(6):
        s = dynamics.sweep(jax.random.fold_in(k[3], t), J, s, mode=mode, bias=b,
                           method=("event", "blocked", "plain")[t % 3], block=4)
        E_new = energy.energy(J, s, b)
        assert bool(jnp.all(E_new <= E + 1e-5))
        E = E_new
    out = dynamics.relax(k[3], J, s, mode=mode, bias=b, max_sweeps=200)
    assert bool(jnp.all(out.status == dynamics.FIXED_POINT))
    # a fixed point: no spin has a field against it
    h = dynamics.local_field(J, out.sigma, b)
    assert bool(jnp.all(h * out.sigma >= -dynamics.tie_tolerance(J, b)))


@pytest.mark.parametrize("mode,T", [("async", None), ("sequential", None), ("glauber", 0.7)])
@pytest.mark.parametrize("block", [1, 5, 16])
def test_blocked_sweeps_follow_the_plain_trajectory(mode, T, block):
    _check_same_trajectory(mode, T, "blocked", block)


@pytest.fixture(params=["native", "jax"])
def event_impl(request, monkeypatch):
    """Runs a test with the CPU kernel of the event sweeps and with the pure-JAX loop."""
    if request.param == "native" and not _native.available():
        pytest.skip("CPU sweep kernel unavailable (no C++ compiler)")
    if request.param == "jax":
        monkeypatch.setattr(_native, "available", lambda: False)
    return request.param


@pytest.mark.parametrize("mode", ["async", "sequential"])
@pytest.mark.parametrize("batch", [(4, 5), (2,), ()])  # search by position / by key
def test_event_driven_sweeps_follow_the_plain_trajectory(mode, batch, event_impl):
    assert (np.prod(batch) >= dynamics.RANK_MIN_BATCH) == (batch == (4, 5))
    _check_same_trajectory(mode, None, "event", 1, batch)


def test_event_driven_equals_plain_bit_for_bit_even_with_ties(event_impl):
    # Hebb with an even number of patterns has exact zero fields (ties): event and plain do
    # the same float operations, so they agree exactly
    xi = patterns.random(jax.random.key(30), 10, 64)
    J = rules.hebb(xi)
    cue = patterns.flip_to_overlap(jax.random.key(31), jnp.tile(xi, (4, 1)), 0.1)
    for c in (cue, cue[:3]):  # search by position (40 trajectories) and by key (3)
        ref = dynamics.relax(jax.random.key(32), J, c, method="plain")
        fast = dynamics.relax(jax.random.key(32), J, c, method="event")
        np.testing.assert_array_equal(fast.sigma, ref.sigma)
        np.testing.assert_array_equal(fast.sweeps, ref.sweeps)


def _check_same_trajectory(mode, T, method, block, batch=(3, 5)):
    # Gaussian couplings: no field is a tie, so both implementations take every decision alike
    N = 37
    J = _gaussian_J(jax.random.key(0), N)
    s = jax.random.rademacher(jax.random.key(1), batch + (N,), dtype=jnp.float32)
    b = 0.1 * jax.random.normal(jax.random.key(2), (N,))
    frozen = jnp.arange(N) % 7 == 0
    kw = dict(mode=mode, T=T, bias=b, frozen=frozen, max_sweeps=6)
    ref = dynamics.relax(jax.random.key(3), J, s, method="plain", **kw)
    fast = dynamics.relax(jax.random.key(3), J, s, method=method, block=block, **kw)
    np.testing.assert_array_equal(fast.sigma, ref.sigma)
    np.testing.assert_array_equal(fast.sweeps, ref.sweeps)
    np.testing.assert_array_equal(fast.status, ref.status)
    np.testing.assert_array_equal(jnp.where(frozen, fast.sigma, 0), jnp.where(frozen, s, 0))


def test_async_plain_matches_a_python_spin_by_spin_loop():
    N = 20
    J = _gaussian_J(jax.random.key(4), N)
    s0 = np.asarray(jax.random.rademacher(jax.random.key(5), (N,), dtype=jnp.float32))
    key = jax.random.key(6)
    out = dynamics.relax(key, J, jnp.asarray(s0), method="plain", max_sweeps=50)
    # the same visiting orders, spin by spin, in numpy
    Jn, s = np.asarray(J, np.float64), s0.copy()
    for t in range(50):
        order = np.asarray(dynamics.sweep_order(key, t, N))
        before = s.copy()
        for i in order:
            h = Jn[i] @ s
            if h * s[i] < 0:
                s[i] = -s[i]
        if np.array_equal(before, s):
            break
    np.testing.assert_array_equal(out.sigma, s)
    assert int(out.sweeps) == t


def test_sync_detects_two_cycle_and_fixed_point():
    # antiferromagnetic pair: (+,+) -> (-,-) -> (+,+) under parallel updates
    J = jnp.array([[0.0, -1.0], [-1.0, 0.0]])
    out = dynamics.relax(jax.random.key(0), J, jnp.array([[1.0, 1.0], [1.0, -1.0]]), mode="sync")
    assert out.status.tolist() == [dynamics.TWO_CYCLE, dynamics.FIXED_POINT]
    np.testing.assert_array_equal(out.sigma[1], [1.0, -1.0])
    # asynchronous dynamics on the same start settles instead
    out = dynamics.relax(jax.random.key(0), J, jnp.array([1.0, 1.0]))
    assert int(out.status) == dynamics.FIXED_POINT and float(out.sigma.sum()) == 0.0


def test_cap_reached_is_reported():
    J = _gaussian_J(jax.random.key(7), 200)
    s = jax.random.rademacher(jax.random.key(8), (4, 200), dtype=jnp.float32)
    out = dynamics.relax(jax.random.key(9), J, s, max_sweeps=1)
    assert out.status.tolist() == [dynamics.MAX_SWEEPS] * 4
    assert out.sweeps.tolist() == [1] * 4


def test_hebb_retrieves_patterns_and_ghosts():
    xi = patterns.random(jax.random.key(0), 8, 300)
    J = rules.hebb(xi)
    for sign in (1.0, -1.0):  # reversed patterns are attractors too
        cue = patterns.flip_to_overlap(jax.random.key(1), sign * xi, 0.6)
        out = dynamics.relax(jax.random.key(2), J, cue)
        np.testing.assert_array_equal(out.sigma, sign * xi)


def test_clamped_cue_completes_pattern():
    xi = patterns.random(jax.random.key(10), 5, 400)
    known = jnp.arange(400) < 200  # upper half of an "image" known, lower half noise
    cue = patterns.partial_cue(jax.random.key(11), xi, known)
    out = dynamics.relax(jax.random.key(12), rules.hebb(xi), cue, frozen=known)
    np.testing.assert_array_equal(out.sigma, xi)


@pytest.mark.parametrize("mode", ["glauber", "sequential"])
def test_glauber_samples_boltzmann_distribution(mode):
    N, T = 6, 0.8
    J = _gaussian_J(jax.random.key(20), N) * 1.5
    b = 0.3 * jax.random.normal(jax.random.key(21), (N,))
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=N)))
    E = np.asarray(energy.energy(J, jnp.asarray(states), b), np.float64)
    p = np.exp(-(E - E.min()) / T)
    p /= p.sum()
    chains = 20000
    s0 = jax.random.rademacher(jax.random.key(22), (chains, N), dtype=jnp.float32)
    out = dynamics.relax(jax.random.key(23), J, s0, mode=mode, T=T, bias=b, max_sweeps=30)
    assert out.status.tolist() == [dynamics.MAX_SWEEPS] * chains
    idx = ((np.asarray(out.sigma) > 0) * (2 ** np.arange(N - 1, -1, -1))).sum(axis=1)
    freq = np.bincount(idx, minlength=2**N) / chains
    # total variation distance: sampling noise alone gives ~0.5 * sum sqrt(p/chains) ≈ 0.02
    tv = 0.5 * np.abs(freq - p).sum()
    assert tv < 0.035, tv
    # a zero-temperature run is not the Boltzmann distribution at T: the test can fail
    zero = dynamics.relax(jax.random.key(23), J, s0, mode=mode, T=0.0, bias=b, max_sweeps=30)
    idx0 = ((np.asarray(zero.sigma) > 0) * (2 ** np.arange(N - 1, -1, -1))).sum(axis=1)
    assert 0.5 * np.abs(np.bincount(idx0, minlength=2**N) / chains - p).sum() > 0.1


def test_bad_inputs_are_rejected_at_the_boundary():
    J = _gaussian_J(jax.random.key(0), 10)
    s = jnp.ones((10,))
    with pytest.raises(ValueError, match="square"):
        dynamics.relax(jax.random.key(0), jnp.ones((10, 9)), s)
    with pytest.raises(ValueError, match="symmetric"):
        dynamics.relax(jax.random.key(0), J + jnp.triu(jnp.ones((10, 10))), s)
    with pytest.raises(ValueError, match="±1"):
        dynamics.relax(jax.random.key(0), J, s * 0.5)
    with pytest.raises(ValueError, match="mode"):
        dynamics.relax(jax.random.key(0), J, s, mode="parallel")
    with pytest.raises(ValueError, match="T"):
        dynamics.relax(jax.random.key(0), J, s, mode="glauber", T=-1.0)
    with pytest.raises(ValueError, match="spins but J"):
        dynamics.relax(jax.random.key(0), J, jnp.ones((11,)))
    # synchronous dynamics does not need a symmetric J
    dynamics.relax(jax.random.key(0), J + jnp.triu(jnp.ones((10, 10))), s, mode="sync")


def test_float64_path_under_x64():
    with jax.enable_x64(True):
        J = _gaussian_J(jax.random.key(0), 30).astype(jnp.float64)
        s = jax.random.rademacher(jax.random.key(1), (4, 30), dtype=jnp.float64)
        out = dynamics.relax(jax.random.key(2), J, s)
        assert out.sigma.dtype == jnp.float64
        assert bool(jnp.all(dynamics.local_field(J, out.sigma) * out.sigma >= -dynamics.tie_tolerance(J)))


def test_iterate_sweeps_counts_changing_sweeps_and_reports_the_cap():
    # sweep t turns spin t up: trajectory b starts with b down spins, so it changes in
    # sweeps 0..b-1 and is settled after sweep b (a carry, if any, goes along)
    s = jnp.where(jnp.arange(4)[None, :] < jnp.arange(4)[:, None], -1.0, 1.0)

    def up(t, s, n):
        return s.at[:, jnp.minimum(t, 3)].set(1.0), None if n is None else n + 1

    end, sweeps, status = dynamics.iterate_sweeps(up, s, 10, carry=jnp.int32(0))
    np.testing.assert_array_equal(end, jnp.ones((4, 4)))
    assert sweeps.tolist() == [0, 1, 2, 3] and status.tolist() == [dynamics.FIXED_POINT] * 4
    _, sweeps, status = dynamics.iterate_sweeps(up, s, 2)
    assert sweeps.tolist() == [0, 1, 2, 2]
    assert status.tolist() == [0, 0, dynamics.MAX_SWEEPS, dynamics.MAX_SWEEPS]
    # stochastic: nothing settles, every trajectory runs to the cap
    _, sweeps, status = dynamics.iterate_sweeps(up, s, 6, stochastic=True)
    assert sweeps.tolist() == [0, 1, 2, 3] and status.tolist() == [dynamics.MAX_SWEEPS] * 4
