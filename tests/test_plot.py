"""Tests for hopjax.plot: files written by plot_all on synthetic datasets, the seed
band formula, label formatting and pattern images."""

import math

import matplotlib.image
import numpy as np
import pytest
import xarray as xr

from hopjax import plot

SEEDS = [0, 1, 2]
ALPHAS = [0.05, 0.1, 0.15, 0.2]
M0 = np.linspace(1.0, -1.0, 9)  # descending on purpose


def make_ds(*, rule=False, alpha_D=None, T=None, alphas=ALPHAS, m0=M0, feature=False,
            nan_basin=False, object_rule=False):
    """Synthetic sweep: sigmoid retrieval maps whose threshold moves right with α."""
    rng = np.random.default_rng(0)
    coords = {"seed": SEEDS}
    if rule:
        rules = np.array(["hebb", "pseudo_inverse"])
        coords["rule"] = rules.astype(object) if object_rule else rules
    coords["alpha"] = np.asarray(alphas, np.float32)
    if alpha_D is not None:
        coords["alpha_D"] = np.asarray(alpha_D, np.float32)
    if T is not None:
        coords["T"] = np.asarray(T, np.float32)
    grid = tuple(coords)
    shape = tuple(len(v) for v in coords.values())
    a = xr.DataArray(coords["alpha"], dims="alpha")
    threshold = (0.1 + 3.0 * a).broadcast_like(xr.DataArray(np.zeros(shape), coords, grid))
    noise = xr.DataArray(rng.normal(0, 0.02, shape), coords, grid)
    m0_da = xr.DataArray(np.asarray(m0, np.float32), dims="m0")
    mf = np.tanh(4 * (m0_da - threshold + noise)) * 0.5 + 0.5
    data = {
        "mf_mean": mf.transpose(*grid, "m0"),
        "mf_std": (0.2 * mf * (1 - mf)).transpose(*grid, "m0"),
        "fixed_point": xr.ones_like(mf),
        "stable_fraction": np.clip(1 - threshold + noise, 0, 1),
        "basin_size": np.clip(0.5 - threshold + noise, 0, 0.5),
    }
    if nan_basin:  # nothing retrieves at the largest α (and for one seed only at the next)
        b = data["basin_size"]
        b = b.where(b.alpha < alphas[-1])
        data["basin_size"] = b.where(~((b.alpha == b.alpha[-2]) & (b.seed == 0)))
    if feature:
        data |= {"feature_" + k: data[k] * 0.8 for k in ("mf_mean", "mf_std", "basin_size")}
    ds = xr.Dataset(data, coords={**coords, "m0": m0_da.values})
    ds.attrs = {"config": {"name": "synthetic", "N": 200}, "experiment": "test"}
    return ds


def check_files(paths, expected_stems, outdir):
    expected = sorted(outdir / f"{s}.{ext}" for s in expected_stems for ext in ("png", "pdf"))
    assert sorted(paths) == expected
    for p in paths:
        assert p.stat().st_size > 0
        if p.suffix == ".png":
            img = matplotlib.image.imread(p)
            assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
        else:
            assert p.read_bytes().startswith(b"%PDF")


def test_seed_mean_spread_formula():
    mean = xr.DataArray([[0.5, 0.0], [1.0, 0.0]], dims=("seed", "m0"))
    std = xr.DataArray([[0.1, 0.3], [0.2, 0.4]], dims=("seed", "m0"))
    m, s = plot.seed_mean_spread(mean, std)
    np.testing.assert_allclose(m, [0.75, 0.0])
    # within: mean of std² = (0.01 + 0.04)/2; between: var of (0.5, 1.0) = 0.0625
    np.testing.assert_allclose(s, [math.sqrt(0.025 + 0.0625), math.sqrt((0.09 + 0.16) / 2)])
    _, s_between = plot.seed_mean_spread(mean)
    np.testing.assert_allclose(s_between, [0.25, 0.0])


