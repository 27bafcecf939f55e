"""Bidirectional associative memory (Kosko 1988): energy descent, convergence, padding,
retrieval and the signal-to-noise bit error rate."""

import math
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from scipy.stats import norm

from hopjax import bam, cli, patterns
from hopjax.config import ConfigError, load_config
from hopjax.io import load
from hopjax.run import run


def pairs(seed, P, N, M):
    kx, ky = jax.random.split(jax.random.key(seed))
    return patterns.random(kx, P, N), patterns.random(ky, P, M)


@pytest.mark.parametrize("P", [3, 20, 60, 150])
def test_energy_never_rises_and_dynamics_stops(P):
    """Kosko's theorem: each layer update minimises E = −yᵀWx over that layer, a change lowers
    E strictly, so from any start E falls step by step to a fixed point (no cycles)."""
    N, M, B = 120, 80, 64
    x, y = pairs(P, P, N, M)
    W = bam.couplings(x, y)
    kx, ky = jax.random.split(jax.random.key(100 + P))
    sx = jax.random.rademacher(kx, (B, N), dtype=jnp.float32)
    sy = jax.random.rademacher(ky, (B, M), dtype=jnp.float32)
    E = np.asarray(bam.energy(W, sx, sy))
    scale = float(jnp.abs(W).sum()) * 1e-6  # float rounding of E
    for _ in range(30):
        for upd in (bam.update_y, bam.update_x):
            ny, nx = (upd(W, sx, sy), sx) if upd is bam.update_y else (sy, upd(W, sx, sy))
            En = np.asarray(bam.energy(W, nx, ny))
            changed = np.asarray(jnp.any(ny != sy, -1) | jnp.any(nx != sx, -1))
            assert np.all(En <= E + scale)
            # a flip of unit i lowers E by 2|h_i| >= 2/N for Hebbian W (integer fields / N)
            assert np.all(En[changed] < E[changed] - 1.0 / N)
            sx, sy, E = nx, ny, En
    out = bam.relax(W, jax.random.rademacher(kx, (B, N), dtype=jnp.float32),
                    jax.random.rademacher(ky, (B, M), dtype=jnp.float32), max_iters=200)
    assert out.converged.all() and int(out.iters.max()) < 200
    assert (bam.update_y(W, out.x, out.y) == out.y).all()
    assert (bam.update_x(W, out.x, out.y) == out.x).all()


def test_any_real_matrix_converges():
    """The theorem needs no structure in W: Gaussian (M, N) couplings also stop, E descending."""
    W = jax.random.normal(jax.random.key(0), (50, 70))
    x0 = jax.random.rademacher(jax.random.key(1), (200, 70), dtype=jnp.float32)
    out = bam.relax(W, x0, max_iters=500)
    assert out.converged.all()
    y0 = bam.relax(W, x0, max_iters=0).y  # the start y = sign(W x0)
    assert (y0 == jnp.where(x0 @ W.T < 0, -1.0, 1.0)).all()
    assert (bam.energy(W, out.x, out.y) <= bam.energy(W, x0, y0) + 1e-3).all()
    # jit and vmap over matrices
    Ws = jax.random.normal(jax.random.key(2), (3, 50, 70))
    f = jax.jit(jax.vmap(lambda W: bam.relax(W, x0[:5], max_iters=500).converged))
    assert f(Ws).all()


def test_mask_invariance_exact():
    """α-grid padding: pairs masked out give bit for bit the couplings of the unpadded set."""
    N, M, P, P_max = 90, 40, 7, 25
    x, y = pairs(1, P_max, N, M)
    mask = patterns.count_mask(P, P_max)
    W_pad = bam.couplings(x, y, mask)
    W = bam.couplings(x[:P], y[:P])
    assert W_pad.shape == (M, N) and W_pad.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(W_pad), np.asarray(W))
    # zero rows in the padding (patterns.pad) give the same, and the padding is not checked
    xp, m = patterns.pad(x[:P], P_max)
    yp, _ = patterns.pad(y[:P], P_max)
    np.testing.assert_array_equal(np.asarray(bam.couplings(xp, yp, m)), np.asarray(W))
    assert float(bam.stable_pairs(W, xp, yp, m)) == float(bam.stable_pairs(W, x[:P], y[:P]))


