"""Capacity of dense associative memories against N: polynomial, rectified and exponential.

Krotov & Hopfield, "Dense associative memory for pattern recognition" (NeurIPS 2016):
F(x) = x^a (or rectified) stores P_max ∝ N^(a−1) patterns; a = 2 is Hebb (α_c ≈ 0.138).
Demircigil, Heusel, Löwe, Upgang, Vermet, J. Stat. Phys. 168 (2017): F(x) = e^x stores a
number of patterns exponential in N (every pattern a fixed point for P < 2^(N/2)).

Grid: static dims ``memory`` (one compiled function per memory: F and a set the kernel) and
``N`` (shapes depend on N); traced dims ``seed`` and ``load``; inner dim ``m0``. Each memory
has its own list of N (the union is the ``N`` dim; other (memory, N) blocks are NaN and cost
nothing). The load is normalised per memory so that one grid serves all of them
(`load_scale`): P = round(load · scale(F, a, N)). Per block the patterns are drawn at the
block's largest P from the point's seed (rows prefix-consistent) and masked down to P, so all
loads of a block share one compiled function and a padded point equals an unpadded one.

Per point, on the first ``probes`` stored patterns: ``stable_fraction`` (patterns that are
fixed points, one energy-difference evaluation), ``bit_stability`` (pattern spins aligned
with their drive), and the retrieval map from cues at overlap m0 (``mf_mean``, ``mf_std``,
``retrieved`` = fraction of cues that end exactly on their pattern, ``fixed_point`` =
fraction that converged) plus ``basin_size``; ``P`` records the number stored.
`hopjax.dense_capacity` reads P_c per (memory, N) from the curves and fits its growth
(`capacity`, `scaling_fits`, `capacity_table`, re-exported here).
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field, model_validator

from hopjax.experiments import common
from hopjax import dense, metrics, patterns
# the analysis lives in hopjax.dense_capacity; its names stay importable from here
from hopjax.dense_capacity import (  # noqa: F401
    CAPACITY_THRESHOLD, CRITERIA, capacity, capacity_table, crossing, scaling_fits)
from hopjax.config import ExperimentConfig, Load, Overlap, Strict
from hopjax.sweep import Dim, Plan

EXP_N_MAX = 64  # F = exp: P ∝ 2^N/N patterns, beyond any memory (and float range) above this


def double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1


class Memory(Strict):
    """One dense memory: F and (for polynomials) the power a, and the N values to measure."""

    F: Literal["poly", "rectified", "exp"]
    a: int | None = Field(default=None, ge=2, le=8)
    N: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self):
        if self.F != "exp" and self.a is None:
            raise ValueError(f"a: F '{self.F}' needs an integer power a >= 2")
        if self.F == "exp" and self.a is not None:
            raise ValueError("a: F 'exp' takes no power a (leave it out)")
        if any(not 8 <= n <= 4096 for n in self.N) or len(set(self.N)) != len(self.N):
            raise ValueError(f"N: must be distinct integers in [8, 4096] (got {self.N})")
        if self.F == "exp" and max(self.N) > EXP_N_MAX:
            raise ValueError(f"N: F 'exp' stores about 2^N/N patterns per unit load: N must be "
                             f"<= {EXP_N_MAX} (got {max(self.N)})")
        return self

    @property
    def label(self) -> str:
        return "exp" if self.F == "exp" else f"{self.F} a={self.a}"

    def scale(self, N: int) -> float:
        """Patterns per unit load at N (see `load_scale`)."""
        return load_scale(self.F, self.a, N)


def load_scale(F: str, a: int | None, N: int) -> float:
    """P per unit load: P = round(load · scale), chosen so that capacities fall at similar
    loads for every memory.

    poly: N^(a−1) / (2a−3)!!. From a pattern, spin i's energy difference is a signal
    ≈ 2a N^(a−1) plus, from each other pattern, ≈ 2a ξ r^(a−1) with r ~ N(0, N), of variance
    4a² (2a−3)!! N^(a−1); so the signal-to-noise ratio is 1/√load to leading order in N
    (Krotov & Hopfield 2016), and load = α = P/N for a = 2.
    rectified: twice that (the rectifier removes the noise of patterns with r < 0: half).
    exp: 2^N / N. A pattern stops being a fixed point once another one lies within a spin
    flip or so of it (the nearest pattern's term e^(ξ·σ) rivals its own), and P N / 2^N is
    about the number of such neighbours, so a fixed fraction of patterns stays stable at a
    fixed load; capacity 2^N/N, exponential in N. (Demircigil et al. 2017 bound the load at
    which *all* P patterns are fixed points, P < 2^(N/2): pairs of patterns, a birthday
    problem; that is not the per-pattern fraction measured here.)
    """
    if F == "exp":
        return 2.0 ** N / N
    s = N ** (a - 1) / double_factorial(2 * a - 3)
    return 2.0 * s if F == "rectified" else float(s)


def pattern_count(load: float, scale: float) -> int:
    return max(1, int(round(load * scale)))


class Dynamics(Strict):
    mode: Literal["async", "sequential", "sync"] = "async"
    max_sweeps: int = Field(default=50, ge=1, le=10_000)


class Config(ExperimentConfig):
    experiment: Literal["dense"]
    memories: list[Memory] = Field(min_length=1)
    load: list[Load] = Field(min_length=1)
    m0: list[Overlap] = Field(default=[1.0, 0.8], min_length=1)
    probes: int = Field(default=64, ge=1, le=4096)
    dynamics: Dynamics = Dynamics()

    @model_validator(mode="after")
    def _fits(self):
        labels = [m.label for m in self.memories]
        if len(set(labels)) != len(labels):
            raise ValueError(f"memories: each (F, a) may appear once (got {labels})")
        budget = self.memory_budget_mb * 2**20
        need = self.bytes_per_point()
        if need > budget:
            m, N = max(((m, N) for m in self.memories for N in m.N),
                       key=lambda b: _bytes(self, *b))
            raise ValueError(
                f"memory_budget_mb: grid too big for memory: one point of {m.label} at N={N} "
                f"stores P={P_max(m, N, self.load)} patterns and needs {need / 2**20:.0f} MB but "
                f"memory_budget_mb is {self.memory_budget_mb:g}; lower load or N, or raise "
                "memory_budget_mb")
        return self

    def N_values(self) -> list[int]:
        return sorted({n for m in self.memories for n in m.N})

    def n_points(self) -> int:
        return len(self.memories) * len(self.N_values()) * self.seeds * len(self.load)

    def bytes_per_point(self) -> int:
        """Largest working set over the blocks (the engine chunks with one estimate)."""
        return max(_bytes(self, m, N) for m in self.memories for N in m.N)


def P_max(memory: Memory, N: int, loads) -> int:
    return max(pattern_count(x, memory.scale(N)) for x in loads)


def _bytes(cfg, memory, N) -> int:
    """Patterns (and their random draws), and per trajectory of the relaxation a few (P,)
    rows (overlaps, shifted overlaps, F of both, the masked difference) and its states."""
    P = P_max(memory, N, cfg.load)
    B = len(cfg.m0) * min(cfg.probes, P)
    return 4 * (3 * P * N + 8 * B * P + 6 * B * N)


# ----------------------------------------------------------------------------- sweep plan
VARIABLES = {"P": (), "stable_fraction": (), "bit_stability": (), "basin_size": (),
             "mf_mean": ("m0",), "mf_std": ("m0",), "retrieved": ("m0",), "fixed_point": ("m0",)}


def plan(cfg) -> Plan:
    M = len(cfg.m0)
    dims = [Dim("memory", np.array([m.label for m in cfg.memories]), static=True),
            Dim("N", np.array(cfg.N_values()), static=True),
            Dim("seed", np.arange(cfg.seeds)), Dim("load", np.array(cfg.load, float))]
    variables = {k: (d, (M,) * len(d), "float32") for k, d in VARIABLES.items()}
    return Plan(dims=dims, variables=variables,
                inner_coords={"m0": np.array(cfg.m0, np.float32)},
                make_point_fn=lambda static: _point_fn(cfg, static),
                bytes_per_point=cfg.bytes_per_point())


def _point_fn(cfg, static):
    memory = next(m for m in cfg.memories if m.label == static["memory"])
    N = int(static["N"])
    M = len(cfg.m0)
    if N not in memory.N:  # not measured for this memory: NaN, no work
        nan = {k: jnp.full((M,) * len(d), jnp.nan) for k, d in VARIABLES.items()}
        return lambda p, c: nan
    P_of = [pattern_count(x, memory.scale(N)) for x in cfg.load]
    Pm = max(P_of)
    P_table = jnp.asarray(P_of, jnp.int32)  # exact host-side counts, indexed by the point
    observe = observer(cfg, memory, N, Pm)

    def point(p, c):
        key = common.point_key(cfg, p)
        k_data, k_obs = jax.random.split(key)
        xi = patterns.random(k_data, Pm, N)  # rows prefix-consistent: padding changes nothing
        P = P_table[p["load_index"]]
        out = observe(k_obs, xi, jnp.arange(Pm) < P)
        out["P"] = P.astype(jnp.float32)
        return out

    return point


def observer(cfg, memory, N, Pm):
    """f(key, xi (Pm, N), mask (Pm,)) -> observables of the first ``probes`` patterns."""
    K = min(cfg.probes, Pm)
    m0s = jnp.asarray(cfg.m0, jnp.float32)
    kw = dict(F=memory.F, a=memory.a if memory.a is not None else 1)

    def observe(key, xi, mask):
        k_cue, k_dyn = jax.random.split(key)
        probe, real = xi[:K], mask[:K]
        # a pattern is a fixed point iff no spin's energy difference is against it (a tie
        # keeps the spin), exactly the test the dynamics applies
        aligned = dense.drive(xi, probe, mask=mask, **kw) * probe >= 0

        def frac(x):  # mean over the real (stored) probes (fixed order: any batch layout)
            return metrics.fixed_mean(x, mask=real)

        out = {"stable_fraction": frac(jnp.all(aligned, -1).astype(jnp.float32)),
               "bit_stability": frac(metrics.fixed_mean(aligned.astype(jnp.float32), -1))}

        # pattern μ's cues come from fold_in(k_cue, μ), as in `hopjax.metrics.retrieval_map`
        def cues(mu, x):
            x = jnp.broadcast_to(x, (m0s.shape[0], N))
            return patterns.flip_to_overlap(jax.random.fold_in(k_cue, mu), x, m0s)

        cue = jnp.moveaxis(jax.vmap(cues)(jnp.arange(K), probe), 0, 1)  # (M, K, N)
        flat = cue.reshape(-1, N)
        final, _, status = dense.relax(k_dyn, xi, flat, mask=mask, mode=cfg.dynamics.mode,
                                       max_sweeps=cfg.dynamics.max_sweeps, **kw)
        final, status = final.reshape(cue.shape), status.reshape(cue.shape[:-1])
        mf = metrics.fixed_mean(final * probe, axis=-1)  # (M, K)
        out["mf_mean"], out["mf_std"] = metrics.masked_mean_std(mf, real[None], axis=1)
        hit = jnp.all(final == probe, axis=-1).astype(jnp.float32)
        done = (status == dense.FIXED_POINT).astype(jnp.float32)
        out["retrieved"] = jax.vmap(frac)(hit)
        out["fixed_point"] = jax.vmap(frac)(done)
        out["basin_size"] = metrics.basin_size(m0s, out["mf_mean"])
        return out

    return observe


_crossing = crossing  # old private name


# ----------------------------------------------------------------------------- figures
def plots(ds, outdir):
    """Per criterion (`CRITERIA`): its variable against P per memory (one line per N), and
    P_c against N on log axes with the fitted slopes; ``capacity.json`` holds the numbers."""
    import json
    import pathlib

    from hopjax import plot  # matplotlib only when drawing

    outdir = pathlib.Path(outdir)
    files = []
    for name, (var, m0, thr) in CRITERIA.items():
        pc = capacity(ds, var, m0=m0, threshold=thr)
        files += plot.dense_capacity_curves(ds, outdir / f"capacity_curves_{name}", var=var,
                                           m0=m0, threshold=thr)
        files += plot.capacity_scaling(pc, scaling_fits(pc), outdir / f"capacity_scaling_{name}",
                                       title=f"{var.replace('_', ' ')} ≥ {plot.fmt(thr)}")
    path = outdir / "capacity.json"
    path.write_text(json.dumps(capacity_table(ds), indent=1))
    return files + [path]