def test_seed_mean_spread_nan_and_no_seed():
    mean = xr.DataArray([[0.5, np.nan], [1.0, np.nan]], dims=("seed", "x"))
    m, s = plot.seed_mean_spread(mean)
    np.testing.assert_allclose(m, [0.75, np.nan])
    np.testing.assert_allclose(s, [0.25, np.nan])
    one = xr.DataArray([0.5, 1.0], dims="m0")
    m, s = plot.seed_mean_spread(one, dim="seed")
    assert m is one and float(s.sum()) == 0


@pytest.mark.parametrize(("value", "text"), [
    (np.float32(0.1), "0.10"), (0.05, "0.05"), (0.138, "0.138"), (np.float32(1.0), "1.00"),
    (np.str_("hebb"), "hebb"), (3, "3"), (np.int64(7), "7"), ("a$b", r"a\$b"),
])
def test_fmt(value, text):
    assert plot._fmt(value) == text


def test_plot_all_minimal(tmp_path):
    ds = make_ds()
    paths = plot.plot_all(ds, tmp_path)
    check_files(paths, ["retrieval_map", "capacity"], tmp_path)


def test_plot_all_full(tmp_path):
    ds = make_ds(rule=True, alpha_D=[0.0, 0.1], T=[0.5], feature=True, nan_basin=True,
                 object_rule=True)
    paths = plot.plot_all(ds, tmp_path / "figs")
    stems = ["retrieval_map", "capacity", "phase_stable_fraction", "phase_mf_mean",
             "phase_basin_size", "feature_retrieval_map", "feature_capacity",
             "phase_feature_mf_mean", "phase_feature_basin_size"]
    check_files(paths, stems, tmp_path / "figs")


def test_plot_all_single_alpha_single_m0(tmp_path):
    # One α: no capacity curves; one m0: no retrieval map; one α_D: no phase diagram.
    ds = make_ds(alphas=[0.1], m0=[1.0], alpha_D=[0.05])
    assert plot.plot_all(ds, tmp_path) == []
    ds = make_ds(alphas=[0.1], rule=True)
    check_files(plot.plot_all(ds, tmp_path), ["retrieval_map"], tmp_path)


def test_capacity_without_m0_one_and_all_nan(tmp_path):
    ds = make_ds(m0=[0.9, 0.5, 0.0])
    ds["basin_size"][:] = np.nan
    check_files(plot.capacity_curves(ds, tmp_path / "cap"), ["cap"], tmp_path)
    assert plot.capacity_curves(ds[["fixed_point"]], tmp_path / "none") == []


def test_many_alphas_and_missing_parts(tmp_path):
    # > 12 α values switch the legend to a colour bar; no mf_std, no seed dim, no attrs.
    ds = make_ds(alphas=np.linspace(0.02, 0.4, 15)).drop_vars("mf_std").isel(seed=0, drop=True)
    ds.attrs = {}
    check_files(plot.plot_all(ds, tmp_path), ["retrieval_map", "capacity"], tmp_path)


def test_phase_diagram_rules(tmp_path):
    ds = make_ds(alpha_D=[0.0, 0.1, 0.3], rule=True, m0=[0.5, 0.0])  # no m0 = 1: largest used
    check_files(plot.phase_diagram(ds, tmp_path / "p", var="mf_mean"), ["p"], tmp_path)
    assert plot.phase_diagram(make_ds(), tmp_path / "q") == []
    with pytest.raises(KeyError):
        plot.phase_diagram(ds, tmp_path / "r", var="nope")
    with pytest.raises(KeyError):
        plot.retrieval_maps(ds, tmp_path / "r", var="feature_mf")


def test_stem_with_dots_and_suffix(tmp_path):
    ds = make_ds()
    assert plot.retrieval_maps(ds, tmp_path / "alpha_0.1") == [
        tmp_path / "alpha_0.1.png", tmp_path / "alpha_0.1.pdf"]
    assert plot.capacity_curves(ds, tmp_path / "cap.png")[0] == tmp_path / "cap.png"


