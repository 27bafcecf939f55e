"""Pieces shared by experiment kinds: registries, config sections, data and observables.

Every experiment's grid has traced dims ``seed, alpha[, alpha_D][, T]`` (plus its own) and
static dims chosen per kind; per point the data are drawn at the grid's largest P (and D) from
the point's seed and masked down, so one compiled function serves the whole grid.
"""

from __future__ import annotations

from typing import Annotated, Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field, model_validator

from hopjax import dynamics, metrics, patterns, rules
from hopjax.config import ExperimentConfig, Load, Overlap, Real, Strict
from hopjax.sweep import Dim

# name -> J(xi (P_max, N), mask (P_max,)); closed-form rules take the padded mask. Sorted by
# name. The CENTRED rules also take the patterns' bias a (data.bias) and retrieve with the
# centred dynamics (`couplings`, docs/science.md §2)
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


class Data(Strict):
    kind: Literal["uncorrelated", "random_features", "mnist"] = "uncorrelated"
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
        if self.kind == "random_features" and self.alpha_D is None:
            raise ValueError("alpha_D: a list of D/N > 0 is required for kind "
                             "'random_features'")
        if self.kind != "random_features" and self.alpha_D is not None:
            raise ValueError("alpha_D: only applies to kind 'random_features'")
        if self.kind != "mnist" and self.crop is not None:
            raise ValueError("crop: only applies to kind 'mnist'")
        if self.kind != "uncorrelated" and self.bias is not None:
            raise ValueError("bias: only applies to kind 'uncorrelated'")
        return self


