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
    (np.float32(0.1), "0.1"), (0.05, "0.05"), (0.138, "0.138"), (np.float32(1.0), "1"),
    (10.0, "10"), (np.float64(10.0), "10"), (np.float32(0.25), "0.25"), (0.25, "0.25"),
    (np.float32(0.3), "0.3"), (np.float32(0.7), "0.7"), (np.float32(0.95), "0.95"),
    (1 / 3, "0.3333"), (2 / 3, "0.6667"), (0.0, "0"), (-0.5, "−0.5"), (-3, "−3"),
    (1500.0, "1500"), (99999.0, "99999"), (2.5e-5, r"$2.5\times10^{-5}$"),
    (1e6, "$10^{6}$"), (-1.2e6, r"−$1.2\times10^{6}$"), (99999.6, "$10^{5}$"),
    (0.001, "0.001"), (float("nan"), "NaN"), (float("inf"), "∞"), (True, "True"),
    (np.str_("hebb"), "hebb"), (3, "3"), (np.int64(7), "7"), ("a$b", r"a\$b"), (b"x", "x"),
])
def test_fmt(value, text):
    assert plot.fmt(value) == text
    assert plot._fmt is plot.fmt


def test_fmt_significant_digits():
    assert plot.fmt(0.123456) == "0.1235"
    assert plot.fmt(0.123456, sig=2) == "0.12"
    assert plot.fmt(2.0134, sig=3) == "2.01"
    assert plot.fmt(np.float32(0.138)) == "0.138"  # float32 noise is not a digit


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


# ------------------------------------------------ issue 17: figures a paper could take


