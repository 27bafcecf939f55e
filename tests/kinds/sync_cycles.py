"""A user's own experiment kind, as a researcher writes it outside hopjax: the fraction of
random starts that synchronous dynamics of Hebb couplings ends in a 2-cycle, against α.
(Synchronous dynamics of symmetric couplings ends only in fixed points or 2-cycles:
Goles-Chacc, Fogelman-Soulié, Pellegrin 1985.)"""

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from hopjax import dynamics, patterns, rules
from hopjax.config import ExperimentConfig, Load
from hopjax.sweep import Dim, Plan


class Config(ExperimentConfig):
    experiment: Literal["sync_cycles"]
    N: int = 200
    alpha: list[Load]
    starts: int = 32


def plan(cfg):
    P = [patterns.count(a, cfg.N) for a in cfg.alpha]
    P_of, Pm = jnp.asarray(P), max(P)

    def point(p, constants):
        k_xi, k_s = jax.random.split(jax.random.fold_in(jax.random.key(cfg.seed), p["seed"]))
        xi = patterns.random(k_xi, Pm, cfg.N)
        J = rules.hebb(xi, jnp.arange(Pm) < P_of[p["alpha_index"]])
        s0 = patterns.random(k_s, cfg.starts, cfg.N)
        out = dynamics.relax(k_s, J, s0, mode="sync", max_sweeps=500)
        return {"two_cycles": jnp.mean(out.status == dynamics.TWO_CYCLE),
                "fixed_points": jnp.mean(out.status == dynamics.FIXED_POINT)}

    return Plan.declare([Dim("seed", np.arange(cfg.seeds)), Dim("alpha", np.array(cfg.alpha))],
                        {"two_cycles": (), "fixed_points": ()}, point,
                        bytes_per_point=4 * cfg.N * (cfg.N + Pm + 4 * cfg.starts))


def plots(ds, outdir):
    import pathlib

    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 3.2), layout="constrained")
    ax = fig.subplots()
    for var in ("two_cycles", "fixed_points"):
        v = ds[var]
        ax.errorbar(ds["alpha"], v.mean("seed"), v.std("seed"), marker="o", capsize=3,
                    label=f"{var.replace('_', ' ')} (±1 s.d. over {ds.sizes['seed']} seeds)")
    ax.set(xlabel="load α = P/N", ylabel="fraction of random starts")
    ax.legend()
    path = pathlib.Path(outdir) / "sync_cycles.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return [path]
