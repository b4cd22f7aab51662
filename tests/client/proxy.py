"""A loopback TCP proxy that counts the bytes it forwards and can cut connections at a chosen byte, once per armed cut.

Tests put it between the client and a real server: to prove that nothing was sent (the byte counters), and
to cut a transfer midway, in either direction, exactly once per armed cut. (tests/interop/cutting_proxy.py is the
other proxy: it cuts again and again at random points, as a bad network does.)
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass
class Cut:
    after: int  # cut once this many bytes have gone this way (counted from when the cut was armed)
    direction: str  # "up" (client to server) or "down"
    armed_at: int = 0
    done: threading.Event = field(default_factory=threading.Event)


class CountingProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self.cuts: list[Cut] = []
        self.captured_up = bytearray()  # the first MiB sent upstream, to look at request headers
        self._open: set[socket.socket] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut_after(self, n: int, direction: str = "up") -> Cut:
        """Arm a one-time cut of the connection carrying the n-th byte (from now) in `direction`."""
        with self.lock:
            cut = Cut(n, direction, self.bytes_up if direction == "up" else self.bytes_down)
            self.cuts.append(cut)
        return cut

    def reset_counters(self) -> None:
        with self.lock:
            self.bytes_up = self.bytes_down = self.connections = 0
            self.captured_up.clear()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()  # the server is down: the client sees a refused-like reset
                continue
            server.settimeout(None)
            with self.lock:
                self.connections += 1
                self._open.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                cut_now = False
                with self.lock:
                    total = self.bytes_up if direction == "up" else self.bytes_down
                    for cut in self.cuts:
                        if (
                            cut.direction == direction
                            and not cut.done.is_set()
                            and total + len(data) >= cut.armed_at + cut.after
                        ):
                            data = data[: max(0, cut.armed_at + cut.after - total)]
                            cut.done.set()
                            cut_now = True
                            break
                    if direction == "up":
                        self.bytes_up += len(data)
                        if len(self.captured_up) < (1 << 20):
                            self.captured_up += data[: (1 << 20) - len(self.captured_up)]
                    else:
                        self.bytes_down += len(data)
                if data:
                    sink.sendall(data)
                if cut_now:
                    break
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self.lock:
                self._open.discard(source)
                self._open.discard(sink)

    def close(self) -> None:
        self._closing = True
        self.listener.close()
        with self.lock:
            sockets = list(self._open)
        for s in sockets:
            try:
                s.close()
            except OSError:
                pass
