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

Every figure is composed from the primitives below (also used by the experiments'
own figures): :func:`panels` (a constrained grid), :func:`error_bars` / :func:`band`
(a curve with its spread), :func:`describe_spread` + :func:`spread_handle` (the legend
entry that says what the bars or bands are), :func:`log_axis` / :func:`epoch_axis`
(readable log and epoch axes), :func:`fmt` (every number printed in a figure) and
:func:`finish` (legend, title and an atomic save), all under :func:`styled`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
import textwrap
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib import colormaps, patheffects, rc_context
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import (Formatter, Locator, MaxNLocator, NullFormatter, NullLocator,
                               ScalarFormatter)

from hopjax.files import atomic_write

__all__ = [
    "AGS_ALPHA_C",
    "band",
    "capacity_curves",
    "capacity_scaling",
    "compare_maps",
    "curve_handle",
    "dense_capacity_curves",
    "describe_spread",
    "epoch_axis",
    "error_bars",
    "figure_texts",
    "finish",
    "fmt",
    "generalisation_curves",
    "log_axis",
    "panels",
    "pattern_images",
    "phase_diagram",
    "plot_all",
    "prototype_training_curves",
    "recording",
    "retrieval_maps",
    "seed_count",
    "seed_mean_spread",
    "seed_stats",
    "spread_handle",
    "styled",
    "threshold_scaling",
    "training_curves",
]

AGS_ALPHA_C = 0.138  # Hebb's storage capacity (Amit, Gutfreund, Sompolinsky 1985)

SEED, M0, ALPHA, ALPHA_D = "seed", "m0", "alpha", "alpha_D"
_MAX_LEGEND_CURVES = 12  # beyond this, a colour bar over α reads better than a legend
_LEGEND_WIDTH = 2.2  # inches added to a figure for its legend on the right
_LINESTYLES = ("-", "--", "-.", ":")

# Mathtext symbols for the usual dims; any other dim is printed by name.
_SYMBOLS = {
    "alpha": r"$\alpha$", "alpha_D": r"$\alpha_D$", "T": "$T$", "beta": r"$\beta$",
    "tau": r"$\tau$", "t": "$t$", "m0": "$m_0$", "N": "$N$", "lambda": r"$\lambda$",
    "j_max": "$J_{max}$", "bias": "bias $a$", "theta": r"$\theta$",
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


# -------------------------------------------------------------------- primitives


def styled(fn):
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


def _round_sig(v: float, sig: int) -> float:
    """``v`` with the fewest significant digits (≤ ``sig``) that match it to float32 precision."""
    for d in range(1, sig + 1):
        r = float(f"{v:.{d}g}")
        if abs(r - v) <= 1e-6 * abs(v):
            return r
    return float(f"{v:.{sig}g}")


def fmt(v, sig: int = 4) -> str:
    """A value as a physicist prints it in a figure: the fewest digits that say it.

    τ = 10 (not 10.00), α = 0.25, 0.1 for ``np.float32(0.1)`` (float32 noise ignored),
    0.138, 1/3 → 0.3333 (``sig`` significant digits at most), 2.5·10⁻⁵ and 10⁶ in
    mathtext beyond [10⁻³, 10⁵), a true minus sign (−0.5); integers and strings as they
    are ('hebb', 3), with a bare '$' escaped (it would start mathtext).

    >>> [fmt(x) for x in (10.0, 0.25, np.float32(0.1), 1 / 3, 3, -0.5, 2.5e-5, "hebb")]
    ['10', '0.25', '0.1', '0.3333', '3', '−0.5', '$2.5\\\\times10^{-5}$', 'hebb']
    """
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        return v.replace("$", r"\$")
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int) and abs(v) < 10**5:
        return str(v).replace("-", "−")
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v.is_integer() and abs(v) < 1e5:  # integers in a float (τ = 10.0, epoch 1500.0)
        return str(int(v)).replace("-", "−")
    r = _round_sig(v, sig)
    sign = "−" if r < 0 else ""
    a = abs(r)
    if 1e-3 <= a < 1e5:
        return sign + np.format_float_positional(a, trim="-")
    e = math.floor(math.log10(a))
    mant = _round_sig(a / 10.0**e, sig)
    if mant >= 10:  # 9.99996e4 rounds up to 10·10⁴
        mant, e = mant / 10, e + 1
    m = np.format_float_positional(mant, trim="-")
    return sign + (f"$10^{{{e}}}$" if m == "1" else rf"${m}\times10^{{{e}}}$")


_fmt = fmt  # its name before it was public


def _sym(dim: str) -> str:
    return _SYMBOLS.get(dim, dim)


def seed_count(da) -> int:
    """Number of seeds ``da`` averages over (1 without a seed dim)."""
    return int(da.sizes[SEED]) if SEED in getattr(da, "dims", ()) else 1


def describe_spread(mark: str = "error bars", *, seeds: int, within: str | None = None) -> str:
    """What a band or error bar shows, for its legend entry.

    ``within``: what the per-seed spread runs over when it is pooled with the seeds
    (:func:`seed_mean_spread`), e.g. "patterns and cues"; None: the spread is over seeds.

    >>> describe_spread("bands", seeds=2, within="patterns and cues")
    'bands: ±1 s.d. over patterns, cues and 2 seeds'
    >>> describe_spread(seeds=4), describe_spread(seeds=1)
    ('error bars: ±1 s.d. over 4 seeds', 'error bars: none (1 seed)')
    """
    if within:
        parts = within.split(" and ")
        if seeds > 1:
            return f"{mark}: ±1 s.d. over {', '.join(parts)} and {seeds} seeds"
        return f"{mark}: ±1 s.d. over {within} (1 seed)"
    if seeds > 1:
        return f"{mark}: ±1 s.d. over {seeds} seeds"
    return f"{mark}: none (1 seed)"


def spread_handle(text: str, kind: str = "bars"):
    """Legend entry for the spread: a grey error bar (``kind="bars"``) or band patch; the
    text alone when nothing is drawn ('error bars: none (1 seed)'). Long texts wrap."""
    none = ": none" in text
    text = textwrap.fill(text, width=34, break_on_hyphens=False)
    if none:
        return Line2D([], [], ls="none", label=text)
    if kind == "band":
        return Patch(facecolor="0.5", alpha=0.3, lw=0, label=text)
    line = Line2D([], [], color="0.35", marker="o", ms=3, ls="none")
    bars = LineCollection([], colors="0.35", linewidths=0.8)
    return ErrorbarContainer((line, (), (bars,)), has_xerr=False, has_yerr=True, label=text)


