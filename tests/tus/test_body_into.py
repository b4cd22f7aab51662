"""Large PATCH bodies read by `fabric serve`'s protocol straight into the upload's page-aligned blocks
(`tus_server.blocks.BODY_INTO`), hashed and written with O_DIRECT from them: the stored bytes and digests are
exact at any file offset, a body cut in the middle of a block keeps every byte the server received and resumes
byte-exact, and the blocks stay within the upload buffer budget, also with stalled clients."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fabric.body_chunks import ServeProtocol
from tests.tus.helpers import OCTETS, TUS, create, patch
from tests.tus.test_hooks import Recorder, serving, tus_server
from tus_server.budget import ESCAPE_BLOCK
from tus_server.direct_writes import ALIGN

KiB, MiB = 1 << 10, 1 << 20
SERVE = {"http": ServeProtocol, "loop": "uvloop"}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.01)


def offset_of(client: httpx.Client, location: str) -> int:
    return int(client.head(location, headers=TUS).headers["Upload-Offset"])


def raw_patch_head(location: str, offset: int, length: int) -> bytes:
    lines = [
        f"PATCH {httpx.URL(location).path} HTTP/1.1",
        "Host: test",
        f"Content-Length: {length}",
        f"Upload-Offset: {offset}",
        *(f"{name}: {value}" for name, value in OCTETS.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@contextmanager
def stalled_patches(client: httpx.Client, count: int) -> Iterator[list[str]]:
    """`count` uploads of 2 MiB whose PATCH sent 10 KiB and stalls (each on a connection of its own, closed on
    leaving): their locations."""
    socks, locations = [], []
    try:
        for _ in range(count):
            location = create(client, 2 * MiB).headers["Location"]
            sock = socket.create_connection((client.base_url.host, client.base_url.port), timeout=30)
            socks.append(sock)
            sock.sendall(raw_patch_head(location, 0, 2 * MiB) + os.urandom(10 * KiB))
            locations.append(location)
        yield locations
    finally:
        for sock in socks:
            sock.close()


def test_bodies_at_unaligned_offsets_are_stored_byte_exact(tmp_path: Path) -> None:
    recorder = Recorder()
    server = tus_server(tmp_path, recorder)
    # Large PATCHes (past the small-body path) starting at offsets 1, 4095 and 4097 mod 4096 and in a block.
    sizes = [1, 300_000, 0, 200_000, 0, 5 * MiB + 3, 70_001]
    starts = [1, 4095, 4097]
    offset = 0
    for index, size in enumerate(sizes):
        if size == 0:  # sized so that the next PATCH starts at the next offset of `starts` mod 4096
            sizes[index] = (starts[index // 2] - offset) % ALIGN + 100_000
            size = sizes[index]
        offset += size
    data = os.urandom(offset)
    with serving(server, **SERVE) as client:
        location = create(client, len(data)).headers["Location"]
        offset = 0
        for size in sizes:
            answer = patch(client, location, offset, data[offset : offset + size])
            assert answer.status_code == 204, answer.text
            offset += size
        assert server.budget.blocks.kept > 0  # the bodies were read into blocks
        assert server.budget.used == 0
    (upload,) = recorder.completed
    assert upload.info.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(upload.read(MiB)) == data


def test_a_body_cut_in_the_middle_of_a_block_keeps_every_byte_received_and_resumes_byte_exact(
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    server = tus_server(tmp_path, recorder)
    data = os.urandom(9 * MiB + 77)
    first_cut, second_cut = 4 * MiB + 12_345, 7 * MiB + 1  # past one whole block, then within the next
    with serving(server, **SERVE) as client:
        location = create(client, len(data)).headers["Location"]
        assert patch(client, location, 0, data[:3]).status_code == 204  # blocks then start at 3 mod 4096
        offset = 3
        for cut in (first_cut, second_cut):
            with socket.create_connection((client.base_url.host, client.base_url.port), timeout=30) as sock:
                sock.sendall(raw_patch_head(location, offset, len(data) - offset) + data[offset:cut])
            wait_for(lambda cut=cut: offset_of(client, location) == cut)  # type: ignore[misc]
            offset = cut
        assert patch(client, location, offset, data[offset:]).status_code == 204
        assert server.budget.used == 0
    (upload,) = recorder.completed
    assert upload.info.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(upload.read(MiB)) == data


@pytest.mark.parametrize(
    ("budget", "stalled_count", "most_taken"),
    [
        (8 * MiB, 6, 6 * 512 * KiB),  # room for all: a block each (a sixteenth of the budget), however little arrived
        # More than the budget has whole blocks (256 KiB) for: those past the limit get small blocks, not whole
        # ones (whole blocks for all would be 10 MiB).
        (4 * MiB, 40, 4 * MiB + 24 * ESCAPE_BLOCK),
    ],
    ids=["within-budget", "past-budget"],
)
def test_stalled_clients_pin_a_block_each_and_others_go_on(
    tmp_path: Path, budget: int, stalled_count: int, most_taken: int
) -> None:
    """Clients that stall mid-body pin one block each (`ESCAPE_BLOCK` at most past the budget's limit), and an
    upload beside them still completes byte-exact."""
    recorder = Recorder()
    server = tus_server(tmp_path, recorder, upload_buffer_budget=budget)
    with serving(server, **SERVE) as client:
        with stalled_patches(client, stalled_count) as stalled:
            wait_for(lambda: server.budget.blocks.in_use == stalled_count)
            assert server.budget.used <= most_taken
            data = os.urandom(3 * MiB + 5)
            location = create(client, len(data)).headers["Location"]
            assert patch(client, location, 0, data).status_code == 204
        for location in stalled:
            wait_for(lambda location=location: offset_of(client, location) == 10 * KiB)  # type: ignore[misc]
        wait_for(lambda: server.budget.used == 0)
        assert server.budget.peak <= max(most_taken, budget) + ESCAPE_BLOCK
        assert server.budget.blocks.kept <= budget
    assert [u.info.sha256 for u in recorder.completed] == [hashlib.sha256(data).hexdigest()]
