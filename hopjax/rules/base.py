"""The protocol of iterative coupling rules, which `hopjax.rules.train` relies on.

An iterative rule is an optax-style pair of pure functions, `IterativeRule` (init, update):

* ``init(key, xi, mask=None) -> state``;
* ``update(key, state, xi, mask=None) -> (state, info)``: one step; info is a pytree of
  per-step observables that `train` averages over each epoch.

Every state satisfies `RuleState`: a field ``J`` (N, N), the couplings, and a field
``steps_per_epoch`` () int32, the number of updates `train` calls an epoch (it may be traced,
e.g. the number of real patterns of a padded array).

Rules that dream take the dreams' dynamics as a function, as jax-md and blackjax take theirs:
``relax(key, J, sigma) -> Relaxed``-like result with fields ``sigma`` (..., N), ``sweeps``
(...) and ``status`` (...) (`hopjax.dynamics.relax` with its options bound, e.g.
``functools.partial(dynamics.relax, mode="sync")``, a centred or a custom dynamics). Without
one, `dream_dynamics` builds it from the rule's ``mode``, ``max_sweeps``, ``method`` and
``block`` options.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable
from collections.abc import Callable

import jax

from hopjax import dynamics

__all__ = ["IterativeRule", "RuleState", "RelaxFn", "dream_dynamics"]

# relax(key, J, sigma) -> a `hopjax.dynamics.Relaxed`-like result (sigma, sweeps, status)
RelaxFn = Callable[[jax.Array, jax.Array, jax.Array], Any]


@runtime_checkable
class RuleState(Protocol):
    """What `train` reads from a rule's state: ``J`` (N, N) and ``steps_per_epoch`` ()."""

    J: jax.Array
    steps_per_epoch: jax.Array


class IterativeRule(NamedTuple):
    """An iterative coupling rule: ``init(key, xi, mask=None) -> state`` and
    ``update(key, state, xi, mask=None) -> (state, info)``; state satisfies `RuleState`."""

    init: Callable[..., RuleState]
    update: Callable[..., tuple[RuleState, Any]]


def dream_dynamics(relax: RelaxFn | None, *, mode: str = "async", max_sweeps=100,
                   method: str | None = None, block: int = 16, bias=None,
                   rule: str = "rule") -> RelaxFn:
    """The dreams' dynamics ``relax(key, J, sigma)`` of a rule.

    ``relax`` given: returned as is; the dynamics options must then keep their defaults (set
    them in that function), else a TypeError naming them. ``relax`` None: `hopjax.dynamics.relax`
    with ``mode``, ``max_sweeps`` (may be traced), ``method`` (None = relax's default) and
    ``block``; ``bias`` an optional function J -> bias (N,) (the centred dynamics'). ``rule``
    names the rule in error messages."""
    if relax is not None:
        if not callable(relax):
            raise TypeError(f"{rule}: relax must be a function relax(key, J, sigma); "
                            f"got {type(relax).__name__}")
        given = [name for name, set_ in (
            ("mode", mode != "async"),
            ("max_sweeps", not (isinstance(max_sweeps, int) and max_sweeps == 100)),
            ("method", method is not None), ("block", block != 16)) if set_]
        if given:
            raise TypeError(f"{rule}: with a relax function, set the dynamics options "
                            f"({', '.join(given)}) in that function instead")
        return relax
    options = dict(mode=mode, max_sweeps=max_sweeps, block=block)
    if method is not None:
        options["method"] = method
    if bias is None:
        return lambda key, J, sigma: dynamics.relax(key, J, sigma, **options)
    return lambda key, J, sigma: dynamics.relax(key, J, sigma, bias=bias(J), **options)

