"""Paper figures from a sweep's stored results (matplotlib only, no JAX).

Every function takes the ``xarray.Dataset`` that :func:`hopjax.io.load` returns and
writes ``<stem>.png`` (150 dpi) and ``<stem>.pdf``, returning both paths.

Dataset conventions: dims ``seed``; optional categorical ``rule``, ``mode``; numeric
``alpha`` (load P/N), optional ``alpha_D`` (D/N), ``T`` and any other swept dim; the
inner dim ``m0`` (initial overlaps, any order). Variables (any subset):
``mf_mean``/``mf_std``/``fixed_point`` (..., m0), ``stable_fraction`` and
``basin_size`` (...), and ``feature_``-prefixed versions. ``attrs["config"]`` holds
``name`` and ``N``.

Figures are plain :class:`matplotlib.figure.Figure` objects, never registered with
pyplot: nothing needs closing, the user's backend is left alone, and PNG/PDF are
rendered by the Agg/PDF canvases, so no display is needed.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps, rc_context
from matplotlib.cm import ScalarMappable
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter, NullLocator

from hopjax.files import atomic_write

__all__ = [
    "AGS_ALPHA_C",
    "capacity_curves",
    "pattern_images",
    "phase_diagram",
    "plot_all",
    "retrieval_maps",
    "seed_mean_spread",
    "training_curves",
    "generalisation_curves",
]

AGS_ALPHA_C = 0.138  # Hebb's storage capacity (Amit, Gutfreund, Sompolinsky 1985)

SEED, M0, ALPHA, ALPHA_D = "seed", "m0", "alpha", "alpha_D"
_MAX_LEGEND_CURVES = 12  # beyond this, a colour bar over α reads better than a legend

# Mathtext symbols for the usual dims; any other dim is printed by name.
_SYMBOLS = {
    "alpha": r"$\alpha$", "alpha_D": r"$\alpha_D$", "T": "$T$", "beta": r"$\beta$",
    "tau": r"$\tau$", "t": "$t$", "m0": "$m_0$", "N": "$N$", "lambda": r"$\lambda$",
}

_STYLE = {
    "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "legend.fontsize": 8,
    "legend.frameon": False, "xtick.direction": "in", "ytick.direction": "in",
    "xtick.top": True, "ytick.right": True, "axes.linewidth": 0.8,
    "lines.linewidth": 1.4, "savefig.dpi": 150,
    "pdf.fonttype": 42,  # embed TrueType: journals reject Type 3 fonts
}

# viridis without its last, pale-yellow tenth, which vanishes on a white page.
_ALPHA_CMAP = ListedColormap(colormaps["viridis"](np.linspace(0.0, 0.9, 256)), name="viridis_dark")


# -------------------------------------------------------------------- helpers


def _styled(fn):
    """Run ``fn`` under the paper rc style (read both when drawing and when saving)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with rc_context(_STYLE):
            return fn(*args, **kwargs)

    return wrapper


