"""Sweep engine: a grid of parameter points -> chunked, jitted, vmapped, sharded calls.

An experiment describes its grid as a `Plan`: ordered dimensions (static ones, such as the
rule name, select a separate compiled function; traced ones, such as seed, α, α_D, T, are
array inputs), a point function ``make_point_fn(static) -> f(params) -> {name: array}``, and
the per-point memory it needs. The engine flattens the grid (static dims first, so each static
combination is one contiguous block), cuts every block into chunks of ``chunk_size`` points
(the last chunk padded by repeating its final point, so every call has the same shape: one
compilation per static combination), runs ``jit(shard_map(vmap(f)))`` on each chunk with the
points split over all devices (each device computes its own points, no communication), and
hands each chunk's results to a `hopjax.io.ResultStore`.

Every point's randomness comes from its own parameters (e.g. its seed), never from its
position in a chunk, and float observables are reduced in a fixed order (`hopjax._reduce`), so
results do not depend on the chunk size or the number of devices, bit for bit. Several CPU
devices share one XLA thread pool; batched LAPACK calls, which block a pool thread waiting for
the others, are avoided (`hopjax._linalg`) so that they cannot deadlock it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["Dim", "Plan", "chunk_bounds", "auto_chunk_size", "Runner", "point_arrays"]


@dataclass(frozen=True)
class Dim:
    """A grid dimension: name, coordinate values, and whether it is static (compile-time)."""

    name: str
    values: np.ndarray
    static: bool = False


@dataclass
class Plan:
    """What to compute over a grid.

    dims: grid dimensions, static ones first. variables: name -> (inner dims, inner shape,
    dtype) of each per-point output. inner_coords: coordinates of inner dims.
    make_point_fn(static: dict) -> f(params: dict[str, scalar array], constants) -> dict of
    arrays. constants: arrays every point reads (e.g. a data set), passed to the compiled
    function as arguments (replicated on every device), not baked into it as literals.
    bytes_per_point: memory estimate of one point (working set), for chunking.
    """

    dims: list[Dim]
    variables: dict[str, tuple[tuple[str, ...], tuple[int, ...], str]]
    inner_coords: dict[str, np.ndarray]
    make_point_fn: Callable[[dict], Callable[[dict], dict]]
    bytes_per_point: int
    constants: dict = field(default_factory=dict)

    def __post_init__(self):
        seen_traced = False
        for d in self.dims:
            if d.static and seen_traced:
                raise ValueError(f"static dim {d.name!r} must come before the traced dims")
            seen_traced |= not d.static

    @classmethod
    def declare(cls, dims, observables: dict, point=None, *, bytes_per_point: int,
                inner_coords: dict | None = None, constants: dict | None = None,
                make_point_fn=None) -> Plan:
        """A plan from declared observables, the schema written once.

        ``observables`` maps each output's name to its inner dims (names of ``inner_coords``;
        ``()`` for one number per point); every output is float32 of the shape those dims
        give. ``point(params, constants) -> {name: array}`` computes one grid point (params:
        each traced dim's value and ``<dim>_index``); with static dims, pass instead
        ``make_point_fn(static) -> point``. The outputs are checked against the declaration
        when the point function is traced."""
        inner_coords = {k: np.asarray(v) for k, v in (inner_coords or {}).items()}
        variables = cls.schema(observables, inner_coords)
        if (point is None) == (make_point_fn is None):
            raise ValueError("Plan.declare: give exactly one of point and make_point_fn")
        factory = make_point_fn or (lambda static: point)

        def checked(static):
            f = factory(static)

            def g(params, consts):
                out = f(params, consts)
                if set(out) != set(variables):
                    raise ValueError(f"the point function returned {sorted(out)}; the plan "
                                     f"declares {sorted(variables)}")
                for k, (_, shape, _) in variables.items():
                    if jnp.shape(out[k]) != shape:
                        raise ValueError(f"observable {k!r}: the point function returned shape "
                                         f"{jnp.shape(out[k])}, declared {shape}")
                return {k: jnp.asarray(v, jnp.float32) for k, v in out.items()}
            return g

        return cls(dims=list(dims), variables=variables, inner_coords=inner_coords,
                   make_point_fn=checked, bytes_per_point=int(bytes_per_point),
                   constants=dict(constants or {}))

    @staticmethod
    def schema(observables: dict, inner_coords: dict) -> dict:
        """The ``variables`` of declared ``observables`` (name -> inner dims, as in `declare`):
        name -> (inner dims, inner shape, "float32"), the shape from ``inner_coords``."""
        variables = {}
        for name, inner in observables.items():
            inner = tuple(inner)
            unknown = [d for d in inner if d not in inner_coords]
            if unknown:
                raise ValueError(f"observable {name!r}: inner dims {unknown} have no coordinates "
                                 f"in inner_coords (has {sorted(inner_coords)})")
            variables[name] = (inner, tuple(len(inner_coords[d]) for d in inner), "float32")
        return variables

    @property
    def values_per_point(self) -> int:
        """Numbers stored per grid point (all variables)."""
        return sum(math.prod(shape) for _, shape, _ in self.variables.values())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(d.values) for d in self.dims)

    @property
    def n_points(self) -> int:
        return math.prod(self.shape)

    @property
    def block_size(self) -> int:
        """Points per static combination."""
        return math.prod(len(d.values) for d in self.dims if not d.static)

    def static_of_block(self, b: int) -> dict:
        static = [d for d in self.dims if d.static]
        combo = list(itertools.product(*[range(len(d.values)) for d in static]))[b]
        return {d.name: d.values[i].item() for d, i in zip(static, combo)}


def auto_chunk_size(plan: Plan, budget_bytes: float, n_devices: int,
                    min_chunks: int = 8) -> int:
    """Largest chunk (a multiple of the device count) whose working set fits the budget, and
    small enough that the grid takes at least ``min_chunks`` calls where it can (so the
    progress bar moves and an interruption loses little)."""
    def up(n):
        return -(-n // n_devices) * n_devices

    fit = int(budget_bytes // max(plan.bytes_per_point, 1))
    size = max(n_devices, fit - fit % n_devices)
    return min(size, up(plan.block_size), up(-(-plan.n_points // min_chunks)))


def chunk_bounds(plan: Plan, chunk_size: int) -> list[tuple[int, int]]:
    """[start, stop) flat indices of each chunk; chunks never straddle two static blocks."""
    bounds, B = [], plan.block_size
    for b0 in range(0, plan.n_points, B):
        for s in range(b0, b0 + B, chunk_size):
            bounds.append((s, min(s + chunk_size, b0 + B)))
    return bounds


def point_arrays(plan: Plan, start: int, stop: int, size: int) -> dict[str, np.ndarray]:
    """Traced parameters of flat points start..stop-1, padded to ``size`` points: for each
    traced dim its value (``name``) and its coordinate index (``name_index``, for exact
    host-side lookup tables such as P = round(α N))."""
    idx = np.arange(start, start + size).clip(max=stop - 1)
    multi = np.unravel_index(idx, plan.shape)
    out = {}
    for d, i in zip(plan.dims, multi):
        if not d.static:
            v = np.asarray(d.values)[i]
            out[d.name] = v.astype(np.int32 if np.issubdtype(v.dtype, np.integer) else np.float32)
            out[d.name + "_index"] = i.astype(np.int32)
    return out


class Runner:
    """Runs a plan chunk by chunk over all devices; one compiled function per static block."""

    def __init__(self, plan: Plan, chunk_size: int, devices=None):
        self.plan = plan
        self.devices = list(devices if devices is not None else jax.devices())
        n = len(self.devices)
        self.chunk_size = chunk_size
        self.bounds = chunk_bounds(plan, chunk_size)
        # Chunks (what the store holds) depend on the config alone; each call is padded to a
        # multiple of the device count, so any device count computes the same chunks.
        self.call_size = -(-chunk_size // n) * n
        self.mesh = mesh = Mesh(np.array(self.devices), ("points",))
        self.sharding = NamedSharding(mesh, PartitionSpec("points"))
        replicated = NamedSharding(mesh, PartitionSpec())
        self.constants = {k: jax.make_array_from_callback(np.shape(v), replicated,
                                                          lambda ix, v=v: np.asarray(v)[ix])
                          for k, v in plan.constants.items()}
        self.compiled: dict[int, Callable] = {}

    def _fn(self, block: int):
        if block not in self.compiled:
            f = self.plan.make_point_fn(self.plan.static_of_block(block))
            # shard_map: every device runs vmap(f) on its own points only. Left to the SPMD
            # partitioner, ops it cannot split along the points (custom calls: the CPU relax
            # kernel, LAPACK loops) were all-gathered and computed for the whole chunk on
            # every device.
            local = jax.shard_map(jax.vmap(f, in_axes=(0, None)), mesh=self.mesh,
                                  in_specs=(PartitionSpec("points"), PartitionSpec()),
                                  out_specs=PartitionSpec("points"), check_vma=False)
            self.compiled[block] = jax.jit(local)
        return self.compiled[block]

    def run_chunk(self, i: int) -> dict[str, np.ndarray]:
        start, stop = self.bounds[i]
        params = point_arrays(self.plan, start, stop, self.call_size)
        # make_array_from_callback feeds each device (and, across hosts, each process) only
        # its own shard of the points
        params = {k: jax.make_array_from_callback(v.shape, self.sharding, lambda ix, v=v: v[ix])
                  for k, v in params.items()}
        out = self._fn(start // self.plan.block_size)(params, self.constants)
        out = _gather(out)
        return {k: np.asarray(v)[: stop - start] for k, v in out.items()}


def _gather(out):
    if jax.process_count() == 1:
        return out
    from jax.experimental import multihost_utils
    return multihost_utils.process_allgather(out, tiled=True)
