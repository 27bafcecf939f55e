"""Results do not depend on the batch layout: chunk size, device count, vmap batch size.

Bit for bit: float observables are reduced in a fixed order (`hopjax._reduce`), and several
forced CPU devices neither deadlock nor change a bit (`hopjax._linalg`, the sweep's
shard_map).
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
import yaml

from hopjax import _linalg, metrics, patterns, rules
from hopjax._reduce import fixed_div, fixed_mean, fixed_norm, fixed_sum
from hopjax.config import load_config, validate_config
from hopjax.io import load
from hopjax.run import run

ROOT = pathlib.Path(__file__).resolve().parents[1]
CPU = jax.devices("cpu")[:1]  # the layouts compared are CPU layouts on any machine

# a retrieval grid whose means differed in the last bit between chunk sizes 1 and 3 before
# the fixed-order reductions (P_max = 140 masked down, 11 m0)
SMALL = {"experiment": "retrieval", "name": "small", "N": 200, "seeds": 2,
         "data": {"alpha": [0.05, 0.3, 0.7]}, "rule": "hebb", "dynamics": {"max_sweeps": 50},
         "m0": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}
# the pseudo-inverse at P = 80 (batched eigh of 2 per device) that hung on 2 CPU devices
PINV = {"experiment": "retrieval", "name": "pinv", "N": 160, "seeds": 4,
        "data": {"alpha": [0.5]}, "rule": "pseudo_inverse", "m0": [0.6, 1.0]}


def assert_same_results(a, b):
    """Whole result files equal bit for bit (values, coords, attrs), except the attrs that
    describe the layout itself."""
    a, b = a.copy(), b.copy()
    for ds in (a, b):
        for k in ("chunk_size", "devices"):
            ds.attrs.pop(k, None)
    xr.testing.assert_identical(a, b)
    for v in a.variables:
        assert a[v].values.tobytes() == b[v].values.tobytes(), v


def _run(cfg, out, chunk_size):
    path, _ = run(cfg, out, plots=False, progress=False, devices=CPU, chunk_size=chunk_size)
    return load(path)


# --- the fixed-order reductions -----------------------------------------------------------

def _batched_equals_single(f, *xs):
    """f vmapped over batches of 1, 2, 3, 4 (at every offset) gives each point's own bits."""
    n = xs[0].shape[0]
    single = [jax.tree.map(np.asarray, jax.jit(f)(*(x[i] for x in xs))) for i in range(n)]
    g = jax.jit(jax.vmap(f))
    for b in (1, 2, 3, 4):
        for s in range(0, n - b + 1, b):
            out = jax.tree.map(np.asarray, g(*(x[s:s + b] for x in xs)))
            for i in range(b):
                for o, ref in zip(jax.tree.leaves(out), jax.tree.leaves(single[s + i])):
                    assert o[i].tobytes() == ref.tobytes(), (b, s, i)


