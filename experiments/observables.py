"""Observables of the pattern sweeps, declared once: groups of outputs (name -> inner dims)
with the function that computes them from a `Probe` of one grid point.

The plan's variables, ``values_per_point`` and the stored-results part of the memory estimate
all come from these declarations (`hopjax.sweep.Plan.declare`, `count_values`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import jax

from hopjax.sweep import Plan


def count_values(observables: dict, inner_coords: dict) -> int:
    """Numbers stored per grid point by declared ``observables`` (`Plan.schema`)."""
    return sum(math.prod(shape) for _, shape, _ in Plan.schema(observables, inner_coords).values())




@dataclass(frozen=True)
class Observables:
    """Outputs computed together: ``dims`` maps each name to its inner dims (``()`` for one
    number per point), ``fn(probe: Probe) -> {name: array}`` computes them all."""

    dims: dict[str, tuple[str, ...]]
    fn: Callable[[Probe], dict]


# The observer's keys. The first four are split(key, 4), as before more observables came; a
# later one takes fold_in(key, slot), so that adding it changes no earlier key (no earlier
# result, bit for bit).
KEY_SLOTS = {"examples": 0, "features": 1, "test": 2, "train": 3, "prototypes": 4}
SPLIT_KEYS = 4


@dataclass(frozen=True)
class Probe:
    """What an observable of one grid point reads: the couplings J, the point's patterns xi,
    mask, random features rf (or None), temperature T and bias field of its dynamics, the
    plan's constants c and the point's parameters p; `retrieve` and `settle` run the point's
    dynamics, `key` gives each observable its own key."""

    J: jax.Array
    xi: jax.Array
    mask: jax.Array
    rf: object
    T: object
    bias: object
    c: dict
    p: dict
    root: jax.Array
    split: jax.Array
    _retrieve: Callable
    _settle: Callable

    def key(self, slot: str):
        i = KEY_SLOTS[slot]
        return self.split[i] if i < SPLIT_KEYS else jax.random.fold_in(self.root, i)

    def retrieve(self, key, xi, mask) -> dict:
        """The `RETRIEVAL` observables of rows ``xi`` (masked) under the point's couplings."""
        return self._retrieve(key, self.J, xi, mask, self.T, self.bias)

    def settle(self, key, x):
        """Final states reached from states ``x`` (..., N)."""
        return self._settle(key, self.J, x, self.T, self.bias)


# every sweep's retrieval map of its patterns (`hopjax.metrics.retrieval_map`)
RETRIEVAL = Observables(
    {"mf_mean": ("m0",), "mf_std": ("m0",), "fixed_point": ("m0",), "basin_size": (),
     "stable_fraction": ()},
    lambda pr: pr.retrieve(pr.key("examples"), pr.xi, pr.mask))


def declared(groups, lead=()) -> dict[str, tuple[str, ...]]:
    """name -> inner dims of every observable of ``groups``, after the ``lead`` inner dims."""
    return {k: tuple(lead) + d for g in groups for k, d in g.dims.items()}
