"""Benchmark cases. Each *unit* runs in its own subprocess (see `benchmarks.run`) and returns a
list of result rows; a row compares hopjax with a reference implementation of the same work,
both measured in that process. ``ratio`` is always hopjax rate / reference rate (> 1: hopjax
is faster), except for ``quickstart`` (documented run time / measured wall time).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from functools import partial

import numpy as np

from benchmarks.common import measure, peak_rss_mb, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- settings
def units(quick: bool) -> dict[str, list[dict]]:
    """Case name -> list of units (each a dict of parameters for its function)."""
    rep = 3 if quick else 7
    if quick:
        shapes = [(64, 128, 128), (256, 256, 256)]
        relax = dict(N=128, B=64, alpha=0.1, m0=0.8, max_sweeps=100, repeats=rep)
        dd = [dict(N=64, variant=v, K=K, R=R, steps=38, repeats=2)
              for v, K, R in (("single", 1, 1), ("grid", 1, 16), ("batch", 16, 1))]
    else:
        shapes = [(512, 1000, 1000), (2048, 2048, 2048)]
        relax = dict(N=1000, B=512, alpha=0.1, m0=0.8, max_sweeps=100, repeats=rep)
        # timed steps (from the Hebb initialisation): 2 epochs (N = 500) or 1 epoch
        # (N = 1000) for one run; fewer for the grid and mini-batches (same work per unit)
        dd = [dict(N=N, variant=v, K=K, R=R, steps=steps, repeats=3, budget_s=30.0)
              for N, table in ((500, ((300, 80, 160, 80))), (1000, (300, 30, 60, 30)))
              for (v, K, R), steps in zip((("single", 1, 1), ("grid", 1, 16), ("batch", 16, 1),
                                           ("batch", 64, 1)), table)]
    for u in dd:
        u.update(alpha=0.3, tau=20.0, max_sweeps=100)
    plan = {
        "matmul": [dict(fn="matmul", shape=s, repeats=rep) for s in shapes],
        "sync": [dict(fn="sync", **relax)],
        "async": [dict(fn="async_", methods=["event", "blocked"], block=16, **relax)],
        "daydreaming": [dict(fn="daydreaming", **u) for u in dd],
        "modern": [dict(fn="modern", P=256 if quick else 4096, d=64 if quick else 512,
                        B=64 if quick else 1024, repeats=rep)],
        "quickstart": [dict(fn="quickstart", config="configs/quickstart.yaml", quick=quick)],
    }
    if quick:  # one process per case: start-up and import time dominate at these sizes
        plan = {k: [dict(fn="group", units=v)] if len(v) > 1 else v for k, v in plan.items()}
    return plan


def group(units):
    """Several units in one process (quick mode), one after the other."""
    rows = []
    for u in units:
        u = dict(u)
        rows += globals()[u.pop("fn")](**u)
    return rows


def _row(case, variant, metric, hop, ref, **kw):
    """A result row; both sides did the same work, so the ratio of the fastest repeats,
    min(reference times) / min(hopjax times), is a load-robust second estimate of the ratio."""
    t = kw.get("times") or {}
    ratio_min = (min(t["reference"]) / min(t["hopjax"])) if t.get("hopjax") and t.get("reference") else None
    return dict(case=case, variant=variant, metric=metric, hopjax=hop, reference=ref,
                ratio=(hop / ref) if (hop and ref) else None, ratio_min=ratio_min, **kw)


def _compile(f, *args):
    """AOT-compile a jitted function; returns (compiled, seconds for trace + lower + compile)."""
    t0 = time.perf_counter()
    c = f.lower(*args).compile()
    return c, time.perf_counter() - t0


def _block(x):
    import jax
    return jax.block_until_ready(x)


# ------------------------------------------------------------------------------- matmul
def matmul(shape, repeats):
    import jax
    import jax.numpy as jnp

    m, k, n = shape
    flop = 2.0 * m * k * n
    ka, kb = jax.random.split(jax.random.key(0))
    a, b = jax.random.normal(ka, (m, k)), jax.random.normal(kb, (k, n))
    # full float32 precision, as hopjax computes (no TF32 / bfloat16 passes on accelerators)
    f, t_c = _compile(jax.jit(partial(jnp.matmul, precision="highest")), a, b)
    fns = {"hopjax": lambda: _block(f(a, b))}
    warm = {"hopjax": timed(fns["hopjax"])[0]}
    rss_hop = peak_rss_mb()
    an, bn = np.array(a), np.array(b)
    fns["reference"] = lambda: an @ bn
    warm["reference"] = timed(fns["reference"])[0]
    t = measure(fns, repeats=repeats, warm_s=warm)
    return [_row("matmul", f"({m}×{k})@({k}×{n}) f32", "GFLOP/s",
                 flop / t["hopjax"]["median"] / 1e9, flop / t["reference"]["median"] / 1e9,
                 reference_name="numpy.matmul (BLAS)",
                 compile_s=dict(hopjax=t_c, reference=0.0), times=_times(t),
                 rss_hopjax_mb=rss_hop,
                 notes="jnp.matmul (XLA, precision highest) vs numpy.matmul")]


def _times(t):
    return {name: r["times"] for name, r in t.items()}


# ---------------------------------------------------------------------- relax workloads
def _workload(N, B, alpha, m0):
    """Hebb couplings of P = αN patterns and B cues at overlap m0 (cue i from pattern i mod P)."""
    import jax
    import jax.numpy as jnp
    from hopjax import patterns, rules

    k = jax.random.key(0)
    P = patterns.count(alpha, N)
    xi = patterns.random(jax.random.fold_in(k, 1), P, N)
    J = rules.hebb(xi)
    cues = patterns.flip_to_overlap(jax.random.fold_in(k, 2), xi[jnp.arange(B) % P], m0)
    return jax.random.fold_in(k, 3), J, cues, P


def _relax_jit(**opts):
    import jax
    from hopjax import dynamics
    return jax.jit(lambda key, J, s: dynamics.relax(key, J, s, **opts))


def sync(N, B, alpha, m0, max_sweeps, repeats):
    import jax
    import jax.numpy as jnp
    from hopjax import dynamics

    key, J, cues, P = _workload(N, B, alpha, m0)
    f, t_c = _compile(_relax_jit(mode="sync", max_sweeps=max_sweeps), key, J, cues)
    # this process's float32 matmul rate for the same shape and precision: 8 chained products
    # in one call, as relax chains its updates (one product per call would time the launch
    # and an idle accelerator's clock ramp, not the product)
    def chained(s, J):
        def product(_, x):
            return jnp.sign(jnp.matmul(x, J, precision="highest"))

        return jax.lax.fori_loop(0, 8, product, s)

    mm, _ = _compile(jax.jit(chained), cues, J)
    fns = {"hopjax": lambda: _block(f(key, J, cues)), "jnp_matmul": lambda: _block(mm(cues, J))}
    warm = {name: timed(fn)[0] for name, fn in fns.items()}
    rss_hop = peak_rss_mb()

    from benchmarks import reference as R
    Jn, cn = np.array(J), np.array(cues)
    fns["reference"] = lambda: R.sync_relax_numpy(Jn, cn, max_sweeps, R.tie_tolerance(Jn))
    warm["reference"] = timed(fns["reference"])[0]
    t = measure(fns, repeats=repeats, warm_s=warm)
    out = t["hopjax"]["value"]
    sweeps, status = np.asarray(out.sweeps), np.asarray(out.status)
    # parallel updates executed by the while loop: a trajectory stops after the update that
    # finds no change (sweeps + 1) or that closes a 2-cycle (sweeps); the batch runs until its
    # last trajectory stops
    fixed = status == dynamics.FIXED_POINT
    updates = int(min(max_sweeps, np.max(sweeps + fixed))) if B else 0
    flop = 2.0 * B * N * N * updates
    mm_rate = 8 * 2.0 * B * N * N / t["jnp_matmul"]["median"]
    s_ref, sw_ref, st_ref, upd_ref = t["reference"]["value"]
    same = bool(np.array_equal(s_ref, np.asarray(out.sigma)) and np.array_equal(sw_ref, sweeps)
                and np.array_equal(st_ref, status) and upd_ref == updates)
    rate = flop / t["hopjax"]["median"]
    return [_row("sync", f"N={N}, B={B}, α={alpha}, m0={m0}", "GFLOP/s", rate / 1e9,
                 flop / t["reference"]["median"] / 1e9,
                 reference_name="numpy loop, one BLAS matmul per parallel update",
                 compile_s=dict(hopjax=t_c, reference=0.0), times=_times(t),
                 check=dict(name="identical final states, sweeps, status", passed=same),
                 rss_hopjax_mb=rss_hop,
                 extra=dict(updates=updates, matmul_gflops=mm_rate / 1e9,
                            fraction_of_matmul=rate / mm_rate,
                            two_cycles=int(np.sum(status == dynamics.TWO_CYCLE))),
                 notes=f"{updates} parallel updates; hopjax at {rate / mm_rate:.0%} of the jnp "
                       f"matmul rate for this shape, 8 chained products "
                       f"({mm_rate / 1e9:.0f} GFLOP/s)")]


def sweep_orders(key, N, max_sweeps):
    """(max_sweeps, N) visiting orders of `relax(key, ...)`'s asynchronous sweeps."""
    import jax
    import jax.numpy as jnp

    from hopjax import dynamics
    orders = jax.vmap(lambda t: dynamics.sweep_order(key, t, N))(jnp.arange(max_sweeps))
    return np.asarray(orders, np.int64)