def test_pattern_images(tmp_path):
    rng = np.random.default_rng(1)
    xi = rng.choice([-1.0, 1.0], size=(3, 28 * 28))
    paths = plot.pattern_images(xi, (28, 28), tmp_path / "pats", titles=["cue", "final", "target"])
    check_files(paths, ["pats"], tmp_path)
    check_files(plot.pattern_images(xi[0], (28, 28), tmp_path / "one"), ["one"], tmp_path)
    with pytest.raises(ValueError):
        plot.pattern_images(xi, (10, 10), tmp_path / "bad")
    with pytest.raises(ValueError):
        plot.pattern_images(xi, (28, 28), tmp_path / "bad", titles=["a"])


def test_netcdf_round_trip(tmp_path):
    # As a sweep stores it: JSON attrs under the hopjax_ prefix, string coordinate.
    import json

    from hopjax import io

    ds = make_ds(rule=True, alpha_D=[0.0, 0.1], nan_basin=True)
    ds.attrs = {"hopjax_config": json.dumps(ds.attrs["config"]), "hopjax_experiment": '"test"'}
    ds.to_netcdf(tmp_path / "out.nc", engine=io._engine())
    loaded = io.load(tmp_path / "out.nc")
    assert loaded.attrs["config"]["name"] == "synthetic"
    paths = plot.plot_all(loaded, tmp_path / "figs")
    check_files(paths, ["retrieval_map", "capacity", "phase_stable_fraction", "phase_mf_mean",
                        "phase_basin_size"], tmp_path / "figs")
    # Opened with plain xarray, the JSON attrs are still strings: titles still work.
    with xr.open_dataset(tmp_path / "out.nc", engine=io._engine()) as raw:
        assert plot._figure_title(raw) == "synthetic, $N$ = 200"


def test_phase_diagram_alpha_T(tmp_path):
    # (α, T) heat map with theory lines and a contour; the default y (α_D) is absent: [].
    ds = make_ds(T=[0.0, 0.3, 0.6, 0.9], m0=[1.0])
    assert plot.phase_diagram(ds, tmp_path / "none", var="mf_mean") == []
    lines = {"$T_M$": ([0.0, 0.1, 0.14], [1.0, 0.3, 0.0]), "$T_g$": ([0.0, 0.2], [1.0, 1.45])}
    paths = plot.phase_diagram(ds, tmp_path / "aT", var="mf_mean", y="T", lines=lines,
                               levels=[0.5])
    check_files(paths, ["aT"], tmp_path)
    # plot_all adds the (α, T) diagrams when T has several values
    stems = ["capacity", "phase_T_mf_mean", "phase_T_stable_fraction"]
    check_files(plot.plot_all(ds, tmp_path / "all"), stems, tmp_path / "all")


def test_phase_diagram_log_axes_and_rules(tmp_path):
    ds = make_ds(alphas=[0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0], alpha_D=[0.01, 0.03, 0.1, 0.3],
                 rule=True, feature=True)
    paths = plot.phase_diagram(ds, tmp_path / "log", var="feature_mf_mean", xscale="log",
                               yscale="log", levels=0.9)
    check_files(paths, ["log"], tmp_path)
    with pytest.raises(ValueError):
        plot.phase_diagram(ds, tmp_path / "bad", xscale="symlog")
    np.testing.assert_allclose(plot._edges([0.01, 0.1, 1.0], log=True),
                               [10**-2.5, 10**-1.5, 10**-0.5, 10**0.5])
    np.testing.assert_allclose(plot._edges([0.0, 1.0, 3.0]), [-0.5, 0.5, 2.0, 4.0])


def test_single_valued_dims_label_the_figure_not_the_curves():
    ds = make_ds(rule=True, T=[0.5])  # two rules, one temperature
    title = plot._figure_title(ds)
    assert title.startswith("synthetic, $N$ = 200") and "$T$ = 0.5" in title.split("\n")[1]
    dims, facets = plot._facets(ds["stable_fraction"], {"seed", "alpha"})
    assert dims == ["rule", "T"]
    assert [label for _, label in facets] == ["rule = hebb", "rule = pseudo_inverse"]
