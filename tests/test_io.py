"""Tests for hopjax.io: round trip, resume, corruption, overwrite, SIGKILL."""

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import xarray as xr

from conftest import cli_env
from hopjax.io import Layout, ResultStore, load

TESTS_DIR = pathlib.Path(__file__).resolve().parent

GRID = {
    "seed": np.array([0, 1]),
    "rule": np.array(["hebb", "pseudo_inverse"]),
    "alpha": np.array([0.05, 0.1, 0.15]),
}  # 12 points
ATTRS = {
    "config": {"N": 100, "alphas": [0.05, 0.1], "solver": {"name": "sync", "tol": None}},
    "versions": {"jax": "0.4.30", "numpy": np.__version__},
    "seeds": [0, 1],
}


def make_spec(**over):
    """Keyword arguments of ResultStore.create for the standard test sweep."""
    spec = dict(
        grid_dims=GRID,
        variables={
            "overlap": (("step", "m0"), (3, 2), "float32"),
            "converged": ((), (), "bool"),
            "n_iter": ((), (), "int64"),
        },
        inner_coords={"m0": np.array([0.5, 1.0])},
        chunk_bounds=[(0, 5), (5, 10), (10, 12)],
        attrs=ATTRS,
        fingerprint="fp-a",
    )
    spec.update(over)
    return spec


def compute(start, stop, scale=1.0):
    """Deterministic chunk result for flat points start..stop."""
    idx = np.arange(start, stop)
    phase = idx[:, None, None] * 0.37 + np.arange(6).reshape(1, 3, 2)
    return {
        "overlap": (scale * np.sin(phase)).astype(np.float32),
        "converged": idx % 3 == 0,
        "n_iter": idx * 7,
    }


def fill(store, ids=None, scale=1.0):
    for i in store.pending() if ids is None else ids:
        store.write_chunk(i, compute(*store.chunk_bounds[i], scale=scale))


def run_all(path, **over):
    store = ResultStore.create(path, **make_spec(**over))
    fill(store)
    return store.finalize()


def assert_same_data(a, b):
    xr.testing.assert_identical(a, b)
    for name in a.data_vars:  # bit for bit, not just ==
        assert a[name].values.tobytes() == b[name].values.tobytes()


def test_round_trip(tmp_path):
    path = run_all(tmp_path / "out.nc")
    assert path == tmp_path / "out.nc"
    assert not (tmp_path / "out.nc.partial").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # no temp files left

    ds = load(path)
    assert ds["overlap"].dims == ("seed", "rule", "alpha", "step", "m0")
    assert ds["converged"].dims == ("seed", "rule", "alpha")
    assert "step" not in ds.coords
    np.testing.assert_array_equal(ds["m0"].values, [0.5, 1.0])
    np.testing.assert_array_equal(ds["alpha"].values, GRID["alpha"])
    assert ds["rule"].values.dtype.kind == "U"
    assert ds["rule"].values.tolist() == ["hebb", "pseudo_inverse"]

    ref = compute(0, 12)
    for name, arr in ref.items():
        assert ds[name].dtype == arr.dtype
        np.testing.assert_array_equal(ds[name].values, arr.reshape((2, 2, 3) + arr.shape[1:]))
    # C-order flattening: point (seed=1, rule='hebb', alpha=0.1) is flat index 1*6 + 0*3 + 1.
    assert ds["n_iter"].sel(seed=1, rule="hebb", alpha=0.1).item() == 7 * 7

    assert ds.attrs["config"] == ATTRS["config"]
    assert ds.attrs["versions"] == ATTRS["versions"]
    assert ds.attrs["seeds"] == [0, 1]
    assert ds.attrs["fingerprint"] == "fp-a"
    with xr.open_dataset(path) as raw:  # on disk: JSON strings
        assert isinstance(raw.attrs["hopjax_config"], str)


@pytest.mark.parametrize("bounds", [[(0, 12)], [(i, i + 1) for i in range(12)], [(0, 7), (7, 12)]])
def test_chunking_does_not_change_result(tmp_path, bounds):
    ref = load(run_all(tmp_path / "ref.nc"))
    assert_same_data(load(run_all(tmp_path / "out.nc", chunk_bounds=bounds)), ref)


