"""Bidirectional associative memory (Kosko 1988): recall of y from noisy x against the load.

Grid: traced dims ``seed`` and ``alpha`` (P = round(α N) pairs); inner dim ``m0``. Per point
the pairs (x^μ ∈ {±1}^N, y^μ ∈ {±1}^M) are drawn at the grid's largest P from the point's seed
(rows prefix-consistent) and masked down to P, so one compiled function serves every α and a
padded point equals an unpadded one. W = (1/N) Σ_μ y^μ x^μᵀ (`hopjax.bam.couplings`).

Per pair and m0, ``samples`` cues x at overlap m0 with x^μ relax with both layers free
(`hopjax.bam.relax`, y starting at sign(W x)). Outputs per point: ``mf_mean``, ``mf_std`` (m0,)
final overlap of y with y^μ; ``mx_mean`` (m0,) final overlap of x with x^μ; ``converged``
(m0,) fraction of trajectories that reached a fixed point; ``stable_fraction`` () fraction of
pairs that are fixed points; ``bit_error`` () one-step error rate of y ← sign(W x^μ) from the
stored pair, to compare with `hopjax.bam.bit_error_rate` (≈ Φ(−√(N/(P − 1)))).
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field, model_validator

from hopjax.experiments import common
from hopjax import bam, patterns
from hopjax._precision import matmul
from hopjax._reduce import fixed_mean
from hopjax.config import ExperimentConfig, Load, Overlap
from hopjax.metrics import masked_mean_std
from hopjax.sweep import Dim, Plan

VARIABLES = {"mf_mean": ("m0",), "mf_std": ("m0",), "mx_mean": ("m0",), "converged": ("m0",),
             "stable_fraction": (), "bit_error": ()}


class Config(ExperimentConfig):
    experiment: Literal["bam"]
    N: int = Field(ge=8, le=20_000)  # units of the x layer (the cue)
    M: int = Field(ge=1, le=20_000)  # units of the y layer (the recalled item)
    alpha: list[Load] = Field(min_length=1)  # P = round(α N) pairs
    m0: list[Overlap] = Field(default=[1.0, 0.8, 0.6], min_length=1)
    samples: int = Field(default=1, ge=1, le=10_000)
    max_iters: int = Field(default=100, ge=1, le=100_000)

    @model_validator(mode="after")
    def _fits(self):
        for a in self.alpha:
            if patterns.count(a, self.N) < 1:
                raise ValueError(f"alpha: α = {a:g} gives P = round(α N) = 0 pairs at N = "
                                 f"{self.N}; every α must be > 0.5/N = {0.5 / self.N:.4g}")
        common.check_memory_budget(
            self, f"N={self.N}, M={self.M}, P_max={self.P_max()}, {len(self.m0)} m0 × "
                  f"{self.samples} samples per pair", "N, M, alpha, m0 or samples")
        return self

    def P_max(self) -> int:
        return max(patterns.count(a, self.N) for a in self.alpha)

    def n_points(self) -> int:
        return self.seeds * len(self.alpha)

    def values_per_point(self) -> int:
        return common.count_values(VARIABLES, {"m0": self.m0})

    def bytes_per_point(self) -> int:
        """W (and a copy), the pairs and the trajectories (cues, both layers, fields)."""
        N, M, P = self.N, self.M, self.P_max()
        traj = len(self.m0) * P * self.samples
        return 4 * (2 * M * N + 3 * P * (N + M) + 6 * traj * (N + M))


def plan(cfg) -> Plan:
    dims = [Dim("seed", np.arange(cfg.seeds)), Dim("alpha", np.array(cfg.alpha, float))]
    return Plan.declare(dims, VARIABLES, inner_coords={"m0": np.array(cfg.m0, np.float32)},
                        make_point_fn=lambda static: _point_fn(cfg),
                        bytes_per_point=cfg.bytes_per_point())


def _point_fn(cfg):
    N, M, Pm, S = cfg.N, cfg.M, cfg.P_max(), cfg.samples
    P_of = jnp.asarray([patterns.count(a, N) for a in cfg.alpha], jnp.int32)
    m0s = jnp.asarray(cfg.m0, jnp.float32)
    K = m0s.shape[0]

    def point(p, c):
        kx, ky, k_cue = jax.random.split(common.point_key(cfg, p), 3)
        x, y = patterns.random(kx, Pm, N), patterns.random(ky, Pm, M)
        mask = jnp.arange(Pm) < P_of[p["alpha_index"]]
        W = bam.couplings(x, y, mask)

        # pair μ's cues come from fold_in(k_cue, μ): padding does not change the real ones
        def cues(mu, xm):
            return patterns.flip_to_overlap(jax.random.fold_in(k_cue, mu),
                                            jnp.broadcast_to(xm, (K, S, N)), m0s[:, None])

        cue = jax.vmap(cues)(jnp.arange(Pm), x)  # (P, K, S, N)
        out = bam.relax(W, cue, max_iters=cfg.max_iters)
        real = jnp.broadcast_to(mask[:, None, None], (Pm, K, S))
        my = fixed_mean(out.y * y[:, None, None, :], axis=-1)
        mx = fixed_mean(out.x * x[:, None, None, :], axis=-1)
        mf_mean, mf_std = masked_mean_std(my, real, axis=(0, 2))
        mx_mean, _ = masked_mean_std(mx, real, axis=(0, 2))
        conv, _ = masked_mean_std(out.converged.astype(jnp.float32), real, axis=(0, 2))
        tol_y, _ = bam.tie_tolerance(W)
        wrong = (matmul(x, W.T) * y < -tol_y).astype(jnp.float32)  # one step from the pair
        return {"mf_mean": mf_mean, "mf_std": mf_std, "mx_mean": mx_mean, "converged": conv,
                "stable_fraction": bam.stable_pairs(W, x, y, mask),
                "bit_error": fixed_mean(fixed_mean(wrong, axis=-1), mask=mask)}

    return point


def plots(ds, outdir):
    from hopjax import plot  # matplotlib only when drawing

    # retrieval maps m_f(m0) per α and curves against α (the dotted Hebb α_c ≈ 0.138 that
    # capacity_curves draws is the auto-associative reference, not a BAM threshold)
    return plot.plot_all(ds, outdir)
