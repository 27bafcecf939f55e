"""Micro-benchmarks that explain where hopjax's asynchronous dynamics spend their time on CPU.

    python -m benchmarks.overhead [--N 1000] [--B 512]

1. per-iteration cost of `lax.while_loop` on CPU: trivial body, and the body of the ``event``
   method (masked min over N + row gather + field update) at batch 1 and B, with the search
   over int32 or float32 positions;
2. the ``event`` loop's work on the `async` benchmark workload: loop iterations (= Σ over
   sweeps of the largest number of flips of any trajectory in that sweep, + 1 per sweep) against
   the flips an exact per-trajectory implementation does;
3. one Daydreaming step at batch 1 split into its parts: the dream's `relax` call and the
   coupling update (outer products, norm, add), against the numba reference's step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _per_call(f, *args, n=5):
    import jax
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def while_loop_costs(N, B, iters=2000):
    """µs per iteration of lax.while_loop with a trivial body and with the event body."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    @jax.jit
    def trivial(n):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.0001),
                              (0, jnp.float32(1.0)))

    def event_like(b, pos_dtype):
        key = jax.random.key(0)
        J = jax.random.normal(key, (N, N)) / np.sqrt(N)
        s = jnp.ones((b, N))
        h = s @ J
        pos = jnp.arange(N, dtype=pos_dtype)
        rows = jnp.arange(b)

        @jax.jit
        def run(n, J, s, h):
            def body(c):
                t, s, h, ptr = c
                against = (h * s < -1e-6) & (pos[None, :] > ptr[:, None])
                q = jnp.min(jnp.where(against, pos[None, :], N), axis=1)
                i = jnp.minimum(q, N - 1).astype(jnp.int32)
                new = -s[rows, i]
                h = h + (2.0 * new)[:, None] * J[i]
                return t + 1, s.at[rows, i].set(new), h, ((q + 1) % N - 1).astype(pos_dtype)
            return lax.while_loop(lambda c: c[0] < n, body,
                                  (0, s, h, jnp.full((b,), -1, pos_dtype)))
        return lambda n: run(n, J, s, h)

    out = {"trivial_us": _per_call(trivial, iters) / iters * 1e6}
    # the search for the next flip as an int32 or a float32 min-reduction: XLA:CPU vectorises
    # only the float one (why `dynamics` searches float positions for large batches)
    for b in sorted({1, B}):
        for name, dt in (("int32", jnp.int32), ("float32", jnp.float32)):
            f = event_like(b, dt)
            out[f"event_body_B{b}_{name}_us"] = _per_call(f, iters) / iters * 1e6
    return out


def event_work(N, B, alpha=0.1, m0=0.8, max_sweeps=100):
    """Event-loop iterations vs flips on the async benchmark workload."""
    from numba import njit, prange

    from benchmarks.cases import _workload, sweep_orders
    from benchmarks.reference import tie_tolerance

    @njit(parallel=True)
    def flips_per_sweep(J, sigma0, orders, tol, max_sweeps):
        B, N = sigma0.shape
        F = np.zeros((B, max_sweeps), np.int64)
        for b in prange(B):
            s = sigma0[b].copy()
            h = s @ J
            for t in range(max_sweeps):
                for k in range(N):
                    i = orders[t, k]
                    if h[i] * s[i] < -tol:
                        s[i] = -s[i]
                        h += np.float32(2.0) * s[i] * J[i]
                        F[b, t] += 1
                if F[b, t] == 0:
                    break
        return F

    key, J, cues, _ = _workload(N, B, alpha, m0)
    Jn = np.array(J)
    np.fill_diagonal(Jn, 0.0)
    F = flips_per_sweep(Jn, np.array(cues), sweep_orders(key, N, max_sweeps),
                        tie_tolerance(Jn), max_sweeps)
    sweeps_run = int(np.max(np.sum(F > 0, axis=1))) + 1
    iters = int(np.sum(F.max(axis=0)[:sweeps_run])) + sweeps_run
    out = dict(flips_total=int(F.sum()), flips_mean_per_traj=float(F.sum(1).mean()),
               event_iterations=iters, sweeps_run=sweeps_run,
               work_ratio=iters * B / max(F.sum(), 1))
    # one blocked sweep: N/16 rank-16 updates of the (N, B) fields, 2·B·N² flop whatever flips
    import jax
    from hopjax import dynamics
    for m in ("event", "blocked"):
        f = jax.jit(lambda k, J, s, m=m: dynamics.relax(k, J, s, max_sweeps=1, method=m).sigma)
        out[f"{m}_first_sweep_ms"] = _per_call(f, key, J, cues) * 1e3
    out["blocked_sweep_gflops"] = 2.0 * B * N * N / out["blocked_first_sweep_ms"] / 1e6
    return out


