"""Record (or check) the quick-mode results of every shipped config, bit for bit.

A refactor of the experiment layer must not change a single bit of any shipped config's
results. This script runs each config of `hopjax.shipped_configs` in quick mode (no plots)
and writes a SHA-256 per output variable to ``quick.json`` beside it, with the JAX version
and CPU they were computed with; `tests/test_golden.py` recomputes and compares.

    python tests/golden/record.py            # record all
    python tests/golden/record.py --check    # compare, exit 1 on any difference
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import platform
import sys
import tempfile
import time

import jax
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = HERE / "quick.json"


def environment() -> dict:
    """What a bit-identical comparison needs to be meaningful."""
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "machine": platform.machine(), "numpy": np.__version__}


def digest(ds) -> dict[str, str]:
    """SHA-256 of each data variable's float32 bytes (and of every coordinate)."""
    out = {}
    for name in sorted(ds.data_vars) + sorted(f"coord:{c}" for c in ds.coords):
        arr = ds[name.removeprefix("coord:")].values
        h = hashlib.sha256(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(np.ascontiguousarray(arr).tobytes() if arr.dtype != object
                 else repr(arr.tolist()).encode())
        out[name] = h.hexdigest()[:20]
    return out


def compute(name: str) -> tuple[dict[str, str], float]:
    from hopjax import shipped_configs
    from hopjax.config import load_config, size_configs
    from hopjax.io import load
    from hopjax.run import run

    cfg = load_config(shipped_configs.resolve(name), quick=True)
    # a config with sizes: one sweep per N, its variables recorded as "N<n>/<name>"
    sweeps = ({f"N{n}/": c for n, c in size_configs(cfg).items()} if cfg.sizes else {"": cfg})
    t0, d = time.perf_counter(), {}
    for prefix, c in sweeps.items():
        with tempfile.TemporaryDirectory() as tmp:
            path, _ = run(c, tmp, plots=False, progress=False)
            with load(path) as ds:
                d.update({prefix + k: v for k, v in digest(ds.load()).items()})
    return d, time.perf_counter() - t0


def main(argv=None) -> int:
    from hopjax import shipped_configs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with quick.json")
    ap.add_argument("names", nargs="*", help="configs (default: all shipped)")
    args = ap.parse_args(argv)
    names = args.names or shipped_configs.names()
    stored = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {"configs": {}}
    bad = 0
    for name in names:
        d, secs = compute(name)
        if args.check:
            ok = stored["configs"].get(name, {}).get("digests") == d
            bad += not ok
            print(f"{name:28s} {'same' if ok else 'DIFFERENT'} ({secs:.1f} s)", flush=True)
        else:
            stored["configs"][name] = {"digests": d, "seconds": round(secs, 1)}
            print(f"{name:28s} recorded ({secs:.1f} s)", flush=True)
    if not args.check:
        stored["environment"] = environment()
        stored["configs"] = dict(sorted(stored["configs"].items()))
        GOLDEN.write_text(json.dumps(stored, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
