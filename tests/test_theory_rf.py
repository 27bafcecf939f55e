"""Tests for hopjax.theory_rf: RS thresholds of the random-features Hopfield model (T = 0).

Negri, Lauditi, Perugini, Lucibello, Malatesta, "Storage and learning phase transitions in the
random-features Hopfield model", PRL 131, 257301 (2023), arXiv:2303.16880. Published numbers,
written down before the code was trusted, from the authors' repository
github.com/ArtLabBocconi/random_feature_hopfield (commit 7875ba8):

- storage line α_s(α_D), ``saddle_point/pattern/alphac_pattern.txt`` (columns α, α_D; the
  first load past the jump of m, on a 0.001 grid in α or a 0.001 – 0.01 grid in α_D) and
  ``saddle_point/pattern/results/alphac.txt`` (α_D = 0.2 … 1): 0.0365 (α_D = 0.01),
  0.0486 (0.02), 0.068 (0.05), 0.0841 (0.1), 0.0996 (0.2), 0.117 (0.5), 0.126 (1), 0.131 (2),
  0.135 (5), 0.138 (30);
- learning line α_l(α_D), ``saddle_point/factor/alphac_factor.txt``: 0.092 (α_D = 0.01),
  0.209 – 0.21 (0.02), 0.778 – 0.780 (0.05), 4.1 – 4.11 (0.1), 19.0 (0.12688); no learning
  for α_D ≳ 0.13 (the file ends there; Fig. 1A);
- order parameters along the branches, ``saddle_point/pattern/results/span_aD1.0.txt``
  (example, α_D = 1) and ``saddle_point/factor/results/span_aD0.01.txt`` (feature,
  α_D = 0.01), columns dq qh dp dph pd dphd m (their stopping tolerance is 1e-5);
- their N = 10000 simulation, ``run/magnetisations_aD0.01.txt`` (α_D = 0.01, ±1 coefficients
  c, zero-temperature asynchronous dynamics for 200 sweeps, one sample per α on a 0.0102 grid):
  started at an example, it is kept at α = 0.001 (m = 1.0) and lost at α = 0.0112 (m = 0.068);
  started at a feature, m_f ≈ 0.98 from α = 0.083 on (0.19 at 0.073; one dip, 0.18 at 0.103).

Physics: α_D → ∞ gives AGS (α_c = 0.138, compared with hopjax.theory.alpha_c); as α → ∞ the
Hebb matrix is a Hopfield model of the D features at load α_D, so the learning line diverges
as α_D → 0.138 from below; both lines increase with α_D (Fig. 1A).
"""

import math

import numpy as np
import pytest

from conftest import golden_max
from hopjax import theory, theory_rf


K1 = 2.0 / math.pi            # κ1² for σ = sign
KS = 1.0 - 2.0 / math.pi      # κ*²

PUBLISHED_STORAGE = {0.01: 0.0365, 0.02: 0.0486, 0.05: 0.068, 0.1: 0.0841, 0.2: 0.0996,
                     0.5: 0.117, 1.0: 0.126, 2.0: 0.131, 5.0: 0.135, 30.0: 0.138}
PUBLISHED_LEARNING = {0.01: 0.092, 0.02: 0.2095, 0.05: 0.779, 0.1: 4.105, 0.12688: 19.0}
# (α, α_D) -> dq, qh, dp, dph, pd, dphd, m
PUBLISHED_EXAMPLE_ORDER = {
    (0.1, 1.0): (0.026415696, 1.102643781, 0.026459164, 0.653909423, 1.003510485, 0.673169508,
                 0.997330881),
    (0.125, 1.0): (0.132166066, 1.443886281, 0.133786058, 0.734443200, 1.026643147,
                   0.861669273, 0.978771283)}
