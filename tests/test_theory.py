"""Tests for hopjax.theory: replica-symmetric theory of the Hebb Hopfield network (AGS).

Expected numbers, written down from the literature before the code was made to give them:

- Amit, Gutfreund, Sompolinsky, PRL 55, 1530 (1985); Ann. Phys. 173, 30 (1987):
  α_c(T = 0) = 0.138 (0.1379), overlap at α_c m = 0.967;
  retrieval line T_M(α) → 1 as α → 0, with T_M ≈ 1 − 1.95 √α for small α;
  spin-glass line T_g(α) = 1 + √α.
- At T = 0 the equations close on y = m / √(2αr): m = erf(y) and
  α(y) = [erf(y) − (2y/√π) e^{−y²}]² / (2y²); α_c = max_y α(y) (AGS), checked below with
  math.erf, independent of the library's quadrature.
- α → 0: no noise from other patterns, m solves Curie–Weiss m = tanh(m/T) (T = 0.5: m = 0.9575).
- T = 0, small α: 1 − m = erfc(1/√(2αr)) with r → 1, i.e. ≈ √(2α/π) exp(−1/(2α)):
  7.7e-6 at α = 0.05 (so not below 1e-6 there), 9e-9 at α = 0.03.
"""

import math

import numpy as np
import pytest

from conftest import golden_max
from hopjax import theory

ALPHA_C_AGS = 0.138
M_AT_ALPHA_C_AGS = 0.967
TM_SMALL_ALPHA_SLOPE_AGS = 1.95          # T_M ≈ 1 − 1.95 √α


def _curie_weiss(T):
    """Largest root of m = tanh(m/T) by bisection (T < 1)."""
    lo, hi = 1e-9, 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.tanh(mid / T) > mid:
            lo = mid
        else:
            hi = mid
    return lo


def _alpha_c_closed_form():
    """max_y α(y) at T = 0 with math.erf on a fine grid, refined by golden section."""
    def alpha(y):
        return (math.erf(y) - 2 * y / math.sqrt(math.pi) * math.exp(-y * y)) ** 2 / (2 * y * y)
    y = golden_max(alpha, 1.0, 2.0)
    return alpha(y), math.erf(y)


def _brute_averages(m, sigma, T, h=2e-4, L=12.0):
    z = np.arange(-L, L + h / 2, h)
    phi = np.exp(-z * z / 2) / math.sqrt(2 * math.pi) * h
    t = np.tanh((m + sigma * z) / T)
    return phi @ t, phi @ (t * t), (phi @ (1.0 / np.cosh((m + sigma * z) / T) ** 2)) / T


def test_alpha_c_zero_temperature_matches_ags():
    ac = float(theory.alpha_c(0.0))
    assert abs(ac - ALPHA_C_AGS) < 0.002
    exact, m_exact = _alpha_c_closed_form()
    assert abs(exact - 0.1379) < 1e-4 and abs(m_exact - M_AT_ALPHA_C_AGS) < 1e-3
    assert abs(ac - exact) < 1e-7


def test_overlap_just_below_alpha_c():
    ac = float(theory.alpha_c(0.0))
    sol = theory.solve_rs(ac - 1e-5, 0.0)
    assert bool(sol.converged)
    assert abs(float(sol.m) - M_AT_ALPHA_C_AGS) < 0.01
    assert float(sol.q) == 1.0
    # just above α_c there is no retrieval solution
    assert float(theory.overlap(ac + 1e-3, 0.0)) == 0.0
    assert float(theory.overlap(0.2, 0.0)) == 0.0


def test_curie_weiss_limit():
    m_cw = _curie_weiss(0.5)
    assert abs(m_cw - 0.9575) < 1e-4
    assert abs(float(theory.overlap(0.0, 0.5)) - m_cw) < 1e-10
    assert abs(float(theory.overlap(1e-4, 0.5)) - m_cw) < 1e-3
    # above T = 1 no retrieval even without load
    assert float(theory.overlap(0.0, 1.05)) == 0.0


def test_retrieval_line_small_alpha_limit():
    tm = theory.retrieval_line([0.0, 1e-6, 1e-4])
    # α = 0: the Curie–Weiss overlap reaches m_min = 0.1 at T = 0.1 / artanh(0.1)
    assert abs(tm[0] - 0.1 / math.atanh(0.1)) < 1e-6
    assert tm[1] > 0.99
    assert abs(tm[2] - (1 - TM_SMALL_ALPHA_SLOPE_AGS * math.sqrt(1e-4))) < 0.002