def daydream_step(N, alpha=0.3, tau=20.0, steps=100):
    """ms per Daydreaming step (batch 1) split into parts, against the numba reference."""
    import jax
    import jax.numpy as jnp
    from jax import lax
    from numba import njit

    from benchmarks import reference as ref
    from hopjax import dynamics, patterns, rules

    P = patterns.count(alpha, N)
    xi = patterns.random(jax.random.key(0), P, N)
    J0 = rules.hebb(xi)
    rule = rules.daydreaming(tau)
    c = 1.0 / (tau * N)

    def loop(body, init):
        return jax.jit(lambda J, xi: lax.fori_loop(0, steps, lambda t, a: body(t, a, J, xi), init))

    def start(t):
        k = jax.random.fold_in(jax.random.key(1), t)
        return k, jax.random.rademacher(k, (1, N), dtype=jnp.float32)

    def dream(t, acc, J, xi, **kw):
        k, s = start(t)
        return acc + dynamics.relax(k, J, s, **kw).sigma[0]

    def update(t, J, _, xi):  # as rules.daydreaming: two K=1 einsums, norm of ΔJ
        x, s = xi[t % P][None], xi[(t + 1) % P][None]
        dJ = (jnp.einsum("ki,kj->ij", x, x) - jnp.einsum("ki,kj->ij", s, s)) * c
        return J + dJ + 0 * jnp.linalg.norm(dJ)

    def update_rank2(t, J, _, xi):  # the same ΔJ as one rank-2 matrix product, no norm
        x, s = xi[t % P], xi[(t + 1) % P]
        return J + jnp.stack([x, s]).T @ (jnp.stack([x, -s]) * c)

    def perm(t, acc, J, xi):  # what a sorted order would cost (the event method needs none)
        return acc + dynamics.sweep_order(jax.random.key(2), t, N)[:1]

    def sweep_keys(t, acc, J, xi):  # what the event method draws per sweep
        return acc + dynamics.sweep_keys(jax.random.key(2), t, N)[:1].astype(jnp.int32)

    def perm16(t, acc, J, xi):  # the vmapped grid draws one order per run and sweep
        keys = jax.random.split(jax.random.fold_in(jax.random.key(2), t), 16)
        return acc + jax.vmap(lambda k: dynamics.sweep_order(k, t, N))(keys)[:, 0]

    whole = jax.jit(lambda J, xi: lax.fori_loop(
        0, steps, lambda t, st: rule.update(jax.random.fold_in(jax.random.key(1), t), st, xi)[0],
        rule.init(None, xi)).J)
    zeros = jnp.zeros(N)
    parts = {
        "step_ms": whole,
        "dream_relax_ms": loop(dream, zeros),
        "dream_setup_ms (relax, max_sweeps=0)": loop(lambda *a: dream(*a, max_sweeps=0), zeros),
        "update_ms (einsum + norm)": loop(update, J0),
        "update_rank2_ms": loop(update_rank2, J0),
        "permutation_ms": loop(perm, jnp.zeros(1, jnp.int32)),
        "sweep_keys_ms": loop(sweep_keys, jnp.zeros(1, jnp.int32)),
        "permutation_x16_ms": loop(perm16, jnp.zeros(16, jnp.int32)),
    }
    out = {k: _per_call(f, J0, xi, n=3) / steps * 1e3 for k, f in parts.items()}

    @njit
    def count(J, S, tol):  # flips and sweeps of zero-T dreams from the given starts
        N = J.shape[0]
        flips = sweeps = 0
        for b in range(S.shape[0]):
            s = S[b].copy()
            h = s @ J
            while True:
                f = 0
                for i in np.random.permutation(N):
                    if h[i] * s[i] < -tol:
                        s[i] = -s[i]
                        h += np.float32(2.0) * s[i] * J[i]
                        f += 1
                flips += f
                if f == 0:
                    break
                sweeps += 1
        return flips / S.shape[0], sweeps / S.shape[0]

    J0n, xin = np.array(J0), np.array(xi)
    starts = np.random.default_rng(0).choice(np.float32([-1, 1]), size=(50, N))
    out["flips_per_dream"], out["sweeps_per_dream"] = count(J0n, starts, ref.tie_tolerance(J0n))
    ref.daydream_runs_numba(J0n, xin, tau, 2, P, np.arange(1, dtype=np.uint64), 100)
    t0 = time.perf_counter()
    ref.daydream_runs_numba(J0n, xin, tau, steps, P, np.arange(1, dtype=np.uint64), 100)
    out["numba_step_ms"] = (time.perf_counter() - t0) / steps * 1e3
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--B", type=int, default=512)
    args = ap.parse_args(argv)
    for name, fn in (("while_loop per iteration (µs)", lambda: while_loop_costs(args.N, args.B)),
                     ("event loop work, async workload", lambda: event_work(args.N, args.B)),
                     ("Daydreaming step, batch 1 (ms)", lambda: daydream_step(args.N))):
        res = fn()
        print(f"{name}: " + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in res.items()), flush=True)


if __name__ == "__main__":
    main()
