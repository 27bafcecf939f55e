"""Capacity of dense associative memories read from the ``dense`` experiment's results.

Pure functions of the stored dataset (dims ``memory``, ``N``, ``seed``, ``load``, inner dim
``m0``; variables such as ``retrieved``, ``bit_stability`` and ``P``, the number of stored
patterns): `capacity` reads the capacity P_c per (memory, N) off the curves, `crossing` is the
interpolation it uses, `scaling_fits` fits how P_c grows with N and `capacity_table` gathers
both for every criterion of `CRITERIA`.

Krotov & Hopfield, "Dense associative memory for pattern recognition" (NeurIPS 2016): a
polynomial F(x) = x^a stores P_c ∝ N^(a−1) patterns. Demircigil, Heusel, Löwe, Upgang,
Vermet, J. Stat. Phys. 168 (2017): F(x) = e^x stores a number exponential in N.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from hopjax.finite_size import crossing_load

__all__ = ["CAPACITY_THRESHOLD", "CRITERIA", "capacity", "capacity_table", "crossing",
           "scaling_fits"]

CAPACITY_THRESHOLD = 0.95  # P_c: largest P with this fraction of patterns retrieved

# name -> (variable, m0, threshold) of a capacity criterion
CRITERIA = {
    # exact retrieval: ≥ 95 % of the patterns are fixed points (P_c ∝ N^(a−1) / log N: every
    # one of the N spins must be stable)
    "patterns": ("retrieved", 1.0, CAPACITY_THRESHOLD),
    # ≤ 1 % of the pattern spins against their drive: Krotov & Hopfield's fixed error
    # probability, P_c ∝ N^(a−1) without the log
    "spins": ("bit_stability", 1.0, 0.99),
}


def capacity(ds: xr.Dataset, var: str = "retrieved", m0: float = 1.0,
             threshold: float = CAPACITY_THRESHOLD) -> xr.DataArray:
    """P_c (memory, N): the largest P at which the seed mean of ``var`` (at ``m0`` for
    variables over m0) is still >= ``threshold``, interpolated linearly in log P to the first
    crossing below it (`crossing`). NaN where the curve starts below the threshold or never
    crosses it (the capacity lies outside the load grid) and for blocks that were not
    measured."""
    da = ds[var]
    if "m0" in da.dims:
        da = da.sel(m0=m0, method="nearest")
    y = da.mean("seed").transpose("memory", "N", "load").values
    P = ds["P"].isel(seed=0).transpose("memory", "N", "load").values
    out = np.full(y.shape[:2], np.nan)
    for i, j in np.ndindex(out.shape):
        out[i, j] = crossing(P[i, j], y[i, j], threshold)
    return xr.DataArray(out, dims=("memory", "N"),
                        coords={"memory": ds["memory"].values, "N": ds["N"].values},
                        name="P_c")


def crossing(P, y, threshold: float) -> float:
    """Where the curve y(P) first falls below ``threshold``, interpolated linearly in log P
    between the two loads around it (points taken in increasing P): `hopjax.finite_size.
    crossing_load` on log P. NaN if any value is not finite, if the curve starts below the
    threshold or if it never falls below it."""
    P = np.asarray(P, float)
    if not np.all(np.isfinite(P)) or np.any(P <= 0):
        return np.nan
    return float(np.exp(crossing_load(np.log(P), y, threshold)))


def scaling_fits(pc: xr.DataArray) -> dict[str, tuple[float, float]]:
    """Per memory, (slope, intercept) of a least-squares line through its measured P_c:
    log P_c against log N for polynomials (slope ≈ a − 1, Krotov & Hopfield 2016), and
    log₂ P_c against N for ``exp`` (capacity 2^(slope·N); ≈ 1 less a log N correction, see
    ``load_scale`` of the ``dense`` experiment).
    Memories with fewer than two finite P_c get NaNs."""
    fits = {}
    N = pc["N"].values.astype(float)
    for label in pc["memory"].values:
        y = pc.sel(memory=label).values
        ok = np.isfinite(y)
        if ok.sum() < 2:
            fits[str(label)] = (np.nan, np.nan)
            continue
        x = N[ok] if label == "exp" else np.log(N[ok])
        ly = np.log2(y[ok]) if label == "exp" else np.log(y[ok])
        slope, icept = np.polyfit(x, ly, 1)
        fits[str(label)] = (float(slope), float(icept))
    return fits


def capacity_table(ds: xr.Dataset, criteria: dict | None = None) -> dict:
    """{criterion: {"variable", "m0", "threshold", "P_c": {memory: {N: P_c}},
    "slope": {memory: slope}}} (JSON-ready; P_c to 2 decimals, slopes to 3) for every
    criterion of ``criteria`` (default `CRITERIA`)."""
    out = {}
    for name, (var, m0, thr) in (CRITERIA if criteria is None else criteria).items():
        pc = capacity(ds, var, m0=m0, threshold=thr)
        table = {str(m): {int(N): round(float(v), 2)
                          for N, v in zip(pc.N.values, pc.sel(memory=m).values) if np.isfinite(v)}
                 for m in pc.memory.values}
        slopes = {k: round(v[0], 3) for k, v in scaling_fits(pc).items()}
        out[name] = {"variable": var, "m0": m0, "threshold": thr, "P_c": table,
                     "slope": slopes}
    return out