PUBLISHED_FEATURE_ORDER = {
    (0.1, 0.01): (0.029357801, 91.94303739, 0.036397569, 0.658916045, 94.95359984, 40.07065034,
                  0.963769781),
    (0.2, 0.01): (0.000859145, 73.85093338, 0.000868043, 0.637170136, 100.8384022, 41.13524269,
                  0.999076482)}
SIM_EXAMPLE_LOST_AT = 0.0112  # N = 10000, α_D = 0.01 (run/magnetisations_aD0.01.txt)


@pytest.fixture(scope="module")
def lines():
    """Both lines on shared grids, computed once (the expensive part of this file)."""
    aD_s = np.array(sorted(PUBLISHED_STORAGE))
    aD_l = np.array(sorted(PUBLISHED_LEARNING))
    out = {
        "aD_s": aD_s, "aD_l": aD_l,
        "s_paper": theory_rf.rf_storage_threshold(aD_s, equations="paper", xtol=1e-7),
        "s_corr": theory_rf.rf_storage_threshold(aD_s, equations="corrected", xtol=1e-7),
        "l_paper": theory_rf.rf_learning_threshold(aD_l, equations="paper", rtol=1e-7),
        "l_corr": theory_rf.rf_learning_threshold(aD_l, equations="corrected", rtol=1e-7),
    }
    return out


def test_published_storage_line_within_3_percent(lines):
    for aD, a_s in zip(lines["aD_s"], lines["s_paper"]):
        pub = PUBLISHED_STORAGE[float(aD)]
        assert abs(a_s - pub) / pub < 0.03, (aD, a_s, pub)
    assert lines["s_paper"].dtype == np.float64


def test_published_learning_line_within_3_percent(lines):
    for aD, a_l in zip(lines["aD_l"], lines["l_paper"]):
        pub = PUBLISHED_LEARNING[float(aD)]
        assert abs(a_l - pub) / pub < 0.03, (aD, a_l, pub)


def test_published_order_parameters():
    names = ("dq", "qh", "dp", "dph", "pd", "dphd", "m")
    for table, state in ((PUBLISHED_EXAMPLE_ORDER, "example"),
                         (PUBLISHED_FEATURE_ORDER, "feature")):
        for (alpha, aD), pub in table.items():
            sol = theory_rf.solve_rf(alpha, aD, state=state, equations="paper")
            for k, v in zip(names, pub):
                assert abs(float(getattr(sol, k)) - v) < 2e-3 * abs(v) + 1e-6, (state, alpha, k)


def test_storage_line_tends_to_ags():
    ac = float(theory.alpha_c(0.0))
    for eq in ("paper", "corrected"):
        far = theory_rf.rf_storage_threshold([1e4, np.inf], equations=eq)
        assert abs(far[1] - ac) < 1e-7, eq          # α_D = ∞ is exactly AGS
        assert 0.0 < ac - far[0] < 2e-3, eq         # approached from below
    # and the order parameters at α_D = ∞ are AGS's: m, C = dq, r = qh
    for eq in ("paper", "corrected"):
        sol = theory_rf.solve_rf(0.12, np.inf, equations=eq)
        ags = theory.solve_rs(0.12, 0.0)
        assert abs(float(sol.m) - float(ags.m)) < 1e-9
        assert abs(float(sol.qh) - float(ags.r)) < 1e-7


def test_scalar_in_scalar_out():
    assert theory.rf_storage_threshold is theory_rf.rf_storage_threshold    # re-exported
    assert theory.rf_learning_threshold is theory_rf.rf_learning_threshold
    a = theory_rf.rf_storage_threshold(1.0)
    assert np.ndim(a) == 0 and np.asarray(a).dtype == np.float64
    b = theory_rf.rf_storage_threshold([[1.0, 2.0]])
    assert b.shape == (1, 2)
    with pytest.raises(ValueError):
        theory_rf.rf_storage_threshold(-1.0)
    with pytest.raises(ValueError):
        theory_rf.rf_storage_threshold(1.0, equations="nope")


