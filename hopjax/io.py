"""Resumable, chunk-by-chunk result store for parameter sweeps.

A sweep evaluates a function on the C-order flattening of a parameter grid
(``n_points`` points), cut into chunks of consecutive flat indices.
:class:`ResultStore` persists every chunk result as soon as it exists, so a run
killed at any moment (even by SIGKILL) resumes where it stopped, and at the end
assembles everything into one netCDF file that :func:`load` reads back.

Layout on disk for a final file ``out.nc``::

    out.nc.partial/manifest.json      fingerprint, grid, variables, chunk bounds, attrs
    out.nc.partial/chunk-000012.npz   one file per finished chunk

Every file is written under a temporary name, fsynced and moved into place with
``os.replace``: readers only ever see complete files, and ``out.nc`` appears
only once it is completely written. One writer per store at a time.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import math
import operator
import os
import pathlib
import shutil

import numpy as np
import xarray as xr

__all__ = ["ResultStore", "load"]

_PREFIX = "hopjax_"  # netCDF attribute prefix of JSON-encoded metadata
_MANIFEST = "manifest.json"
_LAYOUT_KEYS = ("grid_dims", "variables", "inner_coords", "chunk_bounds")
_OVERWRITE_HINT = "pass --overwrite to replace it, or choose another --out"


# ----------------------------------------------------------------- file helpers


@functools.cache
def _engine() -> str:
    """xarray netCDF engine: h5netcdf, or netCDF4 where h5py is missing.

    h5netcdf >= 1.8 no longer installs h5py, without which it can do nothing;
    netCDF4 writes the same NETCDF4/HDF5 format, so files are interchangeable.
    """
    return "h5netcdf" if importlib.util.find_spec("h5py") else "netcdf4"


def _fsync_dir(directory: pathlib.Path) -> None:
    # Makes the os.replace itself durable, not just the file contents.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: pathlib.Path, write, tmp_dir: pathlib.Path | None = None) -> None:
    """Call ``write(tmp_path)``, fsync it, then ``os.replace`` it onto ``path``.

    ``tmp_dir`` must be on the same filesystem as ``path`` (default: its parent).
    Temporary names start with '.' and end with '.tmp' so they never match a
    finished file's name and can be cleaned up after a crash.
    """
    tmp = (tmp_dir or path.parent) / f".{path.name}.{os.getpid()}.tmp"
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _rmtree(directory: pathlib.Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)


def _json_default(obj):
    # Let numpy scalars/arrays in attrs through (e.g. seeds, versions).
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def _dumps(obj) -> str:
    return json.dumps(obj, default=_json_default)


def _coord_to_json(name: str, values) -> dict:
    a = np.asarray(values)
    if a.dtype == object and all(isinstance(v, str) for v in a.ravel()):
        a = a.astype(str)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"coordinate {name!r} must be a non-empty 1-D array, got shape {a.shape}")
    if a.dtype.kind not in "biufU":
        raise ValueError(f"coordinate {name!r} must be numeric, bool or str, got dtype {a.dtype}")
    # tolist() + JSON round-trips floats exactly (shortest repr), so resumed
    # manifests compare equal to freshly built ones.
    return {"values": a.tolist(), "dtype": a.dtype.str}


def _coord_from_json(d: dict) -> np.ndarray:
    return np.asarray(d["values"], dtype=np.dtype(d["dtype"]))


def _final_fingerprint(path: pathlib.Path):
    """Fingerprint of a finished store at ``path``, or None if it is not one."""
    try:
        with xr.open_dataset(path, engine=_engine()) as ds:
            return json.loads(ds.attrs[_PREFIX + "fingerprint"])
    except Exception:  # unreadable / not netCDF / not ours: all mean "foreign file"
        return None


def _build_manifest(grid_dims, variables, inner_coords, chunk_bounds, attrs, fingerprint) -> dict:
    """Validate the layout and return it as a JSON-normalised manifest dict."""
    if not isinstance(fingerprint, str):
        raise ValueError("fingerprint must be a str")
    grid = [{"name": str(n), **_coord_to_json(n, v)} for n, v in grid_dims.items()]
    grid_names = [g["name"] for g in grid]
    n_points = math.prod(len(g["values"]) for g in grid)

    if not variables:
        raise ValueError("at least one variable is required")
    var_json, inner_sizes = {}, {}
    for name, (dims, shape, dtype) in variables.items():
        dims, shape = [str(d) for d in dims], [operator.index(s) for s in shape]
        if len(dims) != len(shape):
            raise ValueError(f"variable {name!r}: {len(dims)} inner dims {dims} but shape {shape}")
        for d, s in zip(dims, shape):
            if d in grid_names:
                raise ValueError(f"variable {name!r}: inner dim {d!r} is also a grid dim")
            if inner_sizes.setdefault(d, s) != s:
                raise ValueError(f"inner dim {d!r} has sizes {inner_sizes[d]} and {s} in different variables")
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError(f"variable {name!r}: object dtype cannot be stored")
        var_json[str(name)] = {"dims": dims, "shape": shape, "dtype": dt.str}

    coords_json = {}
    for name, values in inner_coords.items():
        if name not in inner_sizes:
            raise ValueError(f"inner coordinate {name!r} is not an inner dim of any variable")
        c = _coord_to_json(name, values)
        if len(c["values"]) != inner_sizes[name]:
            raise ValueError(f"inner coordinate {name!r} has length {len(c['values'])}, dim size is {inner_sizes[name]}")
        coords_json[str(name)] = c

    bounds = [[operator.index(s), operator.index(e)] for s, e in chunk_bounds]
    # Chunks must tile 0..n_points in order, so flat index -> chunk is unambiguous.
    edges = [0] + [e for _, e in bounds]
    if not bounds or any(s != edges[k] or e <= s for k, (s, e) in enumerate(bounds)) or edges[-1] != n_points:
        raise ValueError(f"chunk_bounds must be consecutive non-empty [start, stop) ranges covering 0..{n_points}")

    if "fingerprint" in attrs:
        raise ValueError("attrs key 'fingerprint' is reserved")
    try:
        attrs_json = json.loads(_dumps(dict(attrs)))
    except (TypeError, ValueError) as e:
        raise ValueError(f"attrs must be JSON-serialisable: {e}") from None

    return {
        "format": 1,
        "fingerprint": fingerprint,
        "grid_dims": grid,
        "variables": var_json,
        "inner_coords": coords_json,
        "chunk_bounds": bounds,
        "attrs": attrs_json,
    }


# ------------------------------------------------------------------- the store


class ResultStore:
    """Chunked, crash-safe results of a sweep, finalised into one netCDF file.

    Typical use::

        store = ResultStore.create(out, grid_dims=..., variables=..., ...)
        for i in store.pending():
            start, stop = store.chunk_bounds[i]
            store.write_chunk(i, compute(start, stop))
        store.finalize()

    Build instances with :meth:`create`.
    """

    def __init__(self, path: pathlib.Path, manifest: dict):
        self.path = path
        self.work_dir = path.with_name(path.name + ".partial")
        self._manifest = manifest
        self._grid = [(g["name"], _coord_from_json(g)) for g in manifest["grid_dims"]]
        self._vars = {
            n: (tuple(v["dims"]), tuple(v["shape"]), np.dtype(v["dtype"]))
            for n, v in manifest["variables"].items()
        }
        self.chunk_bounds: list[tuple[int, int]] = [tuple(b) for b in manifest["chunk_bounds"]]
        self._done: set[int] = set()
        self._complete = False

    @classmethod
    def create(
        cls,
        path,
        *,
        grid_dims: dict[str, np.ndarray],
        variables: dict[str, tuple[tuple[str, ...], tuple[int, ...], str]],
        inner_coords: dict[str, np.ndarray],
        chunk_bounds: list[tuple[int, int]],
        attrs: dict,
        fingerprint: str,
        mode: str = "resume",
    ) -> "ResultStore":
        """Open (mode "resume") or start afresh (mode "overwrite") the store for ``path``.

        grid_dims: ordered ``dim -> 1-D coords``; points are their C-order product.
        variables: ``name -> (inner dims, inner shape, dtype)``; a chunk holds
            arrays of shape ``(stop - start, *inner shape)``.
        inner_coords: coords for those inner dims that have any.
        chunk_bounds: consecutive ``[start, stop)`` flat-index ranges covering all points.
        attrs: JSON-serialisable metadata, stored in the final file.
        fingerprint: identifies the computation; only matching stores are resumed.

        "resume": a finished file with the same fingerprint makes the store
        ``complete``; a work dir with the same fingerprint (and layout) is
        reused, dropping corrupt chunk files. Anything else already there raises
        ``FileExistsError``. Exception: a matching work dir is resumed even when
        an older file with another fingerprint exists at ``path``; that only
        happens after an interrupted ``--overwrite`` run, whose finalize then
        replaces the old file.
        "overwrite": wipe the work dir; an existing final file is left intact
        until :meth:`finalize` replaces it.
        """
        if mode not in ("resume", "overwrite"):
            raise ValueError(f"mode must be 'resume' or 'overwrite', got {mode!r}")
        path = pathlib.Path(path)
        manifest = _build_manifest(grid_dims, variables, inner_coords, chunk_bounds, attrs, fingerprint)
        store = cls(path, manifest)
        store._open(mode)
        return store

    # -- opening / resuming

    def _open(self, mode: str) -> None:
        fp = self._manifest["fingerprint"]
        if mode == "overwrite":
            _rmtree(self.work_dir)
        else:
            if self.path.exists() and _final_fingerprint(self.path) == fp:
                # A leftover work dir means a crash between os.replace and cleanup.
                _rmtree(self.work_dir)
                self._done = set(range(len(self.chunk_bounds)))
                self._complete = True
                return
            old = self._read_work_manifest()
            if old is not None and old.get("fingerprint") == fp:
                if any(old.get(k) != self._manifest[k] for k in _LAYOUT_KEYS):
                    raise FileExistsError(
                        f"{self.work_dir} holds partial results with the same fingerprint but a different "
                        f"grid/variables/chunking; {_OVERWRITE_HINT}"
                    )
                self._clean_tmp()
                self._done = {i for i in range(len(self.chunk_bounds)) if self._chunk_ok(i)}
                # Attrs (devices, versions, ...) describe the run that finishes the store.
                self._write_manifest()
                return
            if self.path.exists():
                raise FileExistsError(
                    f"{self.path} exists and is not a finished result of this computation "
                    f"(different fingerprint); {_OVERWRITE_HINT}"
                )
            if old is not None:
                raise FileExistsError(
                    f"{self.work_dir} holds partial results of a different computation "
                    f"(fingerprint {old.get('fingerprint')!r}, expected {fp!r}); {_OVERWRITE_HINT}"
                )
            _rmtree(self.work_dir)  # at most an empty/tmp-only leftover
        self.work_dir.mkdir(parents=True)
        self._write_manifest()

    def _read_work_manifest(self) -> dict | None:
        """The work dir's manifest; None if there is no work dir worth keeping."""
        if not self.work_dir.is_dir():
            return None
        try:
            return json.loads((self.work_dir / _MANIFEST).read_text())
        except (OSError, ValueError):
            # The manifest is written before any chunk, so chunks without one are
            # not ours to judge; a dir without chunks is a harmless leftover.
            if any(self.work_dir.glob("chunk-*.npz")):
                raise FileExistsError(
                    f"{self.work_dir} holds chunk files but no readable manifest; {_OVERWRITE_HINT}"
                ) from None
            return None

    def _write_manifest(self) -> None:
        text = json.dumps(self._manifest, indent=1)
        _atomic_write(self.work_dir / _MANIFEST, lambda tmp: tmp.write_text(text))

    def _clean_tmp(self) -> None:
        # Left by writes killed before their os.replace; never part of the result.
        for tmp in self.work_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def _chunk_path(self, i: int) -> pathlib.Path:
        return self.work_dir / f"chunk-{i:06d}.npz"

    def _chunk_ok(self, i: int) -> bool:
        """Whether chunk ``i`` is stored intact; a damaged file is deleted."""
        f = self._chunk_path(i)
        if not f.exists():
            return False
        try:
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}  # reads everything: zip CRCs are checked
            checked = self._check(i, arrays)
            if any(arrays[n].dtype != checked[n].dtype for n in arrays):
                raise ValueError("dtype mismatch")
            return True
        except Exception:  # truncated/corrupt zip raises many types; all mean "recompute"
            f.unlink(missing_ok=True)
            return False

    # -- public API

    @property
    def complete(self) -> bool:
        """True once the final file exists (finalized now or in an earlier run)."""
        return self._complete

    def pending(self) -> list[int]:
        """Sorted ids of the chunks not stored yet."""
        return [i for i in range(len(self.chunk_bounds)) if i not in self._done]

    def _check(self, i, arrays: dict) -> dict[str, np.ndarray]:
        """Validate chunk ``i``'s arrays and cast them to the declared dtypes."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"chunk id must be an int, got {i!r}")
        if not 0 <= i < len(self.chunk_bounds):
            raise ValueError(f"chunk id {i} out of range 0..{len(self.chunk_bounds) - 1}")
        missing, extra = self._vars.keys() - arrays.keys(), arrays.keys() - self._vars.keys()
        if missing or extra:
            raise ValueError(f"chunk {i}: missing arrays {sorted(missing)}, unexpected arrays {sorted(extra)}")
        start, stop = self.chunk_bounds[i]
        out = {}
        for name, (_, shape, dtype) in self._vars.items():
            a = np.asarray(arrays[name])
            want = (stop - start, *shape)
            if a.shape != want:
                raise ValueError(f"chunk {i}: {name!r} has shape {a.shape}, expected {want}")
            if not np.can_cast(a.dtype, dtype, casting="same_kind"):
                raise ValueError(f"chunk {i}: {name!r} has dtype {a.dtype}, cannot store as {dtype}")
            out[name] = np.ascontiguousarray(a, dtype=dtype)
        return out

    def write_chunk(self, i: int, arrays: dict[str, np.ndarray]) -> None:
        """Store chunk ``i`` atomically; ``arrays[name]`` has shape ``(stop - start, *inner_shape)``."""
        if self._complete:
            raise ValueError(f"{self.path} is already finalized; nothing to write")
        arrays = self._check(i, arrays)

        def write(tmp: pathlib.Path) -> None:
            with open(tmp, "wb") as f:  # a file object, so np.savez keeps the name as is
                np.savez(f, **arrays)

        _atomic_write(self._chunk_path(i), write)
        self._done.add(int(i))

    def finalize(self) -> pathlib.Path:
        """Assemble all chunks into the netCDF file at ``path`` and remove the work dir.

        The file is written under a temporary name inside the work dir (same
        filesystem) and moved onto ``path`` with ``os.replace``. Returns ``path``.
        """
        if self._complete:
            return self.path
        missing = self.pending()
        if missing:
            raise ValueError(
                f"cannot finalize {self.path}: {len(missing)} of {len(self.chunk_bounds)} chunks "
                f"missing (first: {missing[:10]})"
            )
        ds = self._assemble()
        # No _FillValue: nothing gets masked, so the data come back bit for bit.
        encoding = {name: {"_FillValue": None} for name in ds.variables}
        _atomic_write(
            self.path,
            lambda tmp: ds.to_netcdf(tmp, engine=_engine(), encoding=encoding),
            tmp_dir=self.work_dir,
        )
        shutil.rmtree(self.work_dir)
        self._complete = True
        return self.path

    def _assemble(self) -> xr.Dataset:
        grid_names = [n for n, _ in self._grid]
        grid_shape = tuple(len(c) for _, c in self._grid)
        n_points = self.chunk_bounds[-1][1]
        flat = {n: np.empty((n_points, *shape), dtype) for n, (_, shape, dtype) in self._vars.items()}
        for i, (start, stop) in enumerate(self.chunk_bounds):
            with np.load(self._chunk_path(i), allow_pickle=False) as z:
                for name in flat:
                    flat[name][start:stop] = z[name]
        data_vars = {
            name: ((*grid_names, *dims), flat[name].reshape(grid_shape + shape))  # C-order points -> grid
            for name, (dims, shape, _) in self._vars.items()
        }
        coords = {n: c for n, c in self._grid}
        coords |= {n: _coord_from_json(c) for n, c in self._manifest["inner_coords"].items()}
        # netCDF attrs must be scalars/strings: JSON-encode every entry.
        attrs = {_PREFIX + "fingerprint": _dumps(self._manifest["fingerprint"])}
        attrs |= {_PREFIX + k: _dumps(v) for k, v in self._manifest["attrs"].items()}
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def load(path) -> xr.Dataset:
    """Read a finalized store into memory.

    ``hopjax_<key>`` attributes are JSON-decoded into ``ds.attrs[key]``
    (including ``fingerprint``); tuples come back as lists. String coordinates
    come back with a numpy str dtype.
    """
    with xr.open_dataset(path, engine=_engine()) as ds:
        ds = ds.load()
    attrs = {}
    for k, v in ds.attrs.items():
        if k.startswith(_PREFIX):
            attrs[k[len(_PREFIX):]] = json.loads(v)
        else:
            attrs[k] = v
    ds.attrs = attrs
    # netCDF hands strings back as object arrays; restore a plain str dtype.
    str_coords = {n: c.values.astype(str) for n, c in ds.coords.items() if c.dtype == object}
    return ds.assign_coords(str_coords) if str_coords else ds
