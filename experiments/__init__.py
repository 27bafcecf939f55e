"""Experiment kinds: each module maps a validated config to a sweep `Plan` and plots.

A module provides ``Config`` (pydantic model; its ``experiment`` field names the kind),
``plan(cfg) -> hopjax.sweep.Plan`` and ``plots(ds, outdir) -> list[Path]``.
"""

from hopjax.experiments import bam, capacity, daydreaming, dense, prototypes, retrieval

EXPERIMENTS = {"retrieval": retrieval, "capacity": capacity, "daydreaming": daydreaming,
               "prototypes": prototypes, "dense": dense, "bam": bam}

__all__ = ["EXPERIMENTS"]