def curve_handle(label: str, *, marker: str | None = "o", **style) -> Line2D:
    """Legend entry of a curve drawn by :func:`error_bars` (or :func:`band`, ``marker=None``)."""
    if marker is not None:
        style = {"marker": marker, "ms": 3, **style}
    return Line2D([], [], label=label, **style)


def error_bars(ax, x, y, err=None, **style):
    """A curve with markers and ±``err`` error bars (none where ``err`` is None, zero
    or NaN). ``style``: line keywords (color, ls, label, ...)."""
    err = None if err is None else np.asarray(err, float)
    if err is not None and not np.any(np.nan_to_num(err) > 0):
        err = None
    return ax.errorbar(np.asarray(x, float), np.asarray(y, float), yerr=err, marker="o",
                       ms=3, capsize=2, elinewidth=0.8, **style)


def band(ax, x, y, err=None, *, clip=None, color=None, zorder=2, **style):
    """A line with a shaded ±``err`` band (alpha 0.2), clipped to ``clip`` = (lo, hi)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if err is not None:
        e = np.asarray(err, float)
        lo, hi = y - e, y + e
        if clip is not None:
            lo, hi = np.clip(lo, *clip), np.clip(hi, *clip)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0, zorder=zorder)
    return ax.plot(x, y, color=color, zorder=zorder + 1, **style)


def seed_stats(da: xr.DataArray, std: xr.DataArray | None = None, *, within: str | None = None,
               mark: str = "error bars"):
    """(mean, spread, legend text) over seeds: :func:`seed_mean_spread` with ``std`` (the
    per-seed spread over ``within``), else the std over seeds (ddof 0, NaN seeds skipped)."""
    text = describe_spread(mark, seeds=seed_count(da), within=within if std is not None else None)
    if std is not None:
        return (*seed_mean_spread(da, std), text)
    return (*_seed_mean_std(da), text)


def panels(nrows: int, ncols: int, *, width=3.2, height=2.6, extra_width=0.0, share=False,
           sharex=None, sharey=None):
    """A constrained-layout Figure and its (nrows, ncols) axes (``share``: both axes)."""
    fig = Figure(figsize=(width * ncols + extra_width, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False,
                        sharex=share if sharex is None else sharex,
                        sharey=share if sharey is None else sharey)
    return fig, axes


_RECORDERS: list[list] = []


@contextlib.contextmanager
def recording():
    """Collect ``(png path, Figure)`` of every figure saved inside the block (tests read
    their texts with :func:`figure_texts`)."""
    seen: list = []
    _RECORDERS.append(seen)
    try:
        yield seen
    finally:
        _RECORDERS.remove(seen)


def figure_texts(fig) -> list[str]:
    """Every visible text of a drawn figure: titles, labels, tick labels, legend entries."""
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _save(fig, stem) -> list[Path]:
    stem = Path(stem)
    if stem.suffix.lower() in (".png", ".pdf"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    # Not with_suffix: a stem like 'alpha_0.1' would lose its '.1'.
    paths = [stem.parent / f"{stem.name}.{ext}" for ext in ("png", "pdf")]
    for p in paths:  # atomically: a killed run or a full disk never leaves half a figure
        atomic_write(p, lambda tmp, ext=p.suffix[1:]: fig.savefig(tmp, dpi=150, format=ext))
    for seen in _RECORDERS:
        seen.append((paths[0], fig))
    return paths


def finish(fig, stem, *, handles=(), title: str = "", loc: str = "outside right center",
           ncols: int = 1) -> list[Path]:
    """The common ending: plain tick labels printed by :func:`fmt` (0, 0.5, 1 rather than
    0.0, 0.5, 1.0), one figure legend of ``handles`` (curves, reference lines and the
    :func:`spread_handle` saying what the bars are), the title, and the atomic PNG + PDF
    save (:func:`_save`). Returns the two paths."""
    handles = [h for h in handles if h is not None]
    for ax in fig.axes:  # colour bars included: every number in the figure printed by fmt
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(_TickLabels(log=False))
    if handles:
        fig.legend(handles=handles, loc=loc, ncols=ncols)
    if title:
        fig.suptitle(title)
    return _save(fig, stem)


# ---- log and epoch axes


class _LogTicks(Locator):
    """Ticks of a log (or symlog, positive side) axis from its view limits: labelled majors
    at 1, 2, 5 × 10^k over ≤ 1.5 decades (1..9 × 10^k or a linear step on shorter ones),
    at 10^k beyond (every other one or sparser past 5 decades); minors at the other
    n × 10^k. ``thresh``: the symlog linear threshold (a tick at 0 when the view has it)."""

    def __init__(self, thresh=None, minor=False):
        self.thresh, self.minor = thresh, minor

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((float(vmin), float(vmax)))
        zero = self.thresh is not None and lo <= 0 <= hi
        lo = max(lo, self.thresh if self.thresh is not None else 1e-300)
        out: list[float] = []
        if hi > lo > 0:
            majors = _log_majors(lo, hi)
            if self.minor:
                span = math.log10(hi / lo)
                out = [t for t in _decade_grid(lo, hi, range(1, 10)) if span <= 8
                       and not any(math.isclose(t, m, rel_tol=1e-6) for m in majors)]
            else:
                out = majors
        if zero and not self.minor:
            out = [0.0] + out
        return np.asarray(out, float)


def _decade_grid(lo, hi, subs) -> list[float]:
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    return [float(f"{m * 10.0**k:.12g}") for k in range(k0, k1 + 1) for m in subs
            if lo * (1 - 1e-9) <= m * 10.0**k <= hi * (1 + 1e-9)]


def _log_majors(lo, hi) -> list[float]:
    span = math.log10(hi / lo)
    if span > 1.5:  # 1-2-5 labels would crowd a 3 inch panel
        step = max(1, math.ceil(span / 5))  # at most ~6 labelled decades
        return [t for t in _decade_grid(lo, hi, (1,))
                if round(math.log10(t)) % step == 0]
    for subs in ((1, 2, 5), range(1, 10)):
        t = _decade_grid(lo, hi, subs)
        if len(t) >= 2:
            return t
    return [float(v) for v in MaxNLocator(4).tick_values(lo, hi) if lo <= v <= hi]


class _TickLabels(Formatter):
    """Tick labels by :func:`fmt` (0.5, not 0.50); on log axes (``log``) spanning more than
    3 decades (above the symlog threshold ``thresh``), powers of 10 as 10^k throughout."""

    def __init__(self, thresh=None, log=True):
        self.thresh, self.log = thresh, log

    def __call__(self, x, pos=None):
        if x == 0:
            return "0"
        if not self.log:
            return fmt(x, sig=3)
        lo, hi = sorted(float(v) for v in self.axis.get_view_interval())
        lo = max(lo, self.thresh or 0.0)
        wide = lo > 0 and hi > 0 and math.log10(hi / lo) > 3
        k = math.log10(abs(x))
        if wide and math.isclose(k, round(k), abs_tol=1e-9):
            return ("−" if x < 0 else "") + f"$10^{{{round(k)}}}$"
        return fmt(x, sig=3)


def log_axis(ax, values, which: str = "x") -> None:
    """Put ``which`` axis of ``ax`` on a readable log scale for ``values``: labelled major
    ticks (1, 2, 5 × 10^k on short ranges, 10^k on long ones, printed as 10^k past 3
    decades), unlabelled minor ticks, and — when ``values`` contain 0 (epoch 0, T = 0) — a
    symlog scale, linear below the smallest positive value, so the 0 point is drawn at 0
    instead of being dropped. Call it after plotting (or with every value to be shown)."""
    v = np.asarray(values, float).ravel()
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    axis = ax.xaxis if which == "x" else ax.yaxis
    set_scale = ax.set_xscale if which == "x" else ax.set_yscale
    thresh = None
    if pos.size and (v <= 0).any():
        thresh = float(pos.min())
        set_scale("symlog", linthresh=thresh, linscale=0.5)
    else:
        set_scale("log")
    axis.set_major_locator(_LogTicks(thresh))
    axis.set_minor_locator(_LogTicks(thresh, minor=True))
    axis.set_major_formatter(_TickLabels(thresh))
    axis.set_minor_formatter(NullFormatter())


def epoch_axis(ax, epochs, which: str = "x") -> None:
    """Axis for training epochs (0 = the initial couplings included): linear with integer
    ticks on short ranges (largest epoch ≤ 30 × the first positive one), else
    :func:`log_axis` (symlog when epoch 0 is among them)."""
    e = np.asarray(epochs, float)
    e = e[np.isfinite(e)]
    pos = e[e > 0]
    axis = ax.xaxis if which == "x" else ax.yaxis
    if pos.size >= 2 and pos.max() > 30 * pos.min():
        log_axis(ax, e, which)
        return
    axis.set_major_locator(MaxNLocator(nbins=6, integer=True, steps=[1, 2, 5, 10],
                                       min_n_ticks=2))
    axis.set_major_formatter(_TickLabels(log=False))


def _auto_scale(values) -> str:
    """'log' for a positive grid spanning ≥ 1 decade that is closer to geometric than to
    evenly spaced (α = 0.02 … 2), else 'linear'."""
    v = np.unique(np.asarray(values, float))
    if v.size < 3 or v[0] <= 0 or v[-1] < 10 * v[0]:
        return "linear"
    lin, log = np.diff(v), np.diff(np.log(v))
    return "log" if log.std() / log.mean() < lin.std() / lin.mean() else "linear"


def _apply_scale(ax, scale: str, values, which: str = "x") -> None:
    if scale == "log":
        log_axis(ax, values, which)
    else:
        (ax.set_xscale if which == "x" else ax.set_yscale)("linear")


# -------------------------------------------------------------------- helpers


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
    parts = [fmt(str(name))] if name else []
    if cfg.get("N") is not None:
        parts.append(f"$N$ = {fmt(cfg['N'])}")
    # grid dims with a single value label the whole figure, not every curve (see _facets),
    # and so do scalar coordinates left by a selection (epoch = 100 after isel(epoch=-1))
    fixed = [f"{_sym(d)} = {fmt(ds[d].values[0])}" for d in ds.dims
             if d != SEED and d in ds.coords and ds.sizes[d] == 1]
    fixed += [f"{_sym(str(c))} = {fmt(ds[c].values[()])}" for c in ds.coords
              if c != SEED and c not in ds.dims and ds[c].ndim == 0]
    return ", ".join(parts) + ("\n" + ", ".join(fixed) if fixed else "")


def _facets(da, skip) -> tuple[list[str], list[tuple[dict, str]]]:
    """Every combination of the dims of ``da`` not in ``skip``: (isel dict, label). Dims with
    a single value are left out of the labels (the figure title names them)."""
    dims = [d for d in da.dims if d not in skip]
    out = []
    for idx in itertools.product(*(range(da.sizes[d]) for d in dims)):
        isel = dict(zip(dims, idx))
        label = ", ".join(f"{_sym(d)} = {fmt(da[d].values[i])}" for d, i in isel.items()
                          if da.sizes[d] > 1)
        out.append((isel, label))
    return dims, out


def _lone_label(seeds: int) -> str:
    """Legend label of the only curve of a panel (no facet label to give it)."""
    return f"simulation, mean of {seeds} seeds" if seeds > 1 else "simulation"


def _style_for(styles: dict, label: str) -> dict:
    """The line style of ``label``, given on first use (``styles``: label -> style): a
    combination of dims looks the same in every panel of a figure."""
    k = len(styles)
    return styles.setdefault(label, {"color": f"C{k % 10}", "ls": _LINESTYLES[k // 10 % 4]})


def _grid_shape(dims, sizes, n: int) -> tuple[int, int]:
    # Two facet dims read best as a table (rows × columns); otherwise a near-square grid.
    if len(dims) == 2:
        return sizes[dims[0]], sizes[dims[1]]
    ncols = n if n <= 3 else math.ceil(math.sqrt(n))
    return math.ceil(n / ncols), ncols


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


def _padded(lo: float, hi: float, scale: str = "linear", frac: float = 0.05):
    """(lo, hi) widened by ``frac`` of the range (in log space on a log axis)."""
    if scale == "log" and lo > 0:
        a, b = math.log10(lo), math.log10(hi)
        d = frac * (b - a) or 0.05
        return 10 ** (a - d), 10 ** (b + d)
    d = frac * (hi - lo) or 0.05 * (abs(lo) or 1.0)
    return lo - d, hi + d


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
    if np.asarray(alphas).dtype.kind not in "iuf":  # labels (models, rules): no colour scale
        return None, [f"C{i % 10}" for i in range(len(alphas))]
    a = np.asarray(alphas, float)
    lo, hi = np.nanmin(a), np.nanmax(a)
    norm = Normalize(lo, hi if hi > lo else lo + 1)
    return norm, [_ALPHA_CMAP(norm(x)) for x in a]


# -------------------------------------------------------------------- figures

_DIAGONAL = {"ls": "--", "lw": 0.7, "color": "0.55"}
_REFERENCE = {"ls": ":", "lw": 1.0, "color": "0.3"}  # dotted reference lines (α_c, thresholds)


@styled
def retrieval_maps(ds: xr.Dataset, stem, *, var: str = "mf", curve: str = ALPHA) -> list[Path]:
    """Final overlap m_f against initial overlap m0, one curve per α (or per value of the
    dim ``curve``, e.g. ``"epoch"`` for maps along training).

    ``var`` is the variable prefix: 'mf' (``mf_mean``/``mf_std``) or 'feature_mf'.
    Curves are means over seeds; the band is :func:`seed_mean_spread` (clipped to
    [-1, 1], the range of an overlap): ±1 s.d. of m_f over every pattern (feature) and
    cue of every seed, which the legend says. One panel per combination of the other
    dims. Raises KeyError if ``<var>_mean`` is missing.
    """
    base = var.removesuffix("_mean")
    name = f"{base}_mean"
    if name not in ds or M0 not in ds[name].dims:
        raise KeyError(f"dataset has no {name!r} variable over {M0!r}")
    feature = base.startswith("feature")
    std = ds.get(f"{base}_std")
    spread_shown = std is not None or seed_count(ds[name]) > 1  # else no band to draw
    m, s, spread = seed_stats(ds[name], std, mark="bands",
                              within="features and cues" if feature else "patterns and cues")
    m, s = m.sortby(M0), s.sortby(M0)  # m0 may be stored descending
    has_alpha = curve in m.dims
    order = [curve, M0] if has_alpha else [M0]
    dims, facets = _facets(m, set(order))
    nrows, ncols = _grid_shape(dims, m.sizes, len(facets))
    alphas = m[curve].values if has_alpha else None
    norm, colours = _alpha_colours(alphas)
    use_legend = norm is None or len(colours) <= _MAX_LEGEND_CURVES

    x = m[M0].values.astype(float)
    lo, hi = float(np.min(x)), float(np.max(x))
    fig, axes = panels(nrows, ncols, extra_width=_LEGEND_WIDTH, share=True)
    used = _hide_unused(axes, len(facets))
    ymin = 0.0
    for ax, (isel, title) in zip(used, facets):
        mp = m.isel(isel).transpose(*order).values.reshape(len(colours), -1)
        sp = s.isel(isel).transpose(*order).values.reshape(len(colours), -1)
        ax.plot([lo, hi], [lo, hi], zorder=1, **_DIAGONAL)
        for y, e, c in zip(mp, sp, colours):
            band(ax, x, y, e if spread_shown else None, clip=(-1, 1), color=c)
        if np.isfinite(mp).any():
            ymin = min(ymin, float(np.nanmin(np.clip(mp - sp, -1, 1))))
        if title:
            ax.set_title(title)
        ax.set_xlim(lo, hi)
    used[0].set_ylim(ymin - 0.05, 1.05)  # shared: panels compare at a glance
    _label_outer(axes, len(facets), "initial overlap $m_0$",
                 f"final {'feature ' if feature else ''}overlap $m_f$")

    handles = []
    if has_alpha and use_legend:
        handles = [curve_handle(fmt(a) if norm is None else f"{_sym(curve)} = {fmt(a)}",
                                marker=None, color=c) for a, c in zip(alphas, colours)]
    elif has_alpha:
        fig.colorbar(ScalarMappable(norm, _ALPHA_CMAP), ax=used, label=_sym(curve))
    else:
        handles = [curve_handle(_lone_label(seed_count(ds[name])), marker=None, color=colours[0])]
    handles.append(curve_handle("$m_f = m_0$", marker=None, **_DIAGONAL))
    if spread_shown:
        handles.append(spread_handle(spread, "band"))
    return finish(fig, stem, handles=handles, title=_figure_title(ds))


def compare_maps(results: dict, stem, *, dim: str = "model", epoch: int | None = None,
                 title: str = "") -> list[Path]:
    """Retrieval maps of several results on shared panels, one curve per label of
    ``results`` ({label: dataset with mf_mean, mf_std over m0}; select a static dim such as
    ``rule`` first). Training results are read at their last recorded epoch (or ``epoch``).
    Every other dim (α, bias, ...) must have the same coordinates in all of them: one panel
    per combination (a mismatch raises, naming the dim)."""
    parts, N = [], set()
    for label, ds in results.items():
        d = ds[["mf_mean", "mf_std"]]
        if "epoch" in d.dims:
            d = d.isel(epoch=-1) if epoch is None else d.sel(epoch=epoch)
        parts.append(d.drop_vars([c for c in d.coords if c not in d.dims])
                     .expand_dims({dim: [label]}))
        N.add(_config(ds).get("N"))
    for d in parts[1:]:
        for name in set(d.dims) - {dim}:
            if name not in parts[0].dims or not np.array_equal(d[name].values,
                                                                parts[0][name].values):
                raise ValueError(f"compare_maps: the results differ in dim {name!r}")
    both = xr.concat(parts, dim)
    both.attrs = {"config": {"name": title, "N": N.pop() if len(N) == 1 else None}}
    return retrieval_maps(both, stem, curve=dim)


_CAPACITY_LABELS = {
    "mf_mean": "retrieval $m_f(m_0 = 1)$",
    "stable_fraction": "stable fraction",
    "basin_size": "basin (flipped fraction)",
}


@styled
def capacity_curves(ds: xr.Dataset, stem, *, prefix: str = "") -> list[Path]:
    """m_f(m0 = 1), stable_fraction and basin_size against α, side by side on one α axis.

    Panels appear for the variables present (``prefix='feature_'`` for the feature
    versions; m_f(1) only if the m0 grid contains 1). One line per combination of the
    other non-seed dims, each with a legend entry: mean over seeds, error bars ±1 s.d.
    over seeds (ddof 0; NaN seeds skipped, all-NaN points left as gaps; none with one
    seed), as the legend says. A dotted line marks Hebb's α_c ≈ 0.138 when it lies
    within the α grid. α is on a log axis when its grid is geometric over ≥ 1 decade.
    Returns [] when no panel applies.
    """
    found = []
    mf = ds.get(f"{prefix}mf_mean")
    if mf is not None and M0 in mf.dims:
        at1 = _at_m0(mf, exact=True)
        if at1 is not None:
            found.append((at1[0], "mf_mean"))
    for v in ("stable_fraction", "basin_size"):
        if f"{prefix}{v}" in ds:
            found.append((ds[f"{prefix}{v}"], v))
    found = [(da, v) for da, v in found if ALPHA in da.dims]
    if not found:
        return []
    seeds = max(seed_count(da) for da, _ in found)
    xs = np.unique(np.concatenate([da[ALPHA].values.astype(float) for da, _ in found]))
    scale = _auto_scale(xs)

    fig, axes = panels(1, len(found), extra_width=_LEGEND_WIDTH, sharex=True)
    styles: dict[str, dict] = {}  # same line style for a combination in every panel
    for ax, (da, v) in zip(axes[0], found):
        m, e = _seed_mean_std(da)
        m, e = m.sortby(ALPHA), e.sortby(ALPHA)
        x = m[ALPHA].values.astype(float)
        for isel, label in _facets(m, {ALPHA})[1]:
            error_bars(ax, x, m.isel(isel).values, e.isel(isel).values,
                       **_style_for(styles, label or _lone_label(seeds)))
        ax.set_xlabel(r"load $\alpha = P/N$")
        ax.set_ylabel(_CAPACITY_LABELS[v])
        # Bounded quantities: fixed headroom so markers at 0 or 1 are not clipped.
        low, high = (m - e).values, (m + e).values
        bottom = min(0.0, float(np.nanmin(low)) if np.isfinite(low).any() else 0.0) - 0.03
        top = float(np.nanmax(high)) if np.isfinite(high).any() else 0.0
        ax.set_ylim(bottom, 1.03 if v != "basin_size" else max(top, 0.1) + 0.03)
        if v == "basin_size" and np.isnan(m.values).any():  # say why points are missing
            ax.text(0.97, 0.96, "no point: no $m_0$ retrieves\n($m_f < 0.95$ from every $m_0$)",
                    transform=ax.transAxes, ha="right", va="top", fontsize=7, color="0.3")
    # one α axis for every panel: a panel whose last points are NaN keeps the full range
    _apply_scale(axes[0, 0], scale, xs)
    xlim = _padded(xs.min(), xs.max(), scale)
    axes[0, 0].set_xlim(*xlim)
    handles = [curve_handle(lab, **st) for lab, st in styles.items()]
    if xs.min() <= AGS_ALPHA_C <= xs.max():  # only where it says something about the data
        for ax in axes[0]:
            ax.axvline(AGS_ALPHA_C, zorder=0, **_REFERENCE)
        handles.append(curve_handle(rf"Hebb $\alpha_c$ = {fmt(AGS_ALPHA_C)} (AGS)",
                                    marker=None, **_REFERENCE))
    handles.append(spread_handle(describe_spread("error bars", seeds=seeds)))
    title = _figure_title(ds)
    if prefix:  # the hidden features of random-features data (the labels stay short)
        title = "hidden features: " + title
    return finish(fig, stem, handles=handles, title=title)


_Y_LABELS = {ALPHA_D: r"correlation $\alpha_D = D/N$", "T": "temperature $T$"}
_VAR_LABELS = {"mf_mean": "$m_f$", "stable_fraction": "stable fraction",
               "basin_size": "basin size", "fixed_point": "fixed-point fraction"}


def _var_label(var: str) -> str:
    feature = var.startswith("feature_")
    base = var.removeprefix("feature_")
    return ("feature " if feature else "") + _VAR_LABELS.get(base, base.replace("_", " "))


@styled
def phase_diagram(ds: xr.Dataset, stem, *, var: str = "stable_fraction", y: str = ALPHA_D,
                  lines=None, boundaries=None, levels=None, xscale: str = "auto",
                  yscale: str = "auto") -> list[Path]:
    """Heat map of a scalar ``var`` over (α, ``y``), mean over seeds; ``y`` is α_D by
    default, or any other numeric dim, e.g. ``"T"`` for the AGS (α, T) diagram.

    Variables over m0 are taken at m0 = 1 (at the largest m0 if 1 is not on the grid,
    which the colour-bar label then says, as it says the number of seeds averaged). One
    panel per combination of the other dims, one shared colour scale; NaN cells are
    grey. Returns [] unless ``var`` has both α and a ``y`` dim with at least 2 values.
    Raises KeyError if ``var`` is missing.

    lines: optional ``{label: (x, y)}`` curves drawn on every panel in data coordinates
      (α, then ``y``; e.g. theory lines), with a legend.
    boundaries: optional list of ``(label, y_values, alpha_values)``: curves α(y) such as
      the replica-symmetric storage and learning thresholds α_s(α_D), α_l(α_D) of the
      random-features model, drawn and listed like ``lines``; or ``(label, f)`` with f a
      vectorised α(y), evaluated on 64 points across the panel (e.g.
      ``("storage $\\alpha_s$", hopjax.theory.rf_storage_threshold)``). Infinite α (no
      threshold) is left out of the line.
    levels: optional contour levels of the plotted (seed-mean) values, drawn in white
      on every panel (e.g. 0.5 for a stable fraction), with a legend entry.
    xscale, yscale: ``"linear"``, ``"log"`` (cells centred in log space; the coordinates
      must be positive) or ``"auto"`` (log for a geometric grid over ≥ 1 decade).
    """
    for name, scale in (("xscale", xscale), ("yscale", yscale)):
        if scale not in ("linear", "log", "auto"):
            raise ValueError(f"{name} must be 'linear', 'log' or 'auto'; got {scale!r}")
    if var not in ds:
        raise KeyError(f"dataset has no {var!r} variable")
    da = ds[var]
    if ALPHA not in da.dims or y == ALPHA or da.sizes.get(y, 0) < 2:
        return []
    label = _var_label(var)
    if M0 in da.dims:
        da, m0 = _at_m0(da, exact=False)
        label += f" ($m_0$ = {fmt(m0)})"
    seeds = seed_count(da)
    # on its own line: a colour bar is as tall as the panels, a long label would be clipped;
    # without a seed dim the caller averaged (or not) already: say nothing
    if SEED in da.dims:
        label += f"\nmean of {seeds} seeds" if seeds > 1 else "\n1 seed"
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
    xscale = _auto_scale(xc) if xscale == "auto" else xscale
    yscale = _auto_scale(yc) if yscale == "auto" else yscale
    xe, ye = _edges(xc, xscale == "log"), _edges(yc, yscale == "log")
    curves = [(str(lab), np.asarray(lx, float), np.asarray(ly, float))
              for lab, (lx, ly) in (lines or {}).items()]
    for item in boundaries or []:
        if len(item) == 2 and callable(item[1]):  # (label, alpha(y)): drawn over the panel
            yy = (np.geomspace(ye[0], ye[-1], 64) if yscale == "log"
                  else np.linspace(ye[0], ye[-1], 64))
            yy = yy[yy > 0] if y == ALPHA_D else yy  # α_D = D/N > 0
            item = (item[0], yy, item[1](yy))
        lab, ly, la = item
        la = np.asarray(la, float)
        curves.append((str(lab), np.where(np.isfinite(la), la, np.nan), np.asarray(ly, float)))
    styles = [{"color": f"C{(k + 1) % 10}", "ls": _LINESTYLES[k % 4], "lw": 1.4}
              for k in range(len(curves))]
    contour = {"colors": "white", "linewidths": 1.0,
               "path_effects": [patheffects.withStroke(linewidth=2.2, foreground="0.3")]}
    fig, axes = panels(nrows, ncols, width=3.0, height=2.6, extra_width=0.8, share=True)
    used = _hide_unused(axes, len(facets))
    for ax, (isel, title) in zip(used, facets):
        z = m.isel(isel).transpose(y, ALPHA).values
        mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(z), cmap=cmap, vmin=vmin, vmax=vmax,
                             shading="flat", rasterized=True)  # rasterized: small PDFs
        if levels is not None and z.shape[0] >= 2 and z.shape[1] >= 2 and np.isfinite(z).any():
            ax.contour(xc, yc, np.ma.masked_invalid(z), levels=np.atleast_1d(levels), **contour)
        for (_, lx, ly), st in zip(curves, styles):
            ax.plot(lx, ly, **st)
        if title:
            ax.set_title(title)
    # panels share both axes: scales and ticks set once
    for c, which, scale in ((xc, "x", xscale), (yc, "y", yscale)):
        axis = used[0].xaxis if which == "x" else used[0].yaxis
        _apply_scale(used[0], scale, c, which)
        # Few grid values: tick the cell centres themselves, not the interpolated edges.
        if len(c) <= (10 if scale == "log" else 6):  # a log axis has few labelled decades
            axis.set_ticks(c, [fmt(v) for v in c])
            axis.set_minor_locator(NullLocator())
    used[0].set_xlim(xe[0], xe[-1])  # lines beyond the grid must not stretch the axes
    used[0].set_ylim(ye[0], ye[-1])
    _label_outer(axes, len(facets), r"load $\alpha = P/N$", _Y_LABELS.get(y, _sym(y)))
    fig.colorbar(mesh, ax=used, label=label)
    handles = [curve_handle(lab, marker=None, **st) for (lab, _, _), st in zip(curves, styles)]
    if levels is not None:
        lv = ", ".join(fmt(v) for v in np.atleast_1d(levels))
        handles.append(curve_handle(f"contour {_var_label(var)} = {lv}", marker=None,
                                    color="white", lw=1.0,
                                    path_effects=contour["path_effects"]))
    # below the panels, side by side while short (a row wider than the figure is cut off)
    width = sum(len(h.get_label()) for h in handles) * 0.065 + 0.4 * len(handles)
    ncols = max(1, min(len(handles), 3)) if width < fig.get_figwidth() else 1
    return finish(fig, stem, handles=handles, title=_figure_title(ds),
                  loc="outside lower center", ncols=ncols)


def plot_all(ds: xr.Dataset, outdir, *, phase_lines=None) -> list[Path]:
    """Every figure that applies to ``ds``, written under ``outdir``; returns the files.

    ``retrieval_map`` if m0 has ≥ 2 values; ``capacity`` if α has ≥ 2 values;
    ``phase_<var>`` for stable_fraction, mf_mean and basin_size if α_D has ≥ 2 values;
    each also with the ``feature_`` prefix when those variables are present; and
    ``phase_T_<var>`` (the (α, T) heat map of mf_mean, stable_fraction) if T has ≥ 2 values.
    ``phase_lines``: optional ``[(label, alpha_D values, alpha values), ...]`` or
    ``[(label, f), ...]`` (f: α(α_D), vectorised) drawn on every (α, α_D) diagram
    (``boundaries`` of :func:`phase_diagram`), e.g. the random-features theory lines:
    ``plot_all(ds, out, phase_lines=[("RS storage $\\alpha_s$", theory.rf_storage_threshold)])``.
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
                    written += phase_diagram(ds, outdir / f"phase_{v}", var=v,
                                             boundaries=phase_lines)
        if n("T", 0) >= 2:
            for v in (f"{prefix}mf_mean", f"{prefix}stable_fraction"):
                if v in ds:
                    written += phase_diagram(ds, outdir / f"phase_T_{v}", var=v, y="T")
    return written


