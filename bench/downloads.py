"""Download throughput: large blobs read back whole over HTTP, by one client and by several at once.

Each server gets the same payloads, one tus upload each (as many as the most clients at once, each of its own
random bytes), then each client GETs its own whole (datafabric: `GET /v1/artifacts/{urn}/blob`; tusd: `GET` of
the upload's URL, which tusd serves with `sendfile`; tusd locks an upload while it is read, so clients sharing
one would wait for each other), on its own connection, reading into one reused buffer so that the client copies
each byte once and keeps nothing. The files are in the page cache for every run (every upload is downloaded
once first, and its sha256 checked against its payload's). Printed per server and number of clients: the aggregate rate (median of the runs), the server's
CPU seconds per GiB sent, and the ratio to tusd in the same run. The page cache read of the payload file
(`readinto`, one thread) is printed beside them as the ceiling on this machine.

    python bench/downloads.py                                # 1 GiB, 1 and 4 clients, 3 runs, datafabric and tusd
    python bench/downloads.py --size 256MiB --clients 8 --runs 5
    python bench/downloads.py --only datafabric

datafabric's payloads are also linked as the files of one artifact, whose tar (`GET /v1/artifacts/{urn}/archive
?format=tar`, one client) is downloaded in every run too and compared with one client's download of a blob.

On loopback the kernel charges the receiving side's TCP work partly to the sending process, so the CPU column
is an upper bound of what the server itself spends.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import _servers
import _tools
import httpx
from _client import at_once, sha256_of_download, upload
from _report import parse_size

TARGETS = ("datafabric", "tusd")
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
READ_BLOCK = 1 << 20


@dataclass(slots=True)
class Series:
    server: str
    clients: int
    rates: list[float] = field(default_factory=list)  # MiB/s in all, one per run
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per GiB sent


def read_whole(url: str) -> int:
    """GET `url` and read the body into one reused buffer; the bytes read."""
    parts = urlsplit(url)
    if parts.hostname not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the benchmark only talks to loopback, not {url}")
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        if response.status != 200:
            raise SystemExit(f"GET {url} answered {response.status} {response.read()[:300]!r}")
        buffer = memoryview(bytearray(READ_BLOCK))
        total = 0
        while n := response.readinto(buffer):
            total += n
        return total
    finally:
        conn.close()


def round_of(urls: list[str], clients: int, size: int) -> float:
    """`clients` downloads at once, the k-th of `urls[k]`; the seconds from the first request to the last byte."""
    seconds, counts = at_once([partial(read_whole, url) for url in urls[:clients]])
    for count in counts:
        if isinstance(count, BaseException):
            raise count
    if counts != [size] * clients:
        raise SystemExit(f"downloads of {size} bytes read {counts}")
    return seconds


def write_random(path: Path, size: int) -> tuple[str, int]:
    """`size` random bytes into `path`; their sha256 and length."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for start in range(0, size, 8 * MiB):
            block = os.urandom(min(8 * MiB, size - start))
            digest.update(block)
            out.write(block)
    return digest.hexdigest(), size


def archive_of(base_url: str, blob_urls: list[str], size: int) -> str:
    """The tar URL of a new artifact whose files are the blobs of `blob_urls` (each `size` bytes), linked by
    their sha256 (nothing is uploaded again)."""
    with httpx.Client(base_url=base_url, timeout=120) as client:
        made = client.post("/v1/artifacts", json={"name": "bench-archive"})
        made.raise_for_status()
        urn = made.json()["urn"]
        for index, url in enumerate(blob_urls):
            artifact = client.get(url.removeprefix(base_url).removesuffix("/blob"))
            artifact.raise_for_status()
            body = {"path": f"files/{index}.bin", "sha256": artifact.json()["sha256"], "size": size}
            client.post(f"/v1/artifacts/{urn}/files", json=body).raise_for_status()
        client.post(f"/v1/artifacts/{urn}/seal").raise_for_status()
    return f"{base_url}/v1/artifacts/{urn}/archive?format=tar"


def page_cache_rate(path: Path) -> float:
    """MiB/s of reading `path` (in the page cache) into one reused buffer."""
    buffer = memoryview(bytearray(READ_BLOCK))
    started = time.perf_counter()
    with open(path, "rb", buffering=0) as source:
        total = 0
        while n := source.readinto(buffer):
            total += n
    return total / (time.perf_counter() - started) / MiB