def _smooth(y):
    """No jumps: on a geometric grid, each log-value is within 0.1 of its neighbours' mean."""
    ly = np.log(y)
    return np.max(np.abs(ly[1:-1] - 0.5 * (ly[:-2] + ly[2:]))) < 0.1


AC = 0.1379055664                      # AGS α_c(T = 0), as hopjax.theory.alpha_c(0.0)


def test_lines_monotone_and_continuous():
    aD = np.geomspace(0.003, 10.0, 16)
    aD_l = np.geomspace(0.004, 0.125, 12)
    for eq in ("paper", "corrected"):
        s = theory_rf.rf_storage_threshold(aD, equations=eq, xtol=1e-7)
        assert np.all(np.diff(s) > 0) and np.all(s < 0.1380) and _smooth(s), eq
        ll = theory_rf.rf_learning_threshold(aD_l, equations=eq, rtol=1e-7)
        assert np.all(np.isfinite(ll)) and np.all(np.diff(ll) > 0), eq
        # α_l ∝ α_D at small α_D and ∝ 1/(α_c − α_D) near α_c: smooth in between
        assert _smooth(ll * (AC - aD_l) / aD_l), eq
        # learning needs more examples than storage tolerates (for α_D ≳ 0.002: the paper's
        # α_s ≈ 0.37 √α_D crosses α_l ≈ 9 α_D below) and more examples than features
        s_l = np.exp(np.interp(np.log(aD_l), np.log(aD), np.log(s)))
        assert np.all(ll > s_l) and np.all(ll > aD_l), eq


def test_learning_line_diverges_at_ags_capacity():
    """α_l → ∞ as α_D → α_c(AGS) from below, like 1/(α_c − α_D); none above α_c."""
    ac = float(theory.alpha_c(0.0))
    for eq in ("paper", "corrected"):
        gaps = np.array([1e-3, 1e-4])
        near = theory_rf.rf_learning_threshold(ac - gaps, equations=eq, rtol=1e-6)
        assert near[0] > 100.0, eq
        assert abs(near[1] * gaps[1] / (near[0] * gaps[0]) - 1.0) < 0.05, eq
        none = theory_rf.rf_learning_threshold([ac + 1e-4, 0.2, 1.0, np.inf], equations=eq)
        assert np.all(np.isinf(none)), eq


def test_corrected_equations_relative_to_paper(lines):
    """The corrected learning line is slightly above the paper's (5 % at α_D = 0.01, < 1 % at
    0.1); the corrected storage line is far below the paper's at small α_D and agrees with the
    authors' simulation there, which lost the example at α = 0.0112 for α_D = 0.01."""
    rel = lines["l_corr"] / lines["l_paper"] - 1.0
    assert np.all(rel > 0) and np.all(rel < 0.07) and np.all(np.diff(rel) < 0)
    s_p, s_c = lines["s_paper"], lines["s_corr"]
    assert np.all(s_c < s_p)
    i = list(lines["aD_s"]).index(0.01)
    assert s_c[i] < SIM_EXAMPLE_LOST_AT < s_p[i]
    assert s_c[-1] / s_p[-1] > 0.97                # α_D = 30: both close to AGS