def test_resume_across_store_objects(tmp_path):
    ref = load(run_all(tmp_path / "ref.nc"))
    path = tmp_path / "out.nc"
    first = ResultStore.create(path, **make_spec())
    fill(first, ids=[0, 2])
    del first  # "crash": never finalized

    second = ResultStore.create(path, **make_spec(attrs={**ATTRS, "run": 2}))
    assert second.pending() == [1]
    assert not second.complete
    fill(second)
    assert not path.exists()  # only finalize creates it
    second.finalize()
    ds = load(path)
    assert ds.attrs["run"] == 2  # attrs of the finishing run
    ds.attrs.pop("run")
    assert_same_data(ds, ref)


def test_finished_store_is_not_recomputed(tmp_path):
    path = run_all(tmp_path / "out.nc")
    before = os.stat(path)
    store = ResultStore.create(path, **make_spec())
    assert store.complete and store.pending() == []
    assert store.finalize() == path
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    with pytest.raises(ValueError, match="already finalized"):
        store.write_chunk(0, compute(0, 5))


def test_truncated_chunk_and_stray_tmp_are_recomputed(tmp_path):
    ref = load(run_all(tmp_path / "ref.nc"))
    path = tmp_path / "out.nc"
    fill(ResultStore.create(path, **make_spec()))
    work = tmp_path / "out.nc.partial"
    chunk = work / "chunk-000001.npz"
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    stray = work / ".chunk-000002.npz.12345.tmp"
    stray.write_bytes(b"half a write")

    store = ResultStore.create(path, **make_spec())
    assert store.pending() == [1]
    assert not chunk.exists() and not stray.exists()
    fill(store)
    assert_same_data(load(store.finalize()), ref)


def test_fingerprint_mismatch_raises(tmp_path):
    path = tmp_path / "out.nc"
    fill(ResultStore.create(path, **make_spec()), ids=[0])
    with pytest.raises(FileExistsError, match="--overwrite"):  # partial work dir
        ResultStore.create(path, **make_spec(fingerprint="fp-b"))
    with pytest.raises(FileExistsError, match="--overwrite"):  # same fingerprint, other chunking
        ResultStore.create(path, **make_spec(chunk_bounds=[(0, 12)]))

    done = run_all(tmp_path / "done.nc")
    with pytest.raises(FileExistsError, match="--out"):  # finished file
        ResultStore.create(done, **make_spec(fingerprint="fp-b"))

    foreign = tmp_path / "foreign.nc"
    foreign.write_bytes(b"not netcdf")
    with pytest.raises(FileExistsError, match="--overwrite"):
        ResultStore.create(foreign, **make_spec())
    assert foreign.read_bytes() == b"not netcdf"


def test_overwrite_keeps_old_file_until_finalize(tmp_path):
    path = run_all(tmp_path / "out.nc")
    old = load(path)
    # A stale work dir is wiped too.
    fill(ResultStore.create(tmp_path / "out.nc", **make_spec(fingerprint="fp-b", mode="overwrite")), ids=[0])

    store = ResultStore.create(path, **make_spec(fingerprint="fp-b", mode="overwrite"))
    assert store.pending() == [0, 1, 2]
    fill(store, scale=2.0)
    assert_same_data(load(path), old)  # untouched so far
    store.finalize()
    new = load(path)
    assert new.attrs["fingerprint"] == "fp-b"
    np.testing.assert_array_equal(new["overlap"].values, 2 * old["overlap"].values)


def test_interrupted_overwrite_resumes(tmp_path):
    path = run_all(tmp_path / "out.nc")
    fill(ResultStore.create(path, **make_spec(fingerprint="fp-b", mode="overwrite")), ids=[0])
    store = ResultStore.create(path, **make_spec(fingerprint="fp-b"))  # plain resume
    assert store.pending() == [1, 2]
    assert load(path).attrs["fingerprint"] == "fp-a"
    fill(store)
    assert load(store.finalize()).attrs["fingerprint"] == "fp-b"


