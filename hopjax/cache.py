"""The per-user cache folder of hopjax (the MNIST arrays, the compiled CPU kernel).

``$HOPJAX_CACHE``, else ``$XDG_CACHE_HOME/hopjax``, else ``~/.cache/hopjax``; ``~`` is expanded
in both variables. A folder that cannot be one (the path is a file, or a parent is a file, or
it cannot be created) raises `CacheError`, whose one-line message names the path and the
setting to change.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CacheError", "cache_dir"]


class CacheError(OSError):
    """The cache folder (or a file in it) is unusable; the message says which path and how to
    fix it."""


def _where() -> tuple[Path, str]:
    """(cache folder, the setting it comes from, for messages)."""
    if os.environ.get("HOPJAX_CACHE"):
        value = os.environ["HOPJAX_CACHE"]
        return Path(value).expanduser(), f"HOPJAX_CACHE={value}"
    if os.environ.get("XDG_CACHE_HOME"):
        value = os.environ["XDG_CACHE_HOME"]
        return Path(value).expanduser() / "hopjax", f"XDG_CACHE_HOME={value}"
    try:
        home = Path.home()
    except (RuntimeError, KeyError) as err:  # no $HOME and no passwd entry
        raise CacheError(f"hopjax cache: cannot find the home directory ({err}); set "
                         "HOPJAX_CACHE to a directory") from None
    return home / ".cache" / "hopjax", "the default ~/.cache/hopjax"


def cache_dir(create: bool = False) -> Path:
    """The cache folder; with ``create`` make it (and its parents) if missing.

    Raises `CacheError` if the path exists and is not a directory, or cannot be created."""
    path, setting = _where()
    fix = "set HOPJAX_CACHE to a directory"
    if path.exists() and not path.is_dir():
        raise CacheError(f"hopjax cache {path} ({setting}) is a file, not a directory; {fix}")
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # a parent is a file, no permission, read-only file system
            raise CacheError(f"hopjax cache {path} ({setting}) cannot be created "
                             f"({err.strerror or type(err).__name__}); {fix} that can be "
                             "created") from None
    return path


def file_in_cache(name: str) -> Path:
    """Path of a cache file (it may not exist yet); `CacheError` if something other than a
    regular file (a directory, say) is in its place."""
    path = cache_dir() / name
    if path.exists() and not path.is_file():
        raise CacheError(f"hopjax cache file {path} is not a regular file (a directory?); "
                         "remove it, or set HOPJAX_CACHE to another directory")
    return path
