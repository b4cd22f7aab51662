"""Appending a request body to an upload: receiving on the event loop, writing in a worker thread.

The body is gathered into blocks of a few MiB, or read by the server straight into pooled blocks (`blocks`).
Blocks are written in order by a serial write lane while the next is received; the upload's digests are fed the
same blocks in lanes of their own (see `hashing`), or, for sha256 alone, each read as it lands in a block. A long
body is made durable in checkpoints on a separate sync lane, so receiving goes on while the disk flushes.
A few blocks at most are in memory per request, and all requests together hold no more than the server's
`BufferBudget` (see `budget`): a block's bytes count against it from receiving until written and hashed.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.requests import ClientDisconnect

from tus_server.blocks import Block
from tus_server.budget import BufferBudget
from tus_server.checksums import Digest
from tus_server.direct_writes import ALIGN
from tus_server.errors import is_disk_full
from tus_server.hashing import UploadDigests
from tus_server.lanes import SerialLane, wait
from tus_server.upload_store import BlockWriter, Checkpointer, PartialWrite, StreamingWriter, UploadWriter

BLOCK_SIZE = 4 << 20
SMALL_BLOCK = 256 << 10  # a block read straight from the socket while gathering holds half the budget
MAX_PARTS = 512  # chunks gathered into one block at most (writev takes up to IOV_MAX = 1024)
MAX_BLOCKS_IN_FLIGHT = 4  # written blocks a request may have queued: bounds its memory


@dataclass(frozen=True, slots=True)
class BodyInto:
    """A request body the server reads straight into blocks: its `BODY_INTO` extension (`fill`), the request's
    `receive` (which tells, after a short body, whether the client went away) and the body's length."""

    fill: Callable[[Block], Awaitable[bool]]
    receive: Callable[[], Awaitable[Any]]
    length: int


class DiskFull(OSError):
    """The disk had no room for the bytes received; those that fitted are kept."""