def async_(N, B, alpha, m0, max_sweeps, repeats, methods, block):
    key, J, cues, P = _workload(N, B, alpha, m0)
    fns, warm, t_c = {}, {}, {}
    for method in methods:
        f, t_c[method] = _compile(_relax_jit(mode="async", max_sweeps=max_sweeps, method=method,
                                             block=block), key, J, cues)
        fns[method] = lambda f=f: _block(f(key, J, cues))
        warm[method] = timed(fns[method])[0]
    rss_hop = peak_rss_mb()

    from benchmarks import reference as R
    orders = sweep_orders(key, N, max_sweeps)  # not timed: hopjax draws them inside
    Jn, cn = np.array(J), np.array(cues)  # writable: numba types read-only arrays apart
    np.fill_diagonal(Jn, 0.0)
    t_ref_c, _ = timed(lambda: R.async_relax_numba(Jn[:8, :8].copy(), cn[:2, :8].copy(),
                                                   orders[:, :8] % 8, np.float32(0.0), 2))
    fns["reference"] = lambda: R.async_relax_numba(Jn, cn, orders, R.tie_tolerance(Jn),
                                                   max_sweeps)
    warm["reference"] = timed(fns["reference"])[0]
    t = measure(fns, repeats=repeats, warm_s=warm)
    s_ref, sw_ref, st_ref = t["reference"]["value"]
    visits = float(np.sum(np.minimum(sw_ref.astype(np.int64) + 1, max_sweeps)) * N)
    rows = []
    for method in methods:
        out = t[method]["value"]
        same = bool(np.array_equal(s_ref, np.asarray(out.sigma))
                    and np.array_equal(sw_ref, np.asarray(out.sweeps))
                    and np.array_equal(st_ref, np.asarray(out.status)))
        opts = f", block={block}" if method == "blocked" else ""
        rows.append(_row("async", f"{method}{opts}: N={N}, B={B}, α={alpha}, m0={m0}",
                         "spin visits/s", visits / t[method]["median"],
                         visits / t["reference"]["median"],
                         reference_name=f"numba, prange over trajectories "
                                        f"({_numba_threads()} threads), hopjax's sweep orders",
                         compile_s=dict(hopjax=t_c[method], reference=t_ref_c),
                         times=dict(hopjax=t[method]["times"],
                                    reference=t["reference"]["times"]),
                         check=dict(name="identical final states, sweeps, status", passed=same),
                         rss_hopjax_mb=rss_hop,
                         extra=dict(visits=visits, max_sweeps_used=int(sw_ref.max()),
                                    mean_sweeps=float(sw_ref.mean())),
                         notes=f"visits = Σ(sweeps+1)·N = {visits:.3g}; "
                               f"mean sweeps {sw_ref.mean():.2f}, max {sw_ref.max()}"))
    return rows


