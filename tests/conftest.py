"""Fixtures the test files share: the checkout, the CLI in a subprocess, exact comparison of
result files."""

import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Most tests are compile-bound (small N, many shapes): with XLA's backend (LLVM) optimisations
# off the suite takes ~30 % less CPU time (measured on five test files: 377 s against 540 s).
# Set here, before any test initialises a JAX backend; subprocesses inherit it. The shipped
# configs' bits at the default level are checked by tests/test_golden.py, which clears the
# flag; HOPJAX_TEST_XLA_DEFAULT=1 runs the whole suite at the default level.
if os.environ.get("HOPJAX_TEST_XLA_DEFAULT") != "1" and \
        "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()


def cli_env(**extra) -> dict:
    """Environment of a ``python -m hopjax.cli`` subprocess: this checkout first on the path."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def same_numbers(a, b, *, attrs: bool = False, ignore_attrs=("chunk_size", "devices")):
    """Two result datasets hold the same variables, dims and coordinates, every value equal
    bit for bit (``tobytes``, so NaNs and signed zeros count); with ``attrs`` the metadata
    too, except the attrs that describe the batch layout."""
    assert list(a.data_vars) == list(b.data_vars)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        assert a[name].dims == b[name].dims, name
        if x.dtype.kind == "O":  # strings: compare the values, not the object pointers
            assert x.tolist() == y.tolist(), name
        else:
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
    if attrs:
        drop = set(ignore_attrs)
        assert ({k: v for k, v in a.attrs.items() if k not in drop}
                == {k: v for k, v in b.attrs.items() if k not in drop})


def golden_max(f, a: float, b: float, iterations: int = 100) -> float:
    """The argmax of a unimodal f on [a, b] by golden-section search (reference values of the
    theory tests, computed without the code under test)."""
    g = (math.sqrt(5) - 1) / 2
    for _ in range(iterations):
        c, d = b - g * (b - a), a + g * (b - a)
        if f(c) > f(d):
            b = d
        else:
            a = c
    return 0.5 * (a + b)


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    """The checkout's root folder."""
    return ROOT


@pytest.fixture(scope="session")
def assert_same_numbers():
    """`same_numbers`: exact equality of two result datasets."""
    return same_numbers


@pytest.fixture(scope="session")
def hopjax_cli():
    """``hopjax_cli(*args, **popen_kw) -> Popen`` of ``python -m hopjax.cli`` on this checkout
    (text pipes for stdout and stderr)."""
    def start(*args, env=None, **kw):
        return subprocess.Popen([sys.executable, "-m", "hopjax.cli", *map(str, args)],
                                env=env or cli_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kw)
    return start