@contextlib.contextmanager
def _quiet():
    # nanmean/nanvar of an all-NaN slice (e.g. basin_size where nothing retrieves)
    # warns; a NaN there is the right answer and is drawn as a gap.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _fmt(v) -> str:
    """Coordinate value for a label: '0.10' for α = 0.1, '0.138', 'hebb', '3'."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (str, bytes)):
        s = v.decode() if isinstance(v, bytes) else v
        return s.replace("$", r"\$")  # a bare '$' would start mathtext
    if isinstance(v, (bool, int)):
        return str(v)
    v = float(v)
    if not math.isfinite(v) or abs(v) >= 1000:
        return f"{v:g}"
    # Two decimals when exact to float32 precision (α = 0.10, 0.05), else 4 digits.
    if abs(round(v, 2) - v) <= 1e-6 * max(1.0, abs(v)):
        return f"{v:.2f}"
    return f"{v:.4g}"


def _sym(dim: str) -> str:
    return _SYMBOLS.get(dim, dim)


def _config(ds) -> dict:
    cfg = ds.attrs.get("config", ds.attrs.get("hopjax_config"))
    if isinstance(cfg, str):  # opened with plain xarray: still JSON-encoded
        try:
            cfg = json.loads(cfg)
        except ValueError:
            cfg = None
    return cfg if isinstance(cfg, dict) else {}


def _figure_title(ds) -> str:
    cfg = _config(ds)
    name = cfg.get("name") or ds.attrs.get("experiment") or ""
    parts = [_fmt(str(name))] if name else []
    if cfg.get("N") is not None:
        parts.append(f"$N$ = {cfg['N']}")
    # grid dims with a single value label the whole figure, not every curve (see _facets)
    fixed = [f"{_sym(d)} = {_fmt(ds[d].values[0])}" for d in ds.dims
             if d != SEED and d in ds.coords and ds.sizes[d] == 1]
    return ", ".join(parts) + ("\n" + ", ".join(fixed) if fixed else "")


def _facets(da, skip) -> tuple[list[str], list[tuple[dict, str]]]:
    """Every combination of the dims of ``da`` not in ``skip``: (isel dict, label). Dims with
    a single value are left out of the labels (the figure title names them)."""
    dims = [d for d in da.dims if d not in skip]
    out = []
    for idx in itertools.product(*(range(da.sizes[d]) for d in dims)):
        isel = dict(zip(dims, idx))
        label = ", ".join(f"{_sym(d)} = {_fmt(da[d].values[i])}" for d, i in isel.items()
                          if da.sizes[d] > 1)
        out.append((isel, label))
    return dims, out


def _grid_shape(dims, sizes, n: int) -> tuple[int, int]:
    # Two facet dims read best as a table (rows × columns); otherwise a near-square grid.
    if len(dims) == 2:
        return sizes[dims[0]], sizes[dims[1]]
    ncols = n if n <= 3 else math.ceil(math.sqrt(n))
    return math.ceil(n / ncols), ncols


def _panels(nrows: int, ncols: int, *, width=3.2, height=2.6, extra_width=0.0, share=False):
    fig = Figure(figsize=(width * ncols + extra_width, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=share, sharey=share)
    return fig, axes


def _hide_unused(axes, n: int) -> list:
    """Hide grid cells past the n-th panel; return the used axes."""
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return flat[:n]


def _label_outer(axes, n: int, xlabel: str, ylabel: str) -> None:
    """Labels and tick labels only on the outer used panels (panels share axes):
    x on the lowest used panel of each column, y on the first column."""
    nrows, ncols = axes.shape
    for k in range(min(n, nrows * ncols)):
        r, c = divmod(k, ncols)
        ax = axes[r, c]
        if c == 0:
            ax.set_ylabel(ylabel)
        else:
            ax.tick_params(labelleft=False)
        if k + ncols >= n:
            ax.set_xlabel(xlabel)
        else:
            ax.tick_params(labelbottom=False)


def _save(fig, stem) -> list[Path]:
    stem = Path(stem)
    if stem.suffix.lower() in (".png", ".pdf"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Not with_suffix: a stem like 'alpha_0.1' would lose its '.1'.
    paths = [stem.parent / f"{stem.name}.{ext}" for ext in ("png", "pdf")]
    for p in paths:  # atomically: a killed run or a full disk never leaves half a figure
        atomic_write(p, lambda tmp, ext=p.suffix[1:]: fig.savefig(tmp, dpi=150, format=ext))
    return paths


def _at_m0(da, *, exact: bool):
    """Slice of ``da`` at m0 = 1 (or, unless ``exact``, at the largest m0): (slice, m0) or None."""
    m0 = da[M0].values.astype(float)
    hit = np.flatnonzero(np.isclose(m0, 1.0, atol=1e-6))
    if hit.size:
        i = int(hit[0])
    elif exact:
        return None
    else:
        i = int(np.argmax(m0))
    return da.isel({M0: i}, drop=True), m0[i]


def _edges(c, log: bool = False) -> np.ndarray:
    """Cell edges around sorted centres (non-uniform grids allowed); with ``log``, midpoints
    in log space (positive centres), so cells look even on a log axis."""
    c = np.asarray(c, float)
    if log:
        return np.exp(_edges(np.log(c)))
    if c.size == 1:
        h = 0.05 * abs(c[0]) or 0.5
        return np.array([c[0] - h, c[0] + h])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def seed_mean_spread(mean: xr.DataArray, std: xr.DataArray | None = None, dim: str = SEED):
    """Mean over ``dim`` and the total spread sqrt(mean_s std² + var_s mean).

    Law of total variance with equal weights per seed: the within-seed spread ``std``
    (over patterns and samples) plus the between-seed variation of ``mean`` (ddof 0).
    ``std=None`` gives the between-seed spread only. NaNs are skipped; a slice that
    is NaN for every seed stays NaN. Without ``dim``, returns ``mean`` and ``std``
    (zeros if None) unchanged.

    >>> m = xr.DataArray([0.5, 1.0], dims="seed"); s = xr.DataArray([0.1, 0.2], dims="seed")
    >>> [round(float(x), 4) for x in seed_mean_spread(m, s)]
    [0.75, 0.2958]
    """
    if dim not in mean.dims:
        return mean, (xr.zeros_like(mean) if std is None else std)
    with _quiet():
        var = mean.var(dim)
        if std is not None:
            var = var + (std**2).mean(dim)
        return mean.mean(dim), np.sqrt(var)


def _seed_mean_std(da, dim: str = SEED):
    if dim not in da.dims:
        return da, xr.zeros_like(da)
    with _quiet():
        return da.mean(dim), da.std(dim)


def _alpha_colours(alphas):
    if alphas is None:
        return Normalize(0, 1), [_ALPHA_CMAP(0.0)]
    a = np.asarray(alphas, float)
    lo, hi = np.nanmin(a), np.nanmax(a)
    norm = Normalize(lo, hi if hi > lo else lo + 1)
    return norm, [_ALPHA_CMAP(norm(x)) for x in a]


# -------------------------------------------------------------------- figures


@_styled
def retrieval_maps(ds: xr.Dataset, stem, *, var: str = "mf", curve: str = ALPHA) -> list[Path]:
    """Final overlap m_f against initial overlap m0, one curve per α (or per value of the
    dim ``curve``, e.g. ``"epoch"`` for maps along training).

    ``var`` is the variable prefix: 'mf' (``mf_mean``/``mf_std``) or 'feature_mf'.
    Curves are means over seeds; the band is :func:`seed_mean_spread` (clipped to
    [-1, 1], the range of an overlap). One panel per combination of the other dims.
    Raises KeyError if ``<var>_mean`` is missing.
    """
    base = var.removesuffix("_mean")
    name = f"{base}_mean"
    if name not in ds or M0 not in ds[name].dims:
        raise KeyError(f"dataset has no {name!r} variable over {M0!r}")
    m, s = seed_mean_spread(ds[name], ds.get(f"{base}_std"))
    m, s = m.sortby(M0), s.sortby(M0)  # m0 may be stored descending
    has_alpha = curve in m.dims
    order = [curve, M0] if has_alpha else [M0]
    dims, facets = _facets(m, set(order))
    nrows, ncols = _grid_shape(dims, m.sizes, len(facets))
    alphas = m[curve].values if has_alpha else None
    norm, colours = _alpha_colours(alphas)
    use_legend = len(colours) <= _MAX_LEGEND_CURVES

    x = m[M0].values.astype(float)
    lo, hi = float(np.min(x)), float(np.max(x))
    fig, axes = _panels(nrows, ncols, extra_width=1.0, share=True)
    used = _hide_unused(axes, len(facets))
    ymin = 0.0
    for ax, (isel, title) in zip(used, facets):
        mp = m.isel(isel).transpose(*order).values.reshape(len(colours), -1)
        sp = s.isel(isel).transpose(*order).values.reshape(len(colours), -1)
        ax.plot([lo, hi], [lo, hi], ls="--", lw=0.7, color="0.55", zorder=1)
        for y, e, c in zip(mp, sp, colours):
            ax.fill_between(x, np.clip(y - e, -1, 1), np.clip(y + e, -1, 1),
                            color=c, alpha=0.2, lw=0, zorder=2)
            ax.plot(x, y, color=c, zorder=3)
        if np.isfinite(mp).any():
            ymin = min(ymin, float(np.nanmin(np.clip(mp - sp, -1, 1))))
        if title:
            ax.set_title(title)
        ax.set_xlim(lo, hi)
    used[0].set_ylim(ymin - 0.05, 1.05)  # shared: panels compare at a glance
    feature = "feature " if base.startswith("feature") else ""
    _label_outer(axes, len(facets), "initial overlap $m_0$", f"final {feature}overlap $m_f$")

    diag = Line2D([], [], ls="--", lw=0.7, color="0.55", label="$m_f = m_0$")
    if has_alpha and use_legend:
        handles = [Line2D([], [], color=c, label=f"{_sym(curve)} = {_fmt(a)}")
                   for a, c in zip(alphas, colours)]
        fig.legend(handles=handles + [diag], loc="outside right center")
    else:
        if has_alpha:
            fig.colorbar(ScalarMappable(norm, _ALPHA_CMAP), ax=used, label=_sym(curve))
        fig.legend(handles=[diag], loc="outside right center")
    fig.suptitle(_figure_title(ds))
    return _save(fig, stem)


_CAPACITY_LABELS = {
    "mf_mean": "retrieval $m_f(m_0 = 1)$",
    "stable_fraction": "stable fraction",
    "basin_size": "basin size (flipped fraction)",
}


@_styled
def capacity_curves(ds: xr.Dataset, stem, *, prefix: str = "") -> list[Path]:
    """m_f(m0 = 1), stable_fraction and basin_size against α, side by side.

    Panels appear for the variables present (``prefix='feature_'`` for the feature
    versions; m_f(1) only if the m0 grid contains 1). One line per combination of the
    other non-seed dims: mean over seeds, error bars the std over seeds (ddof 0; NaN
    seeds skipped, all-NaN points left as gaps). A dotted line marks Hebb's
    α_c ≈ 0.138. Returns [] when no panel applies.
    """
    panels = []
    mf = ds.get(f"{prefix}mf_mean")
    if mf is not None and M0 in mf.dims:
        at1 = _at_m0(mf, exact=True)
        if at1 is not None:
            panels.append((at1[0], "mf_mean"))
    for v in ("stable_fraction", "basin_size"):
        if f"{prefix}{v}" in ds:
            panels.append((ds[f"{prefix}{v}"], v))
    panels = [(da, v) for da, v in panels if ALPHA in da.dims]
    if not panels:
        return []
    feature = "feature " if prefix else ""

    fig, axes = _panels(1, len(panels), extra_width=1.6)
    styles: dict[str, dict] = {}  # same line style for a combination in every panel
    for ax, (da, v) in zip(axes[0], panels):
        m, e = _seed_mean_std(da)
        m, e = m.sortby(ALPHA), e.sortby(ALPHA)
        x = m[ALPHA].values.astype(float)
        for isel, label in _facets(m, {ALPHA})[1]:
            k = len(styles)
            st = styles.setdefault(label, {"color": f"C{k % 10}", "ls": ("-", "--", "-.", ":")[k // 10 % 4]})
            ax.errorbar(x, m.isel(isel).values, yerr=e.isel(isel).values, marker="o", ms=3,
                        capsize=2, elinewidth=0.8, **st)
        ax.axvline(AGS_ALPHA_C, ls=":", lw=1.0, color="0.3", zorder=0)
        ax.set_xlabel(r"load $\alpha = P/N$")
        ax.set_ylabel(feature + _CAPACITY_LABELS[v])
        # Bounded quantities: fixed headroom so markers at 0 or 1 are not clipped.
        low = (m - e).values
        bottom = min(0.0, float(np.nanmin(low)) if np.isfinite(low).any() else 0.0) - 0.03
        ax.set_ylim(bottom, 1.03 if v != "basin_size" else max(ax.get_ylim()[1], 0.1))

    handles = [Line2D([], [], marker="o", ms=3, label=lab, **st) for lab, st in styles.items() if lab]
    handles.append(Line2D([], [], ls=":", lw=1.0, color="0.3", label=r"AGS $\alpha_c$"))
    fig.legend(handles=handles, loc="outside right center")
    fig.suptitle(_figure_title(ds))
    return _save(fig, stem)


_Y_LABELS = {ALPHA_D: r"correlation $\alpha_D = D/N$", "T": "temperature $T$"}


@_styled
def phase_diagram(ds: xr.Dataset, stem, *, var: str = "stable_fraction", y: str = ALPHA_D,
                  lines=None, levels=None, xscale: str = "linear",
                  yscale: str = "linear") -> list[Path]:
    """Heat map of a scalar ``var`` over (α, ``y``), mean over seeds; ``y`` is α_D by
    default, or any other numeric dim, e.g. ``"T"`` for the AGS (α, T) diagram.

    Variables over m0 are taken at m0 = 1 (at the largest m0 if 1 is not on the grid,
    which the colour-bar label then says). One panel per combination of the other
    dims, one shared colour scale; NaN cells are grey. Returns [] unless ``var`` has
    both α and a ``y`` dim with at least 2 values. Raises KeyError if ``var`` is missing.

    lines: optional ``{label: (x, y)}`` curves drawn on every panel in data coordinates
      (e.g. theory lines), with a legend. levels: optional contour levels of the plotted
      (seed-mean) values, drawn in white on every panel (e.g. 0.5 for a stable fraction).
    xscale, yscale: ``"linear"`` or ``"log"`` (log: cells are centred in log space; the
      coordinates must be positive).
    """
    for name, scale in (("xscale", xscale), ("yscale", yscale)):
        if scale not in ("linear", "log"):
            raise ValueError(f"{name} must be 'linear' or 'log'; got {scale!r}")
    if var not in ds:
        raise KeyError(f"dataset has no {var!r} variable")
    da = ds[var]
    if ALPHA not in da.dims or y == ALPHA or da.sizes.get(y, 0) < 2:
        return []
    label = var
    if M0 in da.dims:
        da, m0 = _at_m0(da, exact=False)
        label += f" ($m_0$ = {_fmt(m0)})"
    m = _seed_mean_std(da)[0].sortby(ALPHA).sortby(y)
    dims, facets = _facets(m, {ALPHA, y})
    nrows, ncols = _grid_shape(dims, m.sizes, len(facets))

    vals = m.values
    if var.endswith("fraction") or var.endswith("fixed_point"):
        vmin, vmax = 0.0, 1.0  # fractions: a fixed scale keeps figures comparable
    elif np.isfinite(vals).any():
        vmin, vmax = float(np.nanmin(vals)), float(np.nanmax(vals))
        if "mf" in var:
            vmin, vmax = min(vmin, 0.0), 1.0
        if vmax <= vmin:
            vmax = vmin + 1.0
    else:
        vmin, vmax = 0.0, 1.0
    cmap = colormaps["viridis"].with_extremes(bad="0.85")

    xc, yc = m[ALPHA].values.astype(float), m[y].values.astype(float)
    xe, ye = _edges(xc, xscale == "log"), _edges(yc, yscale == "log")
    fig, axes = _panels(nrows, ncols, width=3.0, height=2.6, extra_width=0.8, share=True)
    used = _hide_unused(axes, len(facets))
    curves = list((lines or {}).items())
    for ax, (isel, title) in zip(used, facets):
        z = m.isel(isel).transpose(y, ALPHA).values
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), cmap=cmap, vmin=vmin, vmax=vmax,
                             shading="flat", rasterized=True)  # rasterized: small PDFs
        if levels is not None and z.shape[0] >= 2 and z.shape[1] >= 2 and np.isfinite(z).any():
            ax.contour(xc, yc, np.ma.masked_invalid(z), levels=np.atleast_1d(levels),
                       colors="white", linewidths=1.0)
        for k, (_, (lx, ly)) in enumerate(curves):
            ax.plot(np.asarray(lx, float), np.asarray(ly, float), color=f"C{(k + 1) % 10}",
                    ls=("-", "--", "-.", ":")[k % 4], lw=1.4)
        ax.set_xscale(xscale)
        ax.set_yscale(yscale)
        ax.set_xlim(xe[0], xe[-1])  # lines beyond the grid must not stretch the axes
        ax.set_ylim(ye[0], ye[-1])
        if title:
            ax.set_title(title)
    # Few grid values: tick the cell centres themselves, not the interpolated edges.
    for c, axis, scale in ((m[ALPHA].values, used[0].xaxis, xscale),
                           (m[y].values, used[0].yaxis, yscale)):
        if len(c) <= (10 if scale == "log" else 6):  # a log axis has few labelled decades
            axis.set_ticks(c.astype(float), [_fmt(v) for v in c])
            axis.set_minor_locator(NullLocator())  # log axes would add their own minor ticks
    _label_outer(axes, len(facets), r"load $\alpha = P/N$", _Y_LABELS.get(y, _sym(y)))
    fig.colorbar(mesh, ax=used, label=label)
    if curves:
        handles = [Line2D([], [], color=f"C{(k + 1) % 10}", ls=("-", "--", "-.", ":")[k % 4],
                          label=str(lab)) for k, (lab, _) in enumerate(curves)]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3))
    fig.suptitle(_figure_title(ds))
    return _save(fig, stem)


def plot_all(ds: xr.Dataset, outdir) -> list[Path]:
    """Every figure that applies to ``ds``, written under ``outdir``; returns the files.

    ``retrieval_map`` if m0 has ≥ 2 values; ``capacity`` if α has ≥ 2 values;
    ``phase_<var>`` for stable_fraction, mf_mean and basin_size if α_D has ≥ 2 values;
    each also with the ``feature_`` prefix when those variables are present; and
    ``phase_T_<var>`` (the (α, T) heat map of mf_mean, stable_fraction) if T has ≥ 2 values.
    """
    outdir = Path(outdir)
    n = ds.sizes.get
    written: list[Path] = []
    for prefix in ("", "feature_"):
        if n(M0, 0) >= 2 and f"{prefix}mf_mean" in ds:
            written += retrieval_maps(ds, outdir / f"{prefix}retrieval_map", var=f"{prefix}mf")
        if n(ALPHA, 0) >= 2:
            written += capacity_curves(ds, outdir / f"{prefix}capacity", prefix=prefix)
        if n(ALPHA_D, 0) >= 2:
            for v in (f"{prefix}stable_fraction", f"{prefix}mf_mean", f"{prefix}basin_size"):
                if v in ds:
                    written += phase_diagram(ds, outdir / f"phase_{v}", var=v)
        if n("T", 0) >= 2:
            for v in (f"{prefix}mf_mean", f"{prefix}stable_fraction"):
                if v in ds:
                    written += phase_diagram(ds, outdir / f"phase_T_{v}", var=v, y="T")
    return written


@_styled
def training_curves(ds: xr.Dataset, stem) -> list[Path]:
    """Daydreaming convergence (Serricchio et al. 2025, Fig. 1): τ‖ΔJ‖ per step,
    ‖J − J_Hebb‖/‖J_Hebb‖ and the fraction of stored patterns that are fixed points against
    training epochs, one line per combination of the other dims (mean over seeds, error bars
    the std): stationarity shows as flat curves. Returns [] without those variables."""
    names = [v for v in ("tau_delta", "dist_hebb", "stable_fraction")
             if v in ds and "epoch" in ds[v].dims]
    if not {"tau_delta", "dist_hebb"} & set(names):
        return []
    labels = {"tau_delta": r"$\tau\,\|\Delta J\|$ per step",
              "dist_hebb": r"$\|J - J_{Hebb}\| / \|J_{Hebb}\|$",
              "stable_fraction": "patterns that are fixed points"}
    fig, axes = _panels(1, len(names), extra_width=1.6)
    styles: dict[str, dict] = {}
    for ax, v in zip(axes[0], names):
        m, e = _seed_mean_std(ds[v])
        m, e = m.sel(epoch=m.epoch > 0), e.sel(epoch=e.epoch > 0)  # log axis: no epoch 0
        x = m["epoch"].values.astype(float)
        for isel, label in _facets(m, {"epoch"})[1]:
            k = len(styles)
            st = styles.setdefault(label, {"color": f"C{k % 10}", "ls": ("-", "--", "-.", ":")[k // 10 % 4]})
            ax.errorbar(x, m.isel(isel).values, yerr=e.isel(isel).values, marker="o", ms=3,
                        capsize=2, elinewidth=0.8, **st)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on short ranges
        ax.set_xlabel("epoch")
        ax.set_ylabel(labels[v])
    handles = [Line2D([], [], marker="o", ms=3, label=lab, **st) for lab, st in styles.items() if lab]
    if handles:
        fig.legend(handles=handles, loc="outside right center")
    fig.suptitle(_figure_title(ds))
    return _save(fig, stem)


@_styled
def generalisation_curves(ds: xr.Dataset, stem) -> list[Path]:
    """MNIST (Serricchio et al. 2025, Fig. 4): final overlap from m0 = 1 against α for
    training examples (with themselves), unseen test images (with themselves) and both with
    their class prototype; one panel per combination of the other dims. [] without them."""
    curves = [("test_mf", "test images"), ("train_proto", "train → prototype"),
              ("test_proto", "test → prototype")]
    if not all(v in ds for v in ("test_mf", "train_proto", "test_proto")) or ALPHA not in ds.dims:
        return []
    series = []
    at1 = _at_m0(ds["mf_mean"], exact=True) if "mf_mean" in ds else None
    if at1 is not None:
        series.append((at1[0], "training examples"))
    series += [(ds[v], label) for v, label in curves]
    first = _seed_mean_std(series[0][0])[0]
    dims, facets = _facets(first, {ALPHA})
    nrows, ncols = _grid_shape(dims, first.sizes, len(facets))
    fig, axes = _panels(nrows, ncols, extra_width=1.6, share=True)
    used = _hide_unused(axes, len(facets))
    for ax, (isel, title) in zip(used, facets):
        for k, (da, label) in enumerate(series):
            m, e = _seed_mean_std(da)
            m, e = m.sortby(ALPHA), e.sortby(ALPHA)
            ax.errorbar(m[ALPHA].values.astype(float), m.isel(isel).values,
                        yerr=e.isel(isel).values, marker="o", ms=3, capsize=2,
                        elinewidth=0.8, color=f"C{k}", label=label)
        ax.set_xscale("log")
        if title:
            ax.set_title(title)
    _label_outer(axes, len(facets), r"load $\alpha = P/N$", "final overlap from $m_0 = 1$")
    handles = [Line2D([], [], marker="o", ms=3, color=f"C{k}", label=label)
               for k, (_, label) in enumerate(series)]
    fig.legend(handles=handles, loc="outside right center")
    fig.suptitle(_figure_title(ds))
    return _save(fig, stem)


@_styled
def pattern_images(patterns, shape, path, *, titles=None) -> list[Path]:
    """A row of ±1 patterns (K, N) or (N,) shown as ``shape`` images (e.g. (28, 28)).

    +1 is black, -1 white (ink on paper), pixels unsmoothed. Accepts any array-like
    (numpy, JAX). Saved as ``<path>.png`` and ``<path>.pdf``.
    """
    x = np.asarray(patterns, dtype=float)
    x = x.reshape(1 if x.ndim == 1 else x.shape[0], -1)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or x.shape[1] != math.prod(shape):
        raise ValueError(f"patterns of {x.shape[1]} spins do not fit image shape {shape}")
    if titles is not None and len(titles) != len(x):
        raise ValueError(f"{len(titles)} titles for {len(x)} patterns")
    side = 1.2
    height = side * shape[0] / shape[1] + (0.25 if titles is not None else 0.0)
    fig = Figure(figsize=(side * len(x), height), layout="constrained")
    for k, (ax, img) in enumerate(zip(fig.subplots(1, len(x), squeeze=False)[0], x)):
        ax.imshow(img.reshape(shape), cmap="gray_r", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():  # a light frame: black would read as ink at the edge
            spine.set(color="0.7", linewidth=0.5)
        if titles is not None:
            ax.set_title(str(titles[k]))
    return _save(fig, path)


# -------------------------------------------------------------------- dense memories


@_styled
def dense_capacity_curves(ds: xr.Dataset, stem, *, var: str = "retrieved", m0: float = 1.0,
                          threshold: float | None = 0.95) -> list[Path]:
    """Dense memories (``dense`` experiment): ``var`` (at ``m0`` if it runs over m0) against
    the number of stored patterns P on a log axis, one panel per memory, one line per N
    (mean over seeds, error bars the std; unmeasured (memory, N) blocks skipped). A dotted
    line marks ``threshold`` (the capacity criterion). Returns [] without ``var`` or ``P``."""

    if var not in ds or "P" not in ds or "memory" not in ds.dims:
        return []
    da = ds[var]
    if M0 in da.dims:
        da = da.sel({M0: m0}, method="nearest")
    m, e = _seed_mean_std(da)
    P = ds["P"].isel({SEED: 0}) if SEED in ds["P"].dims else ds["P"]
    mems = ds["memory"].values
    nrows, ncols = _grid_shape([], {}, len(mems))
    fig, axes = _panels(nrows, ncols, extra_width=0.3)
    used = _hide_unused(axes, len(mems))
    for ax, mem in zip(used, mems):
        Ns = [N for N in ds["N"].values if np.isfinite(P.sel(memory=mem, N=N).values).all()]
        colours = _alpha_colours(np.log(np.asarray(Ns, float)) if Ns else None)[1]
        for N, c in zip(Ns, colours):
            x = P.sel(memory=mem, N=N).values.astype(float)
            order = np.argsort(x)
            ax.errorbar(x[order], m.sel(memory=mem, N=N).values[order],
                        yerr=e.sel(memory=mem, N=N).values[order], marker="o", ms=3, capsize=2,
                        elinewidth=0.8, color=c, label=f"$N$ = {N}")
        if threshold is not None:
            ax.axhline(threshold, ls=":", lw=1.0, color="0.3", zorder=0)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # short ranges: labels would collide
        low = (m - e).values  # fractions: from 0, or zoomed in when all stay near 1
        lo = float(np.nanmin(low)) if np.isfinite(low).any() else 0.0
        lo = max(0.0, lo - 0.05 * (1.0 - lo))
        ax.set_ylim(lo - 0.03 * (1.0 - lo), 1.0 + 0.03 * (1.0 - lo))
        ax.set_title(_fmt(mem))
        ax.set_xlabel("stored patterns $P$")
        ax.legend(loc="lower left")
    for ax in used[::ncols]:
        ax.set_ylabel(f"{var.replace('_', ' ')}" + (f" ($m_0$ = {_fmt(m0)})" if M0 in ds[var].dims else ""))
    fig.suptitle(_figure_title(ds))
    return _save(fig, stem)


@_styled
def capacity_scaling(pc: xr.DataArray, fits: dict, stem, *, title: str = "") -> list[Path]:
    """Capacity P_c against N (dims ``memory``, ``N``; NaN = not measured): polynomial
    memories on log-log axes with their fitted power laws (legend: slope, Krotov & Hopfield
    2016 predict a − 1), the exponential memory (label ``exp``) on log-linear axes with its
    fitted 2^(slope·N). ``fits``: label -> (slope, intercept) as from
    `hopjax.experiments.dense.scaling_fits`. Returns [] when nothing was measured."""

    mems = [str(v) for v in pc["memory"].values]
    groups = [g for g in ([x for x in mems if x != "exp"], [x for x in mems if x == "exp"]) if g]
    if not np.isfinite(pc.values).any():
        return []
    N = pc["N"].values.astype(float)
    fig, axes = _panels(1, len(groups), extra_width=2.2)
    for ax, group in zip(axes[0], groups):
        for k, label in enumerate(group):
            y = pc.sel(memory=label).values
            ok = np.isfinite(y)
            if not ok.any():
                continue
            colour = f"C{mems.index(label) % 10}"
            slope, icept = fits.get(label, (np.nan, np.nan))
            x = np.linspace(N[ok].min(), N[ok].max(), 50)
            if label == "exp":
                fit, text = 2.0 ** (icept + slope * x), f"{_fmt(label)}: $P_c$ ∝ 2^({slope:.2f} N)"
            else:
                fit, text = np.exp(icept) * x**slope, f"{_fmt(label)}: slope {slope:.2f}"
            ax.plot(N[ok], y[ok], "o", ms=4, color=colour, label=text)
            if np.isfinite(slope):
                ax.plot(x, fit, "-", lw=1.0, color=colour)
        ax.set_yscale("log")
        if group[0] != "exp":
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("$N$")
        ax.set_ylabel("capacity $P_c$")
    handles = [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    if handles:  # outside: the fitted lines cross the whole panel
        fig.legend(handles=handles, loc="outside right center")
    fig.suptitle("dense memories: capacity against $N$" + (f" ({title})" if title else ""))
    return _save(fig, stem)
