"""MNIST prototype classification (experiments/prototypes.py): models on synthetic prototypes,
the jax label matcher against `mnist.classify`, the quick config end to end, config errors."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax.experiments import prototypes as P
from hopjax import patterns
from hopjax.config import ConfigError, load_config, validate_config
from hopjax.datasets import mnist

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "mnist_prototypes.yaml"
K = 16  # synthetic "crop": N = 256, ten prototypes (α ≈ 0.04)


def _cfg(**over):
    raw = {"experiment": "prototypes", "name": "t", "N": K * K, "seeds": 1,
           "data": {"crop": K, "n_test": 190},
           "training": {"tau": 10.0, "epochs": 20, "record": [0, 20], "monitor": 190},
           "modern": {"beta": [1.0]}, "test_chunk": 50}
    for k, v in over.items():
        raw[k] = {**raw[k], **v} if isinstance(v, dict) else v
    return validate_config(raw)


def _constants(cfg, protos, test, labels):
    return {"test": P._pad(np.asarray(test, np.float32), P._chunk(cfg)),
            "test_labels": np.asarray(labels, np.int32),
            "prototypes": np.asarray(protos, np.float32)}


def _run(cfg, model, c, seed=0):
    f = jax.jit(P._point_fn(cfg, model))
    return jax.tree.map(np.asarray, f({"seed": jnp.int32(seed)}, c))


def _noisy_set(m0, n=190):
    protos = patterns.random(jax.random.key(0), 10, K * K)
    labels = np.arange(n) % 10
    test = patterns.flip_to_overlap(jax.random.key(1), protos[labels], m0)
    return np.asarray(protos), np.asarray(test), labels


@pytest.mark.parametrize("model", P.MODELS)
def test_every_model_cleans_noisy_copies_of_separated_prototypes(model):
    # nearly orthogonal prototypes at low load: cues at overlap 0.6 lie deep in every basin
    protos, test, labels = _noisy_set(0.6)
    cfg = _cfg()
    out = _run(cfg, model, _constants(cfg, protos, test, labels))
    assert out["pred"].shape == (1, 190) and out["pred"].dtype == np.int8
    np.testing.assert_array_equal(out["pred"][0], labels)
    assert out["fixed_fraction"] == 1.0
    if model == "daydreaming":  # the convergence record: perfect at every recorded epoch
        np.testing.assert_array_equal(out["curve_accuracy"], [100.0, 100.0])
        np.testing.assert_array_equal(out["curve_fixed"], [1.0, 1.0])
    else:
        assert np.isnan(out["curve_accuracy"]).all()


def test_nearest_is_argmax_overlap_even_when_wrong():
    protos, test, labels = _noisy_set(0.05)  # so noisy that many are misclassified
    cfg = _cfg()
    pred = _run(cfg, "nearest", _constants(cfg, protos, test, labels))["pred"][0]
    np.testing.assert_array_equal(pred, np.argmax(test @ protos.T, axis=1))
    assert (pred != labels).any() and (pred >= 0).all()  # wrong sometimes, never spurious


def test_traced_prototype_matcher_under_jit_and_vmap_over_tol():
    # the experiment labels final states inside jit with mnist.match_prototypes; tol traced
    protos, test, labels = _noisy_set(0.9, n=50)  # test: overlap ≈ 0.9 with its class
    states = jnp.asarray(np.concatenate([protos, -protos, test]))
    f = jax.jit(jax.vmap(mnist.match_prototypes, in_axes=(None, None, 0)))
    exact, loose = np.asarray(f(states, jnp.asarray(protos), jnp.asarray([0.0, 0.2])))
    np.testing.assert_array_equal(exact, list(range(10)) + [-1] * 60)  # mirrors, near misses
    np.testing.assert_array_equal(loose, list(range(10)) + [-1] * 10 + list(labels))
    np.testing.assert_array_equal(loose, mnist.classify(np.asarray(states), protos, tol=0.2))


def test_pseudo_inverse_stores_correlated_prototypes_that_hebb_does_not():
    # prototypes sharing a strong common component (as MNIST digits do): Hebb's fixed points
    # are mixtures, the projector keeps every prototype a fixed point (Personnaz et al. 1985)
    k = jax.random.split(jax.random.key(3))
    common = jax.random.rademacher(k[0], (K * K,), jnp.float32)
    flip = jax.random.bernoulli(k[1], 0.15, (10, K * K))
    protos = np.asarray(jnp.where(flip, -common, common))
    cfg = _cfg()
    c = _constants(cfg, protos, protos[np.arange(190) % 10], np.arange(190) % 10)
    assert _run(cfg, "pseudo_inverse", c)["fixed_fraction"] == 1.0
    assert _run(cfg, "hebb", c)["fixed_fraction"] < 0.5


def test_quick_config_end_to_end(tmp_path):
    from hopjax.run import run

    cfg = load_config(CONFIG, quick=True)
    path, figures = run(cfg, tmp_path, progress=False)
    from hopjax.io import load

    ds = load(path)
    assert list(ds["model"].values) == list(P.MODELS)
    n = cfg.data.n_test
    pred = ds["pred"].values
    assert pred.shape == (len(P.MODELS), cfg.seeds, len(cfg.modern.beta), n)
    assert pred.min() >= -1 and pred.max() <= 9
    tabs = P.tables(ds)
    for ts in tabs.values():
        for t in ts:
            assert t.n.sum() == n
            np.testing.assert_allclose(t.accuracy + t.wrong_total + t.spurious_total, 100.0)
    # the baseline from the stored prototypes, recomputed on the host
    c = P.constants(cfg)
    test = c["test"].reshape(-1, cfg.N)[:n]
    np.testing.assert_array_equal(ds["pred"].sel(model="nearest").values[0, 0],
                                  np.argmax(test @ c["prototypes"].T, axis=1))
    names = {f.name for f in figures}
    assert {"classification.md", "daydreaming_accuracy.png"} <= names
    text = (tmp_path / "classification.md").read_text()
    assert "| nearest |" in text and "Daydreaming convergence" in text


def test_bad_model_name_names_field_and_allowed_values():
    with pytest.raises(ConfigError) as e:
        _cfg(models=["hebb", "hopfield"])
    msg = str(e.value)
    assert "models.1" in msg and "'pseudo_inverse'" in msg and "'nearest'" in msg


@pytest.mark.parametrize("over, field", [
    ({"N": 100}, "field 'N'"),
    ({"models": ["hebb", "hebb"]}, "field 'models'"),
    ({"modern": {"beta": [1.0, -2.0]}}, "field 'modern.beta'"),
    ({"training": {"record": [0, 30]}}, "field 'training.record'"),
    ({"training": {"monitor": 500}}, "field 'training'"),
])
def test_config_errors_name_the_field(over, field):
    with pytest.raises(ConfigError, match=field):
        _cfg(**over)


def _synthetic_results(seeds=2, n=40):
    import xarray as xr

    rng = np.random.default_rng(0)
    labels = np.arange(n) % 10
    models, betas, epochs = ["hebb", "modern", "daydreaming"], [1.0, 4.0], [0, 5, 50]
    pred = np.where(rng.random((3, seeds, 2, n)) < 0.8, labels, -1).astype(np.int8)
    curve = rng.uniform(0, 100, (3, seeds, 3)).astype(np.float32)
    ds = xr.Dataset({"pred": (("model", "seed", "beta", "test"), pred),
                     "curve_accuracy": (("model", "seed", "epoch"), curve),
                     "curve_spurious": (("model", "seed", "epoch"), 100 - curve),
                     "curve_fixed": (("model", "seed", "epoch"), curve / 100)},
                    coords={"model": models, "seed": range(seeds), "beta": betas,
                            "test": range(n), "epoch": epochs})
    return ds, labels


def test_tables_and_markdown_of_the_report():
    from hopjax import prototype_tables as T

    assert P.tables is T.tables and P.summary_markdown is T.summary_markdown
    ds, labels = _synthetic_results()
    tabs = T.tables(ds, labels)
    assert list(tabs) == ["hebb", "modern β=1", "modern β=4", "daydreaming"]
    assert all(len(ts) == 2 for ts in tabs.values())
    text = T.classification_markdown(ds, tabs)
    assert text.startswith("# MNIST prototype classification\n\n40 test images, 2 seeds")
    assert text.count("| all | 40 |") == 4 and "## Daydreaming convergence" in text
    assert T.mean_std([1.0, 3.0]) == "2.0 ± 1.0" and T.mean_std([1, 2], 2) == "1.50 ± 0.50"
    assert T.settings_text(None) == ""
    no_dd = T.classification_markdown(ds.sel(model=["hebb"]), T.tables(ds.sel(model=["hebb"]),
                                                                       labels))
    assert "Daydreaming" not in no_dd
