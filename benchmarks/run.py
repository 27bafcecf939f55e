"""Benchmark suite: hopjax against reference implementations of the same work.

    python -m benchmarks.run [--quick] [--only NAME ...] [--out DIR]

Every unit of every case runs in its own subprocess (so that compilation caches and peak
memory do not leak between cases); hopjax and its reference are timed in that same process.
Results: ``DIR/benchmarks.json`` and ``DIR/benchmarks.md`` (default DIR: benchmarks/results).
With ``--only``, rows of the other cases already in DIR's JSON (same mode) are kept.
Exit status 1 if a unit failed or an identity check did not pass.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = ("matmul", "sync", "async", "daydreaming", "modern", "quickstart")


# --------------------------------------------------------------------------------- child
def _child(spec: str, result: str) -> int:
    from benchmarks import cases
    from benchmarks.common import peak_rss_mb

    params = json.loads(spec)
    try:
        rows = getattr(cases, params.pop("fn"))(**params)
        for r in rows:
            r["rss_total_mb"] = r["rss_hopjax_mb"] if r.pop("rss_is_child", False) else peak_rss_mb()
        out, rc = {"rows": rows}, 0
    except Exception:
        out, rc = {"error": traceback.format_exc()}, 1
    with open(result, "w") as f:
        json.dump(out, f, default=float)
    return rc


def _run_unit(case: str, unit: dict, timeout: float) -> list[dict]:
    """Run one unit in a fresh interpreter; returns its rows (or one error row)."""
    with tempfile.TemporaryDirectory() as tmp:
        res = os.path.join(tmp, "result.json")
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--child",
                                   json.dumps(unit), "--result", res],
                                  cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            err = proc.stderr
        except subprocess.TimeoutExpired as e:
            proc, err = None, f"timed out after {timeout:.0f} s\n{e.stderr or ''}"
        wall = time.perf_counter() - t0
        data = None
        if os.path.exists(res):
            with open(res) as f:
                data = json.load(f)
    if data is None or "error" in data:
        msg = (data or {}).get("error") or (err or "")[-3000:]
        return [dict(case=case, variant=unit.get("fn"), unit=unit, error=msg, ratio=None,
                     unit_wall_s=wall)]
    for r in data["rows"]:
        r.update(unit=unit, unit_wall_s=wall, load_avg=[load0, os.getloadavg()[0]])
    return data["rows"]


# ---------------------------------------------------------------------------- formatting
def fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    a = abs(x)
    for threshold, scale, suffix in ((1e9, 1e9, " G"), (1e6, 1e6, " M"), (1e4, 1e3, " k")):
        if a >= threshold:
            return f"{x / scale:.{digits}g}{suffix}"
    return f"{x:.0f}" if a >= 10 ** digits else f"{x:.{digits}g}"


def _check(r) -> str:
    c = r.get("check")
    if not c:
        return "–"
    return ("✅ " if c["passed"] else "❌ ") + c["name"]


def _pair(d, key_a="hopjax", key_b="reference", digits=2):
    if not d:
        return "–"
    return f"{fmt(d.get(key_a), digits)} / {fmt(d.get(key_b), digits)}"


def _load(r) -> str:
    return f"{max(r['load_avg']):.1f}" if r.get("load_avg") else "–"


def summary_line(r) -> str:
    if r.get("error"):
        return f"{r['case']:<12} {r['variant']}: ERROR\n{r['error']}"
    return (f"{r['case']:<12} {r['variant']:<46} {r['metric']:<20} hopjax {fmt(r['hopjax']):>8}"
            f"  ref {fmt(r['reference']):>8}  ratio {fmt(r['ratio'])} (fastest {fmt(r.get('ratio_min'))})"
            f"  compile {_pair(r.get('compile_s'))} s  RSS {fmt(r.get('rss_total_mb'))} MB"
            f"  {_check(r)}")


def markdown(data) -> str:
    m = data["machine"]
    lines = [
        "# hopjax benchmarks" + (" (quick mode: tiny sizes, not representative)"
                                 if data["quick"] else ""),
        "",
        f"- date: {data['date']}; wall time of this invocation {data['duration_s']:.0f} s"
        + (f" (--only {' '.join(data['only'])}; other rows from earlier runs)"
           if data.get("only") else ""),
        f"- CPU: {m['cpu_model']}, {m['cpu_count']} cores ({m.get('cpus_usable')} usable), "
        f"{m.get('mem_total_gb')} GB RAM; load average at start {m['load_avg_at_start'][0]:.2f}",
        f"- jax {m['jax']} (jaxlib {m['jaxlib']}), numpy {m['numpy']} "
        f"(BLAS: {m.get('numpy_blas', '?')}), numba {m.get('numba')} "
        f"({m.get('numba_threads')} threads), python {m['python']}",
        f"- jax devices: {', '.join(m['jax_devices'])}",
        "",
        "ratio = hopjax rate / reference rate (> 1: hopjax faster), medians of the timed "
        "repeats after a warm-up (hopjax and reference interleaved); ratio of fastest = "
        "ratio of the fastest repeats (less sensitive to other jobs); load = 1-min load "
        "average around the case (≥ cores: numbers are noisy); compile = trace + XLA compile (hopjax) / numba JIT or cache "
        "load (reference), excluded from the rates. Peak RSS: hopjax part / whole case "
        "process (hopjax + reference). Daydreaming draws different random numbers in hopjax and "
        "in the reference: rates only.",
        "",
        "| case | variant | metric | hopjax | reference | ratio | ratio of fastest | "
        "compile s (hopjax / ref) | peak RSS MB (hopjax / case) | reference implementation "
        "| check | load | notes |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"]:
        if r.get("error"):
            err = r["error"].strip().splitlines()[-1] if r["error"].strip() else "error"
            lines.append(f"| {r['case']} | {r['variant']} | – | – | – | – | – | – | – | – | "
                         f"❌ failed | – | {err.replace('|', '/')} |")
            continue
        lines.append(
            f"| {r['case']} | {r['variant']} | {r['metric']} | {fmt(r['hopjax'])} | "
            f"{fmt(r['reference'])} | **{fmt(r['ratio'])}** | {fmt(r.get('ratio_min'))} | "
            f"{_pair(r.get('compile_s'))} | "
            f"{fmt(r.get('rss_hopjax_mb'), 4)} / {fmt(r.get('rss_total_mb'), 4)} | "
            f"{r.get('reference_name', '')} | {_check(r)} | "
            f"{_load(r)} | "
            f"{r.get('notes', '')} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, few repeats (smoke test)")
    ap.add_argument("--only", nargs="+", choices=CASES, metavar="NAME",
                    help=f"cases to run, among {', '.join(CASES)}")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="output folder")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per unit")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args.child, args.result)

    from benchmarks.cases import units
    from benchmarks.common import machine_info

    t_start = time.perf_counter()
    machine = machine_info()
    names = args.only or list(CASES)
    plan = units(args.quick)
    timeout = args.timeout or (120.0 if args.quick else 1200.0)
    print(f"hopjax benchmarks ({'quick' if args.quick else 'full'}): {machine['cpu_model']}, "
          f"{machine['cpu_count']} cores, jax {machine['jax']}, numba {machine.get('numba')}, "
          f"load {machine['load_avg_at_start'][0]:.2f}", flush=True)
    rows = []
    for name in CASES:
        if name not in names:
            continue
        for unit in plan[name]:
            for r in _run_unit(name, unit, timeout):
                rows.append(r)
                print(summary_line(r), flush=True)

    os.makedirs(args.out, exist_ok=True)
    path_json = os.path.join(args.out, "benchmarks.json")
    if args.only and os.path.exists(path_json):  # keep the other cases' rows
        try:
            with open(path_json) as f:
                old = json.load(f)
            if old.get("quick") == args.quick:
                kept = [r for r in old.get("rows", []) if r["case"] not in names]
                rows = sorted(kept + rows, key=lambda r: CASES.index(r["case"]))
        except (OSError, ValueError, KeyError):
            pass
    data = dict(date=datetime.datetime.now().isoformat(timespec="seconds"), quick=args.quick,
                only=args.only,
                argv=sys.argv[1:] if argv is None else list(argv),
                duration_s=time.perf_counter() - t_start, machine=machine, rows=rows)
    with open(path_json, "w") as f:
        json.dump(data, f, indent=1, default=float)
    md = markdown(data)
    with open(os.path.join(args.out, "benchmarks.md"), "w") as f:
        f.write(md)
    print("\n" + md)
    print(f"wrote {path_json} and benchmarks.md")
    failed = [r for r in rows if r.get("error") or (r.get("check") and not r["check"]["passed"])]
    if failed:
        print(f"{len(failed)} row(s) failed: " + ", ".join(f"{r['case']} {r['variant']}"
                                                          for r in failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