class Dynamics(Strict):
    mode: Mode | Annotated[list[Mode], Field(min_length=1)] = "async"
    T: Real | list[Real] | None = None
    max_sweeps: int = Field(default=100, ge=1, le=100_000)
    # uniform threshold θ added to every local field (centred rules: to the centred field,
    # Σ_j J_ij (σ_j − a) + θ); "a": θ = the pattern bias a (docs/science.md §2)
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
    their own and define `bytes_per_point` (working set of one grid point) and
    `values_per_point`."""

    N: int = Field(ge=8, le=50_000)
    data: Data
    dynamics: Dynamics = Dynamics()
    m0: list[Overlap] = Field(min_length=1)
    samples: int = Field(default=1, ge=1, le=10_000)
    feature_maps: bool = False

    @model_validator(mode="after")
    def _fits(self):
        # no empty grid point: every α gives P >= 1 patterns (every α_D, D >= 1 features)
        for name, sym, what in (("alpha", "α", "P"), ("alpha_D", "α_D", "D")):
            for a in getattr(self.data, name) or []:
                if patterns.count(a, self.N) < 1:
                    raise ValueError(
                        f"data.{name}: {sym} = {a:g} gives {what} = round({sym} N) = 0 "
                        f"{'patterns' if what == 'P' else 'features'} at N = {self.N}; every "
                        f"{sym} must be > 0.5/N = {0.5 / self.N:.4g} (or raise N)")
        if self.data.kind == "mnist":
            k = self.data.crop or mnist_crop_default()
            if self.N != k * k:
                raise ValueError(f"N: must equal the MNIST crop size squared, {k}² = {k * k} "
                                 f"(data.crop = {k}); got {self.N}")
        if self.feature_maps and self.data.kind != "random_features":
            raise ValueError("feature_maps: true needs data.kind 'random_features'")
        check_memory_budget(self, f"N={self.N}, P_max={P_max(self)}, {len(self.m0)} m0 × "
                                  f"{self.samples} samples per pattern", "N, alpha, m0 or samples")
        return self

    def grid_size(self) -> int:
        """Points of the dims every experiment has (seed, alpha, alpha_D, bias, T, mode)."""
        return (self.seeds * len(self.data.alpha) * len(self.data.alpha_D or [0])
                * len(as_list(self.data.bias))
                * len(as_list(self.dynamics.T)) * len(as_list(self.dynamics.mode)))

    def trajectories(self) -> int:
        """Trajectories of one retrieval map (all m0, patterns, samples; features too; MNIST
        test images)."""
        n = len(self.m0) * P_max(self) * self.samples * (2 if self.feature_maps else 1)
        return n + (self.data.n_test + P_max(self) if self.data.kind == "mnist" else 0)


def P_max(cfg) -> int:
    return max(1, max(patterns.count(a, cfg.N) for a in cfg.data.alpha))


def D_max(cfg) -> int:
    return max(1, max(patterns.count(a, cfg.N) for a in cfg.data.alpha_D))


def mnist_crop_default() -> int:
    from hopjax.datasets import mnist

    return mnist.DEFAULT_CROP


def mnist_constants(cfg) -> dict:
    """Host-side MNIST arrays for a sweep: per seed a balanced training subset of the
    largest P ((seeds, P_max, N) ±1, labels), the first ``n_test`` test images, and the class
    prototypes of the whole training set. Read from the offline cache (hopjax.datasets)."""
    from hopjax.datasets import mnist

    d = cfg.data
    k = d.crop or mnist.DEFAULT_CROP
    train_img, train_lab = mnist.load("train")
    test_img, test_lab = mnist.load("test")
    train = mnist.preprocess(train_img, crop=k, deskew=d.deskew)
    test = mnist.preprocess(test_img[: d.n_test], crop=k, deskew=d.deskew)
    subsets = np.stack([mnist.balanced_subset(cfg.seed * 100_003 + s, train_lab, P_max(cfg))
                        for s in range(cfg.seeds)])
    return {"train": train[subsets], "train_labels": train_lab[subsets].astype(np.int32),
            "test": test, "test_labels": test_lab[: d.n_test].astype(np.int32),
            "prototypes": mnist.prototypes(train, train_lab)}


def data_constants(cfg) -> dict:
    """Arrays the point function reads (passed to the compiled call, not baked in)."""
    return mnist_constants(cfg) if cfg.data.kind == "mnist" else {}


def data_dims(cfg) -> list[Dim]:
    """Traced dims seed, alpha[, alpha_D][, bias][, T] (bias, T only when the config lists
    several)."""
    dims = [Dim("seed", np.arange(cfg.seeds)), Dim("alpha", np.array(cfg.data.alpha, float))]
    if cfg.data.alpha_D is not None:
        dims.append(Dim("alpha_D", np.array(cfg.data.alpha_D, float)))
    if isinstance(cfg.data.bias, list):
        dims.append(Dim("bias", np.array(cfg.data.bias, float)))
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
    return p["bias"] if "bias" in p else (cfg.data.bias or 0.0)


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


def data_sampler(cfg):
    """f(key, p, constants) -> (xi (P_max, N), mask (P_max,), random-features or None).

    P = round(α N) and D = round(α_D N) come from host-side tables indexed by the point's
    coordinate index, so they equal `hopjax.patterns.count` exactly."""
    N, Pm = cfg.N, P_max(cfg)
    P_of = jnp.asarray([patterns.count(a, N) for a in cfg.data.alpha], jnp.int32)
    features = cfg.data.kind == "random_features"
    if features:
        Dm = D_max(cfg)
        D_of = jnp.asarray([patterns.count(a, N) for a in cfg.data.alpha_D], jnp.int32)

    def sample(key, p, c):
        mask = jnp.arange(Pm) < P_of[p["alpha_index"]]
        if cfg.data.kind == "mnist":  # balanced subsets are prefix-consistent in P
            return c["train"][p["seed"]], mask, None
        if not features:
            if cfg.data.bias is not None:
                return patterns.biased(key, Pm, N, pattern_bias(cfg, p)), mask, None
            return patterns.random(key, Pm, N), mask, None
        rf = patterns.random_features(key, Pm, D_of[p["alpha_D_index"]], N, D_max=Dm,
                                      binary=cfg.data.binary_coefficients)
        return rf.examples, mask, rf

    return sample


def observer(cfg, mode):
    """f(key, J, xi, mask, rf, T, c, p, bias=None) -> dict of retrieval observables (see
    `variables`); c: the plan's constants, p: the point's parameters, bias: the dynamics' bias
    field (`dynamics_bias`; the centred rules need theirs).

    MNIST adds generalisation observables from m0 = 1 (Serricchio et al. 2025, Fig. 4):
    ``test_mf`` final overlap of unseen test images with themselves, ``test_proto`` and
    ``train_proto`` final overlap with the class prototype of the image's digit."""
    m0s = jnp.asarray(cfg.m0, jnp.float32)
    kw = dict(n_samples=cfg.samples, mode=mode, max_sweeps=cfg.dynamics.max_sweeps)

    def one(key, J, xi, mask, T, bias):
        rm = metrics.retrieval_map(key, J, xi, m0s, mask=mask, T=T, bias=bias, **kw)
        return {"mf_mean": rm.mean, "mf_std": rm.std, "fixed_point": rm.fixed_point,
                "basin_size": metrics.basin_size(m0s, rm.mean),
                "stable_fraction": metrics.stable_fraction(J, xi, mask, bias)}

    def settle(key, J, x, T, bias):
        return dynamics.relax(key, J, x, mode=mode, max_sweeps=cfg.dynamics.max_sweeps,
                              T=T, bias=bias).sigma

    def observe(key, J, xi, mask, rf, T, c, p, bias=None):
        k_ex, k_feat, k_test, k_train = jax.random.split(key, 4)
        out = one(k_ex, J, xi, mask, T, bias)
        if cfg.feature_maps:
            feats = one(k_feat, J, rf.features, rf.feature_mask, T, bias)
            out.update({"feature_" + k: v for k, v in feats.items()})
        if cfg.data.kind == "mnist":
            final = settle(k_test, J, c["test"], T, bias)
            proto = c["prototypes"][c["test_labels"]]
            out["test_mf"] = metrics.fixed_mean(metrics.fixed_mean(final * c["test"], -1))
            out["test_proto"] = metrics.fixed_mean(metrics.fixed_mean(final * proto, -1))
            final = settle(k_train, J, xi, T, bias)
            proto = c["prototypes"][c["train_labels"][p["seed"]]]
            out["train_proto"] = metrics.fixed_mean(metrics.fixed_mean(final * proto, -1),
                                                    mask=mask)
        return out

    return observe


def variables(cfg, lead_dims=(), lead_shape=()):
    """Output variables of `observer`, each with optional leading inner dims."""
    M = len(cfg.m0)
    v = {"mf_mean": ("m0",), "mf_std": ("m0",), "fixed_point": ("m0",), "basin_size": (),
         "stable_fraction": ()}
    if cfg.feature_maps:
        v.update({"feature_" + k: d for k, d in v.items()})
    if cfg.data.kind == "mnist":
        v.update(test_mf=(), test_proto=(), train_proto=())
    return {k: (tuple(lead_dims) + d, tuple(lead_shape) + (M,) * len(d), "float32")
            for k, d in v.items()}


def values_per_point(cfg, lead: int = 1) -> int:
    return lead * ((3 * len(cfg.m0) + 2) * (2 if cfg.feature_maps else 1) + 3)


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