@styled
def training_curves(ds: xr.Dataset, stem) -> list[Path]:
    """Daydreaming convergence (Serricchio et al. 2025, Fig. 1): τ‖ΔJ‖ per step,
    ‖J − J_Hebb‖/‖J_Hebb‖ and the fraction of stored patterns that are fixed points against
    training epochs (epoch 0: the initial couplings), one line per combination of the
    other dims (mean over seeds, error bars ±1 s.d. over seeds, as the legend says):
    stationarity shows as flat curves. The epoch axis is :func:`epoch_axis` (linear on
    short ranges, symlog with epoch 0 otherwise). Returns [] without those variables."""
    names = [v for v in ("tau_delta", "dist_hebb", "stable_fraction")
             if v in ds and "epoch" in ds[v].dims]
    if not {"tau_delta", "dist_hebb"} & set(names):
        return []
    labels = {"tau_delta": r"$\tau\,\|\Delta J\|$ per step",
              "dist_hebb": r"$\|J - J_{Hebb}\| / \|J_{Hebb}\|$",
              "stable_fraction": "patterns that are fixed points"}
    seeds = seed_count(ds[names[0]])
    fig, axes = panels(1, len(names), extra_width=_LEGEND_WIDTH, sharex=True)
    styles: dict[str, dict] = {}
    for ax, v in zip(axes[0], names):
        m, e = _seed_mean_std(ds[v])
        x = m["epoch"].values.astype(float)
        for isel, label in _facets(m, {"epoch"})[1]:
            error_bars(ax, x, m.isel(isel).values, e.isel(isel).values,
                       **_style_for(styles, label or _lone_label(seeds)))
        ax.set_xlabel("epoch")
        ax.set_ylabel(labels[v])
    epoch_axis(axes[0, 0], ds["epoch"].values)
    handles = [curve_handle(lab, **st) for lab, st in styles.items()]
    handles.append(spread_handle(describe_spread("error bars", seeds=seeds)))
    return finish(fig, stem, handles=handles, title=_figure_title(ds))


