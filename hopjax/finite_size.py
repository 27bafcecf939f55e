"""Finite-size scaling: one config run at several N, a threshold load read off each, and its
N → ∞ limit.

A sweep's shapes depend on N, so N is not a grid dim: a config's ``sizes:`` field (or
`run_sizes`) runs the same config at each N (its own store per N, so every size resumes on
its own; ``hopjax run`` and ``hopjax submit`` run them all). `threshold_load` reads where
a curve against α crosses a level (e.g. the load where half the patterns are fixed points),
per seed, and `extrapolate` fits α(N) = α_∞ + b/N through the sizes, weighted by the seeds'
spread, the standard leading finite-size correction of a mean-field threshold.
"""

from __future__ import annotations

import pathlib

import numpy as np
import xarray as xr

__all__ = ["size_configs", "size_dir", "run_sizes", "crossing_load", "threshold_load", "seed_mean",
           "summary", "extrapolate"]


def size_configs(cfg, sizes=None) -> dict:
    """{N: config} of ``cfg`` at each size (`hopjax.config.size_configs`; default: its
    ``sizes:`` field)."""
    from hopjax.config import size_configs as expand

    return expand(cfg, sizes)


def size_dir(cfg, out, n: int) -> pathlib.Path:
    """Where size ``n`` of ``cfg`` is stored: ``<out>/N<n>`` (default ``results/<name>/N<n>``)."""
    return pathlib.Path(out if out is not None else pathlib.Path("results") / cfg.name) / f"N{n}"


def run_sizes(cfg, sizes=None, out=None, **run_kw) -> dict[int, pathlib.Path | None]:
    """Run ``cfg`` at each size (`size_configs`; default its ``sizes:`` field) into
    `size_dir` ``/results.nc``; returns {N: results path}, None for a size whose other
    shards' chunks are still missing. Each size resumes on its own; ``run_kw`` go to
    `hopjax.run.run_sweep` (``shard=(i, n)`` runs one shard of every size)."""
    from hopjax.run import run_sweep

    cfgs = size_configs(cfg, sizes)
    return {n: run_sweep(c, size_dir(cfg, out, n), **run_kw).path for n, c in cfgs.items()}


def crossing_load(alpha, y, level: float) -> float:
    """The load where y(α) first falls below ``level``, interpolated linearly between the two
    loads around it (α taken increasing). NaN when y starts below the level, never falls
    below it, or holds a NaN."""
    alpha, y = np.asarray(alpha, float), np.asarray(y, float)
    order = np.argsort(alpha)
    alpha, y = alpha[order], y[order]
    if not np.all(np.isfinite(y)):
        return np.nan
    below = np.flatnonzero(y < level)
    if below.size == 0 or below[0] == 0:
        return np.nan
    k = below[0]
    t = (y[k - 1] - level) / (y[k - 1] - y[k])
    return float(alpha[k - 1] + t * (alpha[k] - alpha[k - 1]))


def threshold_load(ds: xr.Dataset, var: str = "stable_fraction", level: float = 0.5, *,
                   epoch=None, m0: float | None = None) -> xr.DataArray:
    """Per seed, the load α where ``var`` falls below ``level`` (`crossing_load`), at the
    last recorded epoch, or at ``epoch``: one record, or several (e.g. the stationary part
    of training, [200, 250, 300]) whose mean is taken first, which averages out the
    fluctuations of a stationary state. For variables over m0, at ``m0`` (nearest; default
    1). Other dims than seed and alpha must have length one."""
    da = ds[var]
    if "epoch" in da.dims:
        if epoch is None:
            da = da.isel(epoch=-1)
        elif np.ndim(epoch) == 0:
            da = da.sel(epoch=epoch)
        else:
            da = da.sel(epoch=list(epoch)).mean("epoch")
    if "m0" in da.dims:
        da = da.sel(m0=1.0 if m0 is None else m0, method="nearest")
    extra = [d for d in da.dims if d not in ("seed", "alpha")]
    if any(da.sizes[d] != 1 for d in extra):
        raise ValueError(f"threshold_load: dims {extra} must have length 1 (select first)")
    da = da.squeeze(extra, drop=True).transpose("seed", "alpha")
    a = da["alpha"].values
    return xr.DataArray([crossing_load(a, row, level) for row in da.values], dims=("seed",),
                        coords={"seed": da["seed"].values}, name=f"alpha_{var}_{level:g}")


def seed_mean(values) -> tuple[float, float]:
    """(mean, standard error) over the finite values (seeds) of ``values``; the error is NaN
    for fewer than two."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return np.nan, np.nan
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan)


def summary(paths: dict, var: str = "stable_fraction", level: float = 0.5, *, epoch=None,
            m0: float | None = None) -> dict:
    """The threshold of each size and its N → ∞ limit, from {N: results path} (`run_sizes`)
    or {N: dataset} (e.g. a selection, or `hopjax.io.load_partial` of a sweep still running):
    {"N", "value" (mean over seeds of `threshold_load`), "err" (its standard error), "seeds"
    (how many crossed), "fit" (`extrapolate` through the sizes with a value, weighted by
    their errors when every size has one; None for fewer than two sizes)}."""
    from hopjax.io import load

    rows = []
    for n in sorted(paths):
        ds = paths[n] if isinstance(paths[n], xr.Dataset) else load(paths[n])
        a = threshold_load(ds, var, level, epoch=epoch, m0=m0).values
        rows.append((n, *seed_mean(a), int(np.isfinite(a).sum())))
    N, value, err, seeds = (np.array(c) for c in zip(*rows))
    ok = np.isfinite(value)
    fit = None
    if ok.sum() >= 2:
        weighted = ok.sum() >= 3 and np.all(np.isfinite(err[ok]) & (err[ok] > 0))
        fit = extrapolate(N[ok], value[ok], err[ok] if weighted else None)
    return {"N": N, "value": value, "err": err, "seeds": seeds, "fit": fit}


def extrapolate(N, alpha, err=None) -> dict:
    """Least-squares fit α(N) = α_∞ + b/N (weights 1/err² when given): {"alpha_inf",
    "alpha_inf_err", "slope", "slope_err"}, standard errors from the fit's covariance
    (scaled by the residuals when ``err`` is None). Needs three sizes or more for an error
    bar (two give the line through them and NaN errors)."""
    N, alpha = np.asarray(N, float), np.asarray(alpha, float)
    X = np.stack([np.ones_like(N), 1.0 / N], axis=1)
    w = np.ones_like(N) if err is None else 1.0 / np.maximum(np.asarray(err, float), 1e-12) ** 2
    A = X.T @ (w[:, None] * X)
    coef = np.linalg.solve(A, X.T @ (w * alpha))
    dof = len(N) - 2
    if dof <= 0:
        cov = np.full((2, 2), np.nan)
    else:
        cov = np.linalg.inv(A)
        if err is None:  # unknown errors: scale by the residual variance
            cov = cov * float(np.sum(w * (alpha - X @ coef) ** 2) / dof)
    return {"alpha_inf": float(coef[0]), "alpha_inf_err": float(np.sqrt(cov[0, 0])),
            "slope": float(coef[1]), "slope_err": float(np.sqrt(cov[1, 1]))}
