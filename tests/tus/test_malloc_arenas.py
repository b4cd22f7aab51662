"""`fabric serve` limits glibc's malloc arenas (fabric.malloc) so worker threads keep less memory resident."""

from __future__ import annotations

import platform

from fabric.malloc import limit_arenas


def test_arenas_are_limited_on_glibc_and_left_alone_elsewhere() -> None:
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert limit_arenas(2) is on_glibc
