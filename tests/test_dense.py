import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import dense, dynamics, metrics, rules

# Test data from numpy: each new shape of an eager jax.random call costs a compilation.
def _spins(seed, *shape):
    return jnp.asarray(np.random.default_rng(seed).choice([-1.0, 1.0], shape), jnp.float32)


def _flip(seed, xi, n):
    """Copies of xi (..., N) with exactly n random spins flipped per row."""
    xi = np.asarray(xi)
    rank = np.random.default_rng(seed).random(xi.shape).argsort(-1).argsort(-1)
    return jnp.asarray(np.where(rank < n, -xi, xi), jnp.float32)


CONFIGS = [("poly", 3), ("rectified", 3), ("exp", 1), ("poly", 4.0)]  # 4.0: traced a


def _F64(x, F, a):
    if F == "exp":
        return np.exp(x)
    if F == "rectified":
        x = np.maximum(x, 0.0)
    return x ** int(a)


def _drive64(xi, s, F, a):
    """Reference D_i = Σ_μ F(ξ_i + r_i) − F(−ξ_i + r_i) in float64 (exp: times e^{−max o})."""
    xi, s = np.asarray(xi, np.float64), np.asarray(s, np.float64)
    o = xi @ s
    m = o.max() if F == "exp" else 0.0
    r = o[:, None] - xi * s[None, :] - m  # (P, N)
    return (_F64(r + xi, F, a) - _F64(r - xi, F, a)).sum(0)


