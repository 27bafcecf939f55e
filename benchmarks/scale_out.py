"""Scale-out benchmark: one Daydreaming sweep at N = 1000 on 1, 2 and 4 local workers.

    python -m benchmarks.scale_out [--workers 1 2 4] [--out benchmarks/results]

Each setting runs ``hopjax submit CONFIG --workers W --executor local`` from scratch (its
own store) and times it end to end (the fastest of ``--repeat`` runs); the final files
must be identical to the 1-worker one. The per-chunk overheads a user needs to size chunks are measured separately:
Python + JAX start-up of a worker process, compilation of a chunk's function (first call
minus a later call of the same shape), and a submitit job's turnaround for a trivial
sweep. Writes ``scale_out.json`` with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import yaml

HERE = pathlib.Path(__file__).resolve().parent

SWEEP = {  # 2 seeds x 4 loads = 8 chunks; about a minute of one 2-core process
    "experiment": "daydreaming", "name": "scale_out_daydreaming", "N": 1000, "seeds": 2,
    "data": {"kind": "uncorrelated", "alpha": [0.1, 0.2, 0.3, 0.4]},
    "training": {"tau": 20, "epochs": 10, "record": [0, 10]},
    "dynamics": {"mode": "async", "max_sweeps": 50},
    "m0": [0.5, 0.8, 1.0], "samples": 1, "chunk_size": 1,
    "cluster": {"executor": "local", "time_min": 60},
}
TRIVIAL = {"experiment": "retrieval", "name": "trivial", "N": 16,
           "data": {"alpha": [0.2]}, "rule": "hebb", "m0": [1.0], "chunk_size": 1,
           "cluster": {"executor": "local", "time_min": 10}}


def _machine() -> dict:
    model = ""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}


def _hopjax(*args) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hopjax.cli", *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def _startup_s() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import jax, hopjax.run; jax.devices()"], check=True)
    return time.perf_counter() - t


def _compile_s(cfg_path) -> dict:
    """First call (trace + compile + run) and a second call of the same chunk function."""
    code = f"""
import json, time
from hopjax.config import load_config
from hopjax.run import sweep_layout
from hopjax.sweep import Runner
cfg = load_config({str(cfg_path)!r})
_, plan, size = sweep_layout(cfg)
r = Runner(plan, size)
t = time.perf_counter(); r.run_chunk(0); first = time.perf_counter() - t
t = time.perf_counter(); r.run_chunk(1); second = time.perf_counter() - t
print(json.dumps({{"first_chunk_s": first, "later_chunk_s": second}}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--repeat", type=int, default=2, help="runs per setting (the fastest counts)")
    args = ap.parse_args(argv)
    from hopjax.io import load

    rows, ref = [], None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        cfg = tmp / "sweep.yaml"
        cfg.write_text(yaml.safe_dump(SWEEP))
        trivial = tmp / "trivial.yaml"
        trivial.write_text(yaml.safe_dump(TRIVIAL))
        for w in args.workers:
            walls = [_hopjax("submit", cfg, "--out", tmp / f"w{w}-{k}", "--workers", w,
                             "--no-progress") for k in range(args.repeat)]
            wall = min(walls)
            ds = load(tmp / f"w{w}-0" / "results.nc")
            same = True
            if ref is None:
                ref = ds
            else:
                same = all(ds[v].values.tobytes() == ref[v].values.tobytes() for v in ref.data_vars)
            rows.append({"workers": w, "wall_s": round(wall, 2),
                         "all_runs_s": [round(t, 2) for t in walls],
                         "identical_to_1_worker": same})
            print(rows[-1], flush=True)
        overhead = {"python_jax_startup_s": round(_startup_s(), 2),
                    **{k: round(v, 3) for k, v in _compile_s(cfg).items()},
                    "submit_trivial_sweep_1_job_s": round(
                        _hopjax("submit", trivial, "--out", tmp / "t", "--workers", 1,
                                "--no-progress"), 2)}
    base = rows[0]["wall_s"]
    for r in rows:
        r["speedup"] = round(base / r["wall_s"], 2)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": _machine(), "sweep": SWEEP,
              "runs": rows, "overhead": overhead}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale_out.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["overhead"], indent=1))
    return 0 if all(r["identical_to_1_worker"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
