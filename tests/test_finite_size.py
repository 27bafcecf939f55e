"""Finite-size scaling helpers: crossings, the 1/N extrapolation, and a config run at two N
whose Hebb threshold load agrees with the independent-bit estimate."""

import math

import numpy as np
import pytest
import xarray as xr
import yaml

from hopjax import finite_size
from hopjax.config import validate_config
from hopjax.io import load


def test_crossing_load_interpolates_linearly_and_says_when_there_is_none():
    a = [0.1, 0.3, 0.5, 0.7]
    assert finite_size.crossing_load(a, [1.0, 0.8, 0.4, 0.0], 0.5) == pytest.approx(0.45)
    assert finite_size.crossing_load(a[::-1], [0.0, 0.4, 0.8, 1.0], 0.5) == pytest.approx(0.45)
    assert np.isnan(finite_size.crossing_load(a, [0.4, 0.3, 0.2, 0.1], 0.5))  # starts below
    assert np.isnan(finite_size.crossing_load(a, [0.9, 0.9, 0.8, 0.7], 0.5))  # never below
    assert np.isnan(finite_size.crossing_load(a, [1.0, np.nan, 0.2, 0.1], 0.5))


def test_extrapolation_recovers_a_known_limit_and_its_error():
    N = np.array([100.0, 200.0, 400.0, 800.0])
    exact = finite_size.extrapolate(N, 1.0 - 30.0 / N)
    assert exact["alpha_inf"] == pytest.approx(1.0) and exact["slope"] == pytest.approx(-30.0)
    assert exact["alpha_inf_err"] == pytest.approx(0.0, abs=1e-9)
    # noisy sizes: the fitted limit lies within about two error bars of the truth, and the
    # error bar equals the spread of the fitted limit over many noise draws
    rng = np.random.default_rng(0)
    err = np.full(4, 0.01)
    fits = [finite_size.extrapolate(N, 0.9 - 20.0 / N + rng.normal(0, 0.01, 4), err)
            for _ in range(400)]
    limits = np.array([f["alpha_inf"] for f in fits])
    assert abs(limits.mean() - 0.9) < 0.003
    assert limits.std() == pytest.approx(fits[0]["alpha_inf_err"], rel=0.15)
    assert np.isnan(finite_size.extrapolate(N[:2], [0.5, 0.6])["alpha_inf_err"])


def test_threshold_load_reads_each_seed_at_the_last_epoch():
    alpha = np.array([0.2, 0.4, 0.6])
    sf = np.array([[[1.0, 1.0, 1.0], [1.0, 0.6, 0.2]],  # seed 0: epochs 0, 10
                   [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]])  # seed 1
    ds = xr.Dataset({"stable_fraction": (("seed", "epoch", "alpha"), sf)},
                    coords={"seed": [0, 1], "epoch": [0, 10], "alpha": alpha})
    got = finite_size.threshold_load(ds).values
    np.testing.assert_allclose(got, [0.45, 0.5])
    assert np.isnan(finite_size.threshold_load(ds, epoch=0).values).all()
    # several records: their mean first (seed 0: [1, 0.8, 0.6] crosses 0.7 at α = 0.5,
    # seed 1: [1, 1, 0.5] at 0.52)
    np.testing.assert_allclose(finite_size.threshold_load(ds, level=0.7, epoch=[0, 10]).values,
                               [0.5, 0.52])


def test_seed_mean_skips_seeds_without_a_crossing():
    assert finite_size.seed_mean([0.9, np.nan, 1.1]) == pytest.approx((1.0, 0.1))
    m, e = finite_size.seed_mean([0.8])
    assert m == 0.8 and np.isnan(e)
    assert all(np.isnan(finite_size.seed_mean([np.nan])))


def _independent_bits_half_load(N: int) -> float:
    """The load where (1 − q)^N falls below 1/2 for Hebb couplings with zero diagonal, q the
    exact probability that one pattern bit is unstable: its crosstalk N·C is a sum of
    M = (P − 1)(N − 1) independent ±1 terms, and the bit flips when N·C < −(N − 1)."""
    from scipy.stats import binom

    for P in range(2, N):
        M = (P - 1) * (N - 1)
        q = binom.cdf(math.ceil((M - (N - 1)) / 2) - 1, M, 0.5)
        if (1 - q) ** N < 0.5:
            return P / N
    return 1.0