@styled
def generalisation_curves(ds: xr.Dataset, stem) -> list[Path]:
    """MNIST (Serricchio et al. 2025, Fig. 4): final overlap from m0 = 1 against α for
    training examples (with themselves), unseen test images (with themselves) and both with
    their class prototype, and (``proto_mf``, when measured; the paper's green dotted curve)
    of the 10 class prototypes started at themselves; one panel per combination of the other
    dims. Means over seeds, error bars ±1 s.d. over seeds (the legend says so). [] without
    them."""
    # (variable, label, style): colours fixed per curve, so a curve missing from older
    # results shifts no other's colour
    curves = [("proto_mf", "start at prototype → prototype", dict(color="C2", ls=":")),
              ("test_mf", "test images", dict(color="C1")),
              ("train_proto", "train → prototype", dict(color="C4")),
              ("test_proto", "test → prototype", dict(color="C3"))]
    if not all(v in ds for v in ("test_mf", "train_proto", "test_proto")) or ALPHA not in ds.dims:
        return []
    series = []
    at1 = _at_m0(ds["mf_mean"], exact=True) if "mf_mean" in ds else None
    if at1 is not None:
        series.append((at1[0], "training examples", dict(color="C0")))
    series += [(ds[v], label, style) for v, label, style in curves if v in ds]
    first = _seed_mean_std(series[0][0])[0]
    dims, facets = _facets(first, {ALPHA})
    nrows, ncols = _grid_shape(dims, first.sizes, len(facets))
    fig, axes = panels(nrows, ncols, extra_width=_LEGEND_WIDTH, share=True)
    used = _hide_unused(axes, len(facets))
    for ax, (isel, title) in zip(used, facets):
        for da, _, style in series:
            m, e = _seed_mean_std(da)
            m, e = m.sortby(ALPHA), e.sortby(ALPHA)
            error_bars(ax, m[ALPHA].values, m.isel(isel).values, e.isel(isel).values, **style)
        if title:
            ax.set_title(title)
    log_axis(used[0], ds[ALPHA].values)
    _label_outer(axes, len(facets), r"load $\alpha = P/N$", "final overlap from $m_0 = 1$")
    handles = [curve_handle(label, **style) for _, label, style in series]
    handles.append(spread_handle(describe_spread(
        "error bars", seeds=max(seed_count(da) for da, _, _ in series))))
    return finish(fig, stem, handles=handles, title=_figure_title(ds))