def legend_texts(fig):
    """Legend entries (wrapped ones joined back into one line)."""
    texts = [t for leg in fig.legends for t in leg.get_texts()] + [
        t for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    return [t.get_text().replace("\n", " ") for t in texts]


def drawn(draw):
    """The Figures ``draw()`` saves (via plot.recording), by PNG file name."""
    with plot.recording() as figs:
        draw()
    return {p.name: fig for p, fig in figs}


def test_describe_spread():
    assert plot.describe_spread("bands", seeds=2, within="patterns and cues") == \
        "bands: ±1 s.d. over patterns, cues and 2 seeds"
    assert plot.describe_spread("bands", seeds=1, within="patterns and cues") == \
        "bands: ±1 s.d. over patterns and cues (1 seed)"
    assert plot.describe_spread(seeds=5) == "error bars: ±1 s.d. over 5 seeds"
    assert plot.describe_spread(seeds=1) == "error bars: none (1 seed)"
    m, s, text = plot.seed_stats(make_ds()["stable_fraction"])
    assert "seed" not in m.dims and text == "error bars: ±1 s.d. over 3 seeds"


def test_bands_and_error_bars_say_what_they_are(tmp_path):
    ds = make_ds(rule=True)
    figs = drawn(lambda: plot.plot_all(ds, tmp_path))
    maps = legend_texts(figs["retrieval_map.png"])
    assert "bands: ±1 s.d. over patterns, cues and 3 seeds" in maps
    assert "error bars: ±1 s.d. over 3 seeds" in legend_texts(figs["capacity.png"])
    one = make_ds().isel(seed=0, drop=True)
    figs = drawn(lambda: plot.plot_all(one, tmp_path / "one"))
    maps = legend_texts(figs["retrieval_map.png"])
    assert "bands: ±1 s.d. over patterns and cues (1 seed)" in maps
    assert "error bars: none (1 seed)" in legend_texts(figs["capacity.png"])
    # features: the band runs over the hidden features
    figs = drawn(lambda: plot.retrieval_maps(make_ds(feature=True), tmp_path / "f",
                                             var="feature_mf"))
    assert "bands: ±1 s.d. over features, cues and 3 seeds" in legend_texts(figs["f.png"])


def test_capacity_panels_share_alpha_range_and_label_every_curve(tmp_path):
    ds = make_ds(nan_basin=True, T=[10.0])  # basin NaN at the largest α: same range anyway
    fig = drawn(lambda: plot.capacity_curves(ds, tmp_path / "cap"))["cap.png"]
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 3 and len({ax.get_xlim() for ax in axes}) == 1
    assert axes[0].get_xlim()[0] < 0.05 and axes[0].get_xlim()[1] > 0.2
    texts = legend_texts(fig)
    assert texts == ["simulation, mean of 3 seeds", r"Hebb $\alpha_c$ = 0.138 (AGS)",
                     "error bars: ±1 s.d. over 3 seeds"]
    assert "$T$ = 10" in fig.get_suptitle() and "10.0" not in fig.get_suptitle()
    assert any("no point" in t.get_text() for t in axes[2].texts)  # why basin points are missing
    # no α_c entry when 0.138 lies off the α range
    high = make_ds(alphas=[0.5, 0.7, 1.0])
    fig = drawn(lambda: plot.capacity_curves(high, tmp_path / "hi"))["hi.png"]
    assert not any("alpha_c" in t for t in legend_texts(fig))


def test_log_ticks():
    ticks = plot._LogTicks()
    np.testing.assert_allclose(ticks.tick_values(0.1, 2.0), [0.1, 0.2, 0.5, 1, 2])
    np.testing.assert_allclose(ticks.tick_values(0.9, 550), [1, 10, 100])
    np.testing.assert_allclose(ticks.tick_values(1e-8, 1), [1e-8, 1e-6, 1e-4, 1e-2, 1])
    short = ticks.tick_values(12, 20)  # under a factor 2: a linear step
    assert len(short) >= 2 and short.min() >= 12 and short.max() <= 20
    np.testing.assert_allclose(plot._LogTicks(thresh=1).tick_values(-0.4, 120), [0, 1, 10, 100])
    minor = plot._LogTicks(minor=True).tick_values(0.9, 550)
    assert 2 in minor and 50 in minor and 10 not in minor


def training_ds(epochs, seeds=2):
    e = np.asarray(epochs)
    rng = np.random.default_rng(0)
    coords = {"seed": np.arange(seeds), "tau": [10.0], "epoch": e}
    shape = (seeds, 1, len(e))
    dist = 0.5 * (1 - np.exp(-e / 30.0)) + rng.normal(0, 0.01, shape)
    delta = np.where(e == 0, np.nan, np.sqrt(2) + rng.normal(0, 0.02, shape))
    dims = tuple(coords)
    ds = xr.Dataset({"tau_delta": (dims, delta), "dist_hebb": (dims, dist),
                     "stable_fraction": (dims, np.clip(2 * dist, 0, 1))}, coords=coords)
    ds.attrs = {"config": {"name": "synthetic", "N": 200}}
    return ds


@pytest.mark.parametrize(("epochs", "labels", "scale"), [
    ([0, 1, 2, 5, 10, 20, 50, 100], ["0", "1", "10", "100"], "symlog"),  # Fig. 2, full size
    ([0, 100, 300, 1000, 3000, 10000], ["0", "100", "1000", "10000"], "symlog"),
    ([0, 2, 6], ["0", "2", "4", "6"], "linear"),  # quick mode: a short linear axis
    ([0, 25, 50, 100, 200, 400], ["0", "100", "200", "300", "400"], "linear"),
])
def test_epoch_axis_is_labelled_and_keeps_epoch_0(tmp_path, epochs, labels, scale):
    fig = drawn(lambda: plot.training_curves(training_ds(epochs), tmp_path / "t"))["t.png"]
    for ax in fig.axes:
        assert ax.get_xscale() == scale
        shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        lo, hi = ax.get_xlim()
        assert [t for t, v in zip(shown, ax.get_xticks()) if lo <= v <= hi] == labels
    dist = fig.axes[1].containers[0].lines[0]  # epoch 0 (Hebb) is drawn, not dropped
    assert dist.get_xdata()[0] == 0
    assert "error bars: ±1 s.d. over 2 seeds" in legend_texts(fig)


def test_log_axis_on_a_wide_range_prints_powers_of_ten(tmp_path):
    fig, axes = plot.panels(1, 1)
    x = np.geomspace(1e-5, 10, 7)
    axes[0, 0].plot(x, x)
    plot.log_axis(axes[0, 0], x)
    plot.finish(fig, tmp_path / "wide")  # saving draws the ticks
    shown = [t.get_text() for t in axes[0, 0].get_xticklabels() if t.get_text()]
    assert shown and all(t.startswith("$10^{") for t in shown), shown


def test_phase_diagram_takes_boundary_lines(tmp_path):
    # the (α, α_D) diagram overlays curves α(α_D) given as (label, alpha_D, alpha)
    ds = make_ds(alpha_D=[0.02, 0.05, 0.1, 0.2], alphas=[0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0])
    a_D = np.geomspace(0.02, 0.2, 20)
    lines = [(r"storage $\alpha_s(\alpha_D)$", a_D, 0.1 + a_D),
             (r"learning $\alpha_l$", a_D, 2 * a_D)]
    fig = drawn(lambda: plot.phase_diagram(ds, tmp_path / "p", boundaries=lines,
                                           levels=[0.5]))["p.png"]
    texts = legend_texts(fig)
    assert texts[:2] == [lines[0][0], lines[1][0]] and texts[2] == "contour stable fraction = 0.5"
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), 0.1 + a_D)  # α across, α_D up
    np.testing.assert_allclose(ax.lines[0].get_ydata(), a_D)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # geometric grids: auto log
    assert any("mean of 3 seeds" in t for t in plot.figure_texts(fig))
    # plot_all passes them to every (α, α_D) diagram
    figs = drawn(lambda: plot.plot_all(ds, tmp_path / "all", phase_lines=lines))
    phases = [f for name, f in figs.items() if name.startswith("phase_")]
    assert len(phases) == 3 and all(lines[1][0] in legend_texts(f) for f in phases)
    # or as functions α(α_D) (vectorised, like hopjax.theory.rf_storage_threshold), sampled
    # across the panel; an infinite threshold leaves a gap
    fig = drawn(lambda: plot.phase_diagram(ds, tmp_path / "fn", boundaries=[
        ("f", lambda aD: np.where(aD < 0.1, 1 + aD, np.inf))]))["fn.png"]
    line = fig.axes[0].lines[0]
    y, x = line.get_ydata(), line.get_xdata()
    assert len(y) == 64 and y.min() > 0 and np.isnan(x[y >= 0.1]).all()
    np.testing.assert_allclose(x[y < 0.1], 1 + y[y < 0.1])


