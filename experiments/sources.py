"""Data sources of the pattern sweeps (``data.kind``), declared once in `SOURCES`.

Each `Source` says which ``data`` fields it takes, checks them against the config, and gives
its traced dims, constants, sampler, trajectory count and extra observables; the config
sections and the experiment kinds read them instead of branching on the kind.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from hopjax import metrics, patterns
from hopjax.experiments.observables import RETRIEVAL, Observables, Probe
from hopjax.sweep import Dim


def max_count(alpha, N: int) -> int:
    """Rows (patterns, features) of the largest load in ``alpha``, at least 1."""
    return max(1, max(patterns.count(a, N) for a in alpha))



class Source:
    """One data kind (``data.kind``): what a sweep needs from it. Instances live in `SOURCES`.

    ``only``: optional fields of ``data`` that only this kind takes (an error elsewhere);
    ``features``: it draws hidden features, which ``feature_maps`` may measure."""

    kind = ""
    only: tuple[str, ...] = ()
    features = False

    def validate(self, data) -> None:
        """Rules on ``data`` alone (fields this kind requires)."""

    def check(self, data, N: int) -> None:
        """Rules against the sweep's N."""

    def dims(self, data) -> list[Dim]:
        """Traced grid dims beside seed and alpha."""
        return []

    def constants(self, data, N: int, seed: int, seeds: int) -> dict:
        """Host arrays the point function reads (passed to the compiled call, not baked in)."""
        return {}

    def sampler(self, data, N: int, P_max: int):
        """f(key, p, c) -> (xi (P_max, N), random features or None)."""
        raise NotImplementedError

    def trajectories(self, data, P_max: int, per_map: int, feature_maps: bool) -> int:
        """Trajectories beyond the retrieval map of the patterns (``per_map`` of them)."""
        return 0

    def observables(self, data, feature_maps: bool) -> list[Observables]:
        """Observables beyond `RETRIEVAL`."""
        return []


def point_bias(data, p):
    return p["bias"] if "bias" in p else (data.bias or 0.0)


class Uncorrelated(Source):
    """Independent ±1 patterns; with ``bias`` of mean a (a list: the traced dim "bias")."""

    kind = "uncorrelated"
    only = ("bias",)

    def dims(self, data):
        return [Dim("bias", np.array(data.bias, float))] if isinstance(data.bias, list) else []

    def sampler(self, data, N, P_max):
        if data.bias is None:
            return lambda key, p, c: (patterns.random(key, P_max, N), None)
        return lambda key, p, c: (patterns.biased(key, P_max, N, point_bias(data, p)), None)


def _features(pr: Probe) -> dict:
    # the retrieval map of the hidden features f^k: start near f^k, overlap with f^k
    out = pr.retrieve(pr.key("features"), pr.rf.features, pr.rf.feature_mask)
    return {"feature_" + k: v for k, v in out.items()}


class RandomFeatures(Source):
    """Examples of the random-features model (`hopjax.patterns.random_features`, Negri et al.
    2023): D = round(α_D N) hidden features (traced dim "alpha_D")."""

    kind = "random_features"
    only = ("alpha_D",)
    features = True

    def validate(self, data):
        if data.alpha_D is None:
            raise ValueError("alpha_D: a list of D/N > 0 is required for kind "
                             "'random_features'")

    def check(self, data, N):
        check_count(data, "alpha_D", N)

    def dims(self, data):
        return [Dim("alpha_D", np.array(data.alpha_D, float))]

    def sampler(self, data, N, P_max):
        D_max = max_count(data.alpha_D, N)
        D_of = jnp.asarray([patterns.count(a, N) for a in data.alpha_D], jnp.int32)

        def draw(key, p, c):
            rf = patterns.random_features(key, P_max, D_of[p["alpha_D_index"]], N, D_max=D_max,
                                          binary=data.binary_coefficients)
            return rf.examples, rf

        return draw

    def trajectories(self, data, P_max, per_map, feature_maps):
        return per_map if feature_maps else 0

    def observables(self, data, feature_maps):
        if not feature_maps:
            return []
        return [Observables({"feature_" + k: d for k, d in RETRIEVAL.dims.items()}, _features)]