def _numba_threads():
    import numba
    return numba.config.NUMBA_NUM_THREADS


# --------------------------------------------------------------------------- daydreaming
def daydreaming(N, variant, K, R, steps, repeats, alpha, tau, max_sweeps, budget_s=None):
    import jax
    from hopjax import patterns, rules
    from hopjax.rules.training import train

    P = patterns.count(alpha, N)
    xi = patterns.random(jax.random.key(0), P, N)
    rule = rules.daydreaming(tau, batch=K, max_sweeps=max_sweeps)  # Hebb init, rescale every P

    def one(key, xi):  # xi is an argument: as a closure constant XLA would constant-fold Hebb
        # one "epoch" of `steps` updates: the rule still rescales J every P of its steps
        state, rec = train(key, rule, xi, epochs=1, record=[1], steps_per_epoch=steps,
                           snapshots=False)
        return state.J, rec.info.sweeps

    if variant == "grid":
        f, arg = jax.jit(jax.vmap(one, in_axes=(0, None))), jax.random.split(jax.random.key(1), R)
    else:
        f, arg = jax.jit(one), jax.random.key(1)
    c, t_c = _compile(f, arg, xi)
    fns = {"hopjax": lambda: _block(c(arg, xi))}
    warm = {"hopjax": timed(fns["hopjax"])[0]}
    rss_hop = peak_rss_mb()

    from benchmarks import reference as Ref
    xin = np.array(xi)  # writable copies: numba types read-only arrays apart
    J0 = np.array(rules.hebb(xi))
    J8, x8 = J0[:8, :8].copy(), xin[:3, :8].copy()
    if variant == "batch":
        t_rc, _ = timed(lambda: Ref.daydream_batch_numba(J8, x8, tau, 3, 3, 0, 2, 5))
        fns["reference"] = lambda: Ref.daydream_batch_numba(J0, xin, tau, steps, P, 1, K,
                                                            max_sweeps)[1] / (steps * K)
        ref_name = f"numba, prange over the K={K} dreams of a step ({_numba_threads()} threads)"
    elif variant == "single":  # serial: no parallel region to launch
        t_rc, _ = timed(lambda: Ref.daydream_run_numba(J8.copy(), x8, tau, 3, 3, 0, 5))
        fns["reference"] = lambda: Ref.daydream_run_numba(J0.copy(), xin, tau, steps, P, 0,
                                                          max_sweeps) / steps
        ref_name = "numba, serial (one run)"
    else:
        seeds = np.arange(R, dtype=np.uint64)
        t_rc, _ = timed(lambda: Ref.daydream_runs_numba(J8, x8, tau, 3, 3, seeds[:1], 5))
        fns["reference"] = lambda: float(np.mean(Ref.daydream_runs_numba(
            J0, xin, tau, steps, P, seeds, max_sweeps)[1])) / steps
        ref_name = f"numba, prange over the {R} runs ({_numba_threads()} threads)"
    warm["reference"] = timed(fns["reference"])[0]
    t = measure(fns, repeats=repeats, warm_s=warm, budget_s=budget_s)
    sweeps_hop = float(np.mean(np.asarray(t["hopjax"]["value"][1])))
    sweeps_ref = float(t["reference"]["value"])
    work = steps * (K if variant == "batch" else R)
    metric = "dreams/s" if variant == "batch" else ("steps/s" if R == 1 else f"run-steps/s ({R} runs)")
    label = {"single": "one run", "grid": f"vmap grid of {R} seeds",
             "batch": f"mini-batch K={K}"}[variant]
    return [_row("daydreaming", f"N={N}, P={P}, {label}", metric, work / t["hopjax"]["median"],
                 work / t["reference"]["median"], reference_name=ref_name,
                 compile_s=dict(hopjax=t_c, reference=t_rc), times=_times(t),
                 rss_hopjax_mb=rss_hop,
                 extra=dict(steps=steps, sweeps_per_dream_hopjax=sweeps_hop,
                            sweeps_per_dream_reference=sweeps_ref),
                 notes=f"{steps} steps (= {steps / P:.2g} P) from Hebb timed; rates only "
                       f"(different random numbers); sweeps/dream {sweeps_hop:.1f} vs "
                       f"{sweeps_ref:.1f}")]