class BodyWriter:
    """Appends to an upload through the store's `UploadWriter`, opened at `offset`.

    `dispatched` counts bytes handed to the write lane, `written` bytes the store took, and `durable` the end of
    the last checkpoint (bytes synced and recorded by the checkpoint's `save`).
    """

    def __init__(
        self,
        target: UploadWriter,
        offset: int,
        digests: UploadDigests | None,
        checksum: Digest | None,
        budget: BufferBudget,
        expected_bytes: int | None = None,
    ) -> None:
        self._target = target
        if expected_bytes is not None and isinstance(target, StreamingWriter):
            target.expect(expected_bytes)
        self._budget = budget
        self.start = offset
        self.dispatched = 0
        self.written = 0
        self.durable = offset
        self.digests = digests
        self.checksum = checksum
        self._parts: list[bytes] = []  # received chunks not yet dispatched, written with writev: no gathering copy
        self._buffered = 0
        self._writes = SerialLane()
        self._syncs = SerialLane()
        self._in_flight: deque[Future[None]] = deque()
        self._checkpoint: Future[Future[None]] | None = None  # queued on the write lane; gives the sync's future
        self._error: BaseException | None = None
        self._filling: Block | None = None  # the block the server is reading the body into

    @property
    def failed(self) -> bool:
        """A write failed: the digests may have seen bytes the disk did not take, so they must be rebuilt."""
        return self._error is not None

    async def feed(self, chunk: bytes | Block) -> None:
        if isinstance(chunk, Block):
            await self._dispatch()
            await self._dispatch_block(chunk)
            return
        if not chunk:
            return
        size = len(chunk)
        if not self._budget.try_take(size):
            await self._dispatch()  # what this request gathered goes first, so that budget comes back too
            await self._budget.take(size)
        self._parts.append(chunk)
        self._buffered += size
        if self._buffered >= BLOCK_SIZE or len(self._parts) >= MAX_PARTS or not self._budget.may_gather():
            await self._dispatch()

    def _drop_gathered(self) -> None:
        if self._parts:
            self._budget.give(self._buffered, gathered=True)
            self._parts, self._buffered = [], 0

    async def _dispatch(self) -> None:
        if self._error is not None:
            self._drop_gathered()
            raise self._error
        if not self._parts:
            return
        block, self._parts = self._parts, []
        size, self._buffered = self._buffered, 0
        self.dispatched += size
        self._budget.dispatched(size)
        write = self._writes.submit(self._write_block, block)
        self._in_flight.append(write)
        hashing = self.digests.submit(block) if self.digests is not None else []
        _give_back_when_done(self._budget, size, [write, *hashing])
        await self._keep_up()

    async def _dispatch_block(self, block: Block) -> None:
        """Hand a block the server read the body into to the write and digest lanes; its budget and the block
        come back once both are done with it."""
        if self._filling is block:
            self._filling = None
        if self._error is not None or not block.filled:
            self._drop_block(block)
            if self._error is not None:
                raise self._error
            return
        self.dispatched += block.filled
        self._budget.dispatched(block.size)
        write = self._writes.submit(self._write_aligned, block)
        self._in_flight.append(write)
        if block.digest is not None:
            assert self.digests is not None
            self.digests.hashed(block.filled)
            hashing = []
        else:
            hashing = self.digests.submit([block.body]) if self.digests is not None else []
        _give_back_when_done(self._budget, block.size, [write, *hashing], block)
        await self._keep_up()

    def _drop_block(self, block: Block) -> None:
        self._budget.give(block.size, gathered=True)
        if block.pool is not None:
            block.pool.give(block)

    async def blocks(self, body: BodyInto) -> AsyncIterator[Block]:
        """The body's bytes, read by the server straight into pooled blocks, each taken with budget for its
        size; feed each to this writer. Raises `ClientDisconnect` after the last block if the client went away.
        A block being filled when the caller is cancelled is dispatched by `finish`, so every byte received is
        kept."""
        left = body.length
        direct = isinstance(self._target, BlockWriter)
        # sha256 alone is fed each socket read on the event loop's thread as it arrives, hot in the cache: from a
        # whole block handed to a lane it ran a third slower (cache misses), more than the hop it saves costs.
        inline = self.digests if self.digests is not None and self.digests.md5 is None else None
        if inline is not None:
            await inline.settle()
        while left > 0:
            size = await self._budget.take_block(BLOCK_SIZE, SMALL_BLOCK)
            position = self.start + self.dispatched + self._buffered
            block = self._budget.blocks.take(size, position % ALIGN if direct else 0)
            if inline is not None:
                block.digest = inline.sha256
            self._filling = block
            more = await body.fill(block)
            left -= block.filled
            yield block
            if not more:
                break
        if left > 0 and (await body.receive())["type"] == "http.disconnect":
            raise ClientDisconnect()

    async def _keep_up(self) -> None:
        if self.digests is not None:
            await self.digests.keep_up()
        while len(self._in_flight) > MAX_BLOCKS_IN_FLIGHT:
            await self._wait_oldest()
        if self._error is not None:
            raise self._error

    async def _wait_oldest(self) -> None:
        await wait(self._in_flight[0])  # not cancellable: a cancelled receive must not lose a running write
        self._in_flight.popleft()

    def _write_aligned(self, block: Block) -> None:
        self._write_block([block.body], block)

    def _write_block(self, parts: Sequence[bytes | memoryview], block: Block | None = None) -> None:
        if self._error is not None:
            return  # an earlier block failed: keep the file a prefix of the body
        done = 0
        try:
            if block is not None and isinstance(self._target, BlockWriter):
                done = self._target.write_block(block.memory, block.head, block.filled)
            else:
                done = self._target.write(parts)
        except PartialWrite as partial:
            done = partial.written
            cause = partial.cause
            self._error = DiskFull(cause.errno, cause.strerror) if is_disk_full(cause) else cause
        finally:
            if self.checksum is not None:
                _update_prefix(self.checksum, parts, done)
            self.written += done

    def checkpoint_running(self) -> bool:
        if self._checkpoint is None:
            return False
        if not self._checkpoint.done():
            return True
        sync: Future[None] = self._checkpoint.result()
        return not sync.done()

    def start_checkpoint(self, save: Callable[[int], None]) -> None:
        """Make what is dispatched so far durable and `save(offset)` it, once written, beside the writes and the
        receiving (which go on). The sync lane runs it after the last write it covers; no thread waits."""
        target = self.start + self.dispatched

        def run() -> None:
            end = min(target, self.start + self.written)  # less only if a write failed
            if isinstance(self._target, Checkpointer):
                end = min(end, self._target.checkpoint())
            else:
                self._target.sync()
            if end > self.durable:
                save(end)
                self.durable = end

        # Queued on the write lane (after the writes it covers), the checkpoint hands the sync to the sync lane
        # so the next writes need not wait for the disk to flush.
        self._checkpoint = self._writes.submit(lambda: self._syncs.submit(run))

    async def _wait_checkpoint(self) -> None:
        if self._checkpoint is None:
            return
        sync: Future[None] = await wait(self._checkpoint)
        try:
            await wait(sync)
        except OSError:
            pass  # a failed checkpoint leaves `durable` where it was; the final sync decides

    async def finish(self) -> None:
        """Write what is buffered, wait for every write and checkpoint; call it outside any cancelled scope."""
        try:
            if self._filling is not None:  # cut short while the server read into it: keep what arrived
                await self._dispatch_block(self._filling)
            await self._dispatch()
        finally:
            self._budget.blocks.release_later()
            with anyio.CancelScope(shield=True):
                while self._in_flight:
                    await self._wait_oldest()
                await self._wait_checkpoint()
        if self._error is not None:
            raise self._error

    async def sync(self) -> int:
        """Make the bytes written durable; the end offset of those kept (all of them, unless a streaming store
        dropped an object the request was cut short in the middle of)."""
        if isinstance(self._target, StreamingWriter):
            return int(await wait(self._writes.submit(self._target.sync_prefix)))
        await wait(self._writes.submit(self._target.sync))
        return self.start + self.written

    async def truncate(self, size: int) -> None:
        await wait(self._writes.submit(self._target.truncate, size))

    def close(self) -> None:
        self._drop_gathered()
        if self._filling is not None:
            self._drop_block(self._filling)
            self._filling = None
        self._target.close()


def prefix(chunk: bytes | Block, length: int) -> bytes | Block:
    """The first `length` bytes of a chunk (a block keeps its memory and is cut to them)."""
    if isinstance(chunk, Block):
        chunk.filled = min(chunk.filled, length)
        return chunk
    return chunk[:length]


def _give_back_when_done(
    budget: BufferBudget, size: int, futures: Sequence[Future[None]], block: Block | None = None
) -> None:
    """Give `size` bytes back to the budget (and `block` to its pool) once every future (the write, the digests)
    is done."""
    remaining = len(futures)
    lock = threading.Lock()

    def one_done(_: Future[None]) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            last = remaining == 0
        if last:
            if block is not None and block.pool is not None:
                block.pool.give(block)
            budget.give(size)

    for future in futures:
        future.add_done_callback(one_done)


def _update_prefix(digest: Digest, parts: Sequence[bytes | memoryview], length: int) -> None:
    """Feed the first `length` bytes of `parts` to `digest`."""
    for part in parts:
        if length <= 0:
            return
        digest.update(part[:length] if len(part) > length else part)
        length -= len(part)
