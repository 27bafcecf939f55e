"""Daydreaming training over grids of seed × α (× α_D) × τ, with retrieval maps at the
recorded epochs (Serricchio et al., Neural Networks 186, 107216 (2025), Figs. 1–3).

Per grid point: draw the data from the point's seed, train J with `hopjax.rules.daydreaming`
(τ traced) through `hopjax.rules.train`, and at every recorded epoch measure the retrieval
observables of the retrieval experiment (and, with ``feature_maps``, those of the hidden
features) plus the convergence observables of the paper's Fig. 1: τ·‖ΔJ‖ per step
(``tau_delta``) and ‖J − J_Hebb‖ / ‖J_Hebb‖ (``dist_hebb``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import jax
import numpy as np
from pydantic import Field, model_validator

from hopjax.experiments import common
from hopjax.experiments.common import SweepConfig, as_list
from hopjax import metrics, rules
from hopjax.config import Real, Strict
from hopjax.sweep import Dim, Plan


class Training(Strict):
    tau: Real | list[Real] = Field(default=20.0)
    epochs: int = Field(ge=1, le=1_000_000)
    # epochs to record, or the number of log-spaced records
    record: list[Annotated[int, Field(ge=0, le=1_000_000)]] | Annotated[int, Field(le=10_000)] = 12
    init: Literal["hebb", "hebb_P", "zeros", "gaussian"] = "hebb"
    steps_per_epoch: Literal["P", "N"] = "P"
    normalize: Literal["frobenius", "none"] = "frobenius"
    j_max: Real | list[Real] | None = None
    batch: int = Field(default=1, ge=1, le=4096)
    max_sweeps: int = Field(default=200, ge=1, le=100_000)
    # centred Daydreaming for biased patterns (data.bias; `hopjax.rules.centred_daydreaming`):
    # centred dreams and patterns, centred dynamics; dist_hebb is then to centred Hebb
    centred: bool = False

    @model_validator(mode="after")
    def _check(self):
        for name in ("tau", "j_max"):
            v = getattr(self, name)
            if v is not None and (not as_list(v) or any(not x > 0 for x in as_list(v))):
                raise ValueError(f"{name}: must be a number > 0 or a non-empty list of them "
                                 f"(got {v})")
        if isinstance(self.record, list):
            r = np.asarray(self.record)
            if r.size == 0 or np.any(np.diff(r) <= 0) or r[0] < 0 or r[-1] > self.epochs:
                raise ValueError(f"record: must be strictly increasing epochs in "
                                 f"[0, epochs={self.epochs}] (got {self.record})")
        elif self.record < 1:
            raise ValueError("record: must be >= 1 (number of log-spaced records)")
        return self

    def record_epochs(self) -> np.ndarray:
        if isinstance(self.record, list):
            return np.asarray(self.record, np.int64)
        return rules.log_epochs(self.epochs, self.record)


class Config(SweepConfig):
    experiment: Literal["daydreaming"]
    training: Training

    @model_validator(mode="after")
    def _theta_needs_centred(self):
        if self.dynamics.theta != 0 and not self.training.centred:
            raise ValueError("dynamics.theta: a threshold needs training.centred: true (plain "
                             "Daydreaming dreams without one)")
        return self

    def n_points(self) -> int:
        return (self.grid_size() * len(as_list(self.training.tau))
                * len(as_list(self.training.j_max)))

    def observables(self) -> dict[str, tuple[str, ...]]:
        """The retrieval experiment's observables at every recorded epoch, and the
        convergence ones."""
        return {**common.declared(self.observable_groups(), ("epoch",)),
                "tau_delta": ("epoch",), "dist_hebb": ("epoch",)}

    def inner_coords(self) -> dict[str, np.ndarray]:
        return {"epoch": self.training.record_epochs(), **super().inner_coords()}

    def bytes_per_point(self) -> int:
        """Snapshots of J at every record, the training state, and the retrieval maps of all
        snapshots relaxed as one batch."""
        N, P = self.N, common.P_max(self)
        R = len(self.training.record_epochs())
        return 4 * ((R + 6) * N * N + 10 * R * self.trajectories() * N + 4 * P * N)


def plan(cfg) -> Plan:
    dims = [Dim("mode", np.array(as_list(cfg.dynamics.mode)), static=True),
            *common.data_dims(cfg), Dim("tau", np.array(as_list(cfg.training.tau), float))]
    if isinstance(cfg.training.j_max, list):
        dims.append(Dim("j_max", np.array(cfg.training.j_max, float)))
    return Plan.declare(dims, cfg.observables(), inner_coords=cfg.inner_coords(),
                        make_point_fn=lambda static: _point_fn(cfg, static),
                        bytes_per_point=cfg.bytes_per_point(),
                        constants=common.data_constants(cfg))


def _point_fn(cfg, static):
    tr = cfg.training
    rec = tr.record_epochs()
    sample = common.make_sampler(cfg.data, cfg.N)
    observe = common.make_observer(cfg.dynamics, cfg.m0, cfg.samples, static["mode"],
                                   cfg.observable_groups())

    def point(p, c):
        k_data, k_train, k_map = jax.random.split(common.point_key(cfg, p), 3)
        xi, mask, rf = sample(k_data, p, c)
        options = dict(init=tr.init, steps_per_epoch=tr.steps_per_epoch,
                       normalize=None if tr.normalize == "none" else tr.normalize,
                       j_max=p.get("j_max", tr.j_max), batch=tr.batch, max_sweeps=tr.max_sweeps)
        a = common.pattern_bias(cfg, p)
        if tr.centred:
            rule = rules.centred_daydreaming(p["tau"], a, theta=common.threshold(cfg, p),
                                             **options)
        else:
            rule = rules.daydreaming(p["tau"], **options)
        normalization = "P" if tr.init == "hebb_P" else "N"
        _, record = rules.train(k_train, rule, xi, mask, epochs=tr.epochs, record=rec,
                                hebb_normalization=normalization)
        T = common.temperature(cfg, p)
        # the same cues for every snapshot: the maps differ only through J
        out = jax.vmap(lambda J: observe(k_map, J, xi, mask, rf, T, c, p,
                                         bias=common.dynamics_bias(cfg, J, p, tr.centred)))(record.J)
        out["tau_delta"] = p["tau"] * record.info.delta_norm
        if tr.centred:  # distance to the centred Hebb start
            J_ref = rules.centred_hebb(xi, a, mask, normalization=normalization)
            dist = jax.vmap(lambda J: metrics.fixed_norm(J - J_ref))(record.J)
            out["dist_hebb"] = metrics.fixed_div(dist, metrics.fixed_norm(J_ref))
        else:
            out["dist_hebb"] = metrics.fixed_div(record.dist_hebb, record.hebb_norm)
        return out

    return point


def plots(ds, outdir):
    """Convergence curves, retrieval maps along training (per α), and the final-epoch
    retrieval maps, capacity curves and phase diagrams."""
    import pathlib

    from hopjax import plot

    outdir = pathlib.Path(outdir)
    files = plot.training_curves(ds, outdir / "training")
    files += plot.generalisation_curves(ds.isel(epoch=-1), outdir / "generalisation")
    if ds.sizes["m0"] >= 2:
        for prefix in ("", "feature_"):
            if f"{prefix}mf_mean" in ds:
                files += plot.retrieval_maps(ds, outdir / f"{prefix}retrieval_map_training",
                                             var=f"{prefix}mf", curve="epoch")
    last = ds.isel(epoch=-1)  # the Hebb RS lines: where training started from
    return files + plot.plot_all(last, outdir, phase_lines=common.rf_theory_lines(last))
