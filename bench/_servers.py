"""Starting and stopping the servers under test, each on 127.0.0.1 with a fresh data directory.

A `ServerSpec` knows how to launch one kind of server; `running()` starts it, waits until it answers, yields
a `Running` (its creation URL and CPU counter) and stops it again, only ever signalling the process it started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _client import wait_http

BENCH_DIR = Path(__file__).resolve().parent
_TICKS = os.sysconf("SC_CLK_TCK")

TUS_NODE_SCRIPT = """\
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [host, port, directory] = process.argv.slice(2);
const server = new Server({ path: "/files", datastore: new FileStore({ directory }) });
server.listen({ host, port: Number(port) });
"""


@dataclass(frozen=True, slots=True)
class ServerSpec:
    name: str
    command: Callable[[int, Path], list[str]]  # (port, data dir) -> argv
    create_path: str  # where uploads are created
    ready: tuple[str, str, tuple[int, ...]]  # method, path, statuses meaning "ready"
    cwd: Path | None = None
    env: dict[str, str] | None = None


@dataclass(slots=True)
class Running:
    spec: ServerSpec
    process: subprocess.Popen
    base_url: str

    @property
    def create_url(self) -> str:
        return self.base_url + self.spec.create_path

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(spec: ServerSpec, data_dir: Path, log_path: Path) -> Iterator[Running]:
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            spec.command(port, data_dir),
            cwd=spec.cwd,
            env={**os.environ, **(spec.env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    server = Running(spec, process, f"http://127.0.0.1:{port}")
    try:
        method, path, ok = spec.ready
        try:
            wait_http(server.base_url + path, ok, method, alive=lambda: process.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{spec.name} did not start: {exc}\n--- {log_path} ---\n{tail}") from exc
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def datafabric(*extra: str) -> ServerSpec:
    return ServerSpec(
        name=" ".join(["datafabric", *extra]),
        command=lambda port, data: [
            sys.executable,
            "-m",
            "fabric",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--log-level",
            "warning",
            *extra,
        ],
        create_path="/v1/uploads",
        ready=("GET", "/readyz", (200,)),
    )


def datafabric_ablated(parts: str) -> ServerSpec:
    """datafabric with parts of its work taken out (`bench/_ablated_serve.py`; `parts` like `no-storage+no-graph`)."""
    plain = datafabric()
    return ServerSpec(
        name=f"datafabric [{parts.replace('+', ' + ')}]",
        command=lambda port, data: [
            sys.executable,
            str(BENCH_DIR / "_ablated_serve.py"),
            parts,
            *plain.command(port, data)[3:],
        ],
        create_path=plain.create_path,
        ready=plain.ready,
    )


def datafabric_asgi(server: str, *extra: str) -> ServerSpec:
    """datafabric's app under another ASGI server (`bench/_serve_asgi.py`); `extra` may be `--md5`."""
    return ServerSpec(
        name=" ".join([f"datafabric [{server}]", *extra]),
        command=lambda port, data: [
            sys.executable,
            str(BENCH_DIR / "_serve_asgi.py"),
            server,
            "--port",
            str(port),
            "--data-dir",
            str(data),
            *extra,
        ],
        create_path="/v1/uploads",
        ready=("GET", "/readyz", (200,)),
    )


def datafabric_s3(s3_env: dict[str, str], *extra: str) -> ServerSpec:
    """datafabric with uploads and blobs in S3 (`s3_env`: FABRIC_S3_* and AWS_* settings)."""
    spec = datafabric(*extra)
    return ServerSpec(
        name=spec.name,  # the same names as on the file store: the table's ratios find their references
        command=spec.command,
        create_path=spec.create_path,
        ready=spec.ready,
        env=s3_env,
    )


def tusd_s3(binary: Path, endpoint: str, bucket: str, aws_env: dict[str, str]) -> ServerSpec:
    """tusd with its s3store on the same S3 server."""
    return ServerSpec(
        name="tusd",
        command=lambda port, data: [
            str(binary),
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-s3-bucket",
            bucket,
            "-s3-endpoint",
            endpoint,
            "-base-path",
            "/files/",
            "-verbose=false",
            "-show-startup-logs=false",
            "-expose-metrics=false",
        ],
        create_path="/files/",
        ready=("OPTIONS", "/files/", (200, 204)),
        env=aws_env,
    )


def tusd(binary: Path) -> ServerSpec:
    return ServerSpec(
        name="tusd",
        command=lambda port, data: [
            str(binary),
            "-host",
            "127.0.0.1",
            "-port",
            str(port),
            "-upload-dir",
            str(data),
            "-base-path",
            "/files/",
            "-verbose=false",
            "-show-startup-logs=false",
            "-expose-metrics=false",
        ],
        create_path="/files/",
        ready=("OPTIONS", "/files/", (200, 204)),
    )


def tus_node(node_root: Path, script_dir: Path) -> ServerSpec:
    """@tus/server with @tus/file-store; the server script is written into `script_dir` next to a node_modules link."""
    script_dir.mkdir(parents=True, exist_ok=True)
    script = script_dir / "tus-node-server.mjs"
    script.write_text(TUS_NODE_SCRIPT)
    modules = script_dir / "node_modules"
    if not modules.exists():
        modules.symlink_to(node_root / "node_modules", target_is_directory=True)
    return ServerSpec(
        name="@tus/server",
        command=lambda port, data: ["node", str(script), "127.0.0.1", str(port), str(data)],
        create_path="/files",
        ready=("OPTIONS", "/files", (200, 204)),
        cwd=script_dir,
    )


def null_sink() -> ServerSpec:
    return ServerSpec(
        name="null sink",
        command=lambda port, data: [sys.executable, str(BENCH_DIR / "_null_sink.py"), str(port)],
        create_path="/v1/uploads",
        ready=("GET", "/", (200,)),
    )