def test_fixed_reductions_same_bits_in_any_batch_and_close_to_exact():
    x = jax.random.normal(jax.random.key(0), (8, 11, 37, 5))
    mask = jax.random.bernoulli(jax.random.key(1), 0.7, (8, 11, 37, 5))

    def f(x, m):
        return (fixed_sum(x, axis=(0, 1)), fixed_sum(x), fixed_mean(x, axis=1, mask=m),
                fixed_norm(x), metrics.masked_mean_std(x, m, axis=(1, 2)))

    _batched_equals_single(f, x, mask)
    x64 = np.asarray(x, np.float64)
    np.testing.assert_allclose(fixed_sum(x[0], axis=(0, 1)), x64[0].sum((0, 1)), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(fixed_norm(x[0]), np.sqrt((x64[0] ** 2).sum()), rtol=1e-6)
    assert fixed_sum(jnp.zeros((3, 0)), axis=1).tolist() == [0.0, 0.0, 0.0]
    assert fixed_sum(jnp.arange(10)).item() == 45  # integers: exact jnp.sum
    assert fixed_mean(jnp.ones(7)).item() == 1.0


def test_division_is_ieee_in_every_layout():
    # XLA turns A / broadcast(b) into A * (1/b): 30 * (1/200) is not 30/200 in float32
    s = jnp.asarray([[30.0, -54.0, 7.0], [3.0, 41.0, -199.0]])
    n = jnp.asarray([200.0, 49.0])
    f = lambda s, n: fixed_div(s, n)  # noqa: E731 — one count per point, broadcast
    _batched_equals_single(f, s, n)
    exact = (np.asarray(s) / np.asarray(n)[:, None]).astype(np.float32)
    assert np.asarray(jax.jit(jax.vmap(f))(s, n)).tobytes() == exact.tobytes()
    assert np.asarray(jax.jit(lambda s: fixed_div(s, 200.0))(s)).tobytes() == \
        (np.asarray(s) / np.float32(200)).tobytes()
    assert np.isnan(fixed_div(jnp.nan, 2.0)) and fixed_div(jnp.inf, 2.0) == jnp.inf


def test_retrieval_map_same_bits_in_any_batch():
    N, P = 200, 100
    m0s = jnp.asarray([0.0, 0.3, 0.6, 1.0])

    def f(seed, P_real):
        k = jax.random.key(seed)
        xi = patterns.random(k, P, N)
        mask = jnp.arange(P) < P_real
        rm = metrics.retrieval_map(jax.random.fold_in(k, 1), rules.hebb(xi, mask), xi, m0s,
                                   mask=mask, max_sweeps=30)
        return rm.mean, rm.std, rm.fixed_point, rm.mf, metrics.stable_fraction(
            rules.hebb(xi, mask), xi, mask)

    _batched_equals_single(f, jnp.arange(4), jnp.asarray([100, 60, 28, 41]))


def test_training_record_same_bits_in_any_batch():
    def f(seed):
        xi = patterns.random(jax.random.key(seed), 12, 40)
        _, rec = rules.train(jax.random.key(seed + 10), rules.daydreaming(10.0, j_max=0.2),
                             xi, epochs=3, record=[0, 1, 3])
        return rec.dist_hebb, rec.norm, rec.hebb_norm, rec.epoch_delta, rec.info.delta_norm

    _batched_equals_single(f, jnp.arange(4))


# --- whole sweeps: chunk sizes ----------------------------------------------------------

def test_quickstart_quick_identical_for_chunk_sizes_1_2_3_and_default(tmp_path):
    cfg = load_config(ROOT / "configs/quickstart.yaml", quick=True)
    ref = _run(cfg, tmp_path / "default", None)
    for cs in (1, 2, 3):
        assert_same_results(_run(cfg, tmp_path / str(cs), cs), ref)


def test_retrieval_means_identical_for_chunk_sizes_1_and_3(tmp_path):
    cfg = validate_config(SMALL)
    assert_same_results(_run(cfg, tmp_path / "1", 1), _run(cfg, tmp_path / "3", 3))


def test_daydreaming_quick_identical_for_chunk_sizes_1_and_2(tmp_path):
    cfg = load_config(ROOT / "configs/daydreaming_fig2.yaml", quick=True)
    one = _run(cfg, tmp_path / "1", 1)
    assert_same_results(one, _run(cfg, tmp_path / "2", 2))
    assert np.all(one.dist_hebb.sel(epoch=0).values == 0.0)


# --- whole sweeps: forced CPU devices ---------------------------------------------------

def _cpu_run(raw, out, devices, chunk_size, timeout=150):
    """`hopjax run` in a subprocess on ``devices`` forced CPU devices pinned to 2 cores, so
    that XLA's intra-op pool has as many threads as there are devices (the deadlock needed
    as many blocked batched LAPACK calls as pool threads)."""
    cfg_path = out.with_suffix(".yaml")
    cfg_path.write_text(yaml.safe_dump(raw))
    script = textwrap.dedent(f"""
        import os
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])
        import jax
        assert len(jax.devices()) == {devices}, jax.devices()
        from hopjax.cli import main
        raise SystemExit(main(["run", {str(cfg_path)!r}, "--out", {str(out)!r}, "--no-plots",
                               "--no-progress", "--chunk-size", "{chunk_size}"]))
    """)
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    try:
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hopjax run on {devices} forced CPU devices did not finish in {timeout} s "
                    "(deadlock?)")
    ds = load(out / "results.nc")
    assert len(ds.attrs["devices"]) == devices
    return ds