@styled
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
    return finish(fig, path)


# -------------------------------------------------------------------- dense memories


@styled
def dense_capacity_curves(ds: xr.Dataset, stem, *, var: str = "retrieved", m0: float = 1.0,
                          threshold: float | None = 0.95) -> list[Path]:
    """Dense memories (``dense`` experiment): ``var`` (at ``m0`` if it runs over m0) against
    the number of stored patterns P on a log axis, one panel per memory, one line per N
    (mean over seeds, error bars ±1 s.d. over seeds, as the legend says; unmeasured
    (memory, N) blocks skipped). A dotted line marks ``threshold`` (the capacity
    criterion). Returns [] without ``var`` or ``P``."""

    if var not in ds or "P" not in ds or "memory" not in ds.dims:
        return []
    da = ds[var]
    if M0 in da.dims:
        da = da.sel({M0: m0}, method="nearest")
    m, e = _seed_mean_std(da)
    P = ds["P"].isel({SEED: 0}) if SEED in ds["P"].dims else ds["P"]
    mems = ds["memory"].values
    nrows, ncols = _grid_shape([], {}, len(mems))
    fig, axes = panels(nrows, ncols, extra_width=0.3)
    used = _hide_unused(axes, len(mems))
    ylabel = _var_label(var) + (f" ($m_0$ = {fmt(m0)})" if M0 in ds[var].dims else "")
    for ax, mem in zip(used, mems):
        Ns = [N for N in ds["N"].values if np.isfinite(P.sel(memory=mem, N=N).values).all()]
        colours = _alpha_colours(np.log(np.asarray(Ns, float)) if Ns else None)[1]
        xs = []
        for N, c in zip(Ns, colours):
            x = P.sel(memory=mem, N=N).values.astype(float)
            order = np.argsort(x)
            xs.append(x)
            error_bars(ax, x[order], m.sel(memory=mem, N=N).values[order],
                       e.sel(memory=mem, N=N).values[order], color=c, label=f"$N$ = {fmt(N)}")
        if threshold is not None:
            ax.axhline(threshold, zorder=0, **_REFERENCE)
        if xs:
            log_axis(ax, np.concatenate(xs))
        low = (m - e).values  # fractions: from 0, or zoomed in when all stay near 1
        lo = float(np.nanmin(low)) if np.isfinite(low).any() else 0.0
        lo = max(0.0, lo - 0.05 * (1.0 - lo))
        ax.set_ylim(lo - 0.03 * (1.0 - lo), 1.0 + 0.03 * (1.0 - lo))
        ax.set_title(fmt(mem))
        ax.set_xlabel("stored patterns $P$")
        if Ns:
            ax.legend(loc="lower left")
    for ax in used[::ncols]:
        ax.set_ylabel(ylabel)
    handles = []
    if threshold is not None:
        handles.append(curve_handle(f"capacity criterion {fmt(threshold)}", marker=None,
                                    **_REFERENCE))
    handles.append(spread_handle(describe_spread("error bars", seeds=seed_count(da))))
    return finish(fig, stem, handles=handles, title=_figure_title(ds),
                  loc="outside lower center", ncols=len(handles))


