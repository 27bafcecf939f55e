"""Dense decompositions (LAPACK on CPUs) computed one matrix per call.

Why: on XLA:CPU a *batched* LAPACK call (jaxlib's eigh, Cholesky, triangular solve, ... of a
stack of matrices, which is what ``vmap`` over a grid of points produces) splits the batch
into tasks on XLA's intra-op thread pool and blocks the pool worker it runs on until those
tasks are done, without running any of them itself. All CPU devices of a process share that
one pool (as many threads as cores), so when several devices' programs are inside such a
call at once (2 forced CPU devices on 2 cores), every worker waits for tasks that no worker is
left to run: a deadlock (seen as `hopjax run` stopping with every thread on a futex).
A call with a single matrix runs inline in the calling thread and never waits on the pool.

So on CPUs these helpers compute a batch, whether it comes from leading dimensions or from
``vmap``, as a sequential loop (`jax.lax.map`) of single-matrix calls: the same LAPACK routine
on the same matrix, so the same result bit for bit as the batched call. On other platforms
(GPU solvers do not share such a pool) the batched call is kept. Gradients still work: the
tangents come from the wrapped function's own rules (batched LAPACK when vmapped, so a
vmapped *derivative* is not covered; nothing in hopjax's sweeps differentiates these).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["zero_diagonal", "per_matrix", "eigh", "cholesky", "solve_triangular"]


def zero_diagonal(J):
    """J with its diagonal set to 0 (no self-coupling)."""
    N = J.shape[-1]
    return jnp.where(jnp.eye(N, dtype=bool), 0.0, J)


def per_matrix(fn, core_ndims):
    """fn(*args) on single matrices -> the same function for any leading batch dims and under
    any ``vmap``, computed one matrix per call on CPUs (see the module docstring).

    core_ndims: the number of trailing (matrix) dims of each argument; every leading dim is a
    batch dim (broadcast between arguments)."""

    @jax.custom_batching.custom_vmap
    def single(*args):
        return fn(*args)

    @single.def_vmap
    def _rule(axis_size, in_batched, *args):
        # batched args carry the vmapped axis first; unbatched ones are shared by every call
        def looped(*args):
            def body(xs):
                it = iter(xs)
                return single(*[next(it) if b else a for a, b in zip(args, in_batched)])
            return lax.map(body, [a for a, b in zip(args, in_batched) if b])

        def batched(*args):
            return jax.vmap(fn, in_axes=[0 if b else None for b in in_batched])(*args)

        out = lax.platform_dependent(*args, cpu=looped, default=batched)
        return out, jax.tree.map(lambda _: True, out)

    # custom_vmap has no reverse-mode rule: differentiate through fn's own rules (the tangents,
    # only when differentiating, come from fn itself, batched), the values from `single`
    @jax.custom_jvp
    def differentiable(*args):
        return single(*args)

    @differentiable.defjvp
    def _jvp(primals, tangents):
        return single(*primals), jax.jvp(fn, primals, tangents)[1]

    @functools.wraps(fn)
    def wrapped(*args):
        args = [jnp.asarray(a) for a in args]
        leads = [a.shape[: a.ndim - k] for a, k in zip(args, core_ndims)]
        lead = jnp.broadcast_shapes(*leads)
        if not lead:
            return differentiable(*args)
        cores = [a.shape[a.ndim - k:] for a, k in zip(args, core_ndims)]
        flat = [jnp.broadcast_to(a, lead + c).reshape((-1,) + c) for a, c in zip(args, cores)]
        out = jax.vmap(differentiable)(*flat)
        return jax.tree.map(lambda o: o.reshape(lead + o.shape[1:]), out)

    return wrapped


eigh = per_matrix(jnp.linalg.eigh, (2,))
eigh.__doc__ = "`jnp.linalg.eigh` (eigenvalues ascending, eigenvectors), one matrix per call."

cholesky = per_matrix(jnp.linalg.cholesky, (2,))
cholesky.__doc__ = "`jnp.linalg.cholesky` (lower factor), one matrix per call."


_solve = {lower: per_matrix(functools.partial(jax.scipy.linalg.solve_triangular, lower=lower),
                           (2, 2)) for lower in (False, True)}


def solve_triangular(a, b, lower: bool = False):
    """`jax.scipy.linalg.solve_triangular` (a x = b, b a matrix), one matrix per call."""
    return _solve[bool(lower)](a, b)