def test_pseudo_inverse_on_two_forced_cpu_devices_finishes_and_matches_one(tmp_path):
    two = _cpu_run(PINV, tmp_path / "two", 2, 4)
    one = _cpu_run(PINV, tmp_path / "one", 1, 4)
    assert_same_results(two, one)
    assert np.all(one.stable_fraction.values == 1.0)


def test_batched_lapack_helpers_equal_the_batched_calls():
    x = jax.random.normal(jax.random.key(0), (3, 2, 20, 30))
    C = jnp.einsum("...pi,...qi->...pq", x, x)
    ref = jnp.linalg.eigh(C)
    for out in (jax.jit(_linalg.eigh)(C), jax.jit(jax.vmap(jax.vmap(_linalg.eigh)))(C),
                jax.jit(jax.vmap(_linalg.eigh))(C)):
        for a, b in zip(out, ref):
            assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    A = C + 30 * jnp.eye(20)
    L = jax.vmap(_linalg.cholesky)(A)
    assert np.asarray(L).tobytes() == np.asarray(jnp.linalg.cholesky(A)).tobytes()
    y = jax.vmap(lambda L, b: _linalg.solve_triangular(L, b, lower=True))(L, x)
    yr = jax.scipy.linalg.solve_triangular(L, x, lower=True)
    np.testing.assert_allclose(y, yr, rtol=1e-6, atol=1e-6)
    # on a CPU: one LAPACK call per matrix in a loop, never a batched call
    on_cpu = jax.device_put(C[0], jax.devices("cpu")[0])
    text = jax.jit(jax.vmap(_linalg.eigh)).lower(on_cpu).as_text()
    calls = [line for line in text.splitlines() if "lapack_ssyevd" in line]
    assert calls and all('num_batch_dims = "0"' in line for line in calls)
    assert "stablehlo.while" in text
    # still differentiable (custom_vmap alone has no reverse mode)
    def loss(f):
        return lambda A: jnp.sum(f(A)[0] ** 2)
    np.testing.assert_allclose(jax.grad(loss(_linalg.eigh))(C[0, 0]),
                               jax.grad(loss(jnp.linalg.eigh))(C[0, 0]), rtol=1e-5, atol=1e-5)
    assert jax.vmap(jax.grad(loss(_linalg.eigh)))(C[0]).shape == C[0].shape


def test_each_device_computes_only_its_own_points(tmp_path):
    # under the SPMD partitioner the CPU relax kernel and the eigh loop were all-gathered:
    # every device computed the whole chunk
    script = textwrap.dedent(f"""
        import jax, numpy as np
        from hopjax.experiments import EXPERIMENTS
        from hopjax.config import validate_config
        from hopjax.sweep import Runner, point_arrays
        plan = EXPERIMENTS["retrieval"].plan(validate_config({PINV!r}))
        r = Runner(plan, 4)
        p = {{k: jax.make_array_from_callback(v.shape, r.sharding, lambda ix, v=v: v[ix])
             for k, v in point_arrays(plan, 0, 4, 4).items()}}
        text = r._fn(0).lower(p, r.constants).compile().as_text()
        bad = [op for op in ("all-gather", "all-reduce", "all-to-all", "collective-permute")
               if op in text]
        assert not bad, bad
    """)
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=150, cwd=ROOT)
