"""The upload buffer budget: a server with a tiny budget still completes many concurrent uploads byte-exact,
never holds much more than the budget, and gets every byte of it back (also after refused bodies)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fabric.body_chunks import ServeProtocol
from tests.tus.helpers import TUS, create, patch
from tests.tus.test_hooks import Recorder, serving
from tus_server import FileUploadStore, TusConfig, TusServer
from tus_server.blocks import BlockPool
from tus_server.budget import BufferBudget

KiB, MiB = 1 << 10, 1 << 20
BUDGET = 64 * KiB
# A request takes budget one received chunk at a time; uvicorn hands over at most its 64 KiB flow-control mark
# plus one socket read (256 KiB), so a chunk taken past the limit (allowed when nothing else is on its way to
# disk) overshoots by less than this. Bodies read into blocks take a block at a time, a sixteenth of the budget.
LARGEST_CHUNK = 1 * MiB


def upload_in_pieces(base_url: str, data: bytes, piece: int, ask_md5: bool) -> str:
    with httpx.Client(base_url=base_url, timeout=120) as client:
        headers = {"Upload-Metadata": "md5"} if ask_md5 else {}
        created = create(client, len(data), **headers)
        assert created.status_code == 201, created.text
        location = created.headers["Location"]
        for start in range(0, len(data), piece):
            answer = patch(client, location, start, data[start : start + piece])
            assert answer.status_code == 204, answer.text
        return location


@pytest.mark.parametrize(
    "options", [{}, {"http": ServeProtocol, "loop": "uvloop"}], ids=["uvicorn", "bodies-into-blocks"]
)
def test_a_tiny_budget_still_completes_many_concurrent_uploads_byte_exact(
    tmp_path: Path, options: dict[str, object]
) -> None:
    recorder = Recorder()
    server = TusServer(
        FileUploadStore(tmp_path),
        TusConfig(upload_buffer_budget=BUDGET),
        on_create=recorder.on_create,
        on_complete=recorder.on_complete,  # type: ignore[arg-type]
    )
    bodies = [os.urandom(256 * KiB + 4099 * i) for i in range(24)]
    with serving(server, **options) as client:
        base_url = str(client.base_url)
        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            uploads = [
                pool.submit(upload_in_pieces, base_url, body, piece=(1 + i % 3) * 300 * KiB, ask_md5=i % 2 == 0)
                for i, body in enumerate(bodies)
            ]
            locations = [u.result() for u in uploads]

        # Bodies the server refuses part way give their budget back too.
        location = create(client, 2 * MiB).headers["Location"]
        wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
        refused = patch(client, location, 0, os.urandom(MiB), **{"Upload-Checksum": f"sha1 {wrong}"})
        assert refused.status_code == 460, refused.text
        too_long = patch(client, location, 0, os.urandom(3 * MiB))
        assert too_long.status_code == 413, too_long.text
        assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"
        last = os.urandom(2 * MiB)
        assert patch(client, location, 0, last).status_code == 204

    done = {upload.info.id: upload for upload in recorder.completed}
    assert len(done) == len(bodies) + 1
    assert done[location.rsplit("/", 1)[-1]].info.sha256 == hashlib.sha256(last).hexdigest()
    for i, (body, location) in enumerate(zip(bodies, locations)):
        upload = done[location.rsplit("/", 1)[-1]]
        assert upload.info.sha256 == hashlib.sha256(body).hexdigest()
        assert upload.info.md5 == (hashlib.md5(body).hexdigest() if i % 2 == 0 else None)
        assert b"".join(upload.read(256 * KiB)) == body
    assert server.budget.used == 0
    assert 0 < server.budget.peak <= BUDGET + LARGEST_CHUNK


def test_a_waiting_take_goes_on_when_another_thread_gives_back() -> None:
    async def scenario() -> None:
        budget = BufferBudget(1000)
        assert budget.try_take(800)
        budget.dispatched(800)  # on its way to disk: it comes back with give()
        assert not budget.try_take(300)
        waiting = asyncio.ensure_future(budget.take(300))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        giver = threading.Thread(target=budget.give, args=(800,))
        giver.start()
        await asyncio.wait_for(waiting, 30)
        giver.join()
        assert budget.used == 300

    asyncio.run(scenario())


def test_a_chunk_larger_than_the_budget_passes_when_nothing_is_on_its_way_to_disk() -> None:
    async def scenario() -> None:
        budget = BufferBudget(100)
        await asyncio.wait_for(budget.take(5000), 30)
        assert budget.used == 5000
        budget.give(5000, gathered=True)
        assert budget.used == 0

    asyncio.run(scenario())


def test_a_cancelled_take_leaves_nothing_taken() -> None:
    async def scenario() -> None:
        budget = BufferBudget(100)
        assert budget.try_take(100)
        budget.dispatched(100)
        waiting = asyncio.ensure_future(budget.take(50))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        budget.give(100)
        assert budget.used == 0
        assert budget.try_take(100)

    asyncio.run(scenario())


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BufferBudget(0)


def test_the_block_pool_keeps_blocks_in_use_and_kept_within_the_budget() -> None:
    """Kept blocks of one size must not stay mapped beside a budget's worth of blocks of another size in use
    (the memory bench found 87 MB of blocks under a 64 MiB budget): before a new block is mapped, kept blocks of
    other sizes go while the two together would pass `keep`; a kept block of the size asked for is reused."""
    small, large, keep = 16 << 10, 32 << 10, 64 << 10
    pool = BlockPool(keep=keep)
    for block in [pool.take(small, 0) for _ in range(4)]:
        pool.give(block)
    assert (pool.kept, pool.in_use_bytes) == (keep, 0)
    first = pool.take(large, 0)
    assert (pool.kept, pool.in_use_bytes) == (keep - large, large)  # two small ones dropped to make room
    second = pool.take(large, 0)
    assert (pool.kept, pool.in_use_bytes) == (0, 2 * large)
    reused = pool.take(large, 0)  # past `keep`: in use is the budget's business, nothing kept is left to drop
    assert (pool.kept, pool.in_use_bytes) == (0, 3 * large)
    for block in (first, second, reused):
        pool.give(block)
    assert pool.kept <= keep and pool.in_use_bytes == 0
    assert pool.take(large, 0).size == large and pool.kept == keep - large  # a kept block of that size, reused


def test_a_block_given_back_and_not_kept_hands_its_pages_back_at_once() -> None:
    """A view of a block may outlive its return to the pool (a request's frame, an executor's work item), and the
    mapping with it: its pages must not stay resident meanwhile. A kept block keeps its pages for reuse."""
    size = 64 << 10
    pool = BlockPool(keep=size)
    kept, spare = pool.take(size, 0), pool.take(size, 0)
    for block in (kept, spare):
        block.view[:] = b"\xab" * size
        block.filled = size
    lingering = spare.memory  # still referenced, as a frame or a future would
    pool.give(kept)
    pool.give(spare)  # the pool is full: not kept
    assert pool.kept == size
    assert bytes(lingering) == bytes(size)  # its pages were handed back: they read as zeros now
    reused = pool.take(size, 0)
    assert bytes(reused.memory[:4]) == b"\xab" * 4  # the kept one, pages and all
