"""Concurrent requests on one upload.

The server's policy: a newer PATCH asks the running one to stop; the old one saves what it received and ends
(409); the newer one proceeds from the durable offset, or gets 409 if its Upload-Offset no longer matches.
Whatever the interleaving, the bytes of two requests never mix: the finished blob is exactly the source.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Source, make_source
from tests.faults.rawhttp import ConnectionBroken, RawRequest
from tests.faults.tus_ops import create, finish_and_verify, open_patch, patch_range
from tests.interop.support import OCTETS, TUS, MiB, durable_offset, file_range, upload_path
from tests.server_process import FabricServer

SLOW = 0.0005
SIZE = 16 * MiB


@pytest.fixture
def source16(tmp_path: Path) -> Source:
    return make_source(tmp_path, SIZE)


def test_newer_patch_takes_over_and_superseded_bytes_are_never_stored(server: FabricServer, source16: Source) -> None:
    url = create(server.url, source16.size)
    old = open_patch(server.port, url, 0, source16.size)
    assert old.send_file(source16.path, 0, 6 * MiB, pause=SLOW) == 6 * MiB
    assert old.wait_acked()

    # A client whose answer got lost retries from offset 0 while its first PATCH still hangs on the server.
    new = open_patch(server.port, url, 0, source16.size, expect_continue=True)
    early = new.await_continue()
    if early is None:  # the old request had saved nothing: the new one goes on from 0
        new.send_file(source16.path, 0, source16.size)
        done = new.read_response()
        assert done.status == 204, done
        taken = source16.size
    else:
        assert early.status == 409, f"expected 409 for a stale Upload-Offset after the take-over, got {early}"
        taken = int(early.headers["upload-offset"])
        assert 0 < taken <= 6 * MiB, f"the superseded PATCH saved {taken} of the 6 MiB sent"
    new.close()

    answer = old.try_response(30)
    assert answer is None or answer.status == 409, f"the superseded PATCH was answered {answer}"
    # Whatever the old connection still sends now must never reach the file.
    for _ in range(16):
        if not old.send(b"\xee" * (64 << 10)):
            break
    old.close()
    assert durable_offset(server.url, url) == taken, "bytes sent on the superseded PATCH moved the offset"
    finish_and_verify(server.url, url, source16.path, source16.sha256, source16.size)


class Writer(threading.Thread):
    """HEAD, then PATCH the rest of the file in random bursts, until the upload is complete."""

    MAX_ATTEMPTS = 300

    def __init__(
        self, server: FabricServer, url: str, source: Source, seed: int, start_together: threading.Barrier
    ) -> None:
        super().__init__(name=f"writer-{seed}", daemon=True)
        self.server, self.url, self.source = server, url, source
        self.start_together = start_together  # both first PATCHes claim offset 0: a collision is certain
        self.rng = random.Random(seed)
        self.offsets: list[int] = []
        self.outcomes: Counter[str] = Counter()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:
            self.error = exc

    def _run(self) -> None:
        size = self.source.size
        for _ in range(self.MAX_ATTEMPTS):
            offset = durable_offset(self.server.url, self.url)
            self.offsets.append(offset)
            if offset == size:
                return
            if len(self.offsets) == 1:
                self.start_together.wait(30)
            request = open_patch(self.server.port, self.url, offset, size - offset, expect_continue=True)
            try:
                early = request.await_continue()
                if early is not None:
                    self.outcomes[str(early.status)] += 1
                    continue
                position = offset
                while position < size and not request.answered():
                    count = min(self.rng.choice((64 << 10, 256 << 10, 1 << 20)), size - position)
                    if request.send_file(self.source.path, position, count) < count:
                        break
                    position += count
                    time.sleep(self.rng.random() * 0.004)
                answer = request.try_response()
                self.outcomes[str(answer.status) if answer else "broken"] += 1
            except ConnectionBroken:
                self.outcomes["broken"] += 1
            finally:
                request.close()
        raise AssertionError(f"{self.name} did not finish in {self.MAX_ATTEMPTS} attempts: {self.outcomes}")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_racing_patches_never_interleave_bytes(server: FabricServer, source16: Source, seed: int) -> None:
    url = create(server.url, source16.size)
    barrier = threading.Barrier(2)
    writers = [Writer(server, url, source16, seed * 100 + n, barrier) for n in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert not writer.is_alive(), f"{writer.name} is stuck: {writer.outcomes}"
        assert writer.error is None, f"{writer.name}: {writer.error!r}"

    outcomes = sum((w.outcomes for w in writers), Counter())
    assert set(outcomes) <= {"204", "409", "broken"}, f"unexpected answers: {outcomes}"
    assert outcomes["409"] + outcomes["broken"] >= 1, f"the two writers never collided: {outcomes}"
    for writer in writers:
        assert writer.offsets == sorted(writer.offsets), f"{writer.name} saw the offset go backwards: {writer.offsets}"
    finish_and_verify(server.url, url, source16.path, source16.sha256, source16.size)


@pytest.mark.slow
def test_head_during_a_patch_answers_with_a_durable_offset(server: FabricServer, source16: Source) -> None:
    url = create(server.url, source16.size)
    r = patch_range(server.url, url, source16.path, 0, 3 * MiB)
    assert r.status_code == 204, r.text

    request = open_patch(server.port, url, 3 * MiB, source16.size - 3 * MiB)
    assert request.send_file(source16.path, 3 * MiB, 5 * MiB, pause=SLOW) == 5 * MiB
    assert request.wait_acked()
    # The PATCH holds the upload and is paused mid-body: HEAD must not wait for it (a hang would time out).
    head = httpx.head(server.url + upload_path(url), headers=TUS, timeout=30)
    assert head.status_code == 200, head.text
    told = int(head.headers["Upload-Offset"])
    assert 3 * MiB <= told <= 8 * MiB
    assert head.headers["Upload-Length"] == str(source16.size)
    # ...nor disturb it: the PATCH is still open and takes more bytes.
    assert not request.answered(), f"HEAD ended the running PATCH: {request.try_response(5)}"
    assert request.send_file(source16.path, 8 * MiB, 1 * MiB) == 1 * MiB

    server.kill()  # what HEAD told must survive a crash
    request.close()
    server.start()
    after = durable_offset(server.url, url)
    assert told <= after <= 9 * MiB, f"HEAD said {told} during the PATCH, {after} after kill -9"
    finish_and_verify(server.url, url, source16.path, source16.sha256, source16.size)


def test_termination_during_a_patch_stops_it_and_removes_the_upload(server: FabricServer, source16: Source) -> None:
    url = create(server.url, source16.size)
    request = open_patch(server.port, url, 0, source16.size)
    assert request.send_file(source16.path, 0, 4 * MiB, pause=SLOW) == 4 * MiB
    assert request.wait_acked()

    deleted = httpx.delete(server.url + upload_path(url), headers=TUS, timeout=30)
    assert deleted.status_code == 204, deleted.text
    answer = request.try_response(30)
    assert answer is None or answer.status in (404, 409), f"the terminated PATCH was answered {answer}"
    request.close()

    assert httpx.head(server.url + upload_path(url), headers=TUS, timeout=30).status_code == 404
    again = patch_range(server.url, url, source16.path, 0, 1 * MiB)
    assert again.status_code == 404, f"a PATCH after termination was answered {again.status_code} {again.text}"


def test_taken_over_patch_with_checksum_keeps_nothing(server: FabricServer, source16: Source) -> None:
    """A checksummed body is all or nothing, also when a newer PATCH stops it: the newer one starts at 0."""
    url = create(server.url, source16.size)
    digest = hashlib.sha256()
    for block in file_range(source16.path, 0, source16.size):
        digest.update(block)
    old = RawRequest(
        server.port,
        "PATCH",
        upload_path(url),
        {**OCTETS, "Upload-Offset": "0", "Upload-Checksum": "sha256 " + base64.b64encode(digest.digest()).decode()},
        source16.size,
    )
    assert old.send_file(source16.path, 0, 6 * MiB, pause=SLOW) == 6 * MiB
    assert old.wait_acked()

    new = open_patch(server.port, url, 0, source16.size, expect_continue=True)
    early = new.await_continue()
    assert early is None, f"the newer PATCH at offset 0 was refused: {early}"
    answer = old.try_response(30)
    assert answer is None or answer.status == 409, f"the superseded PATCH was answered {answer}"
    old.close()
    new.send_file(source16.path, 0, source16.size)
    done = new.read_response()
    new.close()
    assert done.status == 204, done
    finish_and_verify(server.url, url, source16.path, source16.sha256, source16.size)
