"""Re-"uploading" an unchanged file: the sidecar answers, against a real upload of the same file, in one run.

    python bench/dedup.py [--size-mib 1024] [--repeat 20]

Starts `fabric serve` on 127.0.0.1 with a fresh data dir, writes a file of random bytes, uploads it once
(timed: the reference), then calls `upload_artifact` again on the unchanged file `--repeat` times (timed: no
byte is read or sent; one GET checks the artifact still exists). The same in local mode. Goal: under 50 ms
for an unchanged 1 GiB file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from fabric import Fabric

MiB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = open(data_dir.parent / "server.log", "wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fabric",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("fabric serve did not become ready")


def write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, 16 * MiB))
            f.write(block)
            left -= len(block)


def measure(fab: Fabric, path: Path, repeat: int) -> tuple[float, list[float], str]:
    started = time.perf_counter()
    first = fab.upload_artifact(file_path=path)
    upload_s = time.perf_counter() - started
    again: list[float] = []
    for _ in range(repeat):
        started = time.perf_counter()
        artifact = fab.upload_artifact(file_path=path)
        again.append(time.perf_counter() - started)
        assert artifact.id == first.id, "the unchanged file was uploaded again"
    return upload_s, again, first.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="fabric-bench-dedup-"))
    process = None
    try:
        path = work / "input.bin"
        write_random(path, size)
        process, url = start_server(work / "data")
        rows = []
        for mode, make in (("platform", lambda: Fabric(url=url)), ("local", lambda: Fabric.local(work / "local"))):
            with make() as fab:
                upload_s, again, _ = measure(fab, path, args.repeat)
            median = statistics.median(again)
            rows.append((mode, upload_s, median, max(again)))
        print(f"unchanged-file re-upload vs real upload, {args.size_mib} MiB file, {args.repeat} repeats (median; max)")
        print("| mode | real upload | MiB/s | re-upload (dedup) median | max | speed-up | goal < 50 ms |")
        print("|---|---|---|---|---|---|---|")
        for mode, upload_s, median, worst in rows:
            print(
                f"| {mode} | {upload_s:.2f} s | {args.size_mib / upload_s:.0f} | {median * 1000:.2f} ms | {worst * 1000:.2f} ms | "
                f"{upload_s / median:,.0f}x | {'yes' if median < 0.05 else 'NO'} |"
            )
    finally:
        if process is not None:
            process.terminate()
            process.wait(15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
