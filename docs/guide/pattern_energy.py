"""Experiment kind `pattern_energy`: the energy per spin of the stored patterns under Hebb
couplings, against the load α."""

from pathlib import Path
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from pydantic import Field

from hopjax import energy, patterns, rules
from hopjax.config import ExperimentConfig, Load
from hopjax.sweep import Dim, Plan


class Config(ExperimentConfig):            # name, seed, seeds, memory_budget_mb, chunk_size, quick
    experiment: Literal["pattern_energy"]
    N: int = Field(ge=8, le=10_000)
    alpha: list[Load] = Field(min_length=1)


def plan(cfg) -> Plan:
    N, P_max = cfg.N, max(patterns.count(a, cfg.N) for a in cfg.alpha)
    P_of = jnp.array([patterns.count(a, N) for a in cfg.alpha])    # P for each alpha index

    def point(p, constants):               # one grid point: p["seed"], p["alpha"], p["alpha_index"]
        key = jax.random.fold_in(jax.random.key(cfg.seed), p["seed"])
        xi = patterns.random(key, P_max, N)                         # drawn at the largest P ...
        mask = patterns.count_mask(P_of[p["alpha_index"]], P_max)   # ... and masked down
        e = energy.energy(rules.hebb(xi, mask), xi) / N             # (P_max,)
        return {"energy": (e * mask).sum() / mask.sum()}

    dims = [Dim("seed", np.arange(cfg.seeds)), Dim("alpha", np.array(cfg.alpha))]
    return Plan.declare(dims, {"energy": ()}, point, bytes_per_point=4 * (N * N + 2 * P_max * N))


def plots(ds, outdir):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(ds.alpha, ds.energy.mean("seed"), "o-")
    ax.set(xlabel="load α = P/N", ylabel="energy per spin of a pattern")
    path = Path(outdir) / "energy.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [path]