def test_capacity_scaling_panels_and_labels(tmp_path):
    pc = xr.DataArray([[10.0, 40.0, 160.0], [50.0, 200.0, np.nan], [np.nan] * 3],
                      dims=("memory", "N"),
                      coords={"memory": ["poly a=3", "exp", "poly a=4"], "N": [12, 24, 48]})
    fits = {"poly a=3": (2.0, 0.1), "exp": (0.1667, 4.0), "poly a=4": (np.nan, np.nan)}
    fig = drawn(lambda: plot.capacity_scaling(pc, fits, tmp_path / "s",
                                              title="retrieved ≥ 0.95"))["s.png"]
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2  # the unmeasured memory adds nothing
    assert legend_texts(fig) == ["poly a=3: slope 2", r"exp: $P_c \propto 2^{0.167\,N}$"]
    assert visible[0].get_xscale() == "log" and visible[1].get_xscale() == "linear"
    assert plot.capacity_scaling(pc.isel(memory=[2]), fits, tmp_path / "none") == []


def test_title_names_scalar_coordinates():
    ds = make_ds(T=[0.5, 1.0]).isel(T=1)
    assert plot._figure_title(ds).split("\n")[1] == "$T$ = 1"


def test_recording_and_figure_texts(tmp_path):
    with plot.recording() as figs:
        paths = plot.capacity_curves(make_ds(), tmp_path / "c")
    assert [p for p, _ in figs] == [paths[0]]
    texts = plot.figure_texts(figs[0][1])
    assert "synthetic, $N$ = 200" in texts and r"load $\alpha = P/N$" in texts
    plot.capacity_curves(make_ds(), tmp_path / "c2")  # outside the block: not recorded
    assert len(figs) == 1