def test_retrieval_line_decreases_to_alpha_c():
    ac = float(theory.alpha_c(0.0))
    alphas = np.linspace(0.001, ac - 1e-4, 25)
    tm = theory.retrieval_line(alphas)
    assert np.all(np.diff(tm) < 0)
    assert np.all((tm > 0) & (tm < 1))
    assert 0.1 < theory.retrieval_line(0.13) < 0.2
    # beyond the (slightly re-entrant) RS retrieval region: no retrieval at any T
    assert float(theory.retrieval_line(0.139)) == 0.0
    # T_M and α_c are inverse to each other away from the re-entrance
    Ts = np.array([0.1, 0.3, 0.5, 0.8])
    assert np.allclose(theory.retrieval_line(theory.alpha_c(Ts)), Ts, atol=1e-6)


def test_retrieval_line_edges_by_fixed_point_iteration():
    """Just inside T_M the plain damped iteration from m = 1 retrieves, just outside it does not."""
    alphas = np.array([0.01, 0.05, 0.1])
    tm = theory.retrieval_line(alphas)
    inside = theory.solve_rs(alphas, tm - 2e-3)
    outside = theory.solve_rs(alphas, tm + 2e-3)
    assert np.all(inside.converged) and np.all(inside.m > 0.3)
    assert np.all(np.abs(outside.m) < 1e-3)


def test_alpha_c_temperature_dependence():
    Ts = np.array([0.0, 0.2, 0.5, 0.9, 1.0, 1.5])
    ac = theory.alpha_c(Ts)
    assert np.all(np.diff(ac[:4]) < 0)
    assert ac[4] == 0.0 and ac[5] == 0.0


def test_glass_temperature():
    alphas = np.array([0.0, 0.01, 0.05, 0.25])
    np.testing.assert_allclose(theory.glass_temperature(alphas), 1 + np.sqrt(alphas))
    # physics: the paramagnet (q = 0) is stable above T_g, a spin glass (q > 0, m = 0) below
    a = 0.05
    tg = float(theory.glass_temperature(a))
    above = theory.solve_rs(a, tg + 0.1)
    below = theory.solve_rs(a, tg - 0.1)
    assert abs(float(above.m)) < 1e-6 and float(above.q) < 1e-6
    assert abs(float(below.m)) < 1e-6 and float(below.q) > 0.01


def test_zero_temperature_small_load_error_is_exponentially_small():
    sol = theory.solve_rs([0.03, 0.05], 0.0)
    one_minus_m = 1 - sol.m
    assert one_minus_m[0] < 1e-6
    a = 0.05
    leading = math.sqrt(2 * a / math.pi) * math.exp(-1 / (2 * a))
    assert 0.9 * leading < one_minus_m[1] < 1.0 * leading
    # self-consistency with the exact T = 0 equation, m = erf(m/√(2αr))
    assert abs(math.erfc(sol.m[1] / math.sqrt(2 * a * sol.r[1])) - one_minus_m[1]) < 1e-12


def test_low_temperature_tends_to_zero_temperature_equations():
    m0 = theory.solve_rs(0.12, 0.0).m
    for T in (1e-4, 1e-3):
        assert abs(float(theory.solve_rs(0.12, T).m - m0)) < 1e-5


@pytest.mark.parametrize("m,sigma,T", [(0.9, 0.4, 0.5), (0.9, 0.4, 0.4), (0.9, 0.4, 0.35),
                                      (0.95, 0.45, 0.1), (0.2, 0.05, 0.97), (0.5, 0.0, 0.5)])
def test_gaussian_averages_against_brute_force(m, sigma, T):
    M, q, C = theory.gaussian_averages(m, sigma, T)
    Mb, qb, Cb = _brute_averages(m, sigma, T)
    assert abs(M - Mb) < 1e-9 and abs(q - qb) < 1e-9 and abs(C - Cb) < 1e-8


def test_solve_rs_solves_the_equations_and_broadcasts():
    alphas = np.array([0.0, 0.02, 0.06, 0.1])[:, None]
    Ts = np.array([0.0, 0.2, 0.45, 0.7, 1.1])[None, :]
    sol = theory.solve_rs(alphas, Ts)
    assert sol.m.shape == sol.q.shape == sol.r.shape == sol.converged.shape == (4, 5)
    assert np.all(sol.converged)
    M, q, C = theory.gaussian_averages(sol.m, np.sqrt(alphas * sol.r), Ts)
    np.testing.assert_allclose(M, sol.m, atol=1e-9)
    np.testing.assert_allclose(q, sol.q, atol=1e-9)
    np.testing.assert_allclose(sol.q / (1 - C) ** 2, sol.r, rtol=1e-8, atol=1e-9)
    assert np.all(np.diff(sol.m, axis=1)[:, :2] <= 1e-12)     # m falls with T (retrieval)


def test_erf_matches_math():
    x = np.linspace(-7, 7, 1001)
    np.testing.assert_allclose(theory.erf(x), [math.erf(v) for v in x], atol=1e-13)


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        theory.solve_rs(-0.1, 0.5)
    with pytest.raises(ValueError):
        theory.solve_rs(0.1, 0.5, damping=1.0)
    with pytest.raises(ValueError):
        theory.glass_temperature(-1.0)