def download_url(server: _servers.Running, answer: dict[str, str], location: str) -> str:
    if server.spec.name.startswith("datafabric"):
        return f"{server.base_url}/v1/artifacts/{answer['artifact-urn']}/blob"
    return location


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=GiB, help="bytes of the blob (default 1GiB)")
    parser.add_argument("--clients", type=int, action="append", help="downloads at once (repeat; default 1 and 4)")
    parser.add_argument("--runs", type=int, default=3, help="rounds per server and client count (default 3)")
    parser.add_argument("--only", default=",".join(TARGETS), help=f"comma-separated subset of {', '.join(TARGETS)}")
    args = parser.parse_args(argv)
    wanted = [t.strip() for t in args.only.split(",") if t.strip()]
    if not wanted or set(wanted) - set(TARGETS):
        parser.error(f"--only takes {', '.join(TARGETS)}")
    levels = args.clients or [1, 4]
    specs = [_servers.datafabric()] if "datafabric" in wanted else []
    if "tusd" in wanted:
        specs.append(_servers.tusd(_tools.ensure_tusd(_tools.cache_dir())))

    work = Path(tempfile.mkdtemp(prefix="datafabric-downloads-", dir="/tmp"))
    try:
        payloads = [work / f"payload-{k}.bin" for k in range(max(levels))]
        expected = [write_random(path, args.size) for path in payloads]
        series = {(spec.name, level): Series(spec.name, level) for spec in specs for level in levels}
        cache_rates = []
        tar_url, tar_series = "", Series("", 1)
        with ExitStack() as stack:  # every server at once, so that the runs alternate between them
            servers = [
                stack.enter_context(_servers.running(spec, work / "data" / f"s{i}", work / "logs" / f"s{i}.log"))
                for i, spec in enumerate(specs)
            ]
            urls: dict[str, list[str]] = {}
            for server in servers:
                for payload, digest in zip(payloads, expected):
                    result = upload(server.create_url, payload, args.size, None)
                    url = download_url(server, result.final_headers, result.location)
                    if sha256_of_download(url) != digest:
                        raise SystemExit(f"{server.spec.name} sent back other bytes than were uploaded")
                    urls.setdefault(server.spec.name, []).append(url)
                if server.spec.name.startswith("datafabric"):
                    tar_url = archive_of(server.base_url, urls[server.spec.name], args.size)
                    tar_series = Series(f"{server.spec.name} tar of {len(payloads)} files", 1)
            for run in range(1, args.runs + 1):
                cache_rates.append(page_cache_rate(payloads[0]))
                for level in levels:
                    for server in servers:  # round-robin: each run sees every server under the same load
                        cpu = server.cpu_seconds()
                        seconds = round_of(urls[server.spec.name], level, args.size)
                        cpu = server.cpu_seconds() - cpu
                        sent = args.size * level
                        entry = series[(server.spec.name, level)]
                        entry.rates.append(sent / seconds / MiB)
                        entry.cpu.append(cpu / (sent / GiB))
                        print(
                            f"run {run}: {server.spec.name:<10} {level} client(s) {entry.rates[-1]:8,.0f} MiB/s, "
                            f"{entry.cpu[-1]:.2f} s CPU per GiB",
                            file=sys.stderr,
                            flush=True,
                        )
                if tar_url:
                    tar_server = next(server for server in servers if server.spec.name.startswith("datafabric"))
                    cpu = tar_server.cpu_seconds()
                    started = time.perf_counter()
                    received = read_whole(tar_url)
                    seconds = time.perf_counter() - started
                    tar_series.rates.append(received / seconds / MiB)
                    tar_series.cpu.append((tar_server.cpu_seconds() - cpu) / (received / GiB))
        print()
        print(
            f"{args.size / MiB:,.0f} MiB downloaded whole, {args.runs} run(s), medians; {os.cpu_count()} CPUs; "
            f"load average {os.getloadavg()[0]:.1f}; page cache read {statistics.median(cache_rates):,.0f} MiB/s"
        )
        print()
        print("| server | clients | MiB/s in all (median) | min - max | vs tusd | server CPU s per GiB |")
        print("|---|---|---|---|---|---|")
        for (name, level), entry in series.items():
            reference = series.get(("tusd", level))
            ratio = f"{statistics.median(entry.rates) / statistics.median(reference.rates):.2f}x" if reference else "-"
            print(
                f"| {name} | {level} | {statistics.median(entry.rates):,.0f} | {min(entry.rates):,.0f} - "
                f"{max(entry.rates):,.0f} | {ratio} | {statistics.median(entry.cpu):.2f} |"
            )
        blob = series.get(("datafabric", 1))
        if tar_series.rates:
            tar_rate = statistics.median(tar_series.rates)
            versus = f"{tar_rate / statistics.median(blob.rates):.2f}x of a blob's" if blob is not None else "-"
            print(
                f"| {tar_series.server} | 1 | {tar_rate:,.0f} | {min(tar_series.rates):,.0f} - "
                f"{max(tar_series.rates):,.0f} | {versus} | {statistics.median(tar_series.cpu):.2f} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
