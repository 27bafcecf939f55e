"""Biased patterns and the centred rules (hopjax.rules.centred; docs/conventions.md §2–3).

Physics asserted: a = 0 is exactly the uncentred model (bit for bit); biased patterns have
mean a; centred Hebb stores biased patterns at a small load where plain Hebb fails; the
centred pseudo-inverse makes every pattern a fixed point of the centred dynamics; the centred
energy never rises under the centred asynchronous dynamics; centred Daydreaming trains
(symmetric, zero diagonal, patterns become fixed points) and enlarges the basins of the
centred pseudo-inverse; the experiment layer sweeps the bias as a traced grid dim.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import dynamics, energy, metrics, patterns, rules
from hopjax.config import ConfigError, validate_config
from hopjax.io import load
from hopjax.run import run
from hopjax.sweep import Runner

KEY = jax.random.key


# --- biased patterns ------------------------------------------------------------------------

@pytest.mark.parametrize("a", [-0.6, 0.0, 0.3, 0.8])
def test_biased_patterns_have_mean_a(a):
    P, N = 100, 1000
    xi = patterns.biased(KEY(0), P, N, a)
    assert xi.shape == (P, N) and xi.dtype == jnp.float32
    assert set(np.unique(xi).tolist()) <= {-1.0, 1.0}
    # the mean of n = P N independent spins of variance 1 − a² has s.d. sqrt((1 − a²)/n)
    sd = np.sqrt((1 - a * a) / (P * N))
    assert abs(float(xi.mean()) - a) < 5 * sd, (float(xi.mean()), a, sd)
    # every pattern too (sd of a row mean: sqrt((1 − a²)/N))
    assert float(jnp.abs(xi.mean(axis=1) - a).max()) < 5 * np.sqrt((1 - a * a) / N)


def test_biased_at_zero_is_random_bit_for_bit_prefix_consistent_and_traceable():
    np.testing.assert_array_equal(patterns.biased(KEY(3), 30, 200, 0.0),
                                  patterns.random(KEY(3), 30, 200))
    xi = patterns.biased(KEY(4), 30, 200, 0.4)
    np.testing.assert_array_equal(patterns.biased(KEY(4), 12, 200, 0.4), xi[:12])
    traced = jax.jit(lambda a: patterns.biased(KEY(4), 30, 200, a))(jnp.float32(0.4))
    np.testing.assert_array_equal(traced, xi)


@pytest.mark.parametrize("a", [1.0, -1.0, 1.5, float("nan")])
def test_bad_bias_is_a_clear_error(a):
    msg = r"a must lie in the open interval \(-1, 1\)"
    xi = patterns.random(KEY(0), 4, 20)
    with pytest.raises(ValueError, match=msg):
        patterns.biased(KEY(0), 4, 20, a)
    with pytest.raises(ValueError, match=msg):
        rules.centred_hebb(xi, a)
    with pytest.raises(ValueError, match=msg):
        rules.centred_pseudo_inverse(xi, a)
    with pytest.raises(ValueError, match=msg):
        rules.centred_daydreaming(20.0, a)
    with pytest.raises(ValueError, match=msg):
        rules.centred_bias(rules.hebb(xi), a)


# --- a = 0 is the uncentred model, exactly --------------------------------------------------

def test_centred_rules_at_zero_bias_are_the_uncentred_rules_bit_for_bit():
    xi = patterns.random(KEY(1), 30, 100)
    mask = patterns.count_mask(21, 30)
    for m in (None, mask):
        np.testing.assert_array_equal(rules.centred_hebb(xi, 0.0, m), rules.hebb(xi, m))
        np.testing.assert_array_equal(rules.centred_pseudo_inverse(xi, 0.0, m),
                                      rules.pseudo_inverse(xi, m))
    np.testing.assert_array_equal(rules.centred_hebb(xi, 0.0, normalization="P"),
                                  rules.hebb(xi, normalization="P"))
    J = rules.hebb(xi)
    s = patterns.random(KEY(2), 5, 100)
    assert float(jnp.abs(rules.centred_bias(J, 0.0)).max()) == 0.0
    np.testing.assert_array_equal(energy.centred_energy(J, s, 0.0), energy.energy(J, s))
    np.testing.assert_array_equal(rules.centred_relax(KEY(3), J, s, 0.0).sigma,
                                  dynamics.relax(KEY(3), J, s).sigma)


@pytest.mark.parametrize("batch,masked", [(1, False), (2, True), (6, False)])
def test_centred_daydreaming_at_zero_bias_is_daydreaming_bit_for_bit(batch, masked):
    N, P_max = 64, 16
    xi = patterns.random(KEY(5), P_max, N)
    mask = patterns.count_mask(11, P_max) if masked else None
    kw = dict(batch=batch, max_sweeps=50)
    s0, r0 = rules.train(KEY(6), rules.daydreaming(10.0, **kw), xi, mask, epochs=3,
                         record=[0, 1, 3])
    s1, r1 = rules.train(KEY(6), rules.centred_daydreaming(10.0, 0.0, **kw), xi, mask,
                         epochs=3, record=[0, 1, 3])
    np.testing.assert_array_equal(s1.J, s0.J)
    np.testing.assert_array_equal(r1.J, r0.J)
    np.testing.assert_array_equal(r1.info.delta_norm, r0.info.delta_norm)
    assert int(s1.step) == int(s0.step)


# --- centred Hebb and pseudo-inverse --------------------------------------------------------

def test_centred_hebb_formula_and_mask():
    a, N = 0.5, 80
    xi = patterns.biased(KEY(7), 12, N, a)
    x = np.asarray(xi, np.float64) - a
    expected = x.T @ x / (N * (1 - a * a))
    np.fill_diagonal(expected, 0.0)
    J = rules.centred_hebb(xi, a)
    np.testing.assert_allclose(J, expected, atol=1e-6)
    np.testing.assert_array_equal(J, J.T)
    mask = patterns.count_mask(7, 12)
    np.testing.assert_allclose(rules.centred_hebb(xi, a, mask), rules.centred_hebb(xi[:7], a),
                               atol=1e-7)
    # the centred bias is b_i = −a Σ_{j≠i} J_ij: the centred field is the plain field plus b
    s = patterns.random(KEY(8), 3, N)
    h = dynamics.local_field(J, s, rules.centred_bias(J, a))
    np.testing.assert_allclose(h, (np.asarray(s) - a) @ np.asarray(J), atol=1e-5)


def test_centred_hebb_stores_biased_patterns_where_plain_hebb_fails():
    # a = 0.5, P = 20, N = 2000 (α = 0.01). Centred: signal (ξ_i − a) ≥ 0.5 against crosstalk
    # of s.d. sqrt(α (1 − a²)) = 0.09, so every pattern is a fixed point. Plain Hebb: every
    # other pattern adds ≈ a² ξ^μ_i to the field, a common component a³ (P − 1) ≈ 2.4 that
    # beats the signal 1 on the spins with ξ_i = −1: no pattern is a fixed point.
    a, P, N = 0.5, 20, 2000
    xi = patterns.biased(KEY(9), P, N, a)
    Jc = rules.centred_hebb(xi, a)
    assert float(metrics.stable_fraction(Jc, xi, bias=rules.centred_bias(Jc, a))) == 1.0
    assert float(metrics.stable_fraction(rules.hebb(xi), xi)) == 0.0
    # and from cues at m0 = 0.6 the centred dynamics retrieve the patterns
    cue = patterns.flip_to_overlap(KEY(10), xi, 0.6)
    out = rules.centred_relax(KEY(11), Jc, cue, a)
    np.testing.assert_array_equal(out.sigma, xi)


@pytest.mark.parametrize("alpha,a", [(0.3, 0.5), (0.6, -0.3), (0.8, 0.2)])
def test_centred_pseudo_inverse_makes_every_pattern_a_fixed_point(alpha, a):
    N = 200
    xi = patterns.biased(KEY(12), round(alpha * N), N, a)
    J = rules.centred_pseudo_inverse(xi, a)
    np.testing.assert_allclose(J, J.T, atol=1e-5)
    # with the diagonal restored J projects on the span of the centred patterns, so the
    # centred field on spin i is (1 − J_ii)(ξ_i − a): the sign of ξ_i for any |a| < 1
    x = np.asarray(xi, np.float64) - a
    proj = x.T @ np.linalg.solve(x @ x.T, x)
    h = np.asarray(dynamics.local_field(J, xi, rules.centred_bias(J, a)))
    np.testing.assert_allclose(h, x * (1 - np.diag(proj)), atol=1e-3)
    assert float(metrics.stable_fraction(J, xi, bias=rules.centred_bias(J, a))) == 1.0
    mask = patterns.count_mask(round(alpha * N) - 5, round(alpha * N))
    np.testing.assert_allclose(rules.centred_pseudo_inverse(xi, a, mask),
                               rules.centred_pseudo_inverse(xi[: round(alpha * N) - 5], a),
                               atol=2e-5)


# --- centred energy and dynamics -----------------------------------------------------------

@pytest.mark.parametrize("theta", [None, 0.4])
def test_centred_energy_never_rises_and_flip_changes_it_by_the_field(theta):
    a, N = 0.4, 100
    xi = patterns.biased(KEY(13), 30, N, a)
    J = rules.centred_hebb(xi, a)
    b = rules.centred_bias(J, a, theta)
    s = patterns.random(KEY(14), 16, N)
    # E_c(σ) = −½ (σ − a)ᵀ J (σ − a) − θ Σ (σ − a) is the plain energy with bias b, up to a
    # constant
    Ec = energy.centred_energy(J, s, a, theta)
    const = -0.5 * a * a * float(J.sum()) + (theta or 0.0) * a * N
    np.testing.assert_allclose(Ec - energy.energy(J, s, b), const, rtol=1e-5, atol=1e-3)
    # a single flip of spin i changes E_c by 2 σ_i h_i (h the centred field)
    h = dynamics.local_field(J, s, b)
    for i in (0, 37, 99):
        flipped = s.at[:, i].multiply(-1)
        np.testing.assert_allclose(energy.centred_energy(J, flipped, a, theta) - Ec,
                                   2 * s[:, i] * h[:, i], rtol=1e-4, atol=1e-4)
    # asynchronous centred dynamics, one sweep at a time: E_c never rises
    e_prev = Ec
    for t in range(30):
        s = dynamics.sweep(jax.random.fold_in(KEY(15), t), J, s, bias=b)
        e = energy.centred_energy(J, s, a, theta)
        assert bool(jnp.all(e <= e_prev + 1e-4)), (t, e - e_prev)
        e_prev = e
    assert bool(metrics.is_fixed_point(J, s, b).all())


# --- centred Daydreaming --------------------------------------------------------------------

def test_centred_daydreaming_keeps_j_symmetric_zero_diagonal_and_stores_patterns():
    # α = 0.2 is beyond centred Hebb's capacity at a = 0.3; Daydreaming stores the patterns
    a, N, P = 0.3, 100, 20
    xi = patterns.biased(KEY(16), P, N, a)
    state, rec = rules.train(KEY(17), rules.centred_daydreaming(10.0, a), xi, epochs=20,
                             record=[0, 20])
    J = state.J
    np.testing.assert_array_equal(J, J.T)
    assert float(jnp.abs(jnp.diag(J)).max()) == 0.0
    # Frobenius rescaling to the initial (centred Hebb) norm after every epoch
    np.testing.assert_allclose(float(jnp.linalg.norm(J)),
                               float(jnp.linalg.norm(rules.centred_hebb(xi, a))), rtol=1e-5)
    before = metrics.stable_fraction(rec.J[0], xi, bias=rules.centred_bias(rec.J[0], a))
    after = metrics.stable_fraction(J, xi, bias=rules.centred_bias(J, a))
    assert float(before) < 0.2 and float(after) >= 0.9, (float(before), float(after))


def test_centred_daydreaming_has_larger_basins_than_centred_pseudo_inverse():
    # the claim of Doi, Ohzeki, Ricci-Tersenghi (2026) in a small case: α = 0.3, a = 0.5,
    # N = 100, cues at m0 = 0.7 and 0.9. The centred pseudo-inverse stores every pattern but
    # its basins nearly vanish (m_f(0.9) ≈ 0.1 here); Daydreaming's are wide.
    a, N, P = 0.5, 100, 30
    xi = patterns.biased(KEY(16), P, N, a)
    state, _ = rules.train(KEY(17), rules.centred_daydreaming(10.0, a), xi, epochs=40,
                           record=[40], snapshots=False)
    m0s = jnp.array([0.7, 0.9])
    mf = {}
    for name, J in (("dd", state.J), ("pi", rules.centred_pseudo_inverse(xi, a))):
        rm = metrics.retrieval_map(KEY(20), J, xi, m0s, bias=rules.centred_bias(J, a))
        mf[name] = np.asarray(rm.mean)
    assert mf["dd"][1] > 0.85 and np.all(mf["dd"] > mf["pi"] + 0.3), mf


# --- the experiment layer -------------------------------------------------------------------

RET = {"experiment": "retrieval", "name": "c", "N": 48, "seeds": 1,
       "data": {"alpha": [0.1, 0.3], "bias": [0.0, 0.5]},
       "rule": ["hebb", "centred_hebb", "centred_pseudo_inverse"], "m0": [0.8, 1.0]}


def test_retrieval_sweep_over_bias_is_traced_and_centred_rules_reduce_at_zero(tmp_path):
    cfg = validate_config(RET)
    path, _ = run(cfg, tmp_path, plots=False, progress=False)
    ds = load(path)
    assert dict(ds.sizes) == {"rule": 3, "mode": 1, "seed": 1, "alpha": 2, "bias": 2, "m0": 2}
    # a = 0: biased patterns are the uncorrelated ones and centred Hebb is Hebb, bit for bit
    for v in ("mf_mean", "stable_fraction"):
        np.testing.assert_array_equal(ds[v].sel(rule="centred_hebb", bias=0.0).values,
                                      ds[v].sel(rule="hebb", bias=0.0).values)
    assert np.all(ds.stable_fraction.sel(rule="centred_pseudo_inverse").values == 1.0)
    # at a = 0.5 plain Hebb loses the patterns at α = 0.3, centred pseudo-inverse keeps them
    assert ds.mf_mean.sel(rule="hebb", bias=0.5, alpha=0.3, m0=1.0).item() < 0.9
    # one compilation for the whole grid: the bias is a traced dim, not a static one
    from hopjax.experiments import EXPERIMENTS
    small = validate_config({**RET, "rule": "centred_pseudo_inverse"})
    runner = Runner(EXPERIMENTS["retrieval"].plan(small), 1)
    chunks = [runner.run_chunk(i) for i in range(len(runner.bounds))]
    assert len(runner.bounds) == 4 and [f._cache_size() for f in runner.compiled.values()] == [1]
    # one point per call gives the same bits as the run's larger chunks
    ref = ds.sel(rule="centred_pseudo_inverse", mode="async")
    for v in ("mf_mean", "stable_fraction"):
        np.testing.assert_array_equal(np.concatenate([c[v] for c in chunks]),
                                      ref[v].transpose("seed", "alpha", "bias", ...).values
                                      .reshape((4,) + ref[v].shape[3:]))


def test_centred_daydreaming_sweep(tmp_path):
    raw = {"experiment": "daydreaming", "name": "cd", "N": 48, "seeds": 1,
           "data": {"alpha": [0.3], "bias": [0.0, 0.5]}, "m0": [1.0],
           "training": {"tau": 10.0, "epochs": 8, "record": [0, 8], "centred": True}}
    ds = load(run(validate_config(raw), tmp_path / "c", plots=False, progress=False)[0])
    assert dict(ds.sizes) == {"mode": 1, "seed": 1, "alpha": 1, "bias": 2, "tau": 1,
                              "epoch": 2, "m0": 1}
    assert np.allclose(ds.dist_hebb.sel(epoch=0), 0.0)  # the centred Hebb start
    stable = ds.stable_fraction.sel(bias=0.5).values.ravel()
    assert stable[0] < 0.2 and stable[1] > 0.5, stable
    # a = 0: centred Daydreaming is Daydreaming, bit for bit
    raw0 = {**raw, "data": {"alpha": [0.3], "bias": 0.0},
            "training": {**raw["training"], "centred": False}}
    ds0 = load(run(validate_config(raw0), tmp_path / "p", plots=False, progress=False)[0])
    for v in ("mf_mean", "stable_fraction", "dist_hebb", "tau_delta"):
        np.testing.assert_array_equal(ds[v].sel(bias=0.0).values, ds0[v].values, err_msg=v)


@pytest.mark.parametrize("data,field", [
    ({"alpha": [0.1], "bias": 1.0}, "data.bias"),
    ({"alpha": [0.1], "bias": [0.2, -1.0]}, "data.bias.1"),
    ({"alpha": [0.1], "bias": []}, "data.bias"),
    ({"kind": "random_features", "alpha": [0.1], "alpha_D": [0.1], "bias": 0.2}, "data.bias"),
])
def test_bad_bias_in_config_names_the_field(data, field):
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        validate_config({**RET, "data": data})


def test_threshold_config():
    cfg = validate_config({**RET, "dynamics": {"theta": "a"}})
    assert cfg.dynamics.theta == "a"
    with pytest.raises(ConfigError, match="field 'dynamics.theta'"):
        validate_config({**RET, "dynamics": {"theta": "b"}})
    dd = {"experiment": "daydreaming", "name": "cd", "N": 48, "data": {"alpha": [0.3]},
          "m0": [1.0], "training": {"epochs": 2}, "dynamics": {"theta": 0.1}}
    with pytest.raises(ConfigError, match="training.centred: true"):
        validate_config(dd)
    validate_config({**dd, "training": {"epochs": 2, "centred": True}})


def test_centred_daydreaming_spectrum_is_broader_than_the_pseudo_inverses():
    """Doi, Ohzeki, Ricci-Tersenghi (2026) trace centred Daydreaming's larger basins to a
    broad eigenvalue spectrum of J. The centred pseudo-inverse with zeroed diagonal is a
    projector minus its diagonal (≈ P/N): P eigenvalues near 1 − P/N and N − P near −P/N.
    After 100 epochs (N = 100, α = 0.3, a = 0.3) Daydreaming's top P eigenvalues spread
    over a range several times wider (coefficient of variation 0.25 against 0.03 here)."""
    N, P, a = 100, 30, 0.3
    xi = patterns.biased(jax.random.key(0), P, N, a)
    Jp = rules.centred_pseudo_inverse(xi, a)
    state, _ = jax.jit(lambda k: rules.train(k, rules.centred_daydreaming(20.0, a), xi,
                                             epochs=100, record=[0, 100],
                                             snapshots=False))(jax.random.key(1))
    spectra = {}
    for name, J in (("pinv", Jp), ("dd", state.J)):
        ev = np.sort(np.linalg.eigvalsh(np.asarray(J, np.float64)))
        spectra[name] = ev[-P:], ev[:-P]
    top, rest = spectra["pinv"]
    d = P / N
    assert np.allclose(top, 1 - d, atol=0.1) and np.allclose(rest, -d, atol=0.1)
    cv = {k: float(t.std() / t.mean()) for k, (t, _) in spectra.items()}
    assert cv["dd"] > 4 * cv["pinv"], cv
