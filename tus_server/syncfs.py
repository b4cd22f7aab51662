"""syncfs(2): make everything written to one filesystem durable in one call (Linux only).

A batch of small uploads is made durable with one `syncfs` instead of an fsync per file and directory: the
kernel writes back every dirty page and inode of the filesystem, then flushes the device's cache. Since Linux
5.8 it also reports writeback errors that happened since the file descriptor was opened. Elsewhere (no
`syncfs` in the C library) `available()` is False and callers sync file by file.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)
if _syncfs is not None:
    _syncfs.argtypes = [ctypes.c_int]
    _syncfs.restype = ctypes.c_int


def available() -> bool:
    return _syncfs is not None


def syncfs(path: Path) -> None:
    """Make every write to the filesystem holding `path` durable (blocking; the GIL is released meanwhile)."""
    if _syncfs is None:
        raise OSError(0, "syncfs is not available on this system")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if _syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)