def test_misuse_raises(tmp_path):
    store = ResultStore.create(tmp_path / "out.nc", **make_spec())
    good = compute(0, 5)
    for bad_id in (-1, 3, 1.0):
        with pytest.raises(ValueError, match="chunk id"):
            store.write_chunk(bad_id, good)
    with pytest.raises(ValueError, match="shape"):
        store.write_chunk(2, good)  # chunk 2 holds 2 points, not 5
    with pytest.raises(ValueError, match="missing arrays"):
        store.write_chunk(0, {k: v for k, v in good.items() if k != "n_iter"})
    with pytest.raises(ValueError, match="unexpected arrays"):
        store.write_chunk(0, {**good, "extra": good["n_iter"]})
    with pytest.raises(ValueError, match="dtype"):
        store.write_chunk(0, {**good, "n_iter": good["n_iter"] + 0.5})
    store.write_chunk(0, good)
    with pytest.raises(ValueError, match="2 of 3 chunks missing"):
        store.finalize()
    assert not (tmp_path / "out.nc").exists()


@pytest.mark.parametrize(
    "over",
    [
        {"chunk_bounds": [(0, 5), (6, 12)]},  # gap
        {"chunk_bounds": [(0, 5), (5, 11)]},  # short
        {"inner_coords": {"m0": np.array([1.0, 2.0, 3.0])}},
        {"inner_coords": {"nope": np.array([1.0])}},
        {"attrs": {"obj": object()}},
        {"mode": "append"},
    ],
)
def test_bad_layout_raises(tmp_path, over):
    with pytest.raises(ValueError):
        ResultStore.create(tmp_path / "out.nc", **make_spec(**over))
    assert not (tmp_path / "out.nc.partial").exists()


WRITER = """
import sys, time
sys.path.insert(0, {tests!r})
from test_io import compute, make_spec
from hopjax.io import ResultStore

store = ResultStore.create({path!r}, **make_spec(chunk_bounds={bounds!r}))
for i in store.pending():
    store.write_chunk(i, compute(*store.chunk_bounds[i]))
    time.sleep(0.3)  # slow enough that the parent kills us mid-way
store.finalize()
"""


def test_sigkill_then_resume(tmp_path):
    bounds = [(i, i + 2) for i in range(0, 12, 2)]
    ref = load(run_all(tmp_path / "ref.nc", chunk_bounds=bounds))
    path, work = tmp_path / "out.nc", tmp_path / "out.nc.partial"
    script = textwrap.dedent(WRITER).format(tests=str(TESTS_DIR), path=str(path), bounds=bounds)
    env = cli_env()
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not list(work.glob("chunk-*.npz")):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "writer produced no chunk"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    assert not path.exists()
    n_done = len(list(work.glob("chunk-*.npz")))
    assert 1 <= n_done < len(bounds)
    store = ResultStore.create(path, **make_spec(chunk_bounds=bounds))
    assert len(store.pending()) == len(bounds) - n_done
    fill(store)
    assert not path.exists()
    assert_same_data(load(store.finalize()), ref)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "ref.nc"]


# ------------------------------------------------------------- several writers


def test_chunk_moved_onto_another_index_is_recomputed(tmp_path):
    ref = load(run_all(tmp_path / "ref.nc", chunk_bounds=[(0, 4), (4, 8), (8, 12)]))
    path = tmp_path / "out.nc"
    spec = make_spec(chunk_bounds=[(0, 4), (4, 8), (8, 12)])
    fill(ResultStore.create(path, **spec))
    work = tmp_path / "out.nc.partial"
    # same shapes, valid file: only its recorded index tells it apart
    (work / "chunk-000000.npz").write_bytes((work / "chunk-000001.npz").read_bytes())
    store = ResultStore.create(path, **spec)
    assert store.pending() == [0]
    fill(store)
    assert_same_data(load(store.finalize()), ref)


def test_chunk_of_another_sweep_is_recomputed(tmp_path):
    ref = load(run_all(tmp_path / "ref.nc"))
    other, path = tmp_path / "other.nc", tmp_path / "out.nc"
    fill(ResultStore.create(other, **make_spec(fingerprint="fp-b")), scale=3.0)
    fill(ResultStore.create(path, **make_spec()))
    foreign = (tmp_path / "other.nc.partial" / "chunk-000002.npz").read_bytes()
    (tmp_path / "out.nc.partial" / "chunk-000002.npz").write_bytes(foreign)
    store = ResultStore.create(path, **make_spec())
    assert store.pending() == [2]
    fill(store)
    assert_same_data(load(store.finalize()), ref)