def _direct_residual(alpha, aD, sol, state, equations):
    """Re-evaluate the un-reduced T = 0 equations (the paper's seven, plus the corrected
    example's m_λ) at a solution, with math.erf; returns max |update − value|."""
    a = alpha / aD
    m, dq, qh, dp, dph, pd, dphd = (float(getattr(sol, k)) for k in
                                   ("m", "dq", "qh", "dp", "dph", "pd", "dphd"))
    L = 1 - K1 * dp - KS * dq
    K = 1 - a * dq * dph
    power = 1 if (state == "feature" and equations == "paper") else 2
    new = {
        "dph": K1 / L,
        "dphd": K1 * (K1 * pd + KS) / L ** power,
        "dp": dq / K,
        "qh": KS * (K1 * pd + KS) / L ** 2 + (dphd + a * dph ** 2) / K ** 2,
    }
    sigma = math.sqrt(alpha * qh)
    if state == "feature":
        new["pd"] = m * m / aD + (1 + a * dq * dq * dphd) / K ** 2
        h = a * dph * m
        new["m"] = math.erf(h / (math.sqrt(2) * sigma))
        new["dq"] = math.sqrt(2 / math.pi) / sigma * math.exp(-h * h / (2 * sigma ** 2))
    elif equations == "paper":
        new["pd"] = (1 + a * dq * dq * dphd) / K ** 2
        new["m"] = math.erf(m / (math.sqrt(2) * sigma))
        new["dq"] = math.sqrt(2 / math.pi) / sigma * math.exp(-m * m / (2 * sigma ** 2))
    else:                     # field m ξ + a p̂ m_λ λ, λ ~ N(0, 1), ξ = sign λ
        ml = float(sol.m_lambda)
        new["pd"] = ml * ml / aD + (1 + a * dq * dq * dphd) / K ** 2
        u = a * dph * ml
        lam = np.linspace(0.0, 12.0, 240001)
        w = np.exp(-lam ** 2 / 2) * math.sqrt(2 / math.pi) * (lam[1] - lam[0])
        w[0] /= 2
        g = m + u * lam
        e = np.array([math.erf(x) for x in g / (math.sqrt(2) * sigma)])
        new["m"] = float(w @ e)
        new["m_lambda"] = float(w @ (lam * e))
        gauss = math.sqrt(2 / math.pi) / sigma * np.exp(-g ** 2 / (2 * sigma ** 2))
        new["dq"] = float(w @ gauss)
        assert abs(float(sol.mh) - u) < 1e-12
    if state == "feature" or equations == "paper":
        assert abs(float(sol.mh) - (a * dph * m if state == "feature" else m)) < 1e-12
    return max(abs(new[k] - float(getattr(sol, k))) / (1 + abs(new[k])) for k in new)


@pytest.mark.parametrize("state,equations,alpha,aD", [
    ("example", "paper", 0.08, 0.1), ("example", "paper", 0.12, 1.0),
    ("example", "corrected", 0.03, 0.1), ("example", "corrected", 0.1, 1.0),
    ("feature", "paper", 0.12, 0.01), ("feature", "paper", 5.0, 0.1),
    ("feature", "corrected", 0.12, 0.01), ("feature", "corrected", 5.0, 0.1),
])
def test_solution_satisfies_direct_equations(state, equations, alpha, aD):
    sol = theory_rf.solve_rf(alpha, aD, state=state, equations=equations)
    assert bool(sol.exists)
    for k in sol._fields:
        v = np.asarray(getattr(sol, k))
        assert v.shape == () and (v.dtype == bool or (v.dtype == np.float64 and np.isfinite(v))), k
    assert 0.9 < float(sol.m) <= 1.0
    assert float(sol.dq) >= 0 and float(sol.dp) >= 0 and float(sol.qh) >= 1.0
    assert float(sol.pd) >= 1.0 and float(sol.dph) >= K1 and float(sol.dphd) > 0
    if equations == "corrected" and state == "example":
        assert 0.7 < float(sol.m_lambda) <= math.sqrt(2 / math.pi)
    else:
        assert float(sol.m_lambda) == 0.0
    assert _direct_residual(alpha, aD, sol, state, equations) < 1e-8