@pytest.mark.parametrize("F,a", CONFIGS)
def test_drive_is_the_energy_difference(F, a):
    xi = _spins(0, 7, 15)
    s = _spins(1, 4, 15)
    d = dense.drive(xi, s, F=F, a=a)
    for b in range(4):
        ref = _drive64(xi, s[b], F, a)
        np.testing.assert_allclose(d[b], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    if F != "exp":  # and it is E(σ_i = −1) − E(σ_i = +1) of `energy`
        def E(v):
            return dense.energy(xi, v, F=F, a=a)

        diff = jnp.stack([E(s.at[:, i].set(-1.0)) - E(s.at[:, i].set(1.0)) for i in range(15)], -1)
        np.testing.assert_allclose(d, diff, rtol=1e-6)


@pytest.mark.parametrize("mode", ["async", "sequential", "sync"])
def test_a2_is_the_hebb_network(mode):
    # N even, P odd: Σ_μ ξ^μ_i r^μ_i is odd, so no field is a tie and both must agree exactly
    N, P = 100, 15
    xi = _spins(0, P, N)
    start = jnp.concatenate([
        _spins(1, 24, N),
        _flip(2, xi, 35)])
    # method="plain": the reference spin-by-spin engine (cheap to compile; same trajectory)
    ref = dynamics.relax(jax.random.key(3), rules.hebb(xi), start, mode=mode, method="plain")
    out = dense.relax(jax.random.key(3), xi, start, F="poly", a=2, mode=mode)
    np.testing.assert_array_equal(out.sigma, ref.sigma)
    np.testing.assert_array_equal(out.sweeps, ref.sweeps)
    np.testing.assert_array_equal(out.status, ref.status)
    assert int(out.sweeps.max()) > 1  # the trajectories are not trivial
    # D = 4 N h (the Hebb field up to a positive factor)
    np.testing.assert_allclose(dense.drive(xi, start, a=2),
                               4 * N * dynamics.local_field(rules.hebb(xi), start), atol=1e-2)


@pytest.mark.parametrize("F,a", CONFIGS)
def test_async_lowers_the_energy_spin_by_spin(F, a):
    # a numpy loop that recomputes energies from scratch for every spin visit must give the
    # same trajectory (checks the O(P) overlap bookkeeping); the energy never rises and the
    # end state is a local minimum under single flips
    N, P, B = 16, 9, 4
    xi = np.asarray(_spins(4, P, N), np.float64)
    s0 = np.asarray(_spins(5, B, N))
    key = jax.random.key(6)
    xi32 = jnp.asarray(xi, jnp.float32)

    def E(v):  # float64 reference (exp: the log-energy, as `dense.energy`)
        o = xi @ v
        return -np.log(np.exp(o).sum()) if F == "exp" else -_F64(o, F, a).sum()

    E_prev = dense.energy(xi32, s0, F=F, a=a)
    for t in range(1, 6):  # relax(max_sweeps=t) = the state after t sweeps
        E_t = dense.energy(xi32, dense.relax(key, xi32, s0, F=F, a=a, max_sweeps=t).sigma, F=F, a=a)
        assert bool(jnp.all(E_t <= E_prev + 1e-6 * jnp.abs(E_prev))), (t, E_t - E_prev)
        E_prev = E_t

    out = dense.relax(key, xi32, s0, F=F, a=a)
    assert out.status.tolist() == [dense.FIXED_POINT] * B
    for b in range(B):
        s = s0[b].astype(np.float64)
        for t in range(100):
            order = np.asarray(dynamics.sweep_order(key, t, N))
            before = s.copy()
            for i in order:
                up, down = s.copy(), s.copy()
                up[i], down[i] = 1.0, -1.0
                dE = E(down) - E(up)
                if dE != 0:
                    s[i] = np.sign(dE)
            if np.array_equal(before, s):
                break
        np.testing.assert_array_equal(out.sigma[b], s)
        assert int(out.sweeps[b]) == t
        for i in range(N):  # local minimum
            flipped = s.copy()
            flipped[i] *= -1
            assert E(flipped) >= E(s)


def test_exponential_memory_retrieves_far_beyond_hebb_without_overflow():
    # N = 64, P = 1000 (α ≈ 16): signal e^{~51} against 999 terms of at most ~e^{25}
    N, P = 64, 1000
    xi = _spins(10, P, N)
    cue = _flip(11, xi, round(0.1 * N))
    out = dense.relax(jax.random.key(12), xi, cue, F="exp")
    np.testing.assert_array_equal(out.sigma, xi)  # all 1000 patterns, exactly
    assert out.status.tolist() == [dense.FIXED_POINT] * P
    assert bool(jnp.all(jnp.isfinite(dense.energy(xi, cue, F="exp"))))
    # N = 2000: e^{ξ·σ} = e^{2000} overflows float32, the log-space numerics do not
    N, P = 2000, 20
    xi = _spins(13, P, N)
    cue = _flip(14, xi, N // 10)
    assert bool(jnp.all(jnp.isfinite(dense.drive(xi, cue, F="exp"))))
    out = dense.relax(jax.random.key(15), xi, cue, F="exp")
    np.testing.assert_array_equal(out.sigma, xi)
    E = dense.energy(xi, xi, F="exp")  # −lse = −(N + log(1 + Σ e^{ξ^ν·ξ^μ − N})) ≈ −N
    np.testing.assert_allclose(E, -N, rtol=1e-6)


def test_polynomial_memory_stores_more_than_hebb():
    # α = P/N = 1: Hebb (α_c ≈ 0.138) loses every pattern; a = 3 keeps them all
    # (signal 6N² ≈ 6·10⁴ vs crosstalk std ≈ √(108 P)·N ≈ 10⁴)
    N, P = 100, 100
    xi = _spins(16, P, N)
    cue = _flip(17, xi, N // 10)
    for mode in ("async", "sync"):
        out = dense.relax(jax.random.key(18), xi, cue, F="poly", a=3, mode=mode)
        np.testing.assert_array_equal(out.sigma, xi, err_msg=mode)
    hebb = dynamics.relax(jax.random.key(18), rules.hebb(xi), cue, method="plain")
    m = jnp.diagonal(metrics.overlap(hebb.sigma, xi))
    assert int(jnp.sum(m == 1.0)) == 0 and float(m.mean()) < 0.6


@pytest.mark.parametrize("F,mode", [("exp", "async"), ("poly", "sync")])
def test_masked_patterns_contribute_nothing_and_frozen_spins_stay(F, mode):
    N, P, extra = 60, 40, 25
    xi = _spins(19, P, N)
    junk = _spins(20, extra, N)  # ±1 junk under the mask: must be ignored
    mask = jnp.arange(P + extra) < P
    s0 = _spins(21, 6, N)
    frozen = jnp.arange(N) % 5 == 0
    # reference: zero padding (as `patterns.pad`); same shapes, so one compilation serves both
    zeros = jnp.concatenate([xi, jnp.zeros((extra, N))])
    ref = dense.relax(jax.random.key(22), zeros, s0, F=F, mode=mode, mask=mask, frozen=frozen)
    out = dense.relax(jax.random.key(22), jnp.concatenate([xi, junk]), s0, F=F, mode=mode,
                      mask=mask, frozen=frozen)
    np.testing.assert_array_equal(out.sigma, ref.sigma)
    np.testing.assert_array_equal(out.sigma[:, frozen], s0[:, frozen])
    assert int(ref.sweeps.max()) >= 1
    padded = jnp.concatenate([xi, junk])
    np.testing.assert_allclose(dense.energy(padded, s0, F=F, mask=mask), dense.energy(xi, s0, F=F),
                               rtol=1e-6)
    np.testing.assert_allclose(dense.drive(padded, s0, F=F, mask=mask), dense.drive(xi, s0, F=F),
                               rtol=1e-5, atol=1e-6)


def test_traced_power_and_no_recompilation():
    N, P = 16, 9  # the shapes of the spin-by-spin test: its compilation for traced a is reused
    xi = _spins(4, P, N)
    s0 = _spins(5, 4, N)
    def run(a):
        return dense.relax(jax.random.key(6), xi, s0, a=a).sigma

    both = jax.jit(jax.vmap(run))(jnp.array([2.0, 3.0]))
    np.testing.assert_array_equal(both[0], run(2.0))
    n = dense._relax_flat._cache_size()
    np.testing.assert_array_equal(both[1], run(3.0))
    np.testing.assert_array_equal(both[0], dense.relax(jax.random.key(6), xi, s0, a=2).sigma)
    for k, a in enumerate([2.5, 3.0, 4.0]):  # new key, cap and traced a: same compilation
        dense.relax(jax.random.key(k), xi, s0, a=a, max_sweeps=10 + k)
    assert dense._relax_flat._cache_size() == n + 1  # + the static a=2 call only


def test_bad_inputs_are_rejected():
    xi = _spins(26, 20, 80)
    s = jnp.ones((80,))
    with pytest.raises(ValueError, match="F must"):
        dense.relax(jax.random.key(0), xi, s, F="cubic")
    with pytest.raises(ValueError, match="mode"):
        dense.relax(jax.random.key(0), xi, s, mode="glauber")
    with pytest.raises(ValueError, match="±1"):
        dense.relax(jax.random.key(0), xi, 0.5 * s)
    with pytest.raises(ValueError, match="spins but xi"):
        dense.relax(jax.random.key(0), xi, jnp.ones((81,)))
    with pytest.raises(ValueError, match="mask"):
        dense.relax(jax.random.key(0), xi, s, mask=jnp.ones((19,), bool))