def test_writer_of_another_sweep_is_refused_while_one_is_alive(tmp_path):
    from hopjax.io import StoreBusyError

    path = tmp_path / "out.nc"
    first = ResultStore.create(path, **make_spec())
    fill(first, ids=[0])
    for mode in ("resume", "overwrite"):
        with pytest.raises(StoreBusyError, match="another hopjax run"):
            ResultStore.create(path, **make_spec(fingerprint="fp-b", mode=mode))
    # a second writer of the same sweep joins; an overwrite is refused while it lives
    second = ResultStore.create(path, **make_spec())
    assert second.pending() == [1, 2]
    with pytest.raises(StoreBusyError):
        ResultStore.create(path, **make_spec(mode="overwrite"))
    fill(second, ids=[1])
    fill(first, ids=[2])
    assert first.refresh() == []
    first.finalize()
    assert second.refresh() == [] and second.complete  # finalized by the other writer
    assert second.finalize() == path
    assert_same_data(load(path), load(run_all(tmp_path / "ref.nc")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "ref.nc"]


def test_chunks_of_a_dead_writer_of_another_sweep_need_overwrite(tmp_path):
    path = tmp_path / "out.nc"
    fill(ResultStore.create(path, **make_spec()), ids=[0])  # its writer is gone
    with pytest.raises(FileExistsError, match="--overwrite"):
        ResultStore.create(path, **make_spec(fingerprint="fp-b"))
    store = ResultStore.create(path, **make_spec(fingerprint="fp-b", mode="overwrite"))
    assert store.pending() == [0, 1, 2]


def test_write_after_another_writer_finalized_marks_complete(tmp_path):
    path = tmp_path / "out.nc"
    late = ResultStore.create(path, **make_spec())
    early = ResultStore.create(path, **make_spec())
    fill(early)
    early.finalize()
    late.write_chunk(0, compute(0, 5))  # the work dir is gone: nothing to do any more
    assert late.complete and late.pending() == []


RACER = """
import sys
sys.path.insert(0, {tests!r})
from test_io import compute, make_spec
from hopjax.io import ResultStore

store = ResultStore.create({path!r}, **make_spec(chunk_bounds={bounds!r}))
for i in {order!r}:
    if not store.complete and i in store.refresh([i]):
        store.write_chunk(i, compute(*store.chunk_bounds[i]))
if not store.refresh():
    store.finalize()
"""


def test_concurrent_writers_of_one_sweep_agree(tmp_path):
    """Four processes write overlapping chunks in different orders and all try to finalize."""
    bounds = [(i, i + 1) for i in range(12)]
    ref = load(run_all(tmp_path / "ref.nc", chunk_bounds=bounds))
    path = tmp_path / "out.nc"
    env = cli_env()
    orders = [list(range(12)), list(range(11, -1, -1)), list(range(0, 12, 2)) + list(range(1, 12, 2)),
              list(range(6, 12)) + list(range(6))]
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(RACER).format(
        tests=str(TESTS_DIR), path=str(path), bounds=bounds, order=o)], env=env,
        stderr=subprocess.PIPE) for o in orders]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    assert_same_data(load(path), ref)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc", "ref.nc"]


# ------------------------------------------------------------------ Layout


def make_layout(**over):
    spec = make_spec(**over)
    return Layout(**{k: spec[k] for k in ("grid_dims", "variables", "inner_coords",
                                          "chunk_bounds")})


def test_layout_form_writes_the_same_store_as_keywords(tmp_path):
    layout = make_layout()
    assert (layout.grid_shape, layout.n_points, layout.n_chunks) == ((2, 2, 3), 12, 3)
    store = ResultStore.create(tmp_path / "a.nc", layout, attrs=ATTRS, fingerprint="fp-a")
    assert store.layout == layout and store.chunk_bounds == [(0, 5), (5, 10), (10, 12)]
    manifest = (tmp_path / "a.nc.partial" / "manifest.json").read_text()
    fill(store)
    keywords = ResultStore.create(tmp_path / "b.nc", **make_spec())
    assert (tmp_path / "b.nc.partial" / "manifest.json").read_text() == manifest
    fill(keywords)
    assert_same_data(load(store.finalize()), load(keywords.finalize()))
    # a store opened either way resumes the other's work dir
    fill(ResultStore.create(tmp_path / "c.nc", **make_spec()), ids=[0])
    again = ResultStore.create(tmp_path / "c.nc", layout, attrs=ATTRS, fingerprint="fp-a")
    assert again.pending() == [1, 2]
    again.close()


