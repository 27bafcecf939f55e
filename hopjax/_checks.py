"""Input checks at the boundary of the public functions.

Checks run only on concrete values: inside `jit`/`vmap` the arguments are tracers and the
checks are skipped (a traced function cannot raise on values; the sweep engine validates the
config before tracing instead).
"""

from __future__ import annotations

import jax
import numpy as np


def concrete(x):
    """`x` as a numpy array if it is a concrete value, else None (a tracer)."""
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return np.asarray(x)
    except Exception:  # abstract values that refuse conversion
        return None


def check_spins(x, name: str, mask=None) -> None:
    """±1 entries required; rows where ``mask`` (..., P) is False (padding) are not checked."""
    v = concrete(x)
    m = None if mask is None else concrete(mask)
    if v is not None and m is not None:
        v = v[np.broadcast_to(np.asarray(m, bool), v.shape[:-1])]
    if v is not None and v.size and not np.all(np.abs(v) == 1):
        bad = v[np.abs(v) != 1].ravel()[:3]
        raise ValueError(f"{name} must contain only ±1 spins; found values such as {bad.tolist()}")


def check_overlap(m0, name: str = "m0") -> None:
    v = concrete(m0)
    if v is not None and (np.any(~np.isfinite(v)) or np.any(np.abs(v) > 1)):
        raise ValueError(f"{name} must lie in [-1, 1]; got {np.ravel(v)[:5].tolist()}")


def check_finite(x, name: str) -> None:
    """No NaN or ±inf entries (a NaN would otherwise surface as some unrelated failure)."""
    v = concrete(x)
    if v is not None and np.issubdtype(v.dtype, np.inexact) and not np.all(np.isfinite(v)):
        bad = np.ravel(v[~np.isfinite(v)])[:3]
        raise ValueError(f"{name} has non-finite entries (such as {bad.tolist()}); "
                         "couplings must be finite")


def check_square(J, name: str = "J", *, symmetric: bool = False, finite: bool = True) -> None:
    """Square (..., N, N); finite entries unless ``finite=False``; symmetric if asked. The
    finiteness check comes first: NaN ≠ NaN would otherwise read as "not symmetric"."""
    if J.ndim < 2 or J.shape[-1] != J.shape[-2]:
        raise ValueError(f"{name} must be a square (N, N) matrix; got shape {tuple(J.shape)}")
    if finite:
        check_finite(J, name)
    if symmetric:
        v = concrete(J)
        if v is not None and not np.allclose(v, np.swapaxes(v, -1, -2), rtol=1e-5, atol=1e-6):
            raise ValueError(
                f"{name} must be symmetric for this dynamics (asynchronous and Glauber updates "
                "rely on it to lower the energy); symmetrise it with (J + J.T) / 2"
            )


def check_count(P, P_max, name: str = "P") -> None:
    v = concrete(P)
    if v is not None and (np.any(v < 0) or np.any(v > P_max)):
        raise ValueError(f"{name} must lie in [0, {P_max}] (the padded size); got {np.ravel(v).tolist()}")


def check_nonneg(x, name: str) -> None:
    v = concrete(x)
    if v is not None and np.any(~(v >= 0)):
        raise ValueError(f"{name} must be >= 0; got {np.ravel(v)[:5].tolist()}")


def check_patterns(xi, name: str = "xi") -> None:
    """Patterns (..., P, N) with P ≥ 1 (a shape check: it also runs inside jit / vmap)."""
    shape = np.shape(xi)
    if len(shape) < 2:
        raise ValueError(f"{name} must be patterns (..., P, N); got shape {tuple(shape)}")
    if shape[-2] == 0:
        raise ValueError(f"need at least one pattern, got P = 0 ({name} has shape {tuple(shape)})")
