"""`fabric serve` tells glibc's malloc to keep less memory resident (fabric.malloc): fewer arenas for the worker
threads, and the heap's free memory given back once the process is quiet after growing."""

from __future__ import annotations

import platform

from fabric.malloc import IdleTrim, limit_arenas, trim

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_arenas_are_limited_on_glibc_and_left_alone_elsewhere() -> None:
    assert limit_arenas(2) is ON_GLIBC


def test_trim_gives_back_memory_freed_in_the_middle_of_the_heap() -> None:
    blocks = [bytes(100 << 10) for _ in range(200)]  # below the mmap threshold: on the heap
    pinned = blocks.pop()  # keeps the freed blocks below it from merging into the heap's top
    del blocks
    assert trim() is ON_GLIBC
    assert len(pinned) == 100 << 10


class Readings:
    def __init__(self) -> None:
        self.resident = 100 << 20
        self.cpu = 0.0
        self.now = 0.0


def trimmer(readings: Readings) -> IdleTrim:
    return IdleTrim(
        growth=8 << 20,
        quiet=0.02,
        resident=lambda: readings.resident,
        cpu=lambda: readings.cpu,
        clock=lambda: readings.now,
    )


def test_trim_is_due_once_the_process_grew_and_went_quiet() -> None:
    readings = Readings()
    idle = trimmer(readings)
    readings.now += 10
    assert not idle.due()  # quiet, but no growth
    readings.resident += 30 << 20
    readings.cpu += 5.0
    readings.now += 10
    assert not idle.due()  # grew, but busy (half a CPU)
    readings.cpu += 0.05
    readings.now += 10
    assert idle.due()  # grew, and quiet since the last look
    readings.resident -= 20 << 20  # what the trim gave back
    idle.trim()
    readings.now += 10
    assert not idle.due()  # measured again after the trim: no growth since
    readings.resident += 8 << 20
    readings.now += 10
    assert idle.due()


def test_memory_given_back_otherwise_lowers_the_mark() -> None:
    readings = Readings()
    idle = trimmer(readings)
    readings.resident -= 50 << 20  # e.g. the upload block pool unmapped what it kept
    readings.now += 10
    assert not idle.due()
    readings.resident += 10 << 20
    readings.now += 10
    assert idle.due()  # grown since the lower mark, though not past the first