def test_layout_is_a_normalised_frozen_value():
    import dataclasses

    layout = make_layout(chunk_bounds=[[0, 6], [6, 12]])
    assert layout.chunk_bounds == ((0, 6), (6, 12))
    assert layout.variables["overlap"] == (("step", "m0"), (3, 2), np.dtype("float32"))
    assert layout.grid_dims["rule"].dtype.kind == "U"
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.chunk_bounds = ()
    with pytest.raises(ValueError):
        layout.grid_dims["alpha"][0] = 1.0  # read-only coords
    same = make_layout(chunk_bounds=[(0, 6), (6, 12)])
    assert same == layout and hash(same) == hash(layout) and same != make_layout()
    assert Layout.from_json(layout.to_json()) == layout
    assert layout.matches(layout.to_json()) and not layout.matches(make_layout().to_json())


@pytest.mark.parametrize("over, match", [
    ({"chunk_bounds": [(0, 5), (6, 12)]}, "chunk_bounds must be consecutive"),
    ({"inner_coords": {"nope": np.array([1.0])}}, "inner coordinate 'nope'"),
    ({"variables": {"x": (("alpha",), (3,), "float32")}}, "inner dim 'alpha' is also a grid dim"),
    ({"grid_dims": {"seed": np.array([])}}, "coordinate 'seed' must be a non-empty"),
])
def test_bad_layout_names_the_part(over, match):
    with pytest.raises(ValueError, match=match):
        make_layout(**over)


def test_create_takes_a_layout_or_its_keywords_not_both(tmp_path):
    spec = make_spec()
    with pytest.raises(TypeError, match="not both"):
        ResultStore.create(tmp_path / "out.nc", make_layout(), **spec)
    with pytest.raises(TypeError, match="missing layout.*chunk_bounds"):
        ResultStore.create(tmp_path / "out.nc", attrs=ATTRS, fingerprint="fp-a",
                           **{k: spec[k] for k in ("grid_dims", "variables", "inner_coords")})
    with pytest.raises(TypeError, match="hopjax.io.Layout"):
        ResultStore.create(tmp_path / "out.nc", {"grid_dims": GRID}, attrs=ATTRS,
                           fingerprint="fp-a")
    assert not (tmp_path / "out.nc.partial").exists()


def test_load_partial_shows_the_stored_points_and_touches_nothing(tmp_path):
    from hopjax.io import load_partial

    ref = load(run_all(tmp_path / "ref.nc"))
    path = tmp_path / "out.nc"
    store = ResultStore.create(path, **make_spec())
    fill(store, ids=[0, 2])  # chunk 1 (points 5..9) not computed
    damaged = tmp_path / "out.nc.partial" / "chunk-000002.npz"
    good = damaged.read_bytes()
    part = load_partial(path)
    flat = part["point_done"].values.ravel()  # C-order points, as the chunks cut them
    assert flat.tolist() == [True] * 5 + [False] * 5 + [True] * 2
    done = part["point_done"]
    for name in ref.data_vars:
        got, want = part[name], ref[name]
        assert got.dtype == (want.dtype if want.dtype.kind == "f" else np.float64)
        mask = done.broadcast_like(got).transpose(*got.dims).values
        np.testing.assert_array_equal(got.values[mask], want.values.astype(got.dtype)[mask])
        assert np.isnan(got.values[~mask]).all()
    assert part.attrs["config"] == ref.attrs["config"]
    # a damaged chunk counts as missing and stays on disk (the writer decides about it)
    damaged.write_bytes(good[: len(good) // 2])
    assert load_partial(path)["point_done"].values.ravel().tolist()[-2:] == [False, False]
    assert damaged.exists()
    damaged.write_bytes(good)
    fill(store)
    store.finalize()
    assert_same_data(load_partial(path), ref)  # finished: the file itself
    with pytest.raises(FileNotFoundError, match="no results"):
        load_partial(tmp_path / "nothing.nc")