@styled
def capacity_scaling(pc: xr.DataArray, fits: dict, stem, *, title: str = "") -> list[Path]:
    """Capacity P_c against N (dims ``memory``, ``N``; NaN = not measured): polynomial
    memories on log-log axes with their fitted power laws (legend: slope, Krotov & Hopfield
    2016 predict a − 1), the exponential memory (label ``exp``) on log-linear axes with its
    fitted 2^(slope·N). ``fits``: label -> (slope, intercept) as from
    `hopjax.dense_capacity.scaling_fits`. Returns [] when nothing was measured."""

    mems = [str(v) for v in pc["memory"].values]
    measured = [x for x in mems if np.isfinite(pc.sel(memory=x).values).any()]
    groups = [g for g in ([x for x in measured if x != "exp"], [x for x in measured if x == "exp"])
              if g]
    if not groups:
        return []
    N = pc["N"].values.astype(float)
    fig, axes = panels(1, len(groups), extra_width=_LEGEND_WIDTH)
    handles = []
    for ax, group in zip(axes[0], groups):
        ys = []
        for label in group:
            y = pc.sel(memory=label).values
            ok = np.isfinite(y)
            if not ok.any():
                continue
            colour = f"C{mems.index(label) % 10}"
            slope, icept = fits.get(label, (np.nan, np.nan))
            x = np.linspace(N[ok].min(), N[ok].max(), 50)
            if label == "exp":
                fit = 2.0 ** (icept + slope * x)
                text = f"{fmt(label)}: $P_c \\propto 2^{{{fmt(slope, 3)}\\,N}}$"
            else:
                fit, text = np.exp(icept) * x**slope, f"{fmt(label)}: slope {fmt(slope, 3)}"
            ax.plot(N[ok], y[ok], "o", ms=4, color=colour)
            ys.append(y[ok])
            fitted = np.isfinite(slope)
            if fitted:
                ax.plot(x, fit, "-", lw=1.0, color=colour)
                ys.append(fit)
            else:
                text = f"{fmt(label)}: too few $P_c$ to fit"
            handles.append(curve_handle(text, color=colour, ms=4, ls="-" if fitted else "none",
                                        lw=1.0))
        if ys:
            log_axis(ax, np.concatenate(ys), "y")
        if group[0] != "exp":
            log_axis(ax, N)
        else:
            n = N[np.isfinite(pc.sel(memory="exp").values)]
            if n.max() - n.min() < 4:  # one or two N: integer ticks need some room
                ax.set_xlim(n.min() - 2, n.max() + 2)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.set_xlabel("$N$")
        ax.set_ylabel("capacity $P_c$")
    # outside: the fitted lines cross the whole panel
    return finish(fig, stem, handles=handles,
                  title="dense memories: capacity against $N$" + (f" ({title})" if title else ""))