def test_a_config_run_at_two_sizes_gives_the_hebb_threshold_load(tmp_path, capsys):
    """Hebb at N = 60 and 120 (a config with ``sizes: [60, 120]`` run by ``hopjax run``): the
    load where half the patterns are fixed points lies at or up to 30 % above the
    independent-bit estimate (0.217 and 0.167: the bits of one pattern share its crosstalk,
    so all-stable patterns are a little more likely than independence gives, as for the
    BAM), and falls with N (like 1/(2 ln N) for every pattern to be stable). Each size's
    results are those of the same config written at that N, bit for bit."""
    from conftest import same_numbers

    from hopjax import cli
    from hopjax.run import run_sweep

    raw = {"experiment": "retrieval", "name": "fss", "N": 60, "seeds": 6, "rule": "hebb",
           "data": {"alpha": [0.06, 0.09, 0.12, 0.15, 0.18, 0.21, 0.24, 0.3]}, "m0": [1.0],
           "sizes": [60, 120]}
    (tmp_path / "fss.yaml").write_text(yaml.safe_dump(raw))
    assert cli.main(["run", str(tmp_path / "fss.yaml"), "--out", str(tmp_path / "out"),
                     "--no-plots", "--no-progress"]) == 0
    paths = {N: tmp_path / "out" / f"N{N}" / "results.nc" for N in (60, 120)}
    half = {}
    for N, path in paths.items():
        ds = load(path)
        assert ds.attrs["config"]["N"] == N and ds.attrs["config"]["name"] == f"fss_N{N}"
        assert "sizes" not in ds.attrs["config"]
        a = finite_size.threshold_load(ds.isel(rule=0) if "rule" in ds.dims else ds)
        half[N] = float(a.mean())
        ratio = half[N] / _independent_bits_half_load(N)
        assert 0.97 < ratio < 1.3, (N, half[N], ratio)
    assert half[120] < half[60]
    printed = capsys.readouterr().out  # the CLI's table: the same loads, and their fit
    for N in (60, 120):
        assert f"N = {N}: {half[N]:.3f} ±" in printed
    fit = finite_size.extrapolate([60, 120], [half[60], half[120]])
    assert f"α(∞) = {fit['alpha_inf']:.3f}," in printed
    from_data = finite_size.summary({N: load(p) for N, p in paths.items()})  # datasets too
    assert from_data["value"].tolist() == [half[60], half[120]]
    by_path = finite_size.summary(paths)["fit"]
    assert [from_data["fit"][k] for k in ("alpha_inf", "slope")] == [by_path[k] for k in
                                                                       ("alpha_inf", "slope")]
    plain = {**raw, "N": 120, "name": "fss_N120"}
    del plain["sizes"]
    o = run_sweep(validate_config(plain), tmp_path / "plain", plots=False, progress=False)
    same_numbers(load(paths[120]), load(o.path), attrs=True)


def test_sizes_are_checked_before_compute_and_a_sized_config_is_not_one_sweep(tmp_path):
    from hopjax.config import ConfigError, fingerprint, load_config
    from hopjax.run import run_sweep

    base = {"experiment": "retrieval", "name": "fss", "N": 60, "data": {"alpha": [0.1]},
            "m0": [1.0]}
    for sizes, field in [([60, 4], "field 'N'"), ([60, 60], "each N may appear once"),
                         ({60: {}, 120: {"data": {"alpha": [-1.0]}}}, "field 'data.alpha.0'"),
                         ({60: {"ruel": "hebb"}}, "unknown key")]:
        with pytest.raises(ConfigError, match=field) as err:
            validate_config({**base, "sizes": sizes})
        assert "sizes." in str(err.value) or "each N" in str(err.value)
    cfg = validate_config({**base, "sizes": [60, 120]})
    with pytest.raises(ConfigError, match="sizes"):
        run_sweep(cfg, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was written
    # a config without sizes keeps the fingerprint it had before the field existed (so its
    # stores resume): quickstart's, computed by hopjax before `sizes:`
    assert fingerprint(load_config("quickstart")) == "ef9a4b8c50e3b6eb"


def test_size_configs_merge_overrides_and_name_a_bad_size_first():
    from hopjax.config import ConfigError

    cfg = validate_config({"experiment": "retrieval", "name": "fss", "N": 60, "seeds": 6,
                           "data": {"alpha": [0.1, 0.2]}, "m0": [1.0]})
    cfgs = finite_size.size_configs(cfg, {60: {}, 240: {"seeds": 2, "data": {"alpha": [0.1]}}})
    assert [(c.N, c.name, c.seeds, c.data.alpha) for c in cfgs.values()] == [
        (60, "fss_N60", 6, [0.1, 0.2]), (240, "fss_N240", 2, [0.1])]
    with pytest.raises(ConfigError, match="field 'N'"):
        finite_size.size_configs(cfg, [60, 4])
