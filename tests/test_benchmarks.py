"""The benchmark suite (benchmarks/) in quick mode, and its reference implementations."""

import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")

ROOT = pathlib.Path(__file__).resolve().parents[1]
CASES = {"matmul", "sync", "async", "daydreaming", "modern", "quickstart"}


def test_quick_suite(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    md = (tmp_path / "benchmarks.md").read_text()

    assert data["quick"] is True
    for key in ("cpu_model", "cpu_count", "jax", "numba", "numpy", "jax_devices"):
        assert data["machine"][key], key
    rows = data["rows"]
    assert {r["case"] for r in rows} == CASES
    for r in rows:
        assert not r.get("error"), r.get("error")
        assert isinstance(r["ratio"], float) and math.isfinite(r["ratio"]) and r["ratio"] > 0, r
        assert r["rss_total_mb"] > 0
        assert r["variant"] in md
    checked = [r for r in rows if r["case"] in ("sync", "async")]
    assert {r["variant"].split(":")[0] for r in checked if r["case"] == "async"} == {
        "event", "blocked, block=16"}
    for r in checked:
        assert r["check"]["passed"], r
    assert md.count("✅") == len(checked)
    for case in CASES:
        assert f"| {case} |" in md


def test_daydreaming_reference_invariants():
    """The numba Daydreaming reference keeps J symmetric with a zero diagonal and rescales it to
    the initial Frobenius norm at the end of every epoch."""
    from benchmarks import reference as ref

    rng = np.random.default_rng(0)
    N, P = 40, 12
    xi = rng.choice(np.float32([-1, 1]), size=(P, N))
    J0 = (xi.T @ xi / N).astype(np.float32)
    np.fill_diagonal(J0, 0.0)
    Js, sweeps = ref.daydream_runs_numba(J0, xi, 20.0, 2 * P, P, np.arange(3, dtype=np.uint64), 100)
    Jb, sweeps_b = ref.daydream_batch_numba(J0, xi, 20.0, 2 * P, P, 1, 4, 100)
    for J in (*Js, Jb):
        np.testing.assert_allclose(J, J.T, atol=1e-6)
        assert np.all(np.diag(J) == 0)
        np.testing.assert_allclose(np.linalg.norm(J), np.linalg.norm(J0), rtol=1e-5)
        assert not np.allclose(J, J0)  # it learned something
    assert np.all(sweeps > 0) and sweeps_b > 0
    assert not np.allclose(Js[0], Js[1])  # the runs are independent
