"""glibc's malloc, told to keep less memory resident in the server process (glibc only; elsewhere nothing is done).

Arenas: glibc gives each thread that allocates under contention an arena of its own, up to 8 per core, and memory
freed into an arena stays there. The server's worker threads (upload writes and digests, blocking store and graph
calls) kept about 50 MB more resident with 256 uploads at once than with two arenas, and two kept 4 to 18 MB more
than one after rounds of 256 small uploads at once, for no measurable speed either time (`bench/memory.py`,
`bench/small_uploads.py`). Like `MALLOC_ARENA_MAX=1`, set from inside so that `fabric serve` needs no wrapper.

Trimming: memory freed after a burst of requests mostly stays in the heap as free chunks (10 to 18 MB after 256
uploads at once), resident until malloc happens to reuse it. `IdleTrim` hands it back to the system
(`malloc_trim`) once the process has been quiet for a while after growing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

M_ARENA_MAX = -8  # from glibc's malloc.h


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def limit_arenas(count: int = 1) -> bool:
    """Limit glibc's malloc arenas to `count`; False (and nothing done) on another C library."""
    libc = _glibc()
    return libc is not None and bool(libc.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Give the heap's free memory back to the system; False if nothing was (or can be) given back."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


def private_bytes() -> int:
    """The process's resident private memory (RssAnon), 0 where /proc does not tell it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class IdleTrim:
    """Decides when to trim: the process grew by `growth` bytes since the last trim and used less than `quiet`
    of a CPU since the last look (so a burst of requests is over, and trimming takes nothing from one)."""

    def __init__(
        self,
        growth: int = 8 << 20,
        quiet: float = 0.02,
        *,
        resident: Callable[[], int] = private_bytes,
        cpu: Callable[[], float] = cpu_seconds,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.growth = growth
        self.quiet = quiet
        self._resident = resident
        self._cpu = cpu
        self._clock = clock
        self._baseline = resident()
        self._last_cpu = cpu()
        self._last_time = clock()

    def due(self) -> bool:
        cpu, now = self._cpu(), self._clock()
        busy = (cpu - self._last_cpu) > self.quiet * max(now - self._last_time, 1e-9)
        self._last_cpu, self._last_time = cpu, now
        resident = self._resident()
        self._baseline = min(self._baseline, resident)  # memory given back some other way lowers the mark too
        return not busy and resident - self._baseline >= self.growth

    def trim(self) -> None:
        """Trim now (blocking: from a worker thread) and measure the new baseline."""
        trim()
        self._baseline = self._resident()
