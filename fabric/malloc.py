"""Fewer malloc arenas for the server process (glibc only).

glibc gives each thread that allocates under contention an arena of its own, up to 8 per core, and memory freed
into an arena stays there. The server's worker threads (upload writes and digests, blocking store and graph calls)
then kept about 50 MB more resident with 256 uploads at once than with two arenas, for no measurable speed
(`bench/memory.py`). Like `MALLOC_ARENA_MAX=2`, set from inside so that `fabric serve` needs no wrapper.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_arenas(count: int = 2) -> bool:
    """Limit glibc's malloc arenas to `count`; False (and nothing done) on another C library."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_ARENA_MAX, count))
