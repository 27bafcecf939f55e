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
only once it is completely written.

Several writers. Any number of processes (on one host, or on hosts sharing a filesystem)
may write the chunks of the *same* sweep at once: each chunk file carries the sweep's
fingerprint and its chunk index and bounds, so a file of another sweep or a file moved onto
another index is detected and recomputed, and two writers of the same chunk write the same
bytes (the sweep is deterministic) through atomic replaces. A writer of a *different* sweep is
refused while another writer is alive in the store, or while its chunks are there (unless
``mode="overwrite"`` and nobody else is writing). Liveness is an ``flock`` each writer holds on
its own ``writer-<host>-<pid>.lock`` in the work dir, which the kernel drops when the writer
dies; opening and finalizing are serialised by a short-lived lock ``.out.nc.lock`` next to
``out.nc``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import importlib.util
import json
import math
import operator
import pathlib
import shutil
import uuid

import numpy as np
import xarray as xr

from hopjax.files import FileLock, atomic_write, writer_tag

__all__ = ["Layout", "ResultStore", "StoreBusyError", "chunks_on_disk", "load", "load_partial"]

_PREFIX = "hopjax_"  # netCDF attribute prefix of JSON-encoded metadata
_MANIFEST = "manifest.json"
_LAYOUT_KEYS = ("grid_dims", "variables", "inner_coords", "chunk_bounds")
_OVERWRITE_HINT = "pass --overwrite to replace it, or choose another --out"
_META = "__hopjax_chunk__"  # per chunk file: [index, start, stop]
_META_FP = "__hopjax_fingerprint__"


# ----------------------------------------------------------------- file helpers


@functools.cache
def _engine() -> str:
    """xarray netCDF engine: h5netcdf, or netCDF4 where h5py is missing.

    h5netcdf >= 1.8 no longer installs h5py, without which it can do nothing;
    netCDF4 writes the same NETCDF4/HDF5 format, so files are interchangeable.
    """
    return "h5netcdf" if importlib.util.find_spec("h5py") else "netcdf4"


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


def _grid_json(grid_dims) -> list[dict]:
    return [{"name": str(n), **_coord_to_json(n, v)} for n, v in grid_dims.items()]


def _variables_json(variables, grid_names) -> tuple[dict, dict]:
    """(variables as JSON, inner dim -> size); a dim's size must agree across variables."""
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
        if str(name).startswith("__"):
            raise ValueError(f"variable {name!r}: names starting with '__' are reserved")
        dt = np.dtype(dtype)
        if dt.hasobject:
            raise ValueError(f"variable {name!r}: object dtype cannot be stored")
        var_json[str(name)] = {"dims": dims, "shape": shape, "dtype": dt.str}
    return var_json, inner_sizes


def _inner_coords_json(inner_coords, inner_sizes) -> dict:
    coords_json = {}
    for name, values in inner_coords.items():
        if name not in inner_sizes:
            raise ValueError(f"inner coordinate {name!r} is not an inner dim of any variable")
        c = _coord_to_json(name, values)
        if len(c["values"]) != inner_sizes[name]:
            raise ValueError(f"inner coordinate {name!r} has length {len(c['values'])}, dim size is {inner_sizes[name]}")
        coords_json[str(name)] = c
    return coords_json


def _bounds_json(chunk_bounds, n_points: int) -> list[list[int]]:
    bounds = [[operator.index(s), operator.index(e)] for s, e in chunk_bounds]
    # Chunks must tile 0..n_points in order, so flat index -> chunk is unambiguous.
    edges = [0] + [e for _, e in bounds]
    if not bounds or any(s != edges[k] or e <= s for k, (s, e) in enumerate(bounds)) or edges[-1] != n_points:
        raise ValueError(f"chunk_bounds must be consecutive non-empty [start, stop) ranges covering 0..{n_points}")
    return bounds


