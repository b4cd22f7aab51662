"""A TCP proxy on 127.0.0.1 that cuts connections mid-transfer, for tus resume tests.

Every byte a client sends is forwarded to the upstream server and counted, across all connections. When the
count reaches the next cut point, the proxy forwards exactly up to it and then aborts that connection on both
sides (an RST to the client, the upstream socket dropped), as a broken network would. Cut points are every
`cut_every` bytes, give or take `jitter` (a fraction), drawn from an RNG seeded with `seed` so a failing run
can be replayed.

`hold_at` pauses instead: once that many bytes have been forwarded the connection carrying them stops reading
from its client until `release()`, and is then cut. A test can so catch an upload half-way however fast the
machine is, rather than racing it.

The proxy runs an asyncio loop in a daemon thread: `start()` returns once it listens, `stop()` closes every
connection and joins the thread. It is also a context manager.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import threading
from types import TracebackType

READ_SIZE = 64 << 10


class CuttingProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        cut_every: int,
        jitter: float = 0.2,
        seed: int = 0,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        if cut_every <= 0:
            raise ValueError("cut_every must be positive")
        self.upstream = (upstream_host, upstream_port)
        self.cut_every = cut_every
        self.jitter = jitter
        self._rng = random.Random(seed)
        self.port = 0
        self.forwarded = 0  # bytes forwarded client -> upstream, all connections
        self.cuts = 0
        self.connections = 0
        self.enabled = True  # when False, bytes pass untouched and are not counted towards cuts
        self.hold_at: int | None = None  # forwarded-byte count at which connections pause until release()
        self.holding = 0  # connections paused at hold_at right now
        self._next_cut = self._draw()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _draw(self) -> int:
        spread = int(self.cut_every * self.jitter)
        return self.cut_every + (self._rng.randint(-spread, spread) if spread else 0)

    # ---- lifecycle (called from the test's thread) ----------------------------------------------------

    def start(self) -> CuttingProxy:
        self._thread = threading.Thread(target=self._run, name="cutting-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the cutting proxy did not start")
        if self._error is not None:
            raise RuntimeError("the cutting proxy failed to start") from self._error
        return self

    def stop(self) -> None:
        if (
            self._loop is not None
            and self._stopped is not None
            and self._thread is not None
            and self._thread.is_alive()
        ):
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError("the cutting proxy did not stop")

    def __enter__(self) -> CuttingProxy:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def release(self) -> None:
        """Let go of every connection paused at `hold_at` (each is then cut) and stop holding."""
        self.hold_at = None

    # ---- the loop thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() if it happened before listening
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopped.wait()
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        upstream_writer: asyncio.StreamWriter | None = None
        cut = True  # anything but an orderly end drops both sides
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
            up = asyncio.create_task(self._pump_up(client_reader, upstream_writer))
            down = asyncio.create_task(self._pump_down(upstream_reader, client_writer))
            try:
                done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
                if up in done and not up.result():
                    await down  # the client finished sending; let the answer through
                cut = up in done and up.result()
            finally:
                up.cancel()
                down.cancel()
                await asyncio.gather(up, down, return_exceptions=True)
        except (OSError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # stop(): end quietly (asyncio's stream callback would log a cancelled handler as an error)
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    _abort(writer) if cut else writer.close()
            self._tasks.discard(task)

    async def _pump_up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Client -> upstream with cuts; True if this connection was cut, False at the client's EOF."""
        while data := await reader.read(READ_SIZE):
            if not self.enabled:
                writer.write(data)
                await writer.drain()
                continue
            room = self._next_cut - self.forwarded
            hold = self.hold_at
            if hold is not None and len(data) < room and self.forwarded + len(data) >= hold:
                await self._hold(data[: max(0, hold - self.forwarded)], writer)
                return True
            if len(data) < room:
                writer.write(data)
                self.forwarded += len(data)
                await writer.drain()
                continue
            writer.write(data[:room])
            self.forwarded += room
            await writer.drain()
            self._next_cut = self.forwarded + self._draw()
            self.cuts += 1
            return True
        if writer.can_write_eof():
            writer.write_eof()
        return False

    async def _hold(self, head: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(head)
        self.forwarded += len(head)
        await writer.drain()
        self.holding += 1
        try:
            while self.hold_at is not None:
                await asyncio.sleep(0.05)
        finally:
            self.holding -= 1

    @staticmethod
    async def _pump_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Drop the connection without a FIN: SO_LINGER 0 makes close() send an RST."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
