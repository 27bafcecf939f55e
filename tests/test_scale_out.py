"""One sweep over many writers: shards, concurrent runs, submitit jobs, jax.distributed.

Every comparison is exact: each variable of the final file, byte for byte, against a
single-process run of the same config.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from hopjax.io import load
from hopjax.run import shard_chunks

from conftest import cli_env, same_numbers as assert_same_numbers

# 2 seeds x 12 loads = 24 points; chunk_size 1 -> 24 chunks. One rule: each subprocess
# compiles one point function (a second static block would double the compile time).
TINY = {
    "experiment": "retrieval", "name": "tiny", "N": 64, "seeds": 2,
    "data": {"kind": "uncorrelated",
             "alpha": [0.05, 0.08, 0.1, 0.12, 0.14, 0.17, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5]},
    "rule": "hebb", "dynamics": {"mode": "async", "max_sweeps": 50},
    "m0": [0.0, 0.3, 0.6, 1.0], "samples": 2, "chunk_size": 1,
}
# compiling dominates these tiny sweeps: XLA's backend optimisations off in every process of
# this file, the reference's included (its bits are compared with theirs)
ENV = cli_env(XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                         + " --xla_backend_optimization_level=0").strip())
_REFERENCES = {}


def write_config(path, **over):
    cfg = {**TINY, **over}
    path.write_text(yaml.safe_dump(cfg))
    return path


def hopjax(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "hopjax.cli", *map(str, args)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc, timeout=300):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def reference(tmp_path, config):
    """The single-process result of ``config``, computed once per distinct sweep (chunking
    and the cluster section change no result) by a plain run in a subprocess."""
    raw = yaml.safe_load(config.read_text())
    key = yaml.safe_dump({k: v for k, v in raw.items() if k not in ("chunk_size", "cluster")})
    if key not in _REFERENCES:
        out = tmp_path / "reference"
        code, _, err = finish(hopjax("run", config, "--out", out, "--chunk-size", "24",
                                     "--no-plots", "--no-progress"))
        assert code == 0, err
        _REFERENCES[key] = load(out / "results.nc").load()
    return _REFERENCES[key]


def wait_for_chunks(work, n, proc, timeout=240):
    deadline = time.monotonic() + timeout
    while len(list(work.glob("chunk-*.npz"))) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no chunk appeared"
        time.sleep(0.005)


def test_three_shards_one_killed_equal_a_single_run(tmp_path):
    config = write_config(tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    work = out / "results.nc.partial"
    shards = [hopjax("run", config, "--out", out, "--shard", f"{i}/3", "--no-plots",
                     "--no-progress") for i in range(3)]
    # SIGKILL shard 1 as soon as it has stored a chunk of its own
    own = shard_chunks(24, (1, 3))
    deadline = time.monotonic() + 240
    while not any((work / f"chunk-{c:06d}.npz").exists() for c in own):
        assert shards[1].poll() is None, shards[1].communicate()
        assert time.monotonic() < deadline
        time.sleep(0.002)
    shards[1].send_signal(signal.SIGKILL)
    assert finish(shards[1])[0] == -signal.SIGKILL
    for p in (shards[0], shards[2]):
        code, msg, err = finish(p)
        assert code == 0, err
    assert not (out / "results.nc").exists()  # shard 1's chunks are missing
    missing = [c for c in own if not (work / f"chunk-{c:06d}.npz").exists()]
    assert missing, "shard 1 was killed after its last chunk: the test did not interrupt it"
    code, msg, err = finish(hopjax("run", config, "--out", out, "--shard", "1/3", "--no-plots",
                                   "--no-progress"))
    assert code == 0, err
    assert "results:" in msg  # the rerun stored the last chunks and assembled the file
    assert sorted(p.name for p in out.iterdir()) == ["results.nc"]
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, config))


def test_plain_run_completes_what_shards_left(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", chunk_size=4)  # 6 chunks
    out = tmp_path / "out"
    code, msg, err = finish(hopjax("run", config, "--out", out, "--shard", "0/3", "--no-plots",
                                   "--no-progress"))
    assert code == 0, err
    assert "4 of 6 chunks of the sweep still missing" in msg
    assert not (out / "results.nc").exists()
    code, msg, err = finish(hopjax("run", config, "--out", out, "--no-plots", "--no-progress"))
    assert code == 0 and "results:" in msg, err
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, config))
    code, msg, err = finish(hopjax("run", config, "--out", out, "--no-plots", "--no-progress"))
    assert code == 0 and "already complete" in msg


def test_second_writer_of_another_config_is_refused(tmp_path):
    """The measured failure: N = 200 running, N = 100 with --overwrite 3 s later."""
    # two static blocks (the pseudo-inverse's compile) keep the first run busy
    a = write_config(tmp_path / "a.yaml", N=200, rule=["hebb", "pseudo_inverse"])
    b = write_config(tmp_path / "b.yaml", N=100)
    out = tmp_path / "out"
    first = hopjax("run", a, "--out", out, "--no-plots", "--no-progress")
    wait_for_chunks(out / "results.nc.partial", 1, first)
    code, msg, err = finish(hopjax("run", b, "--out", out, "--overwrite", "--no-plots",
                                   "--no-progress"))
    assert code == 2
    assert "another hopjax run" in err and "Traceback" not in err
    code, msg, err = finish(first)
    assert code == 0, err
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, a))
    assert load(out / "results.nc").attrs["config"]["N"] == 200


def test_two_runs_of_one_config_at_once_both_succeed(tmp_path):
    config = write_config(tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    runs = [hopjax("run", config, "--out", out, "--no-plots", "--no-progress") for _ in range(2)]
    for p in runs:
        code, msg, err = finish(p)
        assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["results.nc"]
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, config))


@pytest.mark.parametrize("args, flag", [
    (["run", "--shard", "3/3"], "--shard"),
    (["run", "--shard", "-1/2"], "--shard"),
    (["run", "--shard", "a/b"], "--shard"),
    (["run", "--shard", "1"], "--shard"),
    (["run", "--shard", "0/2", "--overwrite"], "--overwrite"),
    (["run", "--chunk-size", "0"], "--chunk-size"),
    (["run", "--chunk-size", "-1"], "--chunk-size"),
    (["submit", "--workers", "0"], "--workers"),
    (["submit", "--workers", "x"], "--workers"),
])
def test_bad_flags_name_the_flag_and_write_nothing(tmp_path, capsys, args, flag):
    from hopjax.cli import main

    config = write_config(tmp_path / "tiny.yaml")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        main([args[0], str(config), "--out", str(out), *args[1:]])
    assert e.value.code == 2
    assert flag in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("section, field", [
    ({"partition": "gpu", "nodez": 2}, "cluster.nodez"),
    ({"time_min": 0}, "cluster.time_min"),
    ({"executor": "kubernetes"}, "cluster.executor"),
    ({"cpus_per_task": "4"}, "cluster.cpus_per_task"),
    ("gpu", "cluster"),
])
def test_bad_cluster_section_names_the_field_and_writes_nothing(tmp_path, capsys, section, field):
    from hopjax.cli import main

    config = write_config(tmp_path / "tiny.yaml", cluster=section)
    out = tmp_path / "out"
    assert main(["submit", str(config), "--out", str(out), "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert f"field '{field}'" in err and "Traceback" not in err
    assert not out.exists()


def test_cluster_section_is_not_part_of_the_fingerprint():
    from hopjax.config import fingerprint, validate_config

    with_cluster = validate_config({**TINY, "cluster": {"partition": "gpu", "time_min": 30}})
    assert fingerprint(with_cluster) == fingerprint(validate_config(TINY))


def test_slurm_job_options_reach_the_sbatch_script(tmp_path, monkeypatch):
    from hopjax.cluster import cluster_from_raw, make_executor
    from hopjax.config import ConfigError

    slurm = cluster_from_raw({"executor": "slurm"})
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="cluster.executor.*sbatch"):
        make_executor(slurm, tmp_path / "submitit", "x")
    for tool in ("sbatch", "srun"):  # stand-ins: only their presence is checked here
        (tmp_path / tool).write_text("#!/bin/sh\nexit 1\n")
        (tmp_path / tool).chmod(0o755)
    cluster = cluster_from_raw({"executor": "slurm", "partition": "gpu", "account": "phys",
                                "time_min": 90, "cpus_per_task": 8, "gpus_per_task": 1,
                                "setup": ["module load cuda"]})
    ex = make_executor(cluster, tmp_path / "submitit", "hopjax-tiny")
    text = ex._executor._make_submission_file_text("python -m x", "uid")
    for line in ("--partition=gpu", "--account=phys", "--time=90", "--cpus-per-task=8",
                 "--gpus-per-task=1", "module load cuda"):
        assert line in text, text


def test_submit_with_the_local_executor_equals_a_single_run(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", chunk_size=3,  # 8 chunks
                          cluster={"executor": "local", "time_min": 10})
    out = tmp_path / "out"
    code, msg, err = finish(hopjax("submit", config, "--out", out, "--workers", "3",
                                   "--no-progress"), timeout=600)
    assert code == 0, err
    assert "submitted 3 of 3 shards" in msg and "results:" in msg
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, config))
    # resubmitting a finished sweep submits nothing
    code, msg, err = finish(hopjax("submit", config, "--out", out, "--workers", "3"))
    assert code == 0 and "already complete" in msg and "submitted 3" not in msg


def test_resubmit_sends_only_shards_with_missing_chunks(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", chunk_size=3,
                          cluster={"executor": "local", "time_min": 10})
    out = tmp_path / "out"
    for shard in ("0/4", "2/4"):  # chunks 0, 7 and 2, 5 stored
        assert finish(hopjax("run", config, "--out", out, "--shard", shard, "--no-plots",
                             "--no-progress"))[0] == 0
    code, msg, err = finish(hopjax("submit", config, "--out", out, "--workers", "4",
                                   "--no-progress"), timeout=600)
    assert code == 0, err
    assert "submitted 2 of 4 shards (4 of 8 chunks missing)" in msg
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, config))


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_process_jax_distributed_run_equals_one_process(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", chunk_size=4)
    port = _free_port()
    procs = [hopjax("run", config, "--out", tmp_path / f"out{i}", "--no-plots", "--no-progress",
                    "--distributed", "--coordinator", f"localhost:{port}", "--num-processes", 2,
                    "--process-id", i) for i in range(2)]
    for p in procs:
        code, msg, err = finish(p)
        assert code == 0, err
    ds = load(tmp_path / "out0" / "results.nc")
    assert ds.attrs["processes"] == 2 and len(ds.attrs["devices"]) == 2
    assert not (tmp_path / "out1").exists()  # only process 0 wrote
    assert_same_numbers(ds, reference(tmp_path, config))


def test_local_workers_get_disjoint_cores_covering_the_machine():
    from hopjax.cluster import local_cores

    for n_cores in (1, 2, 3, 16):
        cores = list(range(n_cores))
        for workers in range(1, 2 * n_cores + 2):
            groups = [local_cores(s, workers, cores) for s in range(workers)]
            assert all(groups)
            if workers <= n_cores:  # a partition of the cores
                assert sorted(c for g in groups for c in g) == cores
            else:  # one core each, spread evenly
                counts = [sum(g == [c] for g in groups) for c in cores]
                assert max(counts) - min(counts) <= 1


def test_shards_partition_the_chunks_and_balance_a_growing_cost():
    for n_chunks in (1, 7, 24):
        for n in (1, 2, 3, 5, 30):
            parts = [shard_chunks(n_chunks, (i, n)) for i in range(n)]
            assert sorted(c for p in parts for c in p) == list(range(n_chunks))
            assert max(map(len, parts)) - min(map(len, parts)) <= 1
    # 2 seeds x 4 loads with cost ~ P ~ alpha: both shards get the same total
    cost = [a for _ in range(2) for a in (1, 2, 3, 4)]
    assert [sum(cost[c] for c in shard_chunks(8, (i, 2))) for i in range(2)] == [10, 10]


def test_submit_no_wait_returns_at_once_and_the_last_shard_writes_the_file(tmp_path):
    config = write_config(tmp_path / "tiny.yaml", chunk_size=6,  # 4 chunks
                          cluster={"executor": "local", "time_min": 10})
    out = tmp_path / "out"
    code, msg, err = finish(hopjax("submit", config, "--out", out, "--workers", "2", "--no-wait"))
    assert code == 0 and "not waiting" in msg, err
    assert "results:" not in msg  # the launcher only submits: the shards compute and assemble
    deadline = time.monotonic() + 240
    while not (out / "results.nc").exists():
        assert time.monotonic() < deadline, "no shard assembled results.nc"
        time.sleep(0.2)
    assert_same_numbers(load(out / "results.nc"), reference(tmp_path, config))
    deadline = time.monotonic() + 60  # the shard that assembled the file also draws figures
    while not (out / "capacity.png").exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
