"""The CPU kernel of the event sweeps (`hopjax._native`) against the pure-JAX sweeps: same
trajectories bit for bit under jit and vmap, the same training run, and a clean fallback."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import _native, dynamics, patterns, rules
from hopjax.rules.training import train

needs_kernel = pytest.mark.skipif(not _native.available(), reason="no C++ compiler")


def _both(fn, monkeypatch):
    """fn() with the kernel, then with the pure-JAX loop (recompiled: `native` is static)."""
    fast = fn()
    with monkeypatch.context() as m:
        m.setattr(_native, "available", lambda: False)
        ref = fn()
    return fast, ref


def _assert_same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@needs_kernel
def test_vmapped_relaxations_match_the_jax_sweeps(monkeypatch):
    # per-lane couplings, keys and caps; a shared J (broadcast inside the kernel); nested vmap
    N = 60
    xi = patterns.random(jax.random.key(0), 12, N)
    Js = jnp.stack([rules.hebb(xi[:p]) for p in (3, 8, 12)])
    s0 = jax.random.rademacher(jax.random.key(1), (5, N), dtype=jnp.float32)
    keys = jax.random.split(jax.random.key(2), 3)
    caps = jnp.array([1, 3, 100])

    per_lane = jax.jit(jax.vmap(lambda k, J, m: dynamics.relax(k, J, s0, max_sweeps=m)))
    shared = jax.jit(jax.vmap(lambda k: dynamics.relax(k, Js[2], s0, mode="sequential")))
    nested = jax.jit(jax.vmap(jax.vmap(lambda k, J: dynamics.relax(k, J, s0[:2]),
                                       in_axes=(0, None)), in_axes=(None, 0)))
    for fn in (lambda: per_lane(keys, Js, caps), lambda: shared(keys),
               lambda: nested(keys, Js)):
        fast, ref = _both(fn, monkeypatch)
        _assert_same(fast, ref)
    fast = per_lane(keys, Js, caps)
    assert (fast.status[0] == dynamics.MAX_SWEEPS).any()  # the cap of lane 0 was reached


@needs_kernel
def test_daydreaming_training_is_the_same_run(monkeypatch):
    # a whole training run (dreams from random starts, rescaling, Hebb ties) gives the same J
    xi = patterns.random(jax.random.key(3), 30, 100)
    run = jax.jit(lambda k: train(k, rules.daydreaming(10.0), xi, epochs=3, record=[3],
                                  snapshots=False)[0].J)
    fast, ref = _both(lambda: run(jax.random.key(4)), monkeypatch)
    _assert_same(fast, ref)


def test_other_key_types_use_the_jax_sweeps():
    # the kernel reproduces the default Threefry stream only; legacy uint32 keys are that
    # stream, other PRNGs fall back (the same trajectory as the plain method either way)
    assert _native.threefry_words(jax.random.PRNGKey(0)) is not None
    assert _native.threefry_words(jax.random.key(0, impl="rbg")) is None
    J = rules.hebb(patterns.random(jax.random.key(5), 4, 40))
    s0 = jax.random.rademacher(jax.random.key(6), (3, 40), dtype=jnp.float32)
    for key in (jax.random.PRNGKey(7), jax.random.key(7, impl="rbg")):
        fast = dynamics.relax(key, J, s0)
        ref = dynamics.relax(key, J, s0, method="plain")
        _assert_same(fast, ref)


@pytest.mark.parametrize("env", [{"HOPJAX_NATIVE": "0"}, {"CXX": "false"}])
def test_without_the_kernel_relax_still_works(env, tmp_path):
    # switched off, or a compiler that fails: the pure-JAX sweeps run (with one warning)
    code = ("import warnings, jax, jax.numpy as jnp\n"
            "from hopjax import _native, dynamics, rules\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    J = rules.hebb(jnp.ones((1, 30)))\n"
            "    out = dynamics.relax(jax.random.key(0), J, jnp.ones((2, 30)).at[:, 20:].set(-1))\n"
            "print(_native.available(), bool((out.sigma == 1).all()), len(w))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "HOPJAX_CACHE": str(tmp_path), **env}, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True", "0" if "HOPJAX_NATIVE" in env else "1"]
    assert not list(tmp_path.glob("*.so"))  # nothing half-built left behind


@needs_kernel
def test_self_couplings_are_ignored(monkeypatch):
    # the kernel skips J's diagonal instead of copying J without it: a J with self-couplings
    # relaxes exactly like the same J with its diagonal zeroed
    N = 50
    A = jax.random.normal(jax.random.key(8), (N, N))
    J = (A + A.T) / jnp.sqrt(2 * N)  # Gaussian: no field is a tie
    s0 = jax.random.rademacher(jax.random.key(9), (6, N), dtype=jnp.float32)
    out = dynamics.relax(jax.random.key(10), J, s0)
    fast, ref = _both(lambda: dynamics.relax(jax.random.key(10), rules.zero_diagonal(J), s0),
                      monkeypatch)
    _assert_same(out, ref)
    _assert_same(fast, ref)