def test_prototype_training_curves(tmp_path):
    rng = np.random.default_rng(0)
    acc = rng.uniform(60, 90, (2, 3, 4))
    ds = xr.Dataset({"curve_accuracy": (("model", "seed", "epoch"), acc),
                     "curve_spurious": (("model", "seed", "epoch"), 100 - acc)},
                    coords={"model": ["hebb", "daydreaming"], "seed": [0, 1, 2],
                            "epoch": [0, 10, 100, 1000]},
                    attrs={"config": {"N": 400}})
    figs = drawn(lambda: check_files(plot.prototype_training_curves(ds, tmp_path / "dd"),
                                     ["dd"], tmp_path))
    fig = figs["dd.png"]
    assert legend_texts(fig) == ["accuracy", "spurious", "error bars: ±1 s.d. over 3 seeds"]
    assert "Daydreaming on the 10 prototypes, $N$ = 400" in plot.figure_texts(fig)
    assert plot.prototype_training_curves(ds.sel(model=["hebb"]), tmp_path / "none") == []


def test_compare_maps_draws_one_labelled_curve_per_result(tmp_path):
    a = make_ds()
    b = make_ds().assign(mf_mean=lambda d: d.mf_mean * 0.5)
    b = b.expand_dims(epoch=[0, 10]).transpose("seed", "epoch", ...)  # a training result
    with plot.recording() as figs:
        paths = plot.compare_maps({"Daydreaming": b, "pseudo-inverse": a}, tmp_path / "cmp",
                                  title="comparison")
    check_files(paths, ["cmp"], tmp_path)
    (_, fig), = figs
    texts = plot.figure_texts(fig)
    assert "Daydreaming" in texts and "pseudo-inverse" in texts
    assert len(fig.axes) == len(ALPHAS)  # one panel per α, both results on each
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() != "_nolegend_"]
    assert len([ln for ln in lines if len(ln.get_xdata()) == len(M0)]) == 2
    with pytest.raises(ValueError, match="dim 'alpha'"):
        plot.compare_maps({"a": a, "b": make_ds(alphas=[0.05, 0.1, 0.15, 0.25])}, tmp_path / "x")


def test_threshold_scaling_draws_points_fit_and_limit(tmp_path):
    from hopjax import finite_size

    N = np.array([100, 200, 400, 800])
    y = 0.85 + 12.0 / N
    fit = finite_size.extrapolate(N, y, [0.01] * 4)
    series = {"τK = 20": {"N": N, "value": y, "err": [0.02, 0.01, 0.01, np.nan], "fit": fit},
              "one size": {"N": [100], "value": [0.95], "err": [np.nan], "fit": None}}
    fig = drawn(lambda: plot.threshold_scaling(series, tmp_path / "t", ylabel=r"$\alpha_{1/2}$",
                                               title="half-stable load"))["t.png"]
    texts = plot.figure_texts(fig)
    assert r"τK = 20: $N \to \infty$ 0.85 ± 0.0086" in texts and "one size" in texts
    ax = fig.axes[0]
    assert min(ax.get_xticks()) == 0.0  # no negative 1/N
    # the fitted line starts at 1/N = 0 at the limit and meets the points
    line = next(ln for ln in ax.get_lines() if ln.get_linestyle() == "-")
    assert line.get_xdata()[0] == 0.0 and line.get_ydata()[0] == pytest.approx(0.85)
    assert line.get_ydata()[-1] == pytest.approx(y[0])
    top = [a for a in ax.child_axes if a.get_xlabel() == "$N$"]  # the secondary axis
    assert top and [t.get_text() for t in top[0].get_xticklabels()] == ["100", "200", "400", "800"]