# ------------------------------------------------------------------------------- modern
def _modern_update_numpy(X, Q, beta):
    """Reference: Xᵀ softmax(β X ξ) for a batch of queries Q (B, d), numpy (BLAS) float32."""
    z = beta * (Q @ X.T)
    z -= z.max(axis=-1, keepdims=True)
    w = np.exp(z)
    w /= w.sum(axis=-1, keepdims=True)
    return w @ X


def modern(P, d, B, repeats):
    """Modern Hopfield update (Ramsauer et al. 2020) of B queries against P stored patterns
    of dimension d: two matrix products (B×d)·(d×P) and (B×P)·(P×d) around a softmax."""
    import jax
    import jax.numpy as jnp
    from hopjax import modern as M

    kx, kq = jax.random.split(jax.random.key(0))
    X = jax.random.normal(kx, (P, d))
    Q = X[jnp.arange(B) % P]
    Q = Q + 0.5 * jax.random.normal(kq, Q.shape)  # noisy copies of stored patterns
    beta = jnp.float32(1.0 / np.sqrt(d))  # the paper's default β = 1/√d
    flop = 4.0 * B * d * P  # the two products; the softmax (B·P exponentials) is not counted
    hop, t_c = _compile(jax.jit(M.update), X, Q, beta)  # (update checks β eagerly, then jits)

    def plain(X, Q, beta):  # the same products and softmax written directly in jnp
        w = jax.nn.softmax(beta * jnp.matmul(Q, X.T, precision="highest"), axis=-1)
        return jnp.matmul(w, X, precision="highest")

    def products(X, Q, W):  # the two products alone: the rate the update is bounded by
        return (jnp.matmul(Q, X.T, precision="highest"), jnp.matmul(W, X, precision="highest"))

    W = jax.nn.softmax(Q @ X.T, axis=-1)
    pl, t_p = _compile(jax.jit(plain), X, Q, beta)
    mm, _ = _compile(jax.jit(products), X, Q, W)
    fns = {"hopjax": lambda: _block(hop(X, Q, beta)), "plain": lambda: _block(pl(X, Q, beta)),
           "matmul": lambda: _block(mm(X, Q, W))}
    warm = {name: timed(fn)[0] for name, fn in fns.items()}
    rss_hop = peak_rss_mb()
    Xn, Qn, bn = np.array(X), np.array(Q), np.float32(beta)
    fns["reference"] = lambda: _modern_update_numpy(Xn, Qn, bn)
    warm["reference"] = timed(fns["reference"])[0]
    t = measure(fns, repeats=repeats, warm_s=warm)
    out = np.asarray(t["hopjax"]["value"])
    err = max(float(np.max(np.abs(out - np.asarray(t["plain"]["value"])))),
              float(np.max(np.abs(out - t["reference"]["value"]))))
    if not err <= 1e-4 * max(1.0, float(np.max(np.abs(out)))):
        raise AssertionError(f"modern.update differs from the plain implementations by {err:g}")
    rate = {k: flop / r["median"] / 1e9 for k, r in t.items()}
    frac = rate["hopjax"] / rate["matmul"]
    extra = dict(gflop=flop / 1e9, matmul_gflops=rate["matmul"], fraction_of_matmul=frac,
                 plain_fraction_of_matmul=rate["plain"] / rate["matmul"], max_abs_diff=err)
    note = (f"hopjax at {frac:.0%} of the rate of the two jnp products alone "
            f"({rate['matmul']:.0f} GFLOP/s); softmax not counted; outputs agree to {err:.1g}")
    variant = f"P={P}, d={d}, B={B} queries"
    rows = []
    for ref, name, t_ref in (("plain", "plain jnp: softmax(β Q Xᵀ) X, same products (jit)", t_p),
                             ("reference", "numpy: softmax(β Q Xᵀ) X (BLAS)", 0.0)):
        times = dict(hopjax=t["hopjax"]["times"], reference=t[ref]["times"])
        rows.append(_row("modern", f"update vs {ref if ref == 'plain' else 'numpy'}: {variant}",
                         "GFLOP/s", rate["hopjax"], rate[ref], reference_name=name,
                         compile_s=dict(hopjax=t_c, reference=t_ref), times=times,
                         rss_hopjax_mb=rss_hop, extra=extra, notes=note))
    return rows


# ---------------------------------------------------------------------------- quickstart
def quickstart(config, quick):
    """Full `hopjax run CONFIG` in a subprocess: wall time and its peak RSS. There is no
    reference implementation: the ratio compares with the run time the config documents."""
    path = os.path.join(ROOT, config)
    with open(path) as f:
        head = f.readline()
    m = re.search(r"about (\d+(?:\.\d+)?) ?s\b", head)
    documented = 10.0 if quick else (float(m.group(1)) if m else None)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "hopjax.cli", "run", path, "--no-plots", "--overwrite",
               "--no-progress", "--out", os.path.join(tmp, "out")] + (["--quick"] if quick else [])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    rss = peak_rss_mb(__import__("resource").RUSAGE_CHILDREN)
    return [dict(case="quickstart", variant=f"hopjax run {config}" + (" --quick" if quick else ""),
                 metric="wall s", hopjax=wall, reference=documented,
                 ratio=(documented / wall) if documented else None,
                 reference_name="run time documented in the config" +
                                (" (quick: 10 s budget)" if quick else ""),
                 compile_s=None, rss_hopjax_mb=rss, rss_is_child=True,
                 notes="ratio = documented / measured (> 1: faster than documented); "
                       "compilation included in the wall time")]