@dataclasses.dataclass(frozen=True, eq=False)
class Layout:
    """What a sweep's store holds: its grid, its variables and how its points are chunked.

    grid_dims: ordered ``dim -> 1-D coords``; points are their C-order product.
    variables: ``name -> (inner dims, inner shape, dtype)``; a chunk holds
        arrays of shape ``(stop - start, *inner shape)``.
    inner_coords: coords for those inner dims that have any.
    chunk_bounds: consecutive ``[start, stop)`` flat-index ranges covering all points.

    Validated on construction (``ValueError`` naming the dim, variable or coordinate). The
    fields hold normalised copies, exactly what a resumed store reads back from its
    manifest: coords as 1-D numpy arrays (numeric, bool or str), variables as
    ``(tuple of dims, tuple of sizes, numpy dtype)``, bounds as a tuple of ``(start, stop)``.
    Two layouts are equal when their manifests (`to_json`) are.
    """

    grid_dims: dict[str, np.ndarray]
    variables: dict[str, tuple[tuple[str, ...], tuple[int, ...], np.dtype]]
    inner_coords: dict[str, np.ndarray]
    chunk_bounds: tuple[tuple[int, int], ...]

    def __post_init__(self):
        grid = _grid_json(self.grid_dims)
        n_points = math.prod(len(g["values"]) for g in grid)
        variables, inner_sizes = _variables_json(self.variables, [g["name"] for g in grid])
        coords = _inner_coords_json(self.inner_coords, inner_sizes)
        bounds = _bounds_json(self.chunk_bounds, n_points)
        # Normalised through JSON: a fresh store sees what a resumed one reads from disk.
        fields = {
            "grid_dims": {g["name"]: _readonly(_coord_from_json(g)) for g in grid},
            "variables": {n: (tuple(v["dims"]), tuple(v["shape"]), np.dtype(v["dtype"]))
                          for n, v in variables.items()},
            "inner_coords": {n: _readonly(_coord_from_json(c)) for n, c in coords.items()},
            "chunk_bounds": tuple((s, e) for s, e in bounds),
            "_json": {"grid_dims": grid, "variables": variables, "inner_coords": coords,
                      "chunk_bounds": bounds},
        }
        for k, v in fields.items():
            object.__setattr__(self, k, v)

    @classmethod
    def from_json(cls, manifest: dict) -> Layout:
        """The layout of a manifest (or of `to_json`'s dict)."""
        return cls(grid_dims={g["name"]: _coord_from_json(g) for g in manifest["grid_dims"]},
                   variables={n: (v["dims"], v["shape"], v["dtype"])
                              for n, v in manifest["variables"].items()},
                   inner_coords={n: _coord_from_json(c)
                                 for n, c in manifest["inner_coords"].items()},
                   chunk_bounds=manifest["chunk_bounds"])

    def to_json(self) -> dict:
        """The layout's part of the store manifest (keys ``grid_dims``, ``variables``,
        ``inner_coords``, ``chunk_bounds``), JSON-ready."""
        return copy.deepcopy(self._json)

    def matches(self, manifest: dict) -> bool:
        """Whether ``manifest`` (e.g. a work dir's) has exactly this layout."""
        return all(manifest.get(k) == self._json[k] for k in _LAYOUT_KEYS)

    def __eq__(self, other):
        return isinstance(other, Layout) and self._json == other._json

    def __hash__(self):
        return hash(json.dumps(self._json, sort_keys=True))

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.grid_dims.values())

    @property
    def n_points(self) -> int:
        """Points of the grid (the product of its dims' sizes)."""
        return math.prod(self.grid_shape)

    @property
    def n_chunks(self) -> int:
        return len(self.chunk_bounds)