def test_threshold_is_edge_of_existence(lines):
    """solve_rf finds the retrieval state just inside each line and none just outside."""
    i_s, i_l = list(lines["aD_s"]).index(0.1), list(lines["aD_l"]).index(0.05)
    for eq, tag in (("paper", "paper"), ("corrected", "corr")):
        a_s = float(lines["s_" + tag][i_s])
        sol = theory_rf.solve_rf(a_s * np.array([1 - 1e-4, 1 + 1e-3]), 0.1, equations=eq)
        assert bool(sol.exists[0]) and 0.9 < float(sol.m[0]) < 0.995
        assert not bool(sol.exists[1]) and np.isnan(float(sol.qh[1])) and sol.m[1] == 0.0
        a_l = float(lines["l_" + tag][i_l])
        sol = theory_rf.solve_rf(a_l * np.array([1 + 1e-4, 1 - 1e-3]), 0.05, state="feature",
                                 equations=eq)
        assert bool(sol.exists[0]) and 0.5 < float(sol.m[0]) < 1.0
        assert not bool(sol.exists[1])
        m = theory_rf.rf_overlap(a_l * np.array([1 + 1e-4, 1 - 1e-3]), 0.05, state="feature",
                                 equations=eq)
        assert m[0] == sol.m[0] and m[1] == 0.0


def test_paper_storage_line_matches_closed_form():
    """Independent route for the paper's example equations: at fixed y = m/√(2αq̂), m = erf y
    and dq = (2y/√π) e^{−y²}/m are known, the latent equations close in closed form, and α
    solves α q̂(α) = m²/(2y²) (bisection); α_s = max_y α(y) (golden section)."""
    aD = 0.2

    def qh_of(alpha, dq):
        a = alpha / aD
        # latent resolvent: dp = dq / (1 − a dq K1 / (1 − K1 dp − KS dq)), by fixed point
        dp = dq
        for _ in range(120):
            dp = dq / (1 - a * dq * K1 / (1 - K1 * dp - KS * dq))
        L = 1 - K1 * dp - KS * dq
        ph, K = K1 / L, 1 - a * dq * K1 / L
        pd = 1.0
        for _ in range(120):
            pd = (1 + a * dq * dq * K1 * (K1 * pd + KS) / L ** 2) / K ** 2
        return KS * (K1 * pd + KS) / L ** 2 + (K1 * (K1 * pd + KS) / L ** 2 + a * ph ** 2) / K ** 2

    def alpha_of_y(y):
        m = math.erf(y)
        dq = 2 * y / math.sqrt(math.pi) * math.exp(-y * y) / m
        target = m * m / (2 * y * y)
        lo, hi = 0.0, 0.2
        for _ in range(46):
            mid = 0.5 * (lo + hi)
            if mid * qh_of(mid, dq) < target:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)

    exact = alpha_of_y(golden_max(alpha_of_y, 1.2, 2.2, iterations=30))
    assert abs(float(theory_rf.rf_storage_threshold(aD, equations="paper")) - exact) < 1e-6


def test_dynamics_from_an_example_follows_the_line_with_its_latent_component():
    """Simulation against theory (measured with configs/rf_storage_line.yaml: m_f(1) falls
    below 0.9 at α = 0.028 (N = 1000) and 0.033 (N = 2000) for α_D = 0.1, where the paper's
    RS line is 0.084 and the line with the example's own latent component 0.036). Here, at
    N = 1000, α_D = 0.1: examples kept at α = 0.016, lost at α = 0.06 — below the paper's line,
    above the other."""
    import jax
    import jax.numpy as jnp

    from hopjax import dynamics, metrics, patterns, rules

    N, aD = 1000, 0.1
    assert float(theory_rf.rf_storage_threshold(aD, equations="corrected")) < 0.06 < float(
        theory_rf.rf_storage_threshold(aD, equations="paper"))
    m = {}
    for alpha in (0.016, 0.06):
        rf = patterns.random_features(jax.random.key(3), round(alpha * N), round(aD * N), N)
        J = rules.hebb(rf.examples)
        out = dynamics.relax(jax.random.key(4), J, rf.examples, mode="async", max_sweeps=200)
        m[alpha] = float(jnp.mean(metrics.overlap(out.sigma, rf.examples).diagonal()))
    assert m[0.016] > 0.97 and m[0.06] < 0.7, m
