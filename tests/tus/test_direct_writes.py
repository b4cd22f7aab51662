"""The file store's writer with O_DIRECT: whatever the sizes and offsets of the writes, the file holds exactly the
bytes taken after every write, across writers reopened mid-block, truncation and the page-cache fallback."""

from __future__ import annotations

import mmap
import os
import random
from pathlib import Path

import pytest

from tus_server.direct_writes import ALIGN, BUFFER_SIZE, DIRECT_MIN, DirectAppender, open_direct
from tus_server.file_store import FileWriter


def random_parts(rng: random.Random, total: int) -> list[bytes]:
    parts = []
    while total:
        size = min(total, rng.choice([1, 7, ALIGN - 1, ALIGN, 65_536 + 13, 320 << 10, BUFFER_SIZE + 5]))
        parts.append(rng.randbytes(size))
        total -= size
    return parts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_writes_of_any_shape_leave_exactly_the_bytes_taken(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "upload"
    path.touch()
    expected = bytearray()
    for _ in range(4):  # a writer per request, each opened at the offset the last one reached
        writer = FileWriter(path, len(expected))
        for _ in range(6):
            parts = random_parts(rng, rng.choice([0, 100, ALIGN * 3 + 5, DIRECT_MIN + 1, 3 * BUFFER_SIZE + 77]))
            assert writer.write(parts) == sum(len(p) for p in parts)
            expected += b"".join(parts)
            assert path.read_bytes() == expected  # the file is the body so far after every write, not at sync
        writer.sync()
        writer.close()
    assert len(expected) % ALIGN  # the seeds end mid-block, so the tail path was taken


@pytest.mark.parametrize("start", [0, 1, ALIGN - 1, ALIGN + 1, 3 * ALIGN])
def test_blocks_with_head_room_are_written_in_place_at_any_offset(tmp_path: Path, start: int) -> None:
    """`write_block` puts the file's partial last block in the head room and writes from the block itself."""
    path = tmp_path / "upload"
    expected = bytearray(os.urandom(start))
    path.write_bytes(expected)
    writer = FileWriter(path, start)
    block = memoryview(mmap.mmap(-1, 1 << 20))
    for length in [DIRECT_MIN + 3, 1, (1 << 20) - ALIGN, ALIGN - 1, 2 * ALIGN]:
        head = len(expected) % ALIGN
        length = min(length, len(block) - head)
        body = os.urandom(length)
        block[head : head + length] = body
        assert writer.write_block(block, head, length) == length
        expected += body
        assert path.read_bytes() == expected
    writer.sync()
    writer.close()


def test_truncate_goes_back_and_later_writes_continue_from_there(tmp_path: Path) -> None:
    rng = random.Random(9)
    path = tmp_path / "upload"
    path.touch()
    writer = FileWriter(path, 0)
    first, second, third = (
        rng.randbytes(DIRECT_MIN + 1234),
        rng.randbytes(2 * BUFFER_SIZE + 3),
        rng.randbytes(DIRECT_MIN * 2 + 9),
    )
    writer.write([first])
    writer.write([second])
    writer.truncate(len(first))
    writer.write([third])
    writer.close()
    assert path.read_bytes() == first + third


def test_a_file_without_direct_io_is_written_through_the_page_cache(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.write_bytes(b"x" * 10)
    fd = os.open(path, os.O_RDWR)
    try:
        appender = DirectAppender(fd, None, 10)
        data = random.Random(4).randbytes(BUFFER_SIZE * 2 + 1)
        assert appender.write([data]) == len(data)
    finally:
        os.close(fd)
    assert path.read_bytes() == b"x" * 10 + data


def test_the_data_directory_takes_direct_writes(tmp_path: Path) -> None:
    """Where the tests run (ext4, or tmpfs since Linux 6.6), O_DIRECT is there: the direct path above is the one
    exercised, not only the fallback."""
    path = tmp_path / "upload"
    path.touch()
    fd = open_direct(path)
    assert fd is not None
    os.close(fd)