def _test_images(pr: Probe) -> dict:
    c = pr.c
    final = pr.settle(pr.key("test"), c["test"])
    proto = c["prototypes"][c["test_labels"]]
    return {"test_mf": metrics.fixed_mean(metrics.fixed_mean(final * c["test"], -1)),
            "test_proto": metrics.fixed_mean(metrics.fixed_mean(final * proto, -1))}


def _train_proto(pr: Probe) -> dict:
    final = pr.settle(pr.key("train"), pr.xi)
    proto = pr.c["prototypes"][pr.c["train_labels"][pr.p["seed"]]]
    return {"train_proto": metrics.fixed_mean(metrics.fixed_mean(final * proto, -1),
                                              mask=pr.mask)}


def _proto_start(pr: Probe) -> dict:
    proto = pr.c["prototypes"]
    final = pr.settle(pr.key("prototypes"), proto)
    return {"proto_mf": metrics.fixed_mean(metrics.fixed_mean(final * proto, -1))}


class Mnist(Source):
    """Binarised MNIST digits (`hopjax.datasets.mnist`): per seed a balanced training subset
    of the largest P (prefix-consistent in P), plus the generalisation observables of
    Serricchio et al. 2025, Fig. 4, every one a final overlap: ``test_mf`` of unseen test
    images started at themselves, with themselves; ``test_proto`` / ``train_proto`` of test /
    training images started at themselves, with the class prototype of their digit;
    ``proto_mf`` of the 10 class prototypes started at themselves, with themselves (mean over
    the digits; the paper's green dotted curve)."""

    kind = "mnist"
    only = ("crop",)

    def check(self, data, N):
        from hopjax.datasets import mnist

        k = data.crop or mnist.DEFAULT_CROP
        if N != k * k:
            raise ValueError(f"N: must equal the MNIST crop size squared, {k}² = {k * k} "
                             f"(data.crop = {k}); got {N}")

    def constants(self, data, N, seed, seeds):
        """Per seed a balanced training subset of the largest P ((seeds, P_max, N) ±1,
        labels), the first ``n_test`` test images, and the class prototypes of the whole
        training set; read from the offline cache (hopjax.datasets)."""
        from hopjax.datasets import mnist

        k = data.crop or mnist.DEFAULT_CROP
        train_img, train_lab = mnist.load("train")
        test_img, test_lab = mnist.load("test")
        train = mnist.preprocess(train_img, crop=k, deskew=data.deskew)
        test = mnist.preprocess(test_img[: data.n_test], crop=k, deskew=data.deskew)
        Pm = max_count(data.alpha, N)
        subsets = np.stack([mnist.balanced_subset(seed * 100_003 + s, train_lab, Pm)
                            for s in range(seeds)])
        return {"train": train[subsets], "train_labels": train_lab[subsets].astype(np.int32),
                "test": test, "test_labels": test_lab[: data.n_test].astype(np.int32),
                "prototypes": mnist.prototypes(train, train_lab)}

    def sampler(self, data, N, P_max):
        return lambda key, p, c: (c["train"][p["seed"]], None)

    def trajectories(self, data, P_max, per_map, feature_maps):
        from hopjax.datasets import mnist

        return data.n_test + P_max + mnist.N_CLASSES

    def observables(self, data, feature_maps):
        return [Observables({"test_mf": (), "test_proto": ()}, _test_images),
                Observables({"train_proto": ()}, _train_proto),
                Observables({"proto_mf": ()}, _proto_start)]


SOURCES: dict[str, Source] = {s.kind: s for s in (Uncorrelated(), RandomFeatures(), Mnist())}
# data field -> the one kind that takes it
FIELD_OWNER = {f: kind for kind, s in SOURCES.items() for f in s.only}


def check_count(data, name: str, N: int) -> None:
    # no empty grid point: every α gives P >= 1 patterns (every α_D, D >= 1 features)
    sym, what = {"alpha": ("α", "P"), "alpha_D": ("α_D", "D")}[name]
    for a in getattr(data, name):
        if patterns.count(a, N) < 1:
            raise ValueError(
                f"data.{name}: {sym} = {a:g} gives {what} = round({sym} N) = 0 "
                f"{'patterns' if what == 'P' else 'features'} at N = {N}; every "
                f"{sym} must be > 0.5/N = {0.5 / N:.4g} (or raise N)")
