"""The ASGI server alone on the PATCH body path: a null ASGI app that reads a request body and drops it.

Runs the same app (`bench/_null_asgi.py`) under uvicorn (httptools, uvloop), `fabric-serve` (the same uvicorn with
`fabric serve`'s own protocol, `fabric.body_chunks.ServeProtocol`, which hands body chunks over without uvicorn's
two copies), granian and hypercorn, round-robin, and prints MiB/s, the server's CPU seconds per GiB (its child processes included)
and how many `receive()` calls the body took. What the HTTP server costs before the app does anything.

    python bench/asgi_servers.py                      # 512 MiB in one PATCH, 3 runs (needs pip install -e '.[bench]')
    python bench/asgi_servers.py --size 1GiB --runs 5
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _client import upload
from _report import MiB, parse_size
from _servers import free_port

BENCH_DIR = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
_TICKS = os.sysconf("SC_CLK_TCK")


def command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "_null_asgi:app", "--port", str(port), "--http", "httptools",
                "--loop", "uvloop", "--log-level", "warning"]  # fmt: skip
    if server == "fabric-serve":
        return [sys.executable, "-m", "uvicorn", "_null_asgi:app", "--port", str(port), "--http",
                "fabric.body_chunks:ServeProtocol", "--loop", "uvloop", "--log-level", "warning"]  # fmt: skip
    if server == "granian":
        return [str(BIN / "granian"), "--interface", "asgi", "--port", str(port), "--loop", "uvloop",
                "--log-level", "warning", "_null_asgi:app"]  # fmt: skip
    return [str(BIN / "hypercorn"), "-b", f"127.0.0.1:{port}", "-k", "uvloop", "_null_asgi:app"]


def cpu_seconds(pid: int) -> float:
    """CPU of the process and its children (granian serves from a worker process)."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = 0
    for one in [pid, *map(int, children)]:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def wait_listening(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=512 * MiB)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--servers", default="uvicorn,fabric-serve,granian,hypercorn")
    args = parser.parse_args()
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    results: dict[str, list[tuple[float, float, int]]] = {s: [] for s in servers}
    with tempfile.TemporaryDirectory(prefix="datafabric-asgi-") as work:
        payload = Path(work) / "payload.bin"
        with open(payload, "wb") as out:
            for _ in range(-(-args.size // (8 * MiB))):
                out.write(os.urandom(8 * MiB))
        for run in range(1, args.runs + 1):
            for server in servers:
                port = free_port()
                process = subprocess.Popen(
                    command(server, port), cwd=BENCH_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                try:
                    wait_listening(port)
                    time.sleep(0.5)
                    before = cpu_seconds(process.pid)
                    result = upload(f"http://127.0.0.1:{port}/files", payload, args.size, None)
                    cpu = cpu_seconds(process.pid) - before
                finally:
                    process.send_signal(signal.SIGTERM)
                    process.wait(15)
                chunks = int(result.final_headers.get("x-receive-calls", "0"))
                results[server].append((args.size / result.seconds / MiB, cpu / (args.size / (1 << 30)), chunks))
                print(f"run {run} {server:10} {results[server][-1][0]:6.0f} MiB/s", file=sys.stderr, flush=True)
    print(f"\none PATCH of {args.size / MiB:,.0f} MiB into a null ASGI app, {args.runs} runs, medians")
    print("| ASGI server | MiB/s | CPU s per GiB | receive() calls |")
    print("|---|---|---|---|")
    for server, rows in results.items():
        print(
            f"| {server} | {statistics.median(r[0] for r in rows):,.0f} | "
            f"{statistics.median(r[1] for r in rows):.2f} | {statistics.median(r[2] for r in rows):,.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