def test_retrieval_from_noisy_cues_at_low_load():
    N, M, P = 200, 150, 6
    x, y = pairs(2, P, N, M)
    W = bam.couplings(x, y)
    cue_x = patterns.flip_to_overlap(jax.random.key(3), jnp.repeat(x, 8, 0), 0.8)  # 10% flipped
    out = bam.relax(W, cue_x)
    assert (out.y == jnp.repeat(y, 8, 0)).all() and (out.x == jnp.repeat(x, 8, 0)).all()
    assert out.converged.all()
    assert (bam.recall_y(W, cue_x) == jnp.repeat(y, 8, 0)).all()
    cue_y = patterns.flip_to_overlap(jax.random.key(4), jnp.repeat(y, 8, 0), 0.8)
    assert (bam.recall_x(W, cue_y) == jnp.repeat(x, 8, 0)).all()
    # clamped x: one-shot feed-forward recall, x untouched
    c = bam.relax(W, cue_x, clamp_x=True)
    assert (c.x == cue_x).all() and (c.y == jnp.repeat(y, 8, 0)).all() and c.converged.all()
    assert bam.stable_pairs(W, x, y) == 1.0


@pytest.mark.parametrize("P", [20, 40, 80])
def test_bit_error_rate_matches_signal_to_noise(P):
    """One-step recall from the exact x^ν: N y_i h_i = N + S, S a sum of (P−1)N random ±1, so
    the bit error rate is P(Bin((P−1)N, ½) < ((P−1)N − N)/2) ≈ Φ(−√(N/(P−1))); the x layer
    from y^ν has N → M. Measured over independent pattern sets, tolerance 5 standard errors."""
    N, M, S = 200, 120, 256

    def rates(seed):
        x, y = pairs(seed, P, N, M)
        W = bam.couplings(x, y)
        return (jnp.mean(bam.update_y(W, x, y) != y), jnp.mean(bam.update_x(W, x, y) != x))

    ry, rx = jax.jit(jax.vmap(rates))(jnp.arange(S) + 1000 * P)
    for r, n in ((np.asarray(ry), N), (np.asarray(rx), M)):
        exact = bam.bit_error_rate(P, n)
        se = r.std(ddof=1) / math.sqrt(S)
        assert abs(r.mean() - exact) < 5 * se, (n, r.mean(), exact, se)
        gauss = norm.cdf(-math.sqrt(n / (P - 1)))
        assert abs(exact - gauss) < 0.1 * gauss  # the Gaussian form, within 10%
    # the two layers differ measurably at the larger loads (M < N: more x errors)
    if P >= 40:
        assert rx.mean() > ry.mean() + 4 * (rx.std() + ry.std()) / math.sqrt(S)


def test_pairs_stable_while_P_much_less_than_N():
    """A pair is a fixed point when all N + M bits are right: at P = 5 (error per bit ~1e-10)
    every pair is stable; at P = N/2 almost none is."""
    N = M = 200
    for P, lo, hi in ((5, 1.0, 1.0), (100, 0.0, 0.05)):
        x, y = pairs(P, P, N, M)
        s = float(bam.stable_pairs(bam.couplings(x, y), x, y))
        assert lo <= s <= hi, (P, s)


def test_all_pairs_stable_capacity_scaling():
    """Largest P with every stored pair a fixed point (N = M): all P (N + M) bits must be
    right, so with independent bits Pr(P_c >= P) = (1 − p(P))^(P(N+M)), p the exact bit error
    rate, and P_c ~ N / (2 ln(stuff)) — N/(2 ln N) at these sizes, N/(4 ln N) asymptotically.
    Measured mean P_c against the independent-bit expectation Σ_P (1 − p)^(P(N+M)) (bit
    errors are positively correlated, so all-stable sets are a little more likely: measured
    +14%, +8%, +4% at N = 50, 100, 200), and against N/(2 ln N)."""
    S = 48
    means = {}
    for N in (50, 100, 200):
        Pm = int(N / math.log(N)) + 5

        def pc(seed, Pm=Pm, N=N):
            x, y = pairs(seed, Pm, N, N)

            def all_stable(P, Pm=Pm):
                mask = jnp.arange(Pm) < P
                return bam.stable_pairs(bam.couplings(x, y, mask), x, y, mask) == 1.0

            ok = jax.vmap(all_stable)(jnp.arange(1, Pm + 1)).astype(jnp.int32)
            return jnp.sum(jnp.cumprod(ok))  # largest P with every P' <= P all-stable

        pcs = np.asarray(jax.jit(jax.vmap(pc))(jnp.arange(S) + 7 * N), float)
        assert pcs.max() < Pm  # the scan reached past the capacity
        expect = sum((1 - bam.bit_error_rate(p, N)) ** (2 * N * p) for p in range(1, Pm + 1))
        assert 0.97 * expect < pcs.mean() < 1.25 * expect, (N, pcs.mean(), expect)
        assert 0.7 < pcs.mean() / (N / (2 * math.log(N))) < 1.3, (N, pcs.mean())
        means[N] = pcs.mean()
    assert 1.5 < means[200] / means[50] < 3.0  # sublinear growth (linear would be 4)


