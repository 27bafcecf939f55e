"""Crash-safe file primitives shared by the result store, figures and caches.

* :func:`atomic_write`: a file appears complete or not at all (temporary name, fsync,
  ``os.replace``), also when the process is killed or the disk fills up mid-write.
* :class:`FileLock`: an exclusive ``flock`` on a path, held by an open file description.
  The kernel drops it when its holder dies (SIGKILL included), so a lock can never be left
  stale. On NFS, Linux maps ``flock`` onto NFS byte-range locks, which holds across hosts
  sharing the filesystem.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pathlib
import socket

__all__ = ["atomic_write", "fsync_dir", "FileLock", "writer_tag", "describe_os_error"]


def writer_tag() -> str:
    """``host-pid``: names this process among writers on a filesystem shared by hosts."""
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())
    return f"{host or 'host'}-{os.getpid()}"


def fsync_dir(directory: pathlib.Path) -> None:
    """Make a rename inside ``directory`` durable, not just the file contents."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path, write, tmp_dir=None) -> pathlib.Path:
    """Call ``write(tmp_path)``, fsync it, then ``os.replace`` it onto ``path``.

    ``tmp_dir`` must be on the same filesystem as ``path`` (default: its parent). The
    temporary name starts with '.', ends with '.tmp' and names the writing host and
    process, so it never matches a finished file and concurrent writers never share one.
    On any failure (an exception, a full disk) the temporary file is removed and ``path``
    is left as it was.
    """
    path = pathlib.Path(path)
    tmp = pathlib.Path(tmp_dir or path.parent) / f".{path.name}.{writer_tag()}.tmp"
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return path


class FileLock:
    """Exclusive ``flock`` on ``path`` (created if missing).

    ``acquire`` re-opens the path when it was removed or replaced while this process
    waited (the previous holder may unlink it on release), so holding the lock always
    means holding the file now at ``path``. ``release(unlink=True)`` removes the file
    first, which is safe for the same reason; so does leaving a ``with`` block when
    ``unlink_on_exit``.
    """

    def __init__(self, path, unlink_on_exit: bool = False):
        self.path = pathlib.Path(path)
        self.unlink_on_exit = unlink_on_exit  # as a context manager: leave no file behind
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False`` return False if another holds it."""
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return True
            os.close(fd)  # removed/replaced while we waited: lock the current file

    def release(self, unlink: bool = False) -> None:
        if self._fd is None:
            return
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self._fd)  # closing the description drops the flock
        self._fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release(unlink=self.unlink_on_exit)

    def __del__(self):  # a dropped store object releases its locks (a "crash" in tests)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)


def describe_os_error(err: OSError) -> str:
    """One line for a user: what failed, on which path, and what usually helps."""
    where = f" {err.filename}" if err.filename else ""
    hint = {errno.ENOSPC: "free some space or choose another --out",
            errno.EDQUOT: "free some space or choose another --out",
            errno.EACCES: "choose a writable --out",
            errno.EPERM: "choose a writable --out",
            errno.EROFS: "the filesystem is read-only; choose another --out"}.get(err.errno)
    return f"{err.strerror or err}{':' + where if where else ''}" + (f" ({hint})" if hint else "")
