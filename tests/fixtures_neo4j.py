"""A real Neo4j Community server for the tests: `Neo4jServer` (reusable) and the session fixture `neo4j_url`.

The server is `scripts/neo4j-server` (Neo4j 5.26 embedded in a small JVM, Bolt only, auth disabled).
Set `FABRIC_TEST_NEO4J_URL=bolt://host:port` to run the tests against a server you started yourself.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVER_SCRIPT = REPO_ROOT / "scripts" / "neo4j-server"
URL_ENV = "FABRIC_TEST_NEO4J_URL"
READY_MARKER = "ready"
TAIL_LINES = 60


class Neo4jServerError(RuntimeError):
    """The server did not start; the message ends with the tail of its output."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Neo4jServer:
    """Runs `scripts/neo4j-server` in a child process until `stop()` (or the end of a `with` block).

    `data_dir=None` uses a temporary directory that is removed on stop. The child's output is drained
    continuously (so it never blocks on a full pipe) and its last lines are kept for error messages.
    The child watches its stdin, so it also goes away if this process dies without stopping it.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        port: int | None = None,
        startup_timeout: float = 240.0,
        heap: str | None = None,
    ) -> None:
        self._requested_data_dir = data_dir
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self.heap = heap
        self.port: int | None = None
        self.data_dir: Path | None = None
        self._own_data_dir = False
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._output: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    @property
    def url(self) -> str:
        if self.port is None or not self._ready.is_set():
            raise RuntimeError("Neo4j server is not running")
        return f"bolt://127.0.0.1:{self.port}"

    def output_tail(self) -> str:
        return "".join(self._output)

    def start(self) -> str:
        """Starts the server and blocks until it reports ready; returns its Bolt URL."""
        if self._process is not None:
            raise RuntimeError("Neo4j server already started")
        if self._requested_data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="neo4j-"))
            self._own_data_dir = True
        else:
            self.data_dir = self._requested_data_dir  # the script creates it
        self.port = self._requested_port or free_port()
        env = dict(os.environ, NEO4J_SERVER_EXIT_ON_STDIN_EOF="1")
        if self.heap:
            env["NEO4J_SERVER_HEAP"] = self.heap
        try:
            self._process = subprocess.Popen(
                [str(SERVER_SCRIPT), str(self.port), str(self.data_dir)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env=env,
                start_new_session=True,  # its own group, so stop() also reaches a Maven build in progress
            )
        except OSError as exc:
            self._cleanup_data_dir()
            raise Neo4jServerError(f"cannot run {SERVER_SCRIPT}: {exc}") from exc
        self._reader = threading.Thread(target=self._drain, name="neo4j-server-output", daemon=True)
        self._reader.start()
        self._await_ready()
        return self.url

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (clean shutdown), SIGKILL if it takes longer than `timeout`; idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                self._signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(process, signal.SIGKILL)
                    process.wait()
            if process.stdin is not None:
                try:
                    process.stdin.close()
                except OSError:
                    pass
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        self._ready.clear()
        self._cleanup_data_dir()

    def __enter__(self) -> Neo4jServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _await_ready(self) -> None:
        assert self._process is not None
        waited = 0.0
        while not self._ready.wait(0.2):
            waited += 0.2
            if self._process.poll() is not None:
                if self._reader is not None:
                    self._reader.join(timeout=5)  # collect its last words
                self._fail(f"Neo4j server exited with status {self._process.returncode} before it was ready")
            if waited >= self.startup_timeout:
                self._fail(f"Neo4j server was not ready within {self.startup_timeout:.0f} s")

    def _fail(self, reason: str) -> None:
        tail = self.output_tail()
        self.stop(timeout=10)
        raise Neo4jServerError(f"{reason}; last output of {SERVER_SCRIPT.name}:\n{tail}")

    def _drain(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            self._output.append(line)
            if READY_MARKER in line and line.startswith("neo4j-server"):
                self._ready.set()

    @staticmethod
    def _signal_group(process: subprocess.Popen[str], sig: signal.Signals) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass

    def _cleanup_data_dir(self) -> None:
        if self._own_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._own_data_dir = False


@pytest.fixture(scope="session")
def neo4j_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bolt URL of a real Neo4j server (auth disabled) shared by the whole session."""
    external = os.environ.get(URL_ENV)
    if external:
        yield external
        return
    with Neo4jServer(tmp_path_factory.mktemp("neo4j")) as server:
        yield server.url
