"""Timing, memory and machine-description helpers shared by the benchmark cases."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time


def peak_rss_mb(who=resource.RUSAGE_SELF) -> float:
    """Peak resident set size so far (MiB) of this process (or of its waited-for children)."""
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: KiB


def measure(fns: dict, *, repeats: int, warm_s: dict | None = None,
            budget_s: float | None = None, settle_s: float = 0.05) -> dict:
    """Time several functions doing the same work, interleaved so that they see the same
    machine load: ``repeats`` rounds, each running every function once in turn. The caller has
    already run each function once untimed (warm-up; its durations ``warm_s`` {name: s} reduce
    the rounds, down to 2, when ``repeats`` rounds of one function would exceed ``budget_s``).
    Each fn must block until its work is done. Before each call the process sleeps ``settle_s``
    (not timed): XLA's, OpenBLAS's and numba's worker threads spin for a while after their
    work, and on a machine with few cores they would slow down the next function's threads.
    Returns {name: {median, min, times, value (the last return value)}}."""
    if budget_s is not None and warm_s:
        worst = max(warm_s.values())
        if worst > 0:
            repeats = max(2, min(repeats, int(budget_s / worst)))
    res = {name: {"times": [], "value": None} for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            time.sleep(settle_s)  # let the other library's worker threads stop spinning
            t0 = time.perf_counter()
            res[name]["value"] = fn()
            res[name]["times"].append(time.perf_counter() - t0)
    for r in res.values():
        r["median"], r["min"] = statistics.median(r["times"]), min(r["times"])
    return res


def timed(fn):
    """(seconds, result) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """CPU model, cores, memory, library versions and JAX devices of this machine."""
    import jax
    import jaxlib
    import numpy as np

    info = {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_gb": _mem_total_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "jax_devices": [str(d) for d in jax.devices()],
        "load_avg_at_start": list(os.getloadavg()),
    }
    try:
        import numba
        info["numba"] = numba.__version__
        info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    except ImportError:
        info["numba"] = None
    try:
        cfg = np.show_config(mode="dicts")
        info["numpy_blas"] = cfg["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    return info