@styled
def threshold_scaling(series: dict, stem, *, ylabel: str, title: str = "") -> list[Path]:
    """A threshold against 1/N with its N → ∞ fit (`hopjax.finite_size.extrapolate`).

    ``series``: label -> {"N", "value", "err" (standard errors, NaN for one seed), "fit"
    (the extrapolate dict, or None)}. Each series: the measured points with error bars, the
    fitted line α(∞) + b/N from 1/N = 0 and the limit at 0 with its error bar (legend:
    the limit ± error). The top axis names the sizes."""
    fig, axes = panels(1, 1, width=4.2, height=3.0, extra_width=_LEGEND_WIDTH)
    ax = axes[0][0]
    handles, sizes = [], set()
    for k, (label, s) in enumerate(series.items()):
        colour = f"C{k % 10}"
        N = np.asarray(s["N"], float)
        y, err = np.asarray(s["value"], float), np.asarray(s["err"], float)
        ok = np.isfinite(y)
        sizes |= set(N[ok].astype(int).tolist())
        error_bars(ax, 1.0 / N[ok], y[ok], err[ok], color=colour, ls="none")
        fit, text = s.get("fit"), label
        if fit is not None and np.isfinite(fit["alpha_inf"]):
            x = np.linspace(0.0, 1.0 / N[ok].min(), 20)
            ax.plot(x, fit["alpha_inf"] + fit["slope"] * x, "-", lw=1.0, color=colour)
            limit_err = fit["alpha_inf_err"] if np.isfinite(fit["alpha_inf_err"]) else None
            error_bars(ax, [0.0], [fit["alpha_inf"]], None if limit_err is None else [limit_err],
                       color=colour, ls="none", mfc="white")
            shown_err = f" ± {fmt(limit_err, 2)}" if limit_err is not None else ""
            text = f"{label}: $N \\to \\infty$ {fmt(fit['alpha_inf'], 3)}{shown_err}"
        handles.append(curve_handle(text, color=colour, ms=3, ls="-", lw=1.0))
    ax.set_xlabel("$1/N$")
    ax.set_ylabel(ylabel)
    right = ax.get_xlim()[1]
    ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= right])
    ax.set_xlim(-0.02 * right, right)
    top = ax.secondary_xaxis("top", functions=(lambda x: x, lambda x: x))
    top.set_xticks([1.0 / n for n in sorted(sizes)], [str(n) for n in sorted(sizes)])
    top.set_xlabel("$N$")
    handles.append(spread_handle("error bars: ±1 s.e. over seeds; open: fitted limit"))
    return finish(fig, stem, handles=handles, title=title)


