"""Small uploads per second: many 4 KiB tus uploads, one client after another and 8 clients at once.

Each upload is sent in two shapes, both measured in the same run against every server: a creation `POST`
followed by one `PATCH` carrying the bytes (two round trips, the shape most tus clients use), and one `POST`
that carries the bytes as well (creation-with-upload; tusd and @tus/server support it too). Each client keeps
one keep-alive connection. The same clients run against datafabric, tusd and @tus/server in one run, round-robin,
so the ratios mean something on a noisy machine; the figures alone do not.

    python bench/small_uploads.py                        # 2,000 uploads each way, all servers, both shapes
    python bench/small_uploads.py --only datafabric --count 500
    python bench/small_uploads.py --shapes post          # creation-with-upload only (or --shapes patch)
    python bench/small_uploads.py --same-content         # every upload the same bytes (deduplicated blobs)
    python bench/small_uploads.py --only datafabric,tusd --shapes patch \
        --ablate no-storage+no-graph,no-storage,no-storage+graph-behind   # what bounds datafabric's rate

By default every upload carries bytes of its own (generated before the clock starts), as real uploads do; with
`--same-content` all carry the same bytes, which a content-addressed store keeps once. `--ablate` adds datafabric
servers with parts of the work taken out (`_ablated_serve.py`: no storage, no graph, the graph written behind),
measured in the same rounds: what the rest of the path allows, against tusd.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import _ablated_serve
import _servers
import _tools
from _client import at_once

TARGETS = ("datafabric", "tusd", "tus-node")
TUS = {"Tus-Resumable": "1.0.0"}
SHAPES = {"patch": "POST+PATCH", "post": "POST w/ body"}  # how an upload is sent: two requests, or one


@dataclass(slots=True)
class Series:
    server: str
    mode: str
    rates: list[float] = field(default_factory=list)  # uploads per second, one per run
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per 1,000 uploads

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="uploads per measurement (default 2000)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per upload (default 4096)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the parallel mode (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="runs per server and mode (default 3)")
    parser.add_argument("--only", default=",".join(TARGETS), help=f"comma-separated subset of {', '.join(TARGETS)}")
    parser.add_argument(
        "--shapes",
        default=",".join(SHAPES),
        help="comma-separated: patch (POST then PATCH), post (creation-with-upload, one request); default both",
    )
    parser.add_argument("--creation-with-upload", action="store_true", help="the same as --shapes post")
    parser.add_argument(
        "--same-content", action="store_true", help="every upload sends the same bytes (default: distinct bytes each)"
    )
    parser.add_argument(
        "--ablate",
        default="",
        help="comma-separated datafabric variants to add, each parts joined by +: no-storage, no-graph, graph-behind",
    )
    args = parser.parse_args(argv)
    args.ablate = [variant.strip() for variant in args.ablate.split(",") if variant.strip()]
    for variant in args.ablate:
        if wrong := _ablated_serve.problem(variant):
            parser.error(f"--ablate {variant!r}: {wrong}")
    args.shapes = ["post"] if args.creation_with_upload else [s.strip() for s in args.shapes.split(",") if s.strip()]
    if not args.shapes or set(args.shapes) - set(SHAPES):
        parser.error(f"--shapes takes {', '.join(SHAPES)}")
    wanted = {t.strip() for t in args.only.split(",") if t.strip()}
    if unknown := wanted - set(TARGETS):
        parser.error(f"unknown target(s) {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    if args.count <= 0 or args.size <= 0 or args.clients <= 0 or args.runs <= 0:
        parser.error("--count, --size, --clients and --runs must be positive")
    args.targets = [t for t in TARGETS if t in wanted]
    return args


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SmallUploader:
    """One client: one keep-alive connection, uploads of `payloads` one after another."""

    def __init__(self, create_url: str, payloads: list[bytes], with_upload: bool) -> None:
        parts = urlsplit(create_url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("the benchmark only talks to loopback")
        self.create_url = create_url
        self.create_path = parts.path
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
        self.payloads = iter(payloads)
        self.with_upload = with_upload
        self.metadata = "filename " + base64.b64encode(b"small.bin").decode()

    def _send(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> http.client.HTTPResponse:
        self.conn.request(method, path, body=body, headers={**TUS, **headers})
        response = self.conn.getresponse()
        response.read()
        return response

    def upload_one(self) -> None:
        payload = next(self.payloads)
        size = str(len(payload))
        headers = {"Upload-Length": size, "Upload-Metadata": self.metadata}
        if self.with_upload:
            headers["Content-Type"] = "application/offset+octet-stream"
            created = self._send("POST", self.create_path, headers, payload)
            if created.status != 201 or created.getheader("Upload-Offset") != size:
                raise RuntimeError(
                    f"creation-with-upload answered {created.status} {created.getheader('Upload-Offset')}"
                )
            return
        created = self._send("POST", self.create_path, headers, None)
        if created.status != 201:
            raise RuntimeError(f"creation answered {created.status}")
        location = urlsplit(urljoin(self.create_url, created.getheader("Location") or "")).path
        patched = self._send(
            "PATCH",
            location,
            {"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            payload,
        )
        if patched.status != 204 or patched.getheader("Upload-Offset") != size:
            raise RuntimeError(f"PATCH answered {patched.status} {patched.getheader('Upload-Offset')}")

    def close(self) -> None:
        self.conn.close()


def timed_uploads(create_url: str, args: argparse.Namespace, clients: int, with_upload: bool) -> float:
    """Uploads per second over `args.count` uploads shared by `clients` threads."""
    per_client = [args.count // clients + (1 if i < args.count % clients else 0) for i in range(clients)]
    same = os.urandom(args.size) if args.same_content else None
    uploaders = [
        SmallUploader(create_url, [same or os.urandom(args.size) for _ in range(n)], with_upload) for n in per_client
    ]

    def work(uploader: SmallUploader, n: int) -> None:
        for _ in range(n):
            uploader.upload_one()

    try:
        elapsed, results = at_once([partial(work, u, n) for u, n in zip(uploaders, per_client, strict=True)])
    finally:
        for uploader in uploaders:
            uploader.close()
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}")
    return args.count / elapsed


def build_specs(targets: list[str], work: Path, args: argparse.Namespace) -> list[_servers.ServerSpec]:
    cache = _tools.cache_dir()
    specs = []
    if "datafabric" in targets:
        specs.append(_servers.datafabric())
    specs.extend(_servers.datafabric_ablated(variant) for variant in args.ablate)
    if "tusd" in targets:
        specs.append(_servers.tusd(_tools.ensure_tusd(cache)))
    if "tus-node" in targets:
        specs.append(_servers.tus_node(_tools.ensure_tus_node(cache), work / "tus-node"))
    return specs


def measure(args: argparse.Namespace, work: Path) -> list[Series]:
    specs = build_specs(args.targets, work, args)
    modes: list[tuple[str, Callable[[str], float]]] = []
    for shape in args.shapes:
        for clients in (1, args.clients):
            label = f"{clients} client{'s' if clients > 1 else ''}, {SHAPES[shape]}"
            modes.append((label, lambda url, c=clients, w=shape == "post": timed_uploads(url, args, c, w)))
    series = {(spec.name, mode): Series(spec.name, mode) for spec in specs for mode, _ in modes}
    for run in range(1, args.runs + 1):
        for spec in specs:
            for mode, run_mode in modes:
                slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")
                data_dir = work / "data" / f"{slug}-{run}-{re.sub(r'[^a-z0-9]+', '-', mode.lower())}"
                os.sync()
                with _servers.running(spec, data_dir, work / "logs" / f"{slug}.log") as server:
                    cpu_before = server.cpu_seconds()
                    rate = run_mode(server.create_url)
                    cpu = (server.cpu_seconds() - cpu_before) / args.count * 1000
                # The data dir stays until the end (`main` removes `work`): a removal of thousands of files made
                # the next server's file creations slower for minutes (system time per upload two to three times:
                # ext4 without a journal skips every inode freed in the last 60 to 360 s at each allocation; see
                # bench/README.md), and the next server is the other one.
                series[(spec.name, mode)].rates.append(rate)
                series[(spec.name, mode)].cpu.append(cpu)
                say(f"run {run}/{args.runs}  {spec.name:<12} {mode:<26} {rate:8,.0f} uploads/s  CPU {cpu:5.2f} s/1k")
    return list(series.values())


def table(rows: list[Series]) -> str:
    reference = {s.mode: s for s in rows if s.server == "tusd"}
    lines = [
        "| server | clients, shape | uploads/s (median) | min - max | vs tusd | server CPU s per 1,000 |",
        "|---|---|---|---|---|---|",
    ]
    for s in rows:
        ref = reference.get(s.mode)
        ratio = f"{s.median / ref.median:.2f}x" if ref else ""
        lines.append(
            f"| {s.server} | {s.mode} | {s.median:,.0f} | {min(s.rates):,.0f} - {max(s.rates):,.0f} | {ratio} "
            f"| {statistics.median(s.cpu):.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="datafabric-small-"))
    try:
        rows = measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    content = "the same bytes" if args.same_content else "distinct bytes"
    print(f"{args.count:,} uploads of {args.size:,} bytes each ({content}); load average {os.getloadavg()[0]:.1f}")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
