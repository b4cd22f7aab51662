"""One writer per upload, with take-over.

A client whose connection died often reconnects while the server still waits on the old, half-open request.
Like tusd, a new request for an upload asks the running one to stop: the running request's receive loop is
cancelled, it saves what it durably wrote and releases the lock, and the new request goes on from there.
Bytes of two requests therefore never interleave, and a reconnecting client is never locked out.

`UploadLocker` is the seam (tusd's `Locker`): `UploadLocks` serves one process and is the default; a
locker shared by several processes (Redis, say) implements the same protocol, and must make a `hold` in any
process cancel the `receiving()` scope of the request holding the upload in another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from tus_server.errors import LOCKED


class HeldLock(Protocol):
    """What a request holding an upload has."""

    @property
    def interrupted(self) -> bool:
        """A newer request asked for the upload."""
        ...

    def receiving(self) -> AbstractContextManager[anyio.CancelScope]:
        """Marks the part of the request (reading the body) that a newer request may cancel."""
        ...


class UploadLocker(Protocol):
    def hold(self, upload_id: str) -> AbstractAsyncContextManager[HeldLock]:
        """Hold the upload; a holder still receiving is asked to stop. `LOCKED` (423) if it does not let go
        within the take-over timeout."""
        ...

    async def settled(self, upload_id: str, timeout: float = 5.0) -> bool:
        """Wait while a holder that stopped receiving saves what it received; True if it waited."""
        ...

    async def is_busy(self, upload_id: str) -> bool:
        """A request holds the upload right now."""
        ...

    def running(self) -> AbstractAsyncContextManager[None]:
        """Entered while the server runs: a shared locker listens for take-over requests of other processes."""
        ...


@dataclass(eq=False)
class _Holder:
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    receive_scope: anyio.CancelScope | None = None
    receiving: bool = False  # the holder is reading a body (rather than saving what it read)
    users: int = 0


class UploadLock:
    """Held by one request; `receiving()` marks the part that a newer request may interrupt."""

    def __init__(self, holder: _Holder) -> None:
        self._holder = holder

    @property
    def interrupted(self) -> bool:
        scope = self._holder.receive_scope
        return scope is not None and scope.cancel_called

    @contextmanager
    def receiving(self) -> Iterator[anyio.CancelScope]:
        with anyio.CancelScope() as scope:
            self._holder.receive_scope = scope
            self._holder.receiving = True
            try:
                yield scope
            finally:
                self._holder.receiving = False


class UploadLocks:
    """Locks of the uploads of one process (one event loop)."""

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        yield  # nothing runs in the background for the locks of one process

    def __init__(self, takeover_timeout: float = 10.0) -> None:
        self._holders: dict[str, _Holder] = {}
        self.takeover_timeout = takeover_timeout

    def interrupt(self, upload_id: str) -> bool:
        """Stop the receive loop of the request holding the upload, if it is receiving; True if there was one."""
        holder = self._holders.get(upload_id)
        if holder is None or holder.receive_scope is None or not holder.receiving:
            return False
        holder.receive_scope.cancel()
        return True

    async def is_busy(self, upload_id: str) -> bool:
        holder = self._holders.get(upload_id)
        return holder is not None and holder.lock.locked()

    async def settled(self, upload_id: str, timeout: float = 5.0) -> bool:
        """Wait while a request for the upload is saving what it received, so that a HEAD right after a cut
        connection reports the offset that request ends with; a request still receiving is not waited for.
        True if it waited (what was read of the upload before may be stale)."""
        holder = self._holders.get(upload_id)
        if holder is None or not holder.lock.locked() or holder.receiving:
            return False
        holder.users += 1
        try:
            with anyio.move_on_after(timeout):
                async with holder.lock:
                    pass
        finally:
            holder.users -= 1
            if holder.users == 0:
                self._holders.pop(upload_id, None)
        return True

    @asynccontextmanager
    async def hold(self, upload_id: str) -> AsyncIterator[UploadLock]:
        holder = self._holders.setdefault(upload_id, _Holder())
        holder.users += 1
        try:
            if holder.lock.locked() and holder.receive_scope is not None:
                holder.receive_scope.cancel()
            with anyio.move_on_after(self.takeover_timeout) as waited:
                await holder.lock.acquire()
            if waited.cancelled_caught:
                raise LOCKED(
                    "another request holds this upload and did not release it in time; retry shortly",
                )
            try:
                holder.receive_scope = None
                yield UploadLock(holder)
            finally:
                holder.receive_scope = None
                holder.lock.release()
        finally:
            holder.users -= 1
            if holder.users == 0:
                self._holders.pop(upload_id, None)
