"""Retrieval maps m_f(m0) over grids of seed × α (× α_D × T) for any rule and dynamics.

Per grid point: draw the patterns (uncorrelated, or random-features examples) at the largest
P of the grid from the point's seed, mask down to P = round(α N), build J with the rule, and
measure the retrieval map over the m0 list (``samples`` cues per pattern and m0), its basin
size and the fraction of patterns that are fixed points; with ``feature_maps`` also the
retrieval map of the hidden features (start near f^k, overlap with f^k).
Outputs per point: mf_mean, mf_std, fixed_point (m0,); basin_size, stable_fraction ().
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field, model_validator

from experiments.common import RULES
from hopjax import metrics, patterns
from hopjax.config import Load, Overlap, Strict
from hopjax.sweep import Dim, Plan

RuleName = Literal[tuple(RULES)]
Mode = Literal["async", "sequential", "sync", "glauber"]
Temperature = float


class Data(Strict):
    kind: Literal["uncorrelated", "random_features"] = "uncorrelated"
    alpha: list[Load] = Field(min_length=1)
    alpha_D: list[Load] | None = Field(default=None, min_length=1)
    binary_coefficients: bool = False

    @model_validator(mode="after")
    def _alpha_D_iff_features(self):
        if self.kind == "random_features" and self.alpha_D is None:
            raise ValueError("alpha_D: a list of D/N > 0 is required for kind "
                             "'random_features'")
        if self.kind == "uncorrelated" and self.alpha_D is not None:
            raise ValueError("alpha_D: only applies to kind 'random_features'")
        return self


class Dynamics(Strict):
    mode: Mode | list[Mode] = "async"
    T: float | list[float] | None = None
    max_sweeps: int = Field(default=100, ge=1, le=100_000)

    @model_validator(mode="after")
    def _T_nonneg(self):
        Ts = self.T if isinstance(self.T, list) else [self.T]
        if any(t is not None and not t >= 0 for t in Ts):
            raise ValueError(f"T: must be >= 0 (got {self.T})")
        if isinstance(self.T, list) and not self.T:
            raise ValueError("T: must not be an empty list")
        modes = self.mode if isinstance(self.mode, list) else [self.mode]
        if "glauber" in modes and self.T is None:
            raise ValueError("T: mode 'glauber' needs a temperature T >= 0")
        return self


class Config(Strict):
    experiment: Literal["retrieval"]
    name: str = Field(min_length=1)
    N: int = Field(ge=8, le=50_000)
    seed: int = Field(default=0, ge=0)
    seeds: int = Field(default=1, ge=1, le=10_000)
    data: Data
    rule: RuleName | list[RuleName] = "hebb"
    dynamics: Dynamics = Dynamics()
    m0: list[Overlap] = Field(min_length=1)
    samples: int = Field(default=1, ge=1, le=10_000)
    feature_maps: bool = False
    memory_budget_mb: float = Field(default=1024.0, gt=0)
    chunk_size: int | None = Field(default=None, ge=1)
    quick: dict | None = None

    @model_validator(mode="after")
    def _fits(self):
        if self.feature_maps and self.data.kind != "random_features":
            raise ValueError("feature_maps: true needs data.kind 'random_features'")
        need = bytes_per_point(self)
        if need > self.memory_budget_mb * 2**20:
            raise ValueError(
                f"memory_budget_mb: grid too big for memory: one grid point needs {need / 2**20:.0f} MB "
                f"(N={self.N}, P_max={P_max(self)}, {len(self.m0)} m0 × {self.samples} samples "
                f"per pattern) but memory_budget_mb is {self.memory_budget_mb:g}; lower N, "
                "alpha, m0 or samples, or raise memory_budget_mb")
        stored = n_points(self) * (3 * len(self.m0) + 2) * 4 * (2 if self.feature_maps else 1)
        if stored > self.memory_budget_mb * 2**20:
            raise ValueError(
                f"memory_budget_mb: grid too big for memory: the results alone take {stored / 2**20:.0f} MB "
                f"({n_points(self)} grid points) but memory_budget_mb is "
                f"{self.memory_budget_mb:g}; use fewer seeds or grid values")
        return self


def _as_list(v):
    return v if isinstance(v, list) else [v]


def P_max(cfg) -> int:
    return max(1, max(patterns.count(a, cfg.N) for a in cfg.data.alpha))


def D_max(cfg) -> int:
    return max(1, max(patterns.count(a, cfg.N) for a in cfg.data.alpha_D))


def n_points(cfg) -> int:
    n = cfg.seeds * len(cfg.data.alpha) * len(_as_list(cfg.rule)) * len(_as_list(cfg.dynamics.mode))
    n *= len(cfg.data.alpha_D or [0]) * len(_as_list(cfg.dynamics.T))
    return n


def bytes_per_point(cfg) -> int:
    """Working-set estimate of one point: a few N×N matrices (J, its padded copy, products),
    the trajectories (states, fields, cues; padded copies) and the patterns."""
    N, P = cfg.N, P_max(cfg)
    traj = len(cfg.m0) * P * cfg.samples * (2 if cfg.feature_maps else 1)
    return 4 * (4 * N * N + 10 * traj * N + 4 * P * N + 3 * P * P)


def plan(cfg) -> Plan:
    dims = [Dim("rule", np.array(_as_list(cfg.rule)), static=True),
            Dim("mode", np.array(_as_list(cfg.dynamics.mode)), static=True),
            Dim("seed", np.arange(cfg.seeds)),
            Dim("alpha", np.array(cfg.data.alpha, float))]
    if cfg.data.alpha_D is not None:
        dims.append(Dim("alpha_D", np.array(cfg.data.alpha_D, float)))
    if isinstance(cfg.dynamics.T, list):
        dims.append(Dim("T", np.array(cfg.dynamics.T, float)))
    M = len(cfg.m0)
    variables = {"mf_mean": (("m0",), (M,), "float32"), "mf_std": (("m0",), (M,), "float32"),
                 "fixed_point": (("m0",), (M,), "float32"),
                 "basin_size": ((), (), "float32"), "stable_fraction": ((), (), "float32")}
    if cfg.feature_maps:
        variables.update({"feature_" + k: v for k, v in variables.items()})
    return Plan(dims=dims, variables=variables,
                inner_coords={"m0": np.array(cfg.m0, np.float32)},
                make_point_fn=lambda static: _point_fn(cfg, static),
                bytes_per_point=bytes_per_point(cfg))


def _point_fn(cfg, static):
    N, Pm = cfg.N, P_max(cfg)
    rule = RULES[static["rule"]]
    m0s = jnp.asarray(cfg.m0, jnp.float32)
    P_of = jnp.asarray([patterns.count(a, N) for a in cfg.data.alpha], jnp.int32)
    features = cfg.data.kind == "random_features"
    if features:
        Dm = D_max(cfg)
        D_of = jnp.asarray([patterns.count(a, N) for a in cfg.data.alpha_D], jnp.int32)
    dyn = dict(mode=static["mode"], max_sweeps=cfg.dynamics.max_sweeps)

    def observe(key, J, xi, mask, T):
        rm = metrics.retrieval_map(key, J, xi, m0s, mask=mask, n_samples=cfg.samples, T=T,
                                   **dyn)
        return {"mf_mean": rm.mean, "mf_std": rm.std, "fixed_point": rm.fixed_point,
                "basin_size": metrics.basin_size(m0s, rm.mean),
                "stable_fraction": metrics.stable_fraction(J, xi, mask)}

    def point(p):
        key = jax.random.fold_in(jax.random.key(cfg.seed), p["seed"])
        k_data, k_map, k_feat = jax.random.split(key, 3)
        mask = jnp.arange(Pm) < P_of[p["alpha_index"]]
        if features:
            rf = patterns.random_features(k_data, Pm, D_of[p["alpha_D_index"]], N, D_max=Dm,
                                          binary=cfg.data.binary_coefficients)
            xi = rf.examples
        else:
            xi = patterns.random(k_data, Pm, N)
        J = rule(xi, mask)
        T = p["T"] if "T" in p else cfg.dynamics.T
        out = observe(k_map, J, xi, mask, T)
        if cfg.feature_maps:
            feats = observe(k_feat, J, rf.features, rf.feature_mask, T)
            out.update({"feature_" + k: v for k, v in feats.items()})
        return out

    return point


def plots(ds, outdir):
    from hopjax import plot  # matplotlib only when drawing

    return plot.plot_all(ds, outdir)
