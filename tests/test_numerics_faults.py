"""Numerics faults of the reliability issue: huge or non-finite couplings, dense memories at
large powers, the modern Hopfield softmax at large / zero / negative β, rules under x64, and
argument checks (j_max, P = 0)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest


from hopjax import _native, dense, dynamics, modern, patterns, rules


# ----------------------------------------------------------------------------- dynamics
def _huge_coupling_case(N=400, P=8, m0=0.6, B=4):
    xi = patterns.random(jax.random.key(10), P, N)
    J = rules.hebb(xi)
    J_huge = J.at[3, 7].set(1e30).at[7, 3].set(1e30)
    cue = patterns.flip_to_overlap(jax.random.key(11), jnp.broadcast_to(xi[0], (B, N)), m0)
    return xi, J, J_huge, cue


def _others(x):
    return jnp.delete(x, jnp.array([3, 7]), axis=-1)


def test_tie_tolerance_is_per_spin():
    # one huge coupling widens the ties of its own two spins only
    _, J, J_huge, _ = _huge_coupling_case()
    tol, tol_huge = dynamics.tie_tolerance(J), dynamics.tie_tolerance(J_huge)
    assert tol_huge.shape == (J.shape[0],)
    assert float(_others(tol_huge).max()) < 1e-2 / J.shape[0]  # far below the 1/N field step
    np.testing.assert_array_equal(_others(tol_huge), _others(tol))
    assert float(tol_huge[3]) > 1e20 and float(tol_huge[7]) > 1e20
    # the bias of spin i enters its own tolerance only
    b = jnp.zeros(J.shape[0]).at[5].set(1e6)
    tb = dynamics.tie_tolerance(J, b)
    assert float(tb[5]) > 0.1 and float(jnp.delete(tb, 5).max()) == float(jnp.delete(tol, 5).max())


@pytest.mark.parametrize("mode,method", [("async", "auto"), ("async", "plain"),
                                         ("async", "blocked"), ("sequential", "auto"),
                                         ("sync", "auto")])
def test_one_huge_coupling_does_not_freeze_the_other_spins(mode, method):
    # the global tolerance 4 N eps max|J| made every other field a tie: the cue came back
    # unchanged as a "fixed point" after 0 sweeps. Spins ≠ 3, 7 must retrieve as under Hebb.
    xi, J, J_huge, cue = _huge_coupling_case()
    key = jax.random.key(12)
    ref = dynamics.relax(key, J, cue, mode=mode, method=method)
    out = dynamics.relax(key, J_huge, cue, mode=mode, method=method)
    m_ref = _others(ref.sigma) @ _others(xi[0]) / (J.shape[0] - 2)
    m = _others(out.sigma) @ _others(xi[0]) / (J.shape[0] - 2)
    assert bool((m_ref > 0.99).all())  # plain Hebb retrieves from m0 = 0.6
    assert bool((m > 0.99).all()), m
    assert bool((out.sweeps > 0).all())
    assert bool(jnp.isfinite(out.sigma).all())
    if mode != "sync":  # a fixed point, and the two strongly coupled spins agree (J_37 > 0)
        assert out.status.tolist() == [dynamics.FIXED_POINT] * cue.shape[0]
        assert bool((out.sigma[:, 3] == out.sigma[:, 7]).all())


@pytest.mark.skipif(not _native.available(), reason="no C++ compiler")
def test_kernel_and_jax_sweeps_share_the_per_spin_tolerance(monkeypatch):
    # the C++ kernel computes the same per-spin tolerances bit for bit (huge coupling, bias)
    xi, _, J_huge, cue = _huge_coupling_case(N=300, B=20)  # B >= RANK_MIN_BATCH: both searches
    b = 0.05 * jax.random.normal(jax.random.key(13), (300,)).at[11].set(40.0)
    run = jax.jit(lambda k, J, s, b: dynamics.relax(k, J, s, bias=b))
    fast = run(jax.random.key(14), J_huge, cue, b)
    fast_small = run(jax.random.key(14), J_huge, cue[:3], b)
    with monkeypatch.context() as m:
        m.setattr(_native, "available", lambda: False)
        run = jax.jit(lambda k, J, s, b: dynamics.relax(k, J, s, bias=b))
        ref = run(jax.random.key(14), J_huge, cue, b)
        ref_small = run(jax.random.key(14), J_huge, cue[:3], b)
    for a, r in ((fast, ref), (fast_small, ref_small)):
        for x, y in zip(a, r):
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert bool((fast.sweeps > 0).all())


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("mode", dynamics.MODES)
def test_non_finite_couplings_are_rejected_in_every_mode(mode, bad):
    J = rules.hebb(patterns.random(jax.random.key(15), 3, 30)).at[2, 5].set(bad).at[5, 2].set(bad)
    with pytest.raises(ValueError, match="J has non-finite entries"):
        dynamics.relax(jax.random.key(0), J, jnp.ones(30), mode=mode,
                       T=0.5 if mode == "glauber" else None)


# ----------------------------------------------------------------------------- dense memories
def _drive64(xi, s, a):
    """Exact-sign reference D_i = Σ_μ (r+ξ)^a − (r−ξ)^a in float64 (no overflow at N = 1000)."""
    xi, s = np.asarray(xi, np.float64), np.asarray(s, np.float64)
    r = (xi @ s)[:, None] - xi * s[None, :]
    return ((r + xi) ** a - (r - xi) ** a).sum(0)


@pytest.mark.parametrize("a", [14, 20, 14.0])  # 14.0: the traced power
def test_polynomial_memory_at_large_power_is_finite_and_retrieves(a):
    # N^a overflowed float32 (energy −inf, drive inf − inf = NaN, cue returned as a fixed point)
    N, P = 1000, 5
    xi = patterns.random(jax.random.key(20), P, N)
    cue = patterns.flip_to_overlap(jax.random.key(21), xi, 0.6)
    d = dense.drive(xi, cue, a=a)
    assert bool(jnp.isfinite(d).all())
    for b in range(2):  # the drive has the sign of the exact energy difference
        ref = _drive64(xi, cue[b], int(a))
        big = np.abs(ref) > 1e-6 * np.abs(ref).max()
        np.testing.assert_array_equal(np.sign(np.asarray(d[b]))[big], np.sign(ref)[big])
    for mode in ("async", "sync"):
        out = dense.relax(jax.random.key(22), xi, cue, a=a, mode=mode)
        np.testing.assert_array_equal(out.sigma, xi, err_msg=mode)
        assert out.status.tolist() == [dense.FIXED_POINT] * P and bool((out.sweeps > 0).all())
    E_cue, E_xi = dense.energy(xi, cue, a=a), dense.energy(xi, xi, a=a)
    assert bool(jnp.isfinite(E_cue).all() & jnp.isfinite(E_xi).all())
    assert bool((E_xi < E_cue).all())
    # one positive factor for every state: energy ratios are the exact ones
    o = np.asarray(cue, np.float64) @ np.asarray(xi, np.float64).T / N
    o_xi = np.asarray(xi, np.float64) @ np.asarray(xi, np.float64).T / N
    np.testing.assert_allclose(E_cue / E_xi, (o ** int(a)).sum(1) / (o_xi ** int(a)).sum(1),
                               rtol=1e-4)


def test_small_powers_are_not_rescaled():
    # the large-a rescaling never touches a = 2, 3, 4: the exact unscaled energy
    xi = patterns.random(jax.random.key(23), 4, 1000)
    o = np.asarray(xi[:2], np.float64) @ np.asarray(xi, np.float64).T
    for a in (2, 3, 4):
        np.testing.assert_allclose(dense.energy(xi, xi[:2], a=a), -(o ** a).sum(1), rtol=1e-6)


# ----------------------------------------------------------------------------- modern Hopfield
def _modern_case():
    X = jax.random.normal(jax.random.key(30), (10, 64))
    q = X[3] + 0.3 * jax.random.normal(jax.random.key(31), (4, 64))
    return X, q


@pytest.mark.parametrize("beta", [1e8, 1e9, 1e10, 1e38, float("inf")])
def test_update_is_finite_at_huge_beta_under_jit(beta):
    # β z − max(β z) was fused into an FMA under jit: a positive logit, exp → inf, NaN
    X, q = _modern_case()
    mask = jnp.arange(10) != 5
    for f in (modern.update, jax.jit(modern.update), jax.jit(jax.vmap(modern.update, (None, 0, None)))):
        out = f(X, q, beta)
        assert bool(jnp.isfinite(out).all())
        np.testing.assert_allclose(out, jnp.broadcast_to(X[3], q.shape), atol=1e-6)  # nearest
    np.testing.assert_allclose(jax.jit(modern.update)(X, q, beta, mask), jnp.broadcast_to(X[3], q.shape),
                               atol=1e-6)
    E = jax.jit(modern.energy)(X, q, beta)  # the energy tends to −max z + ½ ξ·ξ + ½ M²
    z = q @ X.T
    ref = -z.max(-1) + 0.5 * (q * q).sum(-1) + 0.5 * (X * X).sum(-1).max()
    np.testing.assert_allclose(E, ref, rtol=1e-5)


def test_retrieve_never_reports_a_nan_state_as_converged():
    X, q = _modern_case()
    bad = q.at[1, 0].set(jnp.nan)
    out = modern.retrieve(X, bad, 1.0)
    assert out.converged.tolist() == [True, False, True, True]
    assert not bool(jnp.isfinite(out.xi[1]).all())
    assert bool(jnp.isfinite(out.xi[jnp.array([0, 2, 3])]).all())
    assert int(out.iterations[1]) >= 1


def test_energy_at_beta_zero_is_its_limit():
    # −lse(β, z) + β⁻¹ log P → −mean_μ z_μ as β → 0⁺ (was ∞ − ∞ = NaN at β = 0)
    X, q = _modern_case()
    mask = jnp.arange(10) < 7
    for m, P in ((None, 10), (mask, 7)):
        z = q @ X[:P].T
        ref = -z.mean(-1) + 0.5 * (q * q).sum(-1) + 0.5 * (X[:P] * X[:P]).sum(-1).max()
        E0 = modern.energy(X, q, 0.0, m)
        assert bool(jnp.isfinite(E0).all())
        np.testing.assert_allclose(E0, ref, rtol=1e-5)
        # continuous at β = 0, and E decreases towards it with β (lse(β) ≥ mean for β > 0)
        for beta in (1e-6, 1e-3):
            np.testing.assert_allclose(modern.energy(X, q, beta, m), E0, rtol=10 * beta + 1e-5)
        assert bool((modern.energy(X, q, 0.5, m) < E0).all())
    # the β = 0 fixed point of `update` (the mean pattern) minimises the β = 0 energy
    mean = X.mean(0)
    np.testing.assert_allclose(modern.update(X, q, 0.0), jnp.broadcast_to(mean, q.shape), atol=1e-6)
    assert bool((modern.energy(X, mean, 0.0) <= modern.energy(X, q, 0.0)).all())


def test_negative_beta_is_rejected():
    X, q = _modern_case()
    for f in (modern.energy, modern.update, modern.retrieve):
        with pytest.raises(ValueError, match="beta must be >= 0"):
            f(X, q, -0.5)
        with pytest.raises(ValueError, match="beta"):
            f(X, q, float("nan"))


# ----------------------------------------------------------------------------- rules: dtypes
def test_rules_follow_the_patterns_precision_under_x64():
    with jax.enable_x64(True):
        xi32 = patterns.random(jax.random.key(40), 19, 20)  # α = 0.95 (float32 spins)
        xi = xi32.astype(jnp.float64)
        J = rules.hebb(xi)
        assert J.dtype == jnp.float64
        ref = np.asarray(xi).T @ np.asarray(xi) / 20
        np.fill_diagonal(ref, 0.0)
        np.testing.assert_allclose(J, ref, rtol=0, atol=1e-15)
        assert rules.hebb(xi, normalization="P").dtype == jnp.float64
        assert rules.hebb(xi32).dtype == jnp.float32  # float32 in, float32 out
        assert rules.hebb(np.asarray(xi32, np.int32)).dtype == jnp.float64  # ints: default float
        assert rules.hebb_add(J, xi[0]).dtype == jnp.float64
        # pseudo-inverse: J = Π − diag Π with Π the projector on the patterns, so
        # h^μ_i ξ^μ_i = 1 − Π_ii is the same for every pattern; float64 resolves it near α = 1
        Jp = rules.pseudo_inverse(xi)
        assert Jp.dtype == jnp.float64
        stab = (xi @ Jp) * xi  # (P, N): h_i ξ_i
        assert float(jnp.std(stab, axis=0).max()) < 1e-9
        assert rules.dreaming_kernel(xi, 5.0).dtype == jnp.float64
        assert rules.unlearning(jax.random.key(41), xi, epsilon=0.01, n_dreams=2).dtype == jnp.float64
        rule = rules.daydreaming(10.0)
        state = rule.init(jax.random.key(42), xi)
        state, _ = rule.update(jax.random.key(43), state, xi)
        assert state.J.dtype == jnp.float64 and bool((state.J == state.J.T).all())
        assert rules.daydreaming(10.0, init="gaussian").init(jax.random.key(42), xi).J.dtype == jnp.float64


def test_rules_keep_float32_without_x64():
    xi = patterns.random(jax.random.key(44), 5, 30)
    for J in (rules.hebb(xi), rules.pseudo_inverse(xi), rules.hebb(np.asarray(xi, np.float64)),
              rules.daydreaming(10.0).init(jax.random.key(0), xi).J):
        assert J.dtype == jnp.float32


# ----------------------------------------------------------------------------- rules: arguments
@pytest.mark.parametrize("j_max", [0, 0.0, -1, -1.0, float("nan")])
def test_daydreaming_rejects_a_non_positive_j_max(j_max):
    with pytest.raises(ValueError, match="j_max must be > 0 or None"):
        rules.daydreaming(10.0, j_max=j_max)


def test_daydreaming_accepts_positive_and_traced_j_max():
    xi = patterns.random(jax.random.key(45), 5, 30)
    rule = rules.daydreaming(10.0, j_max=0.05)
    state, _ = rule.update(jax.random.key(1), rule.init(jax.random.key(0), xi), xi)
    assert float(jnp.abs(state.J).max()) <= np.float32(0.05)

    @jax.jit
    def run(j_max):
        rule = rules.daydreaming(10.0, j_max=j_max)
        return rule.update(jax.random.key(1), rule.init(jax.random.key(0), xi), xi)[0].J

    assert float(jnp.abs(run(0.05)).max()) <= np.float32(0.05)


def test_no_patterns_gives_a_clear_error():
    empty = jnp.zeros((0, 30))
    calls = [lambda: rules.hebb(empty), lambda: rules.pseudo_inverse(empty),
             lambda: rules.dreaming_kernel(empty, 1.0),
             lambda: rules.unlearning(jax.random.key(0), empty, epsilon=0.1, n_dreams=1),
             lambda: rules.daydreaming(10.0).init(jax.random.key(0), empty),
             lambda: rules.train(jax.random.key(0), rules.daydreaming(10.0), empty, epochs=1)]
    state = rules.daydreaming(10.0).init(jax.random.key(0), jnp.ones((1, 30)))
    calls.append(lambda: rules.daydreaming(10.0).update(jax.random.key(0), state, empty))
    for call in calls:
        with pytest.raises(ValueError, match="need at least one pattern, got P = 0"):
            call()


def test_random_patterns_reject_a_negative_count():
    assert patterns.random(jax.random.key(0), 0, 8).shape == (0, 8)  # empty, then rejected by rules
    with pytest.raises(ValueError, match="must be >= 0"):
        patterns.random(jax.random.key(0), -1, 8)