def test_bad_input():
    x, y = pairs(0, 4, 30, 20)
    with pytest.raises(ValueError, match="same number of pairs"):
        bam.couplings(x, y[:3])
    with pytest.raises(ValueError, match="P = 0"):
        bam.couplings(x[:0], y[:0])
    with pytest.raises(ValueError, match="±1"):
        bam.couplings(x.at[0, 0].set(0.5), y)
    with pytest.raises(ValueError, match="mask"):
        bam.couplings(x, y, jnp.ones(3, bool))
    W = bam.couplings(x, y)
    with pytest.raises(ValueError, match="N = 30"):
        bam.relax(W, jnp.ones((2, 20)))
    with pytest.raises(ValueError, match="M = 20"):
        bam.relax(W, jnp.ones((2, 30)), jnp.ones((2, 30)))
    with pytest.raises(ValueError, match="batch shape"):
        bam.relax(W, jnp.ones((2, 30)), jnp.ones((3, 20)))
    with pytest.raises(ValueError, match="±1"):
        bam.relax(W, jnp.zeros((2, 30)))
    with pytest.raises(ValueError, match="non-finite"):
        bam.relax(W.at[0, 0].set(jnp.nan), jnp.ones(30))
    with pytest.raises(ValueError, match=r"\(M, N\)"):
        bam.relax(W[0], jnp.ones(30))


# --- through the sweep engine ---------------------------------------------------------------

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "bam_capacity.yaml"


def test_quick_config_end_to_end(tmp_path):
    """`hopjax run --quick`: recall of y from cues x is perfect at low load and degrades with
    α; the measured one-step bit error follows the signal-to-noise law."""
    assert cli.main(["run", str(CONFIG), "--quick", "--out", str(tmp_path), "--no-plots",
                     "--no-progress"]) == 0
    ds = load(tmp_path / "results.nc").mean("seed")
    raw = yaml.safe_load(CONFIG.read_text())
    N = raw["quick"]["N"]
    alphas = list(ds["alpha"].values)
    assert alphas == raw["quick"]["alpha"] and ds.attrs["config"]["M"] == raw["quick"]["M"]
    mf1 = ds["mf_mean"].sel(m0=1.0).values
    assert mf1[0] == 1.0 and ds["mx_mean"].sel(m0=1.0).values[0] == 1.0
    assert np.all(np.diff(mf1) <= 0) and mf1[-1] < 0.95, mf1
    assert float(ds["stable_fraction"].values[0]) == 1.0
    assert float(ds["stable_fraction"].values[-1]) < 0.5
    assert (ds["converged"].values == 1.0).all()  # Kosko: always a fixed point
    P = patterns.count(alphas[-1], N)
    theory = bam.bit_error_rate(P, N)
    assert 0.5 * theory < float(ds["bit_error"].values[-1]) < 1.5 * theory
    # results do not depend on how the grid is chunked (padded last chunk included), bit for bit
    path, _ = run(load_config(CONFIG, quick=True), tmp_path / "c4", plots=False, progress=False,
                  chunk_size=4)
    one, four = load(tmp_path / "results.nc"), load(path)
    for v in one.data_vars:
        np.testing.assert_array_equal(one[v].values, four[v].values, err_msg=v)


def test_config_errors_name_the_field(tmp_path):
    raw = yaml.safe_load(CONFIG.read_text())
    cases = [({k: v for k, v in raw.items() if k != "M"}, "field 'M'"),
             ({**raw, "M": 0}, "field 'M'"), ({**raw, "M": "200"}, "field 'M'"),
             ({**raw, "alpha": [0.001]}, "field 'alpha'"),
             ({**raw, "m0": [1.5]}, "field 'm0.0'"),
             ({**raw, "data": {"alpha": [0.1]}}, "field 'data'"),
             ({**raw, "N": 5000, "alpha": [1.0], "memory_budget_mb": 1}, "memory_budget_mb")]
    for bad, field in cases:
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(ConfigError, match=re.escape(field)):
            load_config(path)
    assert load_config(CONFIG).n_points() > load_config(CONFIG, quick=True).n_points()
