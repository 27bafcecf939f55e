"""The experiment kinds that ship with hopjax (installed as ``hopjax.experiments``).

Each module provides ``Config`` (pydantic model; its ``experiment`` field names the kind),
``plan(cfg) -> hopjax.sweep.Plan`` and ``plots(ds, outdir) -> list[Path]``. Configs find
kinds through `hopjax.registry`, which also serves users' own kinds; ``EXPERIMENTS`` maps the
built-in names to their modules.
"""

from hopjax.experiments import bam, capacity, daydreaming, dense, prototypes, retrieval

EXPERIMENTS = {"retrieval": retrieval, "capacity": capacity, "daydreaming": daydreaming,
               "prototypes": prototypes, "dense": dense, "bam": bam}

__all__ = ["EXPERIMENTS"]
