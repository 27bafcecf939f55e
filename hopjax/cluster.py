"""One sweep as a job array: shards submitted through submitit (SLURM, or local processes).

``hopjax submit CONFIG --out DIR --workers N`` opens the sweep's store (so a config that
does not match what is already there is refused before anything is queued), submits one job
per shard ``i/N`` that still has missing chunks, then waits with a progress bar fed by the
store (chunks on disk / total), or returns at once with ``--no-wait``. Whichever shard
stores the last chunk assembles ``results.nc``; the waiting launcher then draws the figures.

Why submitit: it is the launcher the JAX/PyTorch research community already uses on SLURM
(it writes the sbatch script, pickles the call, collects logs and exceptions, requeues a
preempted or timed-out job), and its local executor runs the same jobs as processes on one
machine, which is how CI tests this path. The sweep needs nothing more: shards are
independent and the store coordinates them, so no Ray or Dask cluster has to run beside the
jobs.

The ``cluster:`` section of a config (or the CLI flags of ``hopjax submit``) sets the job
options; it does not change the numbers, so it is not part of the sweep's fingerprint.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["Cluster", "cluster_from_raw", "ShardJob", "make_executor", "submit"]


class Cluster(BaseModel):
    """Job options of ``hopjax submit`` (``cluster:`` section of a config)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    executor: Literal["auto", "slurm", "local"] = Field(
        "auto", description="auto: SLURM where sbatch is on the PATH, else local processes")
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    time_min: int = Field(60, ge=1, le=525_600, description="wall-time limit per job, minutes")
    cpus_per_task: int | None = Field(None, ge=1, le=4096)
    gpus_per_task: int | None = Field(None, ge=0, le=64)
    mem_gb: float | None = Field(None, gt=0, le=65_536, allow_inf_nan=False,
                                 json_schema_extra={"strict": False})
    array_parallelism: int | None = Field(None, ge=1, description="jobs running at once")
    setup: list[str] = Field(default_factory=list,
                             description="shell lines run before each job (module load, ...)")
    additional: dict[str, str | int] = Field(default_factory=dict,
                                             description="more sbatch options, name -> value")


def cluster_from_raw(raw, overrides: dict | None = None, source: str = "<config>") -> Cluster:
    """Validate a config's ``cluster:`` section (None: defaults) with CLI ``overrides``.

    Raises `hopjax.config.ConfigError` naming the field and what is allowed."""
    from hopjax.config import ConfigError

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"invalid config {source}:\n  field 'cluster': must be a mapping of "
                          f"job options (got {type(raw).__name__})")
    raw = {**raw, **{k: v for k, v in (overrides or {}).items() if v is not None}}
    try:
        return Cluster.model_validate(raw)
    except ValidationError as err:
        lines = [f"invalid config {source}:"]
        for e in err.errors():
            where = ".".join(str(p) for p in ("cluster", *e["loc"]))
            msg = e["msg"]
            if e["type"] == "extra_forbidden":
                msg = "unknown key; allowed keys here: " + ", ".join(sorted(Cluster.model_fields))
            lines.append(f"  field '{where}': {msg}")
        raise ConfigError("\n".join(lines)) from None


def _submitit():
    try:
        import submitit
    except ImportError:  # pragma: no cover -- a core dependency; a broken install
        raise RuntimeError("hopjax submit needs submitit: pip install submitit") from None
    return submitit


def make_executor(cluster: Cluster, folder, name: str):
    """A submitit executor for ``cluster`` writing its scripts and logs under ``folder``."""
    import shutil

    submitit = _submitit()
    kind = cluster.executor
    if kind == "auto":
        kind = "slurm" if shutil.which("sbatch") else "local"
    if kind == "slurm" and not (shutil.which("sbatch") and shutil.which("srun")):
        from hopjax.config import ConfigError

        raise ConfigError("field 'cluster.executor': 'slurm' needs SLURM's sbatch and srun on "
                          "the PATH (run on the cluster's login node), or use 'local'")
    ex = submitit.AutoExecutor(folder=folder, cluster=kind)
    params = {"name": name, "timeout_min": cluster.time_min, "tasks_per_node": 1, "nodes": 1}
    if cluster.cpus_per_task is not None:
        params["cpus_per_task"] = cluster.cpus_per_task
    if cluster.mem_gb is not None:
        params["mem_gb"] = cluster.mem_gb
    if kind == "slurm":
        slurm = {"partition": cluster.partition, "account": cluster.account,
                 "qos": cluster.qos, "constraint": cluster.constraint,
                 "array_parallelism": cluster.array_parallelism,
                 "gpus_per_task": cluster.gpus_per_task,
                 "setup": list(cluster.setup) or None,
                 "additional_parameters": dict(cluster.additional) or None}
        params |= {"slurm_" + k: v for k, v in slurm.items() if v is not None}
    ex.update_parameters(**params)
    return ex


