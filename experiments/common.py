"""Pieces shared by the pattern-sweep kinds: rules, config sections, sampler and observer.

Every experiment's grid has traced dims ``seed, alpha[, alpha_D][, bias][, T]`` (plus its own)
and static dims chosen per kind; per point the data are drawn at the grid's largest P (and D)
from the point's seed and masked down, so one compiled function serves the whole grid.

Declared once, read by every kind: the data sources (`hopjax.experiments.sources.SOURCES`,
keyed by ``data.kind``) and the observables (`hopjax.experiments.observables`: name -> inner
dims, and the function computing them), from which the plan's variables, ``values_per_point``
and the stored-results part of the memory estimate are derived.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field, model_validator

from hopjax import dynamics, metrics, patterns, rules
from hopjax.config import ExperimentConfig, Load, Overlap, Real, Strict
# re-exported: the sources and observables lived here before they had modules of their own
from hopjax.experiments.observables import (KEY_SLOTS, RETRIEVAL, SPLIT_KEYS,  # noqa: F401
                                            Observables, Probe, count_values, declared)
from hopjax.experiments.sources import (FIELD_OWNER, SOURCES, Mnist,  # noqa: F401
                                        RandomFeatures, Source, Uncorrelated, check_count,
                                        max_count, point_bias)
from hopjax.sweep import Dim

# name -> J(xi (P_max, N), mask (P_max,)); closed-form rules take the padded mask. Sorted by
# name. The CENTRED rules also take the patterns' bias a (data.bias) and retrieve with the
# centred dynamics (`couplings`, docs/conventions.md §2)
RULES = {
    "centred_hebb": lambda xi, mask, a=0.0: rules.centred_hebb(xi, a, mask),
    "centred_pseudo_inverse": lambda xi, mask, a=0.0: rules.centred_pseudo_inverse(xi, a, mask),
    "hebb": lambda xi, mask: rules.hebb(xi, mask),
    "pseudo_inverse": lambda xi, mask: rules.pseudo_inverse(xi, mask),
}
CENTRED = ("centred_hebb", "centred_pseudo_inverse")

DYNAMICS = dynamics.MODES
Mode = Literal["async", "sequential", "sync", "glauber"]


# pattern bias a = mean of the spins, P(ξ_i = +1) = (1 + a)/2
Bias = Annotated[Real, Field(gt=-1.0, lt=1.0)]


def as_list(v):
    return v if isinstance(v, list) else [v]


# --------------------------------------------------------------------------- config sections


class Data(Strict):
    kind: Literal[tuple(SOURCES)] = "uncorrelated"
    alpha: list[Load] = Field(min_length=1)
    alpha_D: list[Load] | None = Field(default=None, min_length=1)
    binary_coefficients: bool = False
    crop: int | None = Field(default=None, ge=4, le=28)  # MNIST: central crop k×k, N = k²
    deskew: bool = True  # MNIST
    n_test: int = Field(default=1000, ge=1, le=10_000)  # MNIST: unseen test images measured
    # uncorrelated: biased patterns of mean a (a list is a traced grid dim "bias")
    bias: Bias | Annotated[list[Bias], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _kind_fields(self):
        SOURCES[self.kind].validate(self)
        for f in type(self).model_fields:  # field order: the first wrong one is named
            if FIELD_OWNER.get(f, self.kind) != self.kind and getattr(self, f) is not None:
                raise ValueError(f"{f}: only applies to kind '{FIELD_OWNER[f]}'")
        return self

    @property
    def source(self) -> Source:
        return SOURCES[self.kind]


class Dynamics(Strict):
    mode: Mode | Annotated[list[Mode], Field(min_length=1)] = "async"
    T: Real | list[Real] | None = None
    max_sweeps: int = Field(default=100, ge=1, le=100_000)
    # uniform threshold θ added to every local field (centred rules: to the centred field,
    # Σ_j J_ij (σ_j − a) + θ); "a": θ = the pattern bias a (docs/conventions.md §2)
    theta: Real | Literal["a"] = 0.0

    @model_validator(mode="after")
    def _T_nonneg(self):
        Ts = as_list(self.T)
        if not Ts:
            raise ValueError("T: must not be an empty list")
        if any(t is not None and not t >= 0 for t in Ts):
            raise ValueError(f"T: must be >= 0 (got {self.T})")
        if "glauber" in as_list(self.mode) and self.T is None:
            raise ValueError("T: mode 'glauber' needs a temperature T >= 0")
        return self


def check_memory_budget(cfg, point: str, knobs: str) -> None:
    """Raise (as a "memory_budget_mb: ..." field error) when one grid point's working set
    (``cfg.bytes_per_point()``, described by ``point``) or the stored results
    (``cfg.n_points() × cfg.values_per_point()`` float32) exceed ``cfg.memory_budget_mb``."""
    budget = cfg.memory_budget_mb * 2**20
    need = cfg.bytes_per_point()
    if need > budget:
        raise ValueError(
            f"memory_budget_mb: grid too big for memory: one grid point needs "
            f"{need / 2**20:.0f} MB ({point}) but memory_budget_mb is "
            f"{cfg.memory_budget_mb:g}; lower {knobs}, or raise memory_budget_mb")
    stored = cfg.n_points() * cfg.values_per_point() * 4
    if stored > budget:
        raise ValueError(
            f"memory_budget_mb: grid too big for memory: the results alone take "
            f"{stored / 2**20:.0f} MB ({cfg.n_points()} grid points) but "
            f"memory_budget_mb is {cfg.memory_budget_mb:g}; use fewer seeds or values")


class SweepConfig(ExperimentConfig):
    """Fields every pattern-sweep experiment has (beside `ExperimentConfig`'s). Subclasses add
    their own and define `bytes_per_point` (working set of one grid point); they extend
    `observables` and `inner_coords` when they add outputs, and `values_per_point` follows."""

    N: int = Field(ge=8, le=50_000)
    data: Data
    dynamics: Dynamics = Dynamics()
    m0: list[Overlap] = Field(min_length=1)
    samples: int = Field(default=1, ge=1, le=10_000)
    feature_maps: bool = False

    @model_validator(mode="after")
    def _fits(self):
        check_count(self.data, "alpha", self.N)
        self.data.source.check(self.data, self.N)
        if self.feature_maps and not self.data.source.features:
            kinds = " or ".join(repr(k) for k, s in SOURCES.items() if s.features)
            raise ValueError(f"feature_maps: true needs data.kind {kinds}")
        check_memory_budget(self, f"N={self.N}, P_max={P_max(self)}, {len(self.m0)} m0 × "
                                  f"{self.samples} samples per pattern", "N, alpha, m0 or samples")
        return self

    def grid_size(self) -> int:
        """Points of the dims every experiment has (seed, alpha, alpha_D, bias, T, mode)."""
        return math.prod(len(d.values) for d in data_dims(self)) * len(as_list(self.dynamics.mode))

    def trajectories(self) -> int:
        """Trajectories of one retrieval map (all m0, patterns, samples) and of the data
        source's own observables (features, MNIST test images and prototypes)."""
        per_map = len(self.m0) * P_max(self) * self.samples
        return per_map + self.data.source.trajectories(self.data, P_max(self), per_map,
                                                       self.feature_maps)

    def observable_groups(self) -> list[Observables]:
        """`RETRIEVAL` and the data source's observables."""
        return observable_groups(self.data, self.feature_maps)

    def observables(self) -> dict[str, tuple[str, ...]]:
        """name -> inner dims of every output of one grid point."""
        return declared(self.observable_groups())

    def inner_coords(self) -> dict[str, np.ndarray]:
        return {"m0": np.array(self.m0, np.float32)}

    def values_per_point(self) -> int:
        return count_values(self.observables(), self.inner_coords())


def observable_groups(data, feature_maps: bool = False) -> list[Observables]:
    """`RETRIEVAL` and the observables of ``data``'s source."""
    return [RETRIEVAL, *data.source.observables(data, feature_maps)]


def P_max(cfg) -> int:
    return max_count(cfg.data.alpha, cfg.N)


def D_max(cfg) -> int:
    return max_count(cfg.data.alpha_D, cfg.N)


def mnist_constants(cfg) -> dict:
    """MNIST arrays of a sweep (`Mnist.constants`)."""
    return SOURCES["mnist"].constants(cfg.data, cfg.N, cfg.seed, cfg.seeds)


def data_constants(cfg) -> dict:
    """Arrays the point function reads (passed to the compiled call, not baked in)."""
    return cfg.data.source.constants(cfg.data, cfg.N, cfg.seed, cfg.seeds)


def data_dims(cfg) -> list[Dim]:
    """Traced dims seed, alpha, the data source's (alpha_D; bias when a list), T (when a
    list)."""
    dims = [Dim("seed", np.arange(cfg.seeds)), Dim("alpha", np.array(cfg.data.alpha, float)),
            *cfg.data.source.dims(cfg.data)]
    if isinstance(cfg.dynamics.T, list):
        dims.append(Dim("T", np.array(cfg.dynamics.T, float)))
    return dims


def point_key(cfg, p):
    """A point's key: key(seed) folded with its seed index (shared by all other dims)."""
    return jax.random.fold_in(jax.random.key(cfg.seed), p["seed"])


def temperature(cfg, p):
    return p["T"] if "T" in p else cfg.dynamics.T


def pattern_bias(cfg, p):
    """The point's pattern bias a (0 without data.bias)."""
    return point_bias(cfg.data, p)


def threshold(cfg, p):
    """The point's threshold θ of the dynamics (``dynamics.theta``; "a": the pattern bias);
    None for the constant 0 (no bias field at all)."""
    theta = cfg.dynamics.theta
    if theta == "a":
        return None if cfg.data.bias is None else pattern_bias(cfg, p)
    return None if theta == 0 else theta


def dynamics_bias(cfg, J, p, centred: bool):
    """Bias field b of the retrieval dynamics for couplings J (None: none): for a centred rule
    b_i = θ − a Σ_{j≠i} J_ij (the centred field, `hopjax.rules.centred_bias`), else θ."""
    theta = threshold(cfg, p)
    if centred:
        return rules.centred_bias(J, pattern_bias(cfg, p), theta)
    return None if theta is None else jnp.full(J.shape[-1], theta, J.dtype)


def couplings(cfg, name, xi, mask, p):
    """(J, bias) of closed-form rule ``name`` at the point: J from `RULES` (with the pattern
    bias for the `CENTRED` rules) and the bias field of its dynamics (`dynamics_bias`)."""
    centred = name in CENTRED
    J = RULES[name](xi, mask, pattern_bias(cfg, p)) if centred else RULES[name](xi, mask)
    return J, dynamics_bias(cfg, J, p, centred)


def make_sampler(data, N: int):
    """f(key, p, constants) -> (xi (P_max, N), mask (P_max,), random features or None) for
    the ``data`` section.

    P = round(α N) (and the source's D = round(α_D N)) come from host-side tables indexed by
    the point's coordinate index, so they equal `hopjax.patterns.count` exactly."""
    Pm = max_count(data.alpha, N)
    P_of = jnp.asarray([patterns.count(a, N) for a in data.alpha], jnp.int32)
    draw = data.source.sampler(data, N, Pm)

    def sample(key, p, c):
        xi, rf = draw(key, p, c)
        return xi, jnp.arange(Pm) < P_of[p["alpha_index"]], rf

    return sample


def data_sampler(cfg):
    """`make_sampler` of the config's data section."""
    return make_sampler(cfg.data, cfg.N)


def make_observer(dyn, m0, samples: int, mode: str, groups):
    """f(key, J, xi, mask, rf, T, c, p, bias=None) -> {name: array} of the ``groups``'
    observables (`Observables`), with the dynamics of section ``dyn`` in ``mode``, the
    retrieval map over ``m0`` with ``samples`` cues per pattern and m0. c: the plan's
    constants, p: the point's parameters, bias: the dynamics' bias field (`dynamics_bias`;
    the centred rules need theirs)."""
    m0s = jnp.asarray(m0, jnp.float32)
    kw = dict(n_samples=samples, mode=mode, max_sweeps=dyn.max_sweeps)

    def retrieve(key, J, xi, mask, T, bias):
        rm = metrics.retrieval_map(key, J, xi, m0s, mask=mask, T=T, bias=bias, **kw)
        return {"mf_mean": rm.mean, "mf_std": rm.std, "fixed_point": rm.fixed_point,
                "basin_size": metrics.basin_size(m0s, rm.mean),
                "stable_fraction": metrics.stable_fraction(J, xi, mask, bias)}

    def settle(key, J, x, T, bias):
        return dynamics.relax(key, J, x, mode=mode, max_sweeps=dyn.max_sweeps,
                              T=T, bias=bias).sigma

    def observe(key, J, xi, mask, rf, T, c, p, bias=None):
        probe = Probe(J, xi, mask, rf, T, bias, c, p, key, jax.random.split(key, SPLIT_KEYS),
                      retrieve, settle)
        out = {}
        for g in groups:
            out.update(g.fn(probe))
        return out

    return observe


def observer(cfg, mode):
    """`make_observer` of the config's sections: its dynamics, m0, samples and the
    observables of its data source."""
    return make_observer(cfg.dynamics, cfg.m0, cfg.samples, mode, cfg.observable_groups())


def variables(cfg, lead_dims=(), lead_shape=()):
    """Output variables of `observer` (name -> (dims, shape, dtype)), each with optional
    leading inner dims."""
    sizes = {"m0": len(cfg.m0), **dict(zip(lead_dims, lead_shape))}
    return {k: (d, tuple(sizes[x] for x in d), "float32")
            for k, d in declared(cfg.observable_groups(), lead_dims).items()}


def values_per_point(cfg, lead: int = 1) -> int:
    """Numbers `observer` stores per grid point, ``lead`` times (from the declarations)."""
    return lead * count_values(declared(cfg.observable_groups()), {"m0": cfg.m0})


def rf_theory_lines(ds, n: int = 24) -> list:
    """The replica-symmetric lines of Hebb couplings on random-features data (Negri et al.
    2023; `hopjax.theory_rf`) over the α_D range of ``ds``, as ``phase_lines`` of
    `hopjax.plot.plot_all`: the paper's storage and learning lines, and the storage line with
    the example's own latent component (which the simulations follow). [] for other data."""
    from hopjax import theory

    if "alpha_D" not in ds.coords or ds.sizes["alpha_D"] < 2:
        return []
    lo, hi = float(ds["alpha_D"].min()), float(ds["alpha_D"].max())
    aD = np.geomspace(lo, hi, n)
    return [("RS storage α_s (Negri et al.)", aD, theory.rf_storage_threshold(aD)),
            ("RS learning α_l (Negri et al.)", aD, theory.rf_learning_threshold(aD)),
            ("RS storage, example's latent part", aD,
             theory.rf_storage_threshold(aD, equations="corrected"))]
