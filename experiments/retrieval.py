"""Retrieval maps m_f(m0) over grids of seed × α (× α_D × bias × T) for any rule and dynamics.

Per grid point: draw the patterns (uncorrelated, or random-features examples) at the largest
P of the grid from the point's seed, mask down to P = round(α N), build J with the rule, and
measure the retrieval map over the m0 list (``samples`` cues per pattern and m0), its basin
size and the fraction of patterns that are fixed points; with ``feature_maps`` also the
retrieval map of the hidden features (start near f^k, overlap with f^k). With ``data.bias``
the patterns are biased (mean a; a list of biases is a traced grid dim) and the centred rules
retrieve with the centred dynamics (`hopjax.rules.centred`).
Outputs per point: mf_mean, mf_std, fixed_point (m0,); basin_size, stable_fraction (); and
the data source's own (`hopjax.experiments.common.SOURCES`: feature maps, MNIST's
generalisation observables), all declared once in `hopjax.experiments.common`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import jax
import numpy as np
from pydantic import Field

from hopjax.experiments import common
from hopjax.experiments.common import RULES, SweepConfig, as_list
from hopjax.sweep import Dim, Plan

RuleName = Literal[tuple(RULES)]


class Config(SweepConfig):
    experiment: Literal["retrieval"]
    rule: RuleName | Annotated[list[RuleName], Field(min_length=1)] = "hebb"

    def n_points(self) -> int:
        return self.grid_size() * len(as_list(self.rule))

    def bytes_per_point(self) -> int:
        """A few N×N matrices (J, padded copy, products), the trajectories (states, fields,
        cues, padded copies) and the patterns (and the pseudo-inverse's P×P matrices)."""
        N, P = self.N, common.P_max(self)
        return 4 * (4 * N * N + 10 * self.trajectories() * N + 4 * P * N + 3 * P * P)


def plan(cfg) -> Plan:
    dims = [Dim("rule", np.array(as_list(cfg.rule)), static=True),
            Dim("mode", np.array(as_list(cfg.dynamics.mode)), static=True),
            *common.data_dims(cfg)]
    return Plan.declare(dims, cfg.observables(), inner_coords=cfg.inner_coords(),
                        make_point_fn=lambda static: _point_fn(cfg, static),
                        bytes_per_point=cfg.bytes_per_point(),
                        constants=common.data_constants(cfg))


def _point_fn(cfg, static):
    sample = common.make_sampler(cfg.data, cfg.N)
    observe = common.make_observer(cfg.dynamics, cfg.m0, cfg.samples, static["mode"],
                                   cfg.observable_groups())

    def point(p, c):
        k_data, k_map = jax.random.split(common.point_key(cfg, p))
        xi, mask, rf = sample(k_data, p, c)
        J, bias = common.couplings(cfg, static["rule"], xi, mask, p)
        return observe(k_map, J, xi, mask, rf, common.temperature(cfg, p), c, p, bias=bias)

    return point


def plots(ds, outdir):
    from hopjax import plot  # matplotlib only when drawing

    return plot.plot_all(ds, outdir, phase_lines=common.rf_theory_lines(ds))
