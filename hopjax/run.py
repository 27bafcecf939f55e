"""Run a validated config: plan -> resumable store -> chunked sweep with progress -> plots."""

from __future__ import annotations

import json
import pathlib
import platform
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from hopjax import __version__
from hopjax.config import fingerprint
from hopjax.io import ResultStore, load
from hopjax.sweep import Runner, auto_chunk_size

__all__ = ["run", "results_path"]


def results_path(cfg, out=None) -> pathlib.Path:
    """Where a config's results go: ``<out>/results.nc`` (default ``results/<name>``)."""
    return pathlib.Path(out if out is not None else pathlib.Path("results") / cfg.name) / "results.nc"


def _metadata(cfg, devices, chunk_size) -> dict:
    return {
        "config": cfg.model_dump(mode="json"),
        "experiment": cfg.experiment,
        "hopjax_version": __version__,
        "jax_version": jax.__version__,
        "devices": [str(d) for d in devices],
        "platform": platform.platform(),
        "base_seed": int(cfg.seed),
        "seeds": list(range(cfg.seeds)),
        "seed_rule": "point key = fold_in(jax.random.key(base_seed), seed index)",
        "chunk_size": int(chunk_size),
    }


def run(cfg, out=None, *, mode: str = "resume", plots: bool = True, progress: bool = True,
        devices=None, chunk_size: int | None = None):
    """Compute (or resume) the sweep of ``cfg`` and write results.nc plus figures.

    Returns (path to results.nc, list of figure paths). ``mode`` is "resume" or "overwrite".
    """
    from experiments import EXPERIMENTS

    module = EXPERIMENTS[cfg.experiment]
    plan = module.plan(cfg)
    devices = list(devices if devices is not None else jax.devices())
    size = chunk_size or cfg.chunk_size
    if size is None:
        size = auto_chunk_size(plan, cfg.memory_budget_mb * 2**20, len(devices))
    size = -(-size // len(devices)) * len(devices)
    runner = Runner(plan, size, devices)
    path = results_path(cfg, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = ResultStore.create(
        path, grid_dims={d.name: d.values for d in plan.dims}, variables=plan.variables,
        inner_coords=plan.inner_coords, chunk_bounds=runner.bounds,
        attrs=_metadata(cfg, devices, size), fingerprint=fingerprint(cfg), mode=mode)
    pending = store.pending()
    if pending:
        done = plan.n_points - sum(runner.bounds[i][1] - runner.bounds[i][0] for i in pending)
        bar = tqdm(total=plan.n_points, initial=done, unit="pt", disable=not progress,
                   desc=cfg.name, dynamic_ncols=True)
        for i in pending:
            start, stop = runner.bounds[i]
            store.write_chunk(i, runner.run_chunk(i))
            bar.update(stop - start)
        bar.close()
    path = store.finalize()
    figures = module.plots(load(path), path.parent) if plots else []
    return path, figures
