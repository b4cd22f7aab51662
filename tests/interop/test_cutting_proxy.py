"""The cutting proxy's own behaviour: the resume tests are only as good as the cuts and holds it makes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.interop.cutting_proxy import CuttingProxy


@pytest.fixture
def sink() -> Iterator[tuple[int, list[int]]]:
    """A TCP server on loopback that counts the bytes each connection brings it."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            total = 0
            with conn:
                try:
                    while data := conn.recv(1 << 16):
                        total += len(data)
                except OSError:
                    pass
            received.append(total)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    listener.close()


def wait_for(condition, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_connection_is_cut_at_the_drawn_byte(sink: tuple[int, list[int]]) -> None:
    port, received = sink
    with (
        CuttingProxy(port, cut_every=100_000, jitter=0.0) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as c,
    ):
        with pytest.raises(OSError):
            for _ in range(100):
                c.sendall(b"x" * 10_000)
                time.sleep(0.001)
        wait_for(lambda: received)
        assert proxy.cuts == 1
        assert received == [100_000]


def test_a_held_connection_forwards_exactly_up_to_the_hold_then_is_cut_on_release(sink: tuple[int, list[int]]) -> None:
    port, received = sink
    with CuttingProxy(port, cut_every=10**9, jitter=0.0) as proxy:
        proxy.hold_at = 250_000
        c = socket.create_connection(("127.0.0.1", proxy.port))
        c.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 10
        while proxy.holding == 0 and time.monotonic() < deadline:
            try:
                sent += c.send(b"y" * 10_000)
            except BlockingIOError:
                time.sleep(0.01)
        assert proxy.holding == 1
        time.sleep(0.2)
        assert received == [] and proxy.forwarded == 250_000, "a held connection forwards nothing past the hold"
        proxy.release()
        wait_for(lambda: received)
        assert received == [250_000] and sent > 250_000
        assert proxy.holding == 0 and proxy.cuts == 0
        c.close()