def local_cores(shard: int, workers: int, cores: list[int]) -> list[int]:
    """The CPU cores local worker ``shard`` of ``workers`` is pinned to: contiguous, nearly
    equal groups when there are at least as many cores as workers, else one core, round robin.

    Measured on 2 cores (Daydreaming, N = 1000): one process on both cores 23.7 s, on one
    core 25.0 s; two shards pinned to one core each 17.9 s. One JAX process does not keep
    several cores busy on these sweeps, so local workers are given disjoint cores rather than
    all competing for all of them (SLURM pins its tasks itself)."""
    if workers <= len(cores):
        return cores[shard * len(cores) // workers:(shard + 1) * len(cores) // workers]
    return [cores[shard % len(cores)]]


class ShardJob:
    """One shard of a sweep, as a submitit job. Preempted or timed out, submitit requeues it
    (``checkpoint``): the rerun resumes from the store, losing at most one chunk."""

    def __call__(self, cfg, out: str, shard: tuple[int, int], chunk_size: int | None,
                 plots: bool = True, cores: list[int] | None = None) -> dict:
        if cores:  # before JAX starts its backend, which sizes its thread pool by affinity
            os.sched_setaffinity(0, cores)
        from hopjax.run import run_sweep

        o = run_sweep(cfg, out, shard=tuple(shard), chunk_size=chunk_size, progress=False,
                      plots=plots)
        return {"shard": list(shard), "computed": o.computed, "missing": o.missing,
                "results": str(o.path) if o.path else None}

    def checkpoint(self, *args, **kwargs):
        return _submitit().helpers.DelayedSubmission(self, *args, **kwargs)


def submit(cfg, cluster: Cluster, out, workers: int, *, chunk_size: int | None = None,
           wait: bool = True, progress: bool = True, poll_s: float = 1.0,
           log=print) -> int:
    """Submit the shards of ``cfg`` with missing chunks; returns an exit code (0: done or
    submitted, 1: a job failed). Validates everything and opens the store first."""
    from tqdm.auto import tqdm

    from hopjax.io import chunks_on_disk
    from hopjax.run import open_store, results_path, run_sweep, shard_chunks, sweep_layout
    from hopjax.sweep import chunk_bounds

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1 (got {workers!r})")
    _, plan, size = sweep_layout(cfg, chunk_size)
    bounds = chunk_bounds(plan, size)
    out = results_path(cfg, out).parent.resolve()
    with open_store(cfg, out, plan, bounds, size, devices=[]) as store:
        pending, complete = store.pending(), store.complete
    path = results_path(cfg, out)
    if complete:
        log(f"already complete: {path} (reused, nothing submitted)")
        return 0
    shards = [s for s in range(workers)
              if not set(shard_chunks(len(bounds), (s, workers))).isdisjoint(pending)]
    ex = make_executor(cluster, out / "submitit", f"hopjax-{cfg.name}")
    cores = None
    if type(ex._executor).__name__ == "LocalExecutor" and hasattr(os, "sched_getaffinity"):
        mine = sorted(os.sched_getaffinity(0))
        cores = [local_cores(s, workers, mine) for s in shards]
    n = len(shards)
    # waiting: the launcher draws the figures once; not waiting: the last shard does
    jobs = ex.map_array(ShardJob(), [cfg] * n, [str(out)] * n, [(s, workers) for s in shards],
                        [chunk_size] * n, [not wait] * n, cores or [None] * n)
    log(f"submitted {len(jobs)} of {workers} shards ({len(pending)} of {len(bounds)} chunks "
        f"missing) through submitit's {type(ex._executor).__name__}: job ids "
        + ", ".join(j.job_id for j in jobs[:8]) + (" ..." if len(jobs) > 8 else "")
        + f"; logs under {out / 'submitit'}")
    if not wait:
        log(f"not waiting: the shard that stores the last chunk writes {path}")
        return 0
    bar = tqdm(total=len(bounds), initial=len(bounds) - len(pending), unit="chunk",
               disable=not progress, desc=cfg.name, dynamic_ncols=True)
    while True:
        finished = all(j.done() for j in jobs)
        bar.n = len(bounds) if path.exists() else min(chunks_on_disk(path), len(bounds))
        bar.refresh()
        if finished:
            break
        time.sleep(poll_s)
    bar.close()
    failed = [(s, j) for s, j in zip(shards, jobs) if j.exception() is not None]
    for s, j in failed:
        last = str(j.exception()).strip().splitlines()[-1:] or ["(no message)"]
        print(f"error: shard {s}/{workers} (job {j.job_id}) failed: {last[0]}; log: "
              f"{j.paths.stderr}", file=sys.stderr)
    if failed:
        print("error: the other shards' chunks are stored; run the same hopjax submit again "
              "to resubmit only the shards with missing chunks", file=sys.stderr)
        return 1
    o = run_sweep(cfg, out, chunk_size=chunk_size, progress=False, compute=False)
    if o.path is None:  # a job ended without error but left chunks (killed from outside)
        print(f"error: {o.missing} chunks still missing; run the same hopjax submit again",
              file=sys.stderr)
        return 1
    log(f"results: {o.path}")
    for f in o.figures:
        log(f"figure: {f}")
    return 0
