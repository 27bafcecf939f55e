"""Run a validated config: plan -> resumable store -> chunked sweep with progress -> plots.

The chunks of a sweep depend on the config alone (its grid, memory budget and chunk size),
never on the devices or processes that compute them, so any mix of workers fills the same
store:

* one process: ``run(cfg)`` computes every missing chunk and assembles ``results.nc``;
* shards: ``run_sweep(cfg, shard=(i, n))`` computes only shard i's chunks (`shard_chunks`:
  dealt back and forth, so every shard gets a share of each static block and of each load),
  and assembles the file only if it finds the whole sweep stored afterwards;
* one multi-process JAX program (``jax.distributed``): every process computes its devices'
  share of every chunk, process 0 alone writes the store.
"""

from __future__ import annotations

import dataclasses
import pathlib
import platform

import jax
import numpy as np
from tqdm.auto import tqdm

from hopjax import __version__
from hopjax.config import config_dump, fingerprint
from hopjax.io import ResultStore, load
from hopjax.sweep import Runner, auto_chunk_size

__all__ = ["run", "run_sweep", "results_path", "sweep_layout", "shard_chunks", "RunOutcome",
           "Interrupted", "parse_shard"]


class Interrupted(Exception):
    """The user stopped a run (Ctrl-C); every finished chunk is stored."""


@dataclasses.dataclass
class RunOutcome:
    """What a run did. ``path`` is None when other shards' chunks are still missing."""

    path: pathlib.Path | None
    figures: list
    n_chunks: int
    computed: int  # chunks this run computed
    missing: int  # chunks of the sweep still missing when it ended
    reused: bool  # the finished file was already there: nothing computed


def results_path(cfg, out=None) -> pathlib.Path:
    """Where a config's results go: ``<out>/results.nc`` (default ``results/<name>``)."""
    return pathlib.Path(out if out is not None else pathlib.Path("results") / cfg.name) / "results.nc"


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N; ValueError with the allowed form otherwise."""
    parts = str(text).split("/")
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        i = n = None
    if i is None or n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard must be I/N with integers 0 <= I < N, e.g. 0/4 (got {text!r})")
    return i, n


def shard_chunks(n_chunks: int, shard: tuple[int, int] | None) -> list[int]:
    """Chunk ids of ``shard = (i, n)`` (all chunks if None).

    Chunks are dealt in rounds of n, every other round in reverse (boustrophedon): shard i
    gets chunks i, 2n−1−i, 2n+i, 4n−1−i, ... Plain round robin would give a shard the same
    position in every row of the grid when n divides a dim (all the small loads to one shard,
    all the large ones to another); dealing back and forth evens out costs that grow along the
    grid, as P does with α."""
    if shard is None:
        return list(range(n_chunks))
    i, n = shard
    return [c for c in range(n_chunks) if (c % n if (c // n) % 2 == 0 else n - 1 - c % n) == i]


def sweep_layout(cfg, chunk_size: int | None = None):
    """(experiment module, plan, chunk size) of a config: everything that fixes the chunks.

    The chunk size is ``chunk_size``, else the config's, else the largest that fits
    ``memory_budget_mb`` (`hopjax.sweep.auto_chunk_size` for one device); it never exceeds
    one static block (a chunk never straddles two), so huge values mean "whole blocks"."""
    from hopjax import registry

    module = registry.get(cfg.experiment)
    plan = module.plan(cfg)
    size = chunk_size or cfg.chunk_size
    if size is None:
        size = auto_chunk_size(plan, cfg.memory_budget_mb * 2**20, 1)
    return module, plan, max(1, min(int(size), plan.block_size))


def _metadata(cfg, devices, chunk_size) -> dict:
    from hopjax import registry

    # a user's kind: where its module was, so that `hopjax plot` finds it again
    kind_file = ({} if cfg.experiment in registry.BUILTIN else
                 {"experiment_file": str(getattr(registry.get(cfg.experiment), "__file__", ""))})
    return {**kind_file,
        "config": config_dump(cfg),
        "experiment": cfg.experiment,
        "version": __version__,  # stored as the netCDF attribute hopjax_version
        "jax_version": jax.__version__,
        "devices": [str(d) for d in devices],
        "processes": jax.process_count(),
        "platform": platform.platform(),
        "base_seed": int(cfg.seed),
        "seeds": list(range(cfg.seeds)),
        "seed_rule": "point key = fold_in(jax.random.key(base_seed), seed index)",
        "chunk_size": int(chunk_size),
    }


def open_store(cfg, out, plan, bounds, chunk_size, devices, mode="resume") -> ResultStore:
    """The sweep's store under ``out`` (created by the first worker to arrive)."""
    from hopjax.io import Layout

    layout = Layout(grid_dims={d.name: d.values for d in plan.dims}, variables=plan.variables,
                    inner_coords=plan.inner_coords, chunk_bounds=bounds)
    return ResultStore.create(results_path(cfg, out), layout,
                              attrs=_metadata(cfg, devices, chunk_size),
                              fingerprint=fingerprint(cfg), mode=mode)


