"""Capacity curves: m_f(1), basin size and fraction of stable patterns against α.

The computation is the retrieval experiment's (same point function); a capacity config
defaults to a short m0 list near 1 (enough to read m_f(1) and the basin plateau) and is
meant for many α values, so its plots lead with the curves against α.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from hopjax.experiments import retrieval
from hopjax.config import Overlap

plan = retrieval.plan


class Config(retrieval.Config):
    experiment: Literal["capacity"]
    m0: list[Overlap] = Field(default=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5], min_length=1)


def plots(ds, outdir):
    from hopjax import plot  # matplotlib only when drawing

    return plot.plot_all(ds, outdir)