def _readonly(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _build_manifest(layout: Layout, attrs, fingerprint) -> dict:
    """The store's manifest: format, fingerprint, the layout and the attrs (validated)."""
    if "fingerprint" in attrs:
        raise ValueError("attrs key 'fingerprint' is reserved")
    try:
        attrs_json = json.loads(_dumps(dict(attrs)))
    except (TypeError, ValueError) as e:
        raise ValueError(f"attrs must be JSON-serialisable: {e}") from None
    return {"format": 1, "fingerprint": fingerprint, **layout.to_json(), "attrs": attrs_json}


def _layout_of(layout, given: dict) -> Layout:
    """`ResultStore.create`'s layout: ``layout``, or one built from the four keywords."""
    if layout is not None:
        passed = sorted(k for k, v in given.items() if v is not None)
        if passed:
            raise TypeError(f"ResultStore.create: pass either layout or {', '.join(_LAYOUT_KEYS)}, "
                            f"not both (got layout and {', '.join(passed)})")
        if not isinstance(layout, Layout):
            raise TypeError(f"layout must be a hopjax.io.Layout, got {type(layout).__name__}")
        return layout
    missing = [k for k in _LAYOUT_KEYS if given[k] is None]
    if missing:
        raise TypeError(f"ResultStore.create: missing layout (or the keyword arguments "
                        f"{', '.join(missing)})")
    return Layout(**given)


# ------------------------------------------------------------------- the store


class StoreBusyError(FileExistsError):
    """Another live writer holds the store, for a different sweep or while overwriting."""


class ResultStore:
    """Chunked, crash-safe results of a sweep, finalised into one netCDF file.

    Typical use::

        with ResultStore.create(out, grid_dims=..., variables=..., ...) as store:
            for i in store.pending():
                start, stop = store.chunk_bounds[i]
                store.write_chunk(i, compute(start, stop))
            store.finalize()

    Build instances with :meth:`create`. A store holds a writer lock until :meth:`close`,
    :meth:`finalize` or the end of its process.
    """

    def __init__(self, path: pathlib.Path, manifest: dict, layout: Layout | None = None):
        self.path = path
        self.work_dir = path.with_name(path.name + ".partial")
        self._manifest = manifest
        self.layout = Layout.from_json(manifest) if layout is None else layout
        self._vars = self.layout.variables
        self.chunk_bounds: list[tuple[int, int]] = list(self.layout.chunk_bounds)
        self._done: set[int] = set()
        self._complete = False
        self._mutex = FileLock(path.with_name(f".{path.name}.lock"), unlink_on_exit=True)
        self._writer: FileLock | None = None

    @classmethod
    def create(
        cls,
        path,
        layout: Layout | None = None,
        *,
        attrs: dict,
        fingerprint: str,
        mode: str = "resume",
        grid_dims: dict[str, np.ndarray] | None = None,
        variables: dict[str, tuple[tuple[str, ...], tuple[int, ...], str]] | None = None,
        inner_coords: dict[str, np.ndarray] | None = None,
        chunk_bounds: list[tuple[int, int]] | None = None,
    ) -> ResultStore:
        """Open (mode "resume") or start afresh (mode "overwrite") the store for ``path``.

        layout: the grid, variables and chunks (`Layout`); or, as before, its four fields
            ``grid_dims``, ``variables``, ``inner_coords`` and ``chunk_bounds`` as keywords.
        attrs: JSON-serialisable metadata, stored in the final file.
        fingerprint: identifies the computation; only matching stores are resumed.

        "resume": a finished file with the same fingerprint makes the store
        ``complete``; a work dir with the same fingerprint (and layout) is joined,
        dropping chunk files that are damaged or belong to another sweep or index.
        Anything else already there raises ``FileExistsError``. Exception: a matching
        work dir is resumed even when an older file with another fingerprint exists at
        ``path``; that only happens after an interrupted ``--overwrite`` run, whose
        finalize then replaces the old file.
        "overwrite": wipe the work dir; an existing final file is left intact
        until :meth:`finalize` replaces it. Refused (`StoreBusyError`) while any other
        writer is alive in the store.
        """
        if mode not in ("resume", "overwrite"):
            raise ValueError(f"mode must be 'resume' or 'overwrite', got {mode!r}")
        if not isinstance(fingerprint, str):
            raise ValueError("fingerprint must be a str")
        path = pathlib.Path(path)
        layout = _layout_of(layout, {"grid_dims": grid_dims, "variables": variables,
                                     "inner_coords": inner_coords, "chunk_bounds": chunk_bounds})
        store = cls(path, _build_manifest(layout, attrs, fingerprint), layout)
        store._open(mode)
        return store

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """Stop being a writer of this store (chunks written so far stay)."""
        if self._writer is not None:
            self._writer.release(unlink=True)
            self._writer = None

    # -- opening / resuming

    def _open(self, mode: str) -> None:
        fp = self._manifest["fingerprint"]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._mutex:  # under the lock: another writer may be finalizing right now
            self._open_locked(mode, fp)

    def _open_locked(self, mode: str, fp: str) -> None:
        """What is on disk decides: the rules of `create`."""
        live = self._live_writers()
        if mode == "resume" and self._finished_elsewhere():
            self._adopt_final(live)
            return
        old = self._read_work_manifest(ignore_orphans=mode == "overwrite")
        if mode == "overwrite":
            self._wipe(live)
        elif old is not None and old.get("fingerprint") == fp:
            self._join(old, live)
            return
        else:
            self._check_free(old, live, fp)
        self.work_dir.mkdir(parents=True)
        self._register()
        self._write_manifest()

    def _adopt_final(self, live: list[str]) -> None:
        """The final file is this sweep's: the store is complete."""
        self._mark_complete()
        if not live:  # a leftover work dir means a crash between replace and cleanup
            _rmtree(self.work_dir)

    def _wipe(self, live: list[str]) -> None:
        """Overwrite: drop the work dir, unless another writer is alive in it."""
        if live:
            raise StoreBusyError(
                f"{self.work_dir} is being written by another hopjax run ({_who(live)}); "
                "wait for it to finish or stop it before --overwrite")
        _rmtree(self.work_dir)

    def _join(self, old: dict, live: list[str]) -> None:
        """Resume the work dir of this sweep (``old``: its manifest), keeping intact chunks."""
        if not self.layout.matches(old):
            raise FileExistsError(
                f"{self.work_dir} holds partial results with the same fingerprint but a different "
                f"grid/variables/chunking; {_OVERWRITE_HINT}"
            )
        self._register()
        if not live:
            self._clean_tmp()  # nobody is mid-write: any temporary file is a dead one's
        self._done = {i for i in range(self.layout.n_chunks) if self._chunk_ok(i)}
        # Attrs (devices, versions, ...) describe the run that finishes the store.
        self._write_manifest()

    def _check_free(self, old: dict | None, live: list[str], fp: str) -> None:
        """Resume with nothing of this sweep there: refuse another sweep's writer, partial
        results or final file; otherwise clear what is left (at most an empty/tmp-only dir)."""
        if live or old is not None:
            other = old.get("fingerprint") if old else None
            what = (f"is being written by another hopjax run ({_who(live)})" if live
                    else "holds partial results")
            raise StoreBusyError(
                f"{self.work_dir} {what} of a different computation (fingerprint {other!r}, "
                f"this config has {fp!r}); "
                + ("wait for it or choose another --out" if live else _OVERWRITE_HINT))
        if self.path.exists():
            raise FileExistsError(
                f"{self.path} exists and is not a finished result of this computation "
                f"(different fingerprint); {_OVERWRITE_HINT}"
            )
        _rmtree(self.work_dir)

    def _register(self) -> None:
        """Become a live writer: hold a lock file of our own in the work dir."""
        self._writer = FileLock(self.work_dir / f"writer-{writer_tag()}-{uuid.uuid4().hex[:8]}.lock")
        self._writer.acquire()

    def _live_writers(self) -> list[str]:
        """Tags of the other writers alive in the work dir; dead ones' lock files go."""
        if not self.work_dir.is_dir():
            return []
        live = []
        for f in sorted(self.work_dir.glob("writer-*.lock")):
            if self._writer is not None and f == self._writer.path:
                continue
            probe = FileLock(f)
            if probe.acquire(blocking=False):
                probe.release(unlink=True)  # its holder died
            else:
                live.append(f.name[len("writer-"):-len(".lock")])
        return live

    def _read_work_manifest(self, ignore_orphans: bool = False) -> dict | None:
        """The work dir's manifest; None if there is no work dir worth keeping."""
        if not self.work_dir.is_dir():
            return None
        try:
            return json.loads((self.work_dir / _MANIFEST).read_text())
        except (OSError, ValueError):
            # The manifest is written before any chunk, so chunks without one are
            # not ours to judge; a dir without chunks is a harmless leftover.
            if not ignore_orphans and any(self.work_dir.glob("chunk-*.npz")):
                raise FileExistsError(
                    f"{self.work_dir} holds chunk files but no readable manifest; {_OVERWRITE_HINT}"
                ) from None
            return None

    def _write_manifest(self) -> None:
        text = json.dumps(self._manifest, indent=1)
        atomic_write(self.work_dir / _MANIFEST, lambda tmp: tmp.write_text(text))

    def _clean_tmp(self) -> None:
        # Left by writes killed before their os.replace; never part of the result.
        for tmp in self.work_dir.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    def _chunk_path(self, i: int) -> pathlib.Path:
        return self.work_dir / f"chunk-{i:06d}.npz"

    def _read_chunk(self, i: int, *, discard: bool = True) -> dict[str, np.ndarray] | None:
        """Chunk ``i``'s arrays if its file is intact and is this sweep's chunk ``i``; a
        damaged or foreign file is deleted (ours to recompute) unless ``discard`` is False."""
        f = self._chunk_path(i)
        try:
            with np.load(f, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}  # reads everything: zip CRCs are checked
            return self._verified(i, arrays)
        except FileNotFoundError:
            return None
        except Exception:  # truncated/corrupt zip raises many types; all mean "recompute"
            if discard:
                f.unlink(missing_ok=True)
            return None

    def _verified(self, i: int, arrays: dict) -> dict[str, np.ndarray]:
        """A chunk file's ``arrays``, checked and cast (`_check`); ValueError unless they
        are this sweep's chunk ``i`` with the declared dtypes."""
        meta, owner = arrays.pop(_META, None), arrays.pop(_META_FP, None)
        if meta is None or owner is None or str(owner) != self._manifest["fingerprint"]:
            raise ValueError("another sweep's chunk")
        if meta.tolist() != [i, *self.chunk_bounds[i]]:
            raise ValueError("another chunk's file")
        checked = self._check(i, arrays)
        if any(arrays[n].dtype != checked[n].dtype for n in arrays):
            raise ValueError("dtype mismatch")
        return checked

    def _chunk_ok(self, i: int) -> bool:
        """Whether chunk ``i`` is stored intact; a damaged or foreign file is deleted."""
        return self._read_chunk(i) is not None

    def _mark_complete(self) -> None:
        self._done = set(range(self.layout.n_chunks))
        self._complete = True
        self.close()

    def _finished_elsewhere(self) -> bool:
        return self.path.exists() and _final_fingerprint(self.path) == self._manifest["fingerprint"]

    # -- public API

    @property
    def fingerprint(self) -> str:
        return self._manifest["fingerprint"]

    @property
    def complete(self) -> bool:
        """True once the final file exists (finalized now, by another writer, or earlier)."""
        return self._complete

    def pending(self) -> list[int]:
        """Sorted ids of the chunks not stored yet (as far as this writer knows)."""
        return [i for i in range(self.layout.n_chunks) if i not in self._done]

    def refresh(self, ids=None) -> list[int]:
        """Look on disk for chunks other writers stored since; returns `pending`.

        ``ids``: only look at these chunks (default: all pending)."""
        if self._complete:
            return []
        if self._finished_elsewhere():
            self._mark_complete()
            return []
        for i in self.pending() if ids is None else ids:
            if i not in self._done and self._chunk_ok(i):
                self._done.add(i)
        return self.pending()

    def _check(self, i, arrays: dict) -> dict[str, np.ndarray]:
        """Validate chunk ``i``'s arrays and cast them to the declared dtypes."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"chunk id must be an int, got {i!r}")
        if not 0 <= i < self.layout.n_chunks:
            raise ValueError(f"chunk id {i} out of range 0..{self.layout.n_chunks - 1}")
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
        """Store chunk ``i`` atomically; ``arrays[name]`` has shape ``(stop - start, *inner_shape)``.

        If another writer finalized the store meanwhile, the store becomes ``complete`` and
        the chunk is dropped (the final file already holds the same numbers)."""
        if self._complete:
            raise ValueError(f"{self.path} is already finalized; nothing to write")
        arrays = self._check(i, arrays)
        arrays[_META] = np.array([int(i), *self.chunk_bounds[i]], np.int64)
        arrays[_META_FP] = np.array(self._manifest["fingerprint"])

        def write(tmp: pathlib.Path) -> None:
            with open(tmp, "wb") as f:  # a file object, so np.savez keeps the name as is
                np.savez(f, **arrays)

        try:
            atomic_write(self._chunk_path(i), write)
        except FileNotFoundError:
            if not self._finished_elsewhere():
                raise
            self._mark_complete()
            return
        self._done.add(int(i))

    def finalize(self) -> pathlib.Path:
        """Assemble all chunks into the netCDF file at ``path`` and remove the work dir.

        Chunks stored by other writers count. The file is assembled in memory and written
        under a temporary name inside the work dir (same filesystem), then moved onto
        ``path`` with ``os.replace``; a failure (e.g. a full disk) leaves ``path`` and every
        chunk as they were. Returns ``path``.
        """
        if self._complete:
            return self.path
        with self._mutex:
            if self._finished_elsewhere():  # another writer finalized first
                self._mark_complete()
                return self.path
            missing = self.refresh()
            if missing:
                raise ValueError(
                    f"cannot finalize {self.path}: {len(missing)} of {self.layout.n_chunks} "
                    f"chunks missing (first: {missing[:10]})"
                )
            blob = self._netcdf_bytes()
            atomic_write(self.path, lambda tmp: tmp.write_bytes(blob), tmp_dir=self.work_dir)
            self.close()
            shutil.rmtree(self.work_dir)
            self._mark_complete()
        return self.path

    def _netcdf_bytes(self) -> bytes:
        ds = self._assemble()
        # No _FillValue: nothing gets masked, so the data come back bit for bit. In memory
        # first, so that writing the file is plain I/O (HDF5 crashes on a full disk).
        encoding = {name: {"_FillValue": None} for name in ds.variables}
        return bytes(ds.to_netcdf(engine=_engine(), encoding=encoding))

    def _assemble(self, partial: bool = False) -> xr.Dataset:
        """The dataset of every chunk; with ``partial``, missing chunks are NaN (variables
        that are not floats become float64 for it) and ``point_done`` says which points
        are stored, read without touching any file."""
        grid_names, grid_shape = list(self.layout.grid_dims), self.layout.grid_shape
        n_points = self.layout.n_points
        chunks = [self._read_chunk(i, discard=not partial) for i in range(len(self.chunk_bounds))]
        gap = partial and any(c is None for c in chunks)

        def dtype_of(d):
            return np.float64 if gap and np.dtype(d).kind != "f" else d

        flat = {n: np.full((n_points, *shape), np.nan, dtype_of(dtype)) if gap
                else np.empty((n_points, *shape), dtype)
                for n, (_, shape, dtype) in self._vars.items()}
        done = np.zeros(n_points, bool)
        for i, ((start, stop), arrays) in enumerate(zip(self.chunk_bounds, chunks)):
            if arrays is None:
                if partial:
                    continue
                # removed or replaced by a foreign file since it was checked
                raise ValueError(f"cannot finalize {self.path}: chunk {i} is missing or damaged; "
                                 "rerun the same command to recompute it")
            for name in flat:
                flat[name][start:stop] = arrays[name]
            done[start:stop] = True
        data_vars = {
            name: ((*grid_names, *dims), flat[name].reshape(grid_shape + shape))  # C-order points -> grid
            for name, (dims, shape, _) in self._vars.items()
        }
        coords = dict(self.layout.grid_dims)
        coords |= {n: _coord_from_json(c) for n, c in self._manifest["inner_coords"].items()}
        # netCDF attrs must be scalars/strings: JSON-encode every entry.
        attrs = {_PREFIX + "fingerprint": _dumps(self._manifest["fingerprint"])}
        attrs |= {_PREFIX + k: _dumps(v) for k, v in self._manifest["attrs"].items()}
        if partial:
            data_vars["point_done"] = (grid_names, done.reshape(grid_shape))
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def _who(tags: list[str]) -> str:
    return "writer " + ", ".join(tags[:3]) + (f" and {len(tags) - 3} more" if len(tags) > 3 else "")


def chunks_on_disk(path) -> int:
    """Number of chunk files under the work dir of the store for ``path`` (unverified: for
    progress bars of other processes' work)."""
    work = pathlib.Path(path).with_name(pathlib.Path(path).name + ".partial")
    try:
        return sum(1 for _ in work.glob("chunk-*.npz"))
    except OSError:
        return 0


def load_partial(path) -> xr.Dataset:
    """The results of a sweep so far, while it runs or after it stopped: the finalized file
    if there is one (`load`), else every chunk stored under ``<path>.partial`` with NaN at
    the points not computed yet (variables that are not floats come back as float64 then)
    and a boolean ``point_done`` over the grid (a finished sweep has none: every point is
    there). Reads only (no lock, nothing deleted: a
    damaged chunk file counts as missing); attrs as `load` gives them."""
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / "results.nc"
    if path.exists():  # finished: every point is there
        return load(path)
    work = path.with_name(path.name + ".partial")
    try:
        manifest = json.loads((work / _MANIFEST).read_text())
    except (OSError, ValueError):
        raise FileNotFoundError(f"no results at {path} and no readable partial store at "
                                f"{work}") from None
    return _decoded(ResultStore(path, manifest)._assemble(partial=True))


def load(path) -> xr.Dataset:
    """Read a finalized store into memory.

    ``hopjax_<key>`` attributes are JSON-decoded into ``ds.attrs[key]``
    (including ``fingerprint``); tuples come back as lists. String coordinates
    come back with a numpy str dtype.
    """
    with xr.open_dataset(path, engine=_engine()) as ds:
        ds = ds.load()
    return _decoded(ds)


def _decoded(ds: xr.Dataset) -> xr.Dataset:
    """``hopjax_<key>`` attrs JSON-decoded into ``attrs[key]``, string coordinates as str."""
    ds.attrs = {(k[len(_PREFIX):] if k.startswith(_PREFIX) else k):
                (json.loads(v) if k.startswith(_PREFIX) else v) for k, v in ds.attrs.items()}
    # netCDF hands strings back as object arrays; restore a plain str dtype.
    str_coords = {n: c.values.astype(str) for n, c in ds.coords.items() if c.dtype == object}
    return ds.assign_coords(str_coords) if str_coords else ds