def _agree_on_pending(store, n_chunks: int, error) -> list[int]:
    """Multi-process: every process runs the chunks process 0 (the writer) found missing."""
    from jax.experimental import multihost_utils

    mask = np.zeros(n_chunks + 1, np.int32)
    if jax.process_index() == 0:
        mask[0] = error is not None
        if error is None:
            mask[1 + np.asarray(store.pending(), int)] = 1
    mask = np.asarray(multihost_utils.broadcast_one_to_all(mask))
    if error is not None:
        raise error
    if mask[0]:
        raise RuntimeError("process 0 could not open the result store (its error says why)")
    return [int(i) for i in np.flatnonzero(mask[1:])]


def run_sweep(cfg, out=None, *, mode: str = "resume", plots: bool = True,
              progress: bool = True, devices=None, chunk_size: int | None = None,
              shard: tuple[int, int] | None = None, compute: bool = True) -> RunOutcome:
    """Compute (or resume) the sweep of ``cfg`` (or one shard of it) into its store.

    Assembles ``results.nc`` and draws the figures once every chunk is stored; a shard
    that ends while others' chunks are missing leaves that to whoever stores the last one
    (another shard, or a plain run afterwards). ``mode`` is "resume" or "overwrite".
    ``compute=False`` only assembles (and plots) a sweep whose chunks are all stored.
    Raises `Interrupted` on Ctrl-C (finished chunks stay stored). A config with ``sizes:``
    is one sweep per N: run it with `hopjax.finite_size.run_sizes` (or ``hopjax run``)."""
    if getattr(cfg, "sizes", None):
        from hopjax.config import ConfigError

        raise ConfigError(f"config {cfg.name} has sizes {list(cfg.sizes)}: one sweep per N; run "
                          "them with hopjax.finite_size.run_sizes(cfg, out=...) or `hopjax run`")
    module, plan, size = sweep_layout(cfg, chunk_size)
    devices = list(devices if devices is not None else jax.devices())
    runner = Runner(plan, size, devices)
    n_chunks = len(runner.bounds)
    multi = jax.process_count() > 1
    writer = jax.process_index() == 0
    store, error = None, None
    if writer:
        try:
            store = open_store(cfg, out, plan, runner.bounds, size, devices, mode)
        except Exception as err:  # noqa: BLE001 -- re-raised below, after telling the others
            if not multi:
                raise
            error = err
    mine = set(shard_chunks(n_chunks, shard))
    todo = _agree_on_pending(store, n_chunks, error) if multi else store.pending()
    reused = store is not None and store.complete
    todo = [i for i in todo if i in mine] if compute else []
    computed = 0
    try:
        if todo:
            points = sum(runner.bounds[i][1] - runner.bounds[i][0] for i in todo)
            desc = cfg.name + (f" [shard {shard[0]}/{shard[1]}]" if shard else "")
            bar = tqdm(total=points, unit="pt", disable=not progress or not writer, desc=desc,
                       dynamic_ncols=True)
            for i in todo:
                start, stop = runner.bounds[i]
                # another worker may have stored it meanwhile (single-process runs only:
                # the processes of one program must run the same chunks)
                if not multi and (store.complete or i not in store.refresh([i])):
                    bar.update(stop - start)
                    continue
                arrays = runner.run_chunk(i)
                if writer and not store.complete:
                    store.write_chunk(i, arrays)
                computed += 1
                bar.update(stop - start)
            bar.close()
        if not writer:
            return RunOutcome(results_path(cfg, out), [], n_chunks, computed, 0, False)
        missing = store.refresh()
        if missing:
            store.close()
            return RunOutcome(None, [], n_chunks, computed, len(missing), False)
        path = store.finalize()
    except KeyboardInterrupt:
        left = len(store.refresh()) if store is not None else n_chunks
        if store is not None:
            store.close()
        raise Interrupted(f"interrupted: {n_chunks - left} of {n_chunks} chunks are stored "
                          f"under {results_path(cfg, out).parent}; run the same command again "
                          "to resume") from None
    figures = module.plots(load(path), path.parent) if plots else []
    return RunOutcome(path, figures, n_chunks, computed, 0, reused)


def run(cfg, out=None, *, mode: str = "resume", plots: bool = True, progress: bool = True,
        devices=None, chunk_size: int | None = None):
    """Compute (or resume) the whole sweep of ``cfg`` and write results.nc plus figures.

    Returns (path to results.nc, list of figure paths). ``mode`` is "resume" or "overwrite".
    """
    o = run_sweep(cfg, out, mode=mode, plots=plots, progress=progress, devices=devices,
                  chunk_size=chunk_size)
    return o.path, o.figures
