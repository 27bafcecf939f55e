"""Float reductions whose result does not depend on how XLA lays out the batch.

XLA may sum the same numbers in a different order when the surrounding shapes change (a
vmapped grid of 1, 2 or 4 points per device, one chunk or another): its reduction emitter
picks a vectorisation and a tree for each shape, and float addition is not associative, so
a mean over trajectories or a norm of J can change in its last bit with the chunk size or the
device count. `fixed_sum` instead adds explicitly, as a pairwise tree of elementwise adds of
slices whose order is set by the number of reduced elements alone: XLA does not reassociate
elementwise float adds, so every point gets the same bits whatever the batch around it (on any
backend with IEEE float addition). Pairwise summation also keeps the rounding error at
O(ε log n), like XLA's own reductions; the values are the same sums to within that rounding.

Divisions (`fixed_div`, used by the means) are kept true IEEE divisions in every layout: XLA
rewrites ``A / broadcast(b)`` into ``A * broadcast(1 / b)`` (a different rounding), and
whether the divisor is a broadcast depends on the batch (a constant N, or one point's count
broadcast over its m0 values, is one; a count per point of a vmapped batch may not be), so the
divisor is first made an array of A's full (batched) shape that depends on A, behind an
optimisation barrier.

Integer and boolean sums are exact in any order and use `jnp.sum`.
This module imports nothing from hopjax, so rules, dynamics and metrics can all use it.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import lax

__all__ = ["fixed_sum", "fixed_mean", "fixed_norm", "fixed_div"]


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted({a % ndim for a in axis}))


def fixed_sum(x, axis=None, keepdims: bool = False):
    """Sum of x over ``axis`` (int, tuple or None = all) in a fixed order.

    The reduced axes are flattened (row-major) into one of length n; then, while n > 1, element
    i is added to element i + ⌊n/2⌋ (an odd last element is carried to the next level). Floats
    only; other dtypes use `jnp.sum` (exact)."""
    x = jnp.asarray(x)
    axes = _axes(axis, x.ndim)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.sum(x, axis=axes, keepdims=keepdims)
    keep = [a for a in range(x.ndim) if a not in axes]
    kept = tuple(x.shape[a] for a in keep)
    n = math.prod(x.shape[a] for a in axes)
    y = jnp.transpose(x, keep + list(axes)).reshape(kept + (n,))
    if n == 0:
        y = jnp.zeros(kept + (1,), x.dtype)
    while y.shape[-1] > 1:
        n = y.shape[-1]
        h = n // 2
        pairs = y[..., :h] + y[..., h:2 * h]
        y = jnp.concatenate([pairs, y[..., 2 * h:]], axis=-1) if n % 2 else pairs
    out = y[..., 0]
    if keepdims:
        out = jnp.expand_dims(out, axes)
    return out


def fixed_div(a, b):
    """a / b as an IEEE division in any batch layout (see the module docstring)."""
    a, b = jnp.broadcast_arrays(jnp.asarray(a), jnp.asarray(b, jnp.result_type(a)))
    # b where a is a number, a (NaN) where a is NaN, so the quotient is unchanged: an array
    # batched like a (vmap), which no simplification turns back into a broadcast
    b = lax.optimization_barrier(jnp.where(a != a, a, b))
    return a / b


def fixed_mean(x, axis=None, mask=None, keepdims: bool = False):
    """Mean of x over ``axis`` in a fixed order; with ``mask`` (broadcast to x) only the
    entries where mask is true count (a mean of none is 0)."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    if mask is None:
        n = math.prod(x.shape[a] for a in _axes(axis, x.ndim))
        return fixed_div(fixed_sum(x, axis, keepdims), max(n, 1))
    m = jnp.broadcast_to(mask, x.shape).astype(x.dtype)
    n = jnp.maximum(fixed_sum(m, axis, keepdims), 1)
    return fixed_div(fixed_sum(x * m, axis, keepdims), n)


def fixed_norm(x, axis=None):
    """Euclidean (for a matrix and axis=None: Frobenius) norm over ``axis``, fixed order."""
    x = jnp.asarray(x)
    return jnp.sqrt(fixed_sum(x * x, axis))
