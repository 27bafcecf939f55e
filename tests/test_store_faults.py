"""Faults around the store and the figures: Ctrl-C, a full disk, an --out that cannot be
written. Each ends in one line saying what happened and loses no finished chunk."""

import errno
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import cli_env, same_numbers as assert_same_numbers
from hopjax.io import load

TINY = {"experiment": "retrieval", "name": "tiny", "N": 64, "seeds": 2,
        "data": {"alpha": [0.05, 0.1, 0.2, 0.3]}, "rule": ["hebb", "pseudo_inverse"],
        "dynamics": {"max_sweeps": 30}, "m0": [0.5, 1.0], "chunk_size": 1}


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _cli(*args):
    from hopjax.cli import main

    return main([str(a) for a in args])


def test_ctrl_c_prints_one_line_and_resumes_to_the_same_file(tmp_path):
    # enough chunks (128) that the run is still going when the first one appears, even when
    # the suite's other worker keeps this one from polling for a while
    config = tmp_path / "long.yaml"
    config.write_text(yaml.safe_dump({**TINY, "seeds": 8, "N": 96, "data": {
        "alpha": [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4]}}))
    out = tmp_path / "out"
    env = cli_env()
    proc = subprocess.Popen([sys.executable, "-m", "hopjax.cli", "run", str(config), "--out",
                             str(out), "--no-plots", "--no-progress"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work = out / "results.nc.partial"
    deadline = time.monotonic() + 240
    while not list(work.glob("chunk-*.npz")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("interrupted:") and "run the same command again" in lines[0]
    assert not (out / "results.nc").exists()
    assert _cli("run", config, "--out", out, "--no-plots", "--no-progress") == 0
    assert _cli("run", config, "--out", tmp_path / "ref", "--no-plots", "--no-progress") == 0
    assert_same_numbers(load(out / "results.nc"), load(tmp_path / "ref" / "results.nc"))


def test_disk_full_while_assembling_keeps_chunks_and_says_so(tmp_path, config, capsys,
                                                             monkeypatch):
    out = tmp_path / "out"
    real = pathlib.Path.write_bytes

    def full(self, data):  # half the file reaches the disk, then ENOSPC
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    assert _cli("run", config, "--out", out, "--no-plots", "--no-progress") == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "rerun the same command" in err
    assert not (out / "results.nc").exists()
    work = out / "results.nc.partial"
    assert len(list(work.glob("chunk-*.npz"))) == 16 and not list(work.glob(".*.tmp"))
    monkeypatch.undo()
    assert _cli("run", config, "--out", out, "--no-plots", "--no-progress") == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["results.nc"]


def test_disk_full_while_plotting_leaves_no_truncated_figure(tmp_path, config, capsys,
                                                             monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "out"
    assert _cli("run", config, "--out", out, "--no-progress") == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = Figure.savefig

    def full(self, fname, **kw):
        real(self, fname, **kw)
        with open(fname, "r+b") as f:
            f.truncate(100)
        raise OSError(errno.ENOSPC, "No space left on device", str(fname))

    monkeypatch.setattr(Figure, "savefig", full)
    assert _cli("plot", out) == 1
    assert "No space left on device" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in out.iterdir()}
    assert after == before  # the old figures intact, no temporary file left


def test_out_that_is_a_file_is_refused_before_compute(tmp_path, config, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "sub"):
        assert _cli("run", config, "--out", out, "--no-progress") == 2
        err = capsys.readouterr().err
        assert "--out must be a directory" in err and "Traceback" not in err
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_out_is_refused_before_compute(tmp_path, config, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert _cli("run", config, "--out", ro / "out", "--no-progress") == 2
        assert "not writable" in capsys.readouterr().err
    finally:
        ro.chmod(0o700)