# -------------------------------------------------------------------- MNIST prototypes


@styled
def prototype_training_curves(ds: xr.Dataset, stem) -> list[Path]:
    """MNIST prototype classification (``prototypes`` experiment; Serricchio et al. 2025):
    monitored test accuracy and spurious fraction of Daydreaming on the 10 prototypes
    against the training epoch (epoch 0: Hebb), mean over seeds with ±1 s.d. error bars
    (the legend says so). Returns [] without Daydreaming's ``curve_accuracy``."""
    if "curve_accuracy" not in ds or "daydreaming" not in ds["model"].values.tolist():
        return []
    d = ds.sel(model="daydreaming")
    fig, axes = panels(1, 1, width=3.6, height=2.8, extra_width=1.9)
    ax = axes[0, 0]
    handles = []
    for k, (var, label) in enumerate((("curve_accuracy", "accuracy"),
                                      ("curve_spurious", "spurious"))):
        m, s, spread = seed_stats(d[var])
        error_bars(ax, m["epoch"].values, m.values, s.values, color=f"C{k}")
        handles.append(curve_handle(label, color=f"C{k}"))
    handles.append(spread_handle(spread))
    epoch_axis(ax, ds["epoch"].values)
    ax.set_xlabel("epoch (0: Hebb)")
    ax.set_ylabel("% of monitored test images")
    N = _config(ds).get("N")
    title = "Daydreaming on the 10 prototypes" + (f", $N$ = {fmt(N)}" if N is not None else "")
    return finish(fig, stem, handles=handles, title=title)
