"""MNIST classification with the ten class prototypes as the only stored memories
(Serricchio et al., Neural Networks 186, 107216 (2025), "prototype classification"; docs/conventions.md
§4–5).

Every model stores the 10 prototypes ξ^d (sign of the sum of all binarised training images of
digit d) and classifies each test image by the prototype its dynamics ends on:

* ``hebb``, ``pseudo_inverse``, ``daydreaming``: couplings J from the prototypes (Hebb 1982;
  Personnaz–Guyon–Dreyfus 1985; Daydreaming trained from Hebb 1/P with the coupling clip
  J_max), the test image relaxed by zero-temperature asynchronous dynamics; label d if the fixed
  point equals ξ^d, else spurious (−1; the mirror −ξ^d counts as spurious too).
* ``modern``: the continuous modern Hopfield network (Ramsauer et al. 2021) with the prototypes
  as keys, ξ ← Xᵀ softmax(β X ξ) iterated from the test image; label d if the sign of the end
  state equals ξ^d. For large β one update lands on the nearest prototype.
* ``nearest``: no dynamics, the prototype of largest overlap with the image (the classical
  baseline; never spurious).

Grid: ``model`` (static) × ``seed`` (traced): the seed picks the visiting orders of the
dynamics and the Daydreaming training run. β values are an inner dim ``beta`` (all of them in
one compiled call); only the modern network depends on β, the other models compute once and
repeat their row. Outputs per point: ``pred`` (beta, test) int8 labels (−1 spurious),
``fixed_fraction`` () the fraction of prototypes that are fixed points of the model, and for
Daydreaming the convergence record at the recorded epochs (NaN for other models):
``curve_accuracy``, ``curve_spurious`` (% of the first ``training.monitor`` test images) and
``curve_fixed`` (fraction of prototypes that are fixed points).

The tables of ``classification.md`` come from `hopjax.prototype_tables` (its names are
re-exported here) and the figure from `hopjax.plot.prototype_training_curves`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from pydantic import Field, model_validator

from hopjax.experiments import common
from hopjax import dynamics, metrics, modern, rules
from hopjax._precision import matmul
from hopjax.config import ExperimentConfig, Real, Strict
from hopjax.datasets import mnist
# the tables live in hopjax.prototype_tables; their names stay importable from here
from hopjax.prototype_tables import (  # noqa: F401
    N_CLASSES, classification_markdown, curve_markdown, digit_markdown, mean_std,
    settings_text, summary_markdown, tables)
from hopjax.sweep import Dim, Plan

MODELS = ("hebb", "pseudo_inverse", "daydreaming", "modern", "nearest")
Model = Literal[MODELS]


class Data(Strict):
    crop: int = Field(default=20, ge=4, le=28)  # central k×k crop, N = k²
    deskew: bool = True
    n_test: int = Field(default=10_000, ge=1, le=10_000)  # the first n_test test images


class Training(Strict):
    """Daydreaming on the 10 prototypes (an epoch = P = 10 steps)."""

    tau: Real = Field(default=20.0, gt=0)
    epochs: int = Field(ge=1, le=1_000_000)
    record: list[Annotated[int, Field(ge=0, le=1_000_000)]] = Field(min_length=1)
    init: Literal["hebb", "hebb_P", "zeros", "gaussian"] = "hebb_P"
    j_max: Real | None = Field(default=None, gt=0)
    max_sweeps: int = Field(default=200, ge=1, le=100_000)
    monitor: int = Field(default=10_000, ge=1, le=10_000)  # test images of the curve

    @model_validator(mode="after")
    def _record(self):
        r = np.asarray(self.record)
        if np.any(np.diff(r) <= 0) or r[0] < 0 or r[-1] > self.epochs:
            raise ValueError(f"record: must be strictly increasing epochs in "
                             f"[0, epochs={self.epochs}] (got {self.record})")
        return self


class Dynamics(Strict):
    mode: Literal["async", "sequential"] = "async"
    max_sweeps: int = Field(default=200, ge=1, le=100_000)


class Modern(Strict):
    beta: list[Real] = Field(default=[1.0], min_length=1)
    max_iter: int = Field(default=100, ge=1, le=100_000)

    @model_validator(mode="after")
    def _positive(self):
        if any(not b > 0 for b in self.beta):
            raise ValueError(f"beta: every β must be > 0 (got {self.beta})")
        return self


class Config(ExperimentConfig):
    experiment: Literal["prototypes"]
    N: int = Field(ge=16, le=784)
    seeds: int = Field(default=3, ge=1, le=1000)
    models: list[Model] = Field(default=list(MODELS), min_length=1)
    data: Data = Data()
    training: Training
    dynamics: Dynamics = Dynamics()
    modern: Modern = Modern()
    # test images relaxed per call (memory bound)
    test_chunk: int = Field(default=1000, ge=1, le=10_000)

    @model_validator(mode="after")
    def _check(self):
        k = self.data.crop
        if self.N != k * k:
            raise ValueError(f"N: must equal the crop size squared, {k}² = {k * k} "
                             f"(data.crop = {k}); got {self.N}")
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models: each model at most once (got {self.models})")
        if self.training.monitor > self.data.n_test:
            raise ValueError(f"training: monitor ({self.training.monitor}) must be <= "
                             f"data.n_test ({self.data.n_test})")
        need = self.bytes_per_point()
        if need > self.memory_budget_mb * 2**20:
            raise ValueError(f"memory_budget_mb: one grid point needs {need / 2**20:.0f} MB; "
                             f"lower test_chunk or the records, or raise memory_budget_mb")
        return self

    def n_points(self) -> int:
        return len(self.models) * self.seeds

    def bytes_per_point(self) -> int:
        """J snapshots and training state, one chunk of trajectories (states, fields, draws,
        modern iterates per β) and the stored labels."""
        N, R, B = self.N, len(self.training.record), min(self.test_chunk, self.data.n_test)
        return (4 * ((R + 6) * N * N + 10 * B * N * max(2, len(self.modern.beta)))
                + len(self.modern.beta) * self.data.n_test)


def plan(cfg) -> Plan:
    nb, R = len(cfg.modern.beta), len(cfg.training.record)
    variables = {"pred": (("beta", "test"), (nb, cfg.data.n_test), "int8"),
                 "fixed_fraction": ((), (), "float32"),
                 "curve_accuracy": (("epoch",), (R,), "float32"),
                 "curve_spurious": (("epoch",), (R,), "float32"),
                 "curve_fixed": (("epoch",), (R,), "float32")}
    consts = constants(cfg)
    return Plan(dims=[Dim("model", np.array(cfg.models), static=True),
                      Dim("seed", np.arange(cfg.seeds))],
                variables=variables,
                inner_coords={"beta": np.array(cfg.modern.beta, np.float32),
                              "test": np.arange(cfg.data.n_test),
                              "epoch": np.array(cfg.training.record)},
                make_point_fn=lambda static: _point_fn(cfg, static["model"]),
                bytes_per_point=cfg.bytes_per_point(), constants=consts)


def constants(cfg) -> dict:
    """Host-side arrays: test images (padded to whole chunks) and labels, and the prototypes
    of the whole (preprocessed) training set."""
    d = cfg.data
    train_img, train_lab = mnist.load("train")
    test_img, test_lab = mnist.load("test")
    protos = mnist.prototypes(mnist.preprocess(train_img, crop=d.crop, deskew=d.deskew),
                              train_lab)
    test = mnist.preprocess(test_img[: d.n_test], crop=d.crop, deskew=d.deskew)
    return {"test": _pad(test, _chunk(cfg)), "test_labels": test_lab[: d.n_test].astype(np.int32),
            "prototypes": protos}


def _chunk(cfg) -> int:
    return min(cfg.test_chunk, cfg.data.n_test)


def _pad(x, chunk):
    """Rows padded (repeating the last) to a multiple of chunk, reshaped (n_chunks, chunk, N)."""
    n = -(-x.shape[0] // chunk) * chunk
    x = np.concatenate([x, np.repeat(x[-1:], n - x.shape[0], axis=0)])
    return x.reshape(n // chunk, chunk, x.shape[-1])


# ---------------------------------------------------------------------------------------------
# Per-point computation


def nearest(images, protos):
    """Label of the prototype of largest overlap (lowest label on ties), never spurious."""
    return jnp.argmax(matmul(images, protos.T), axis=-1).astype(jnp.int32)


def _sign(x):
    return jnp.where(x >= 0, 1.0, -1.0).astype(jnp.float32)


def _over_chunks(f, test):
    """f(chunk (B, N)) -> (..., B) labels, mapped sequentially over test (C, B, N) -> (..., C·B)."""
    out = lax.map(f, test)  # (C, ..., B)
    out = jnp.moveaxis(out, 0, -2)
    return out.reshape(out.shape[:-2] + (-1,))


def _coupling_fn(cfg, model):
    """f(key, protos) -> (J, Daydreaming record or None)."""
    tr = cfg.training
    if model == "hebb":
        return lambda key, xi: (rules.hebb(xi, normalization="P"), None)
    if model == "pseudo_inverse":
        return lambda key, xi: (rules.pseudo_inverse(xi), None)

    def daydream(key, xi):
        rule = rules.daydreaming(tr.tau, init=tr.init, j_max=tr.j_max, max_sweeps=tr.max_sweeps)
        state, rec = rules.train(key, rule, xi, epochs=tr.epochs, record=tr.record,
                                 hebb_normalization="P" if tr.init == "hebb_P" else "N")
        return state.J, rec

    return daydream


def _point_fn(cfg, model):
    nb, R = len(cfg.modern.beta), len(cfg.training.record)
    n_test, dyn = cfg.data.n_test, cfg.dynamics
    n_mon = -(-cfg.training.monitor // _chunk(cfg))  # chunks of the monitored test images
    nan_curve = jnp.full((R,), jnp.nan, jnp.float32)

    def relax_labels(key, J, protos, test):
        def one(x):
            s = dynamics.relax(key, J, x, mode=dyn.mode, max_sweeps=dyn.max_sweeps).sigma
            return mnist.match_prototypes(s, protos)
        return _over_chunks(one, test)

    def fixed_fraction(key, J, protos):
        s = dynamics.relax(key, J, protos, mode=dyn.mode, max_sweeps=dyn.max_sweeps).sigma
        return metrics.fixed_mean(jnp.all(s == protos, axis=-1).astype(jnp.float32))

    def hopfield(key, p, c):
        protos, test = c["prototypes"], c["test"]
        k_J, k_test, k_fix, k_curve = jax.random.split(common.point_key(cfg, p), 4)
        J, rec = _coupling_fn(cfg, model)(k_J, protos)
        pred = relax_labels(k_test, J, protos, test)[:n_test]
        out = {"pred": jnp.broadcast_to(pred.astype(jnp.int8), (nb, n_test)),
               "fixed_fraction": fixed_fraction(k_fix, J, protos),
               "curve_accuracy": nan_curve, "curve_spurious": nan_curve, "curve_fixed": nan_curve}
        if rec is not None:  # the same dynamics keys at every record: curves differ through J
            def at(Jr):
                lab = relax_labels(k_curve, Jr, protos, test[:n_mon])[: cfg.training.monitor]
                true = c["test_labels"][: cfg.training.monitor]
                return (100 * metrics.fixed_mean((lab == true).astype(jnp.float32)),
                        100 * metrics.fixed_mean((lab == -1).astype(jnp.float32)),
                        fixed_fraction(k_fix, Jr, protos))
            out["curve_accuracy"], out["curve_spurious"], out["curve_fixed"] = lax.map(at, rec.J)
        return out

    def modern_net(key, p, c):
        protos, test = c["prototypes"], c["test"]
        betas = jnp.asarray(cfg.modern.beta, jnp.float32)  # one compiled call for all β

        def labels(beta, x):
            fixed = modern.retrieve(protos, x, beta, max_iter=cfg.modern.max_iter).xi
            return mnist.match_prototypes(_sign(fixed), protos)

        pred = _over_chunks(lambda x: jax.vmap(labels, (0, None))(betas, x), test)[:, :n_test]
        fixed = jax.vmap(labels, (0, None))(betas, protos) == jnp.arange(protos.shape[0])
        return {"pred": pred.astype(jnp.int8),
                # a fixed point at every β it was asked for; the fraction is over β too
                "fixed_fraction": metrics.fixed_mean(fixed.astype(jnp.float32)),
                "curve_accuracy": nan_curve, "curve_spurious": nan_curve, "curve_fixed": nan_curve}

    def nearest_net(key, p, c):
        pred = _over_chunks(lambda x: nearest(x, c["prototypes"]), c["test"])[:n_test]
        return {"pred": jnp.broadcast_to(pred.astype(jnp.int8), (nb, n_test)),
                "fixed_fraction": jnp.float32(1.0),
                "curve_accuracy": nan_curve, "curve_spurious": nan_curve, "curve_fixed": nan_curve}

    fn = {"modern": modern_net, "nearest": nearest_net}.get(model, hopfield)
    return lambda p, c: fn(None, p, c)


# ---------------------------------------------------------------------------------------------
# Report: the tables live in hopjax.prototype_tables (names kept here), the figure in hopjax.plot

_pm, _settings = mean_std, settings_text  # old private names


def plots(ds, outdir):
    """classification.md (summary and per-model per-digit tables, Daydreaming convergence
    record; `hopjax.prototype_tables.classification_markdown`) and, with Daydreaming,
    accuracy against training epoch (`hopjax.plot.prototype_training_curves`)."""
    import pathlib

    from hopjax import plot  # matplotlib only when drawing

    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    files = plot.prototype_training_curves(ds, outdir / "daydreaming_accuracy")
    md = outdir / "classification.md"
    md.write_text(classification_markdown(ds))
    return [md] + files
