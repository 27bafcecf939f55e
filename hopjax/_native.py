"""The CPU kernel of zero-temperature asynchronous sweeps (``csrc/event_relax.cc``).

An XLA `while_loop` pays a few µs of small kernels per flip on a CPU; a dream of Daydreaming
is a chain of hundreds of single-spin flips, so the ``event`` method runs its sweeps in one
compiled C++ function called through the XLA FFI (same float operations, same trajectory bit
for bit). It is compiled on first use with the system's C++ compiler into a per-user cache
(``$HOPJAX_CACHE``, else ``$XDG_CACHE_HOME/hopjax``, else ``~/.cache/hopjax``) and used on
CPUs only, for float32. Without a compiler, or with ``HOPJAX_NATIVE=0``, hopjax warns once
and runs the pure-JAX sweeps instead: same results, slower.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import pathlib
import shutil
import subprocess
import warnings

import jax
import jax.numpy as jnp

from hopjax.files import atomic_write

TARGET = "hopjax_event_relax"
SOURCE = pathlib.Path(__file__).with_name("csrc") / "event_relax.cc"
FLAGS = ("-O3", "-march=native", "-std=c++17", "-shared", "-fPIC")


def _cache_dir() -> pathlib.Path:
    # the one resolver of hopjax.cache; its CacheError is an OSError: `available` warns and
    # falls back to the pure-JAX sweeps
    from hopjax.cache import cache_dir

    return cache_dir()


def _cpu_signature() -> bytes:
    # -march=native code only runs on the CPU it was built for: key the cache by its flags
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return os.uname().machine.encode()
    return next((line for line in text.splitlines() if line.startswith(("flags", "Features"))),
                os.uname().machine).encode()


def _build(compiler: str) -> pathlib.Path:
    include = jax.ffi.include_dir()
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode()
                            + jax.__version__.encode() + _cpu_signature()).hexdigest()[:16]
    lib = _cache_dir() / f"event_relax-{digest}.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target, then rename: concurrent first uses never load a partial file
    atomic_write(lib, lambda tmp: subprocess.run(
        [compiler, *FLAGS, f"-I{include}", str(SOURCE), "-o", str(tmp)],
        check=True, capture_output=True, text=True, timeout=300))
    return lib


@functools.cache
def available() -> bool:
    """Whether the CPU kernel is built, loaded and registered (tried once per process)."""
    if os.environ.get("HOPJAX_NATIVE", "1").lower() in ("0", "false", "no", "off"):
        return False
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    try:
        if compiler is None:
            raise RuntimeError("no C++ compiler found (set CXX)")
        lib = ctypes.CDLL(str(_build(compiler)))
        jax.ffi.register_ffi_target(TARGET, jax.ffi.pycapsule(lib.HopjaxEventRelax),
                                    platform="cpu")
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", None) or err
        warnings.warn(f"hopjax: CPU sweep kernel unavailable, using the pure-JAX sweeps "
                      f"(same results, slower): {str(detail).strip()[:2000]}", RuntimeWarning,
                      stacklevel=2)
        return False
    return True


def threefry_words(key):
    """The (2,) uint32 words of a Threefry key whose sweep keys the kernel reproduces, or None
    (another PRNG implementation, or the non-default non-partitionable threefry)."""
    if not jax.config.jax_threefry_partitionable:
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        threefry = str(jax.random.key_impl(key)) == "threefry2x32"
        return jax.random.key_data(key) if threefry else None
    legacy = key.dtype == jnp.uint32 and key.shape == (2,)
    return key if legacy and jax.config.jax_default_prng_impl == "threefry2x32" else None


def event_relax(J, sigma, h, key_words, frozen, bias, max_sweeps, *, sequential: bool):
    """Zero-temperature asynchronous relaxation of every trajectory (see the C++ source).

    J (N, N), sigma / h (B, N) float32 (h = the local fields of sigma); key_words (2,) uint32
    (`threefry_words`): sweep t visits `dynamics.sweep_keys(key, t, N)` order, or index order
    if ``sequential``; frozen (B, N) bool; bias (N,) (for `dynamics.tie_tolerance`, computed
    here); max_sweeps scalar. Returns (sigma, h, sweeps (B,) int32 that flipped a spin,
    active (B,) bool: the last sweep flipped a spin).
    vmaps by adding leading dims, broadcast inside the kernel (a shared J is never copied).
    """
    B, N = sigma.shape
    call = jax.ffi.ffi_call(
        TARGET,
        (jax.ShapeDtypeStruct((B, N), jnp.float32), jax.ShapeDtypeStruct((B, N), jnp.float32),
         jax.ShapeDtypeStruct((B,), jnp.int32), jax.ShapeDtypeStruct((B,), jnp.bool_)),
        vmap_method="expand_dims")
    return call(J, sigma, h, key_words, frozen, bias,
                jnp.asarray(max_sweeps, jnp.int32), sequential=bool(sequential))
