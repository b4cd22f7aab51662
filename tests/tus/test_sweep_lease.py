"""The expiry sweep runs only while the process holds the sweep lease (replicas sharing a store sweep it one at a
time): a real file store whose listing is counted, a sweeper every 10 ms, and a lease switched by the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio

from tus_server import FileUploadStore, TusConfig, TusServer, UploadInfo


class ListedStore(FileUploadStore):
    """The file store, counting how often the sweep lists its uploads."""

    listings = 0

    def ids(self) -> Iterator[str]:
        self.listings += 1
        return super().ids()


def test_only_the_lease_holder_sweeps(tmp_path: Path) -> None:
    store = ListedStore(tmp_path)
    store.create(UploadInfo(id="a" * 32, length=10, expires_at=datetime.now(UTC) - timedelta(hours=1)))
    held = threading.Event()
    asked = 0

    def lease() -> bool:
        nonlocal asked
        asked += 1
        return held.is_set()

    server = TusServer(store, TusConfig(sweep_interval=0.01), sweep_lease=lease)

    async def main() -> None:
        async with server.running(recover=False):
            with anyio.fail_after(60):
                while asked < 5:  # five rounds without the lease
                    await anyio.sleep(0.01)
            assert store.listings == 0
            held.set()
            with anyio.fail_after(60):
                while store.load("a" * 32) is not None:  # the expired upload goes once the lease is held
                    await anyio.sleep(0.01)
            assert store.listings >= 1

    anyio.run(main)
