"""Upload throughput of datafabric against the reference tus servers, measured in the same run.

Uploads `--size` bytes (default 1 GiB) over loopback in one PATCH and in `--chunk` (64 MiB) PATCHes to:

- datafabric (`python -m fabric serve`), which also computes sha256 (and md5 with `--md5`) and stores the blob content-addressed;
  the stored blob's sha256 is checked after every upload (outside the timing);
- @tus/server with @tus/file-store, and tusd, installed on the fly into a cache directory;
- a null sink that discards the bytes: the ceiling of the client itself;

and measures `dd ... conv=fdatasync` on the same disk as the durable-write ceiling. Every configuration runs
`--runs` times, each on a freshly started server with an empty data directory; the table shows the median,
min and max, and ratios against @tus/server and tusd. See bench/README.md.

    python bench/upload_throughput.py                         # everything, 1 GiB, 3 runs
    python bench/upload_throughput.py --only datafabric --size 256MiB --runs 1
    python bench/upload_throughput.py --store s3 --only datafabric,tusd     # both on one versitygw
    python bench/upload_throughput.py --only datafabric,tusd --asgi granian  # datafabric's app under granian too
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _servers
import _tools
from _client import sha256_of_download, upload
from _report import MiB, Series, parse_size, table

TARGETS = ("datafabric", "tus-node", "tusd", "null", "dd")
S3_KEY, S3_SECRET = "datafabric-bench", "datafabric-bench-secret"
ALIASES = {"@tus/server": "tus-node", "tus-node-server": "tus-node", "sink": "null", "null-sink": "null"}
MODES = ("1 PATCH", "chunks")
DD_BLOCK = 4 << 20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=parse_size, default=1 << 30, help="bytes per upload, e.g. 1GiB, 256MiB (default 1GiB)"
    )
    parser.add_argument("--chunk", type=parse_size, default=64 * MiB, help="PATCH size in chunked mode (default 64MiB)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each configuration (default 3)")
    parser.add_argument(
        "--only",
        action="append",
        default=None,
        metavar="TARGET",
        help=f"measure only these (repeat or comma-separate): {', '.join(TARGETS)} (default: all)",
    )
    parser.add_argument(
        "--mode", action="append", choices=("single", "chunks"), default=None, help="only this mode (default both)"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="payload, data dirs and logs (default: a new dir under /tmp)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server logs) afterwards")
    parser.add_argument(
        "--store",
        choices=("file", "s3"),
        default="file",
        help="s3: datafabric and tusd's s3store on one versitygw started for the run (default file)",
    )
    parser.add_argument(
        "--asgi",
        action="append",
        default=None,
        metavar="SERVER",
        help="also run datafabric's app under these ASGI servers (uvicorn, granian, hypercorn; repeat or "
        "comma-separate) through bench/_serve_asgi.py, default configuration only",
    )
    args = parser.parse_args(argv)
    args.asgi = [a.strip() for item in (args.asgi or []) for a in item.split(",") if a.strip()]
    if set(args.asgi) - {"uvicorn", "granian", "hypercorn"}:
        parser.error("--asgi takes uvicorn, granian, hypercorn")
    wanted = [
        ALIASES.get(t.strip(), t.strip()) for item in (args.only or TARGETS) for t in item.split(",") if t.strip()
    ]
    unknown = sorted(set(wanted) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {', '.join(TARGETS)}")
    args.targets = [t for t in TARGETS if t in wanted]
    args.modes = [m for m, key in zip(MODES, ("single", "chunks")) if args.mode is None or key in args.mode]
    if args.size <= 0 or args.chunk <= 0 or args.runs <= 0:
        parser.error("--size, --chunk and --runs must be positive")
    return args


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_payload(path: Path, size: int) -> str:
    """Random bytes (nothing a server could compress or deduplicate away); returns their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        remaining = size
        while remaining:
            block = os.urandom(min(8 * MiB, remaining))
            digest.update(block)
            out.write(block)
            remaining -= len(block)
    return digest.hexdigest()


def filesystem_of(path: Path) -> str:
    result = subprocess.run(["df", "--output=source,fstype,target", str(path)], capture_output=True, text=True)
    lines = result.stdout.strip().splitlines()
    return " ".join(lines[-1].split()) if result.returncode == 0 and len(lines) > 1 else "?"


def run_dd(work: Path, size: int) -> float:
    """MiB/s of `dd if=/dev/zero bs=4M conv=fdatasync` into the work dir (dd's own timing)."""
    target = work / "dd.bin"
    count = max(1, -(-size // DD_BLOCK))
    os.sync()
    started = time.perf_counter()
    result = subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", f"bs={DD_BLOCK}", f"count={count}", "conv=fdatasync"],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    target.unlink()
    match = re.search(r"^(\d+) bytes.*copied, ([\d.,]+) s", result.stderr, re.MULTILINE)
    if match:
        return int(match.group(1)) / float(match.group(2).replace(",", ".")) / MiB
    return count * DD_BLOCK / elapsed / MiB


def build_specs(
    targets: list[str], work: Path, s3: str | None = None, asgi: list[str] | None = None
) -> list[_servers.ServerSpec]:
    asgi = asgi or []
    cache = _tools.cache_dir()
    specs = []
    if s3 is not None:  # the same S3 server for both; each its own bucket
        creds = {"AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_REGION": "us-east-1"}
        ours = {**creds, "FABRIC_S3_ENDPOINT": s3, "FABRIC_S3_BUCKET": "fabric-bench", "FABRIC_S3_PATH_STYLE": "true"}
        if "datafabric" in targets:
            specs.append(_servers.datafabric_s3(ours))
            specs.append(_servers.datafabric_s3(ours, "--md5"))
        if "tusd" in targets:
            specs.append(_servers.tusd_s3(_tools.ensure_tusd(cache), s3, "tusd-bench", creds))
        if "null" in targets:
            specs.append(_servers.null_sink())
        return specs
    if "datafabric" in targets:
        specs.append(_servers.datafabric())  # the default: sha256 of every upload, md5 only when an upload asks
        specs.append(_servers.datafabric("--md5"))  # md5 of every upload too
        specs.extend(_servers.datafabric_asgi(server) for server in asgi)
    if "tus-node" in targets:
        specs.append(_servers.tus_node(_tools.ensure_tus_node(cache), work / "tus-node"))
    if "tusd" in targets:
        specs.append(_servers.tusd(_tools.ensure_tusd(cache)))
    if "null" in targets:
        specs.append(_servers.null_sink())
    return specs


@contextmanager
def s3_server(work: Path, store: str) -> Iterator[str | None]:
    """One versitygw (scripts/s3-server) with the two buckets, for `--store s3`; None for the file stores."""
    if store != "s3":
        yield None
        return
    port = _servers.free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    script = Path(__file__).resolve().parent.parent / "scripts" / "s3-server"
    process = subprocess.Popen(
        [str(script), str(port), str(work / "s3")], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("s3-server ready"):
                break
        else:
            raise SystemExit("the S3 server (scripts/s3-server) did not start")
        url = f"http://127.0.0.1:{port}"
        import botocore.session
        from botocore.config import Config

        client = botocore.session.get_session().create_client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            config=Config(s3={"addressing_style": "path"}),
        )
        for bucket in ("fabric-bench", "tusd-bench"):
            client.create_bucket(Bucket=bucket)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def measure(args: argparse.Namespace, work: Path) -> list[Series]:
    with s3_server(work, args.store) as s3:
        return _measure(args, work, s3)


def _measure(args: argparse.Namespace, work: Path, s3: str | None) -> list[Series]:
    specs = build_specs(args.targets, work, s3, args.asgi)
    payload = work / "payload.bin"
    say(f"writing a {args.size / MiB:,.0f} MiB random payload to {payload}")
    expected = make_payload(payload, args.size)
    series = {(spec.name, mode): Series(spec.name, mode) for spec in specs for mode in args.modes}
    dd = Series("dd conv=fdatasync (disk ceiling)", "4 MiB writes")
    for run in range(1, args.runs + 1):  # round-robin, so drift of the machine hits every server alike
        for spec in specs:
            for mode in args.modes:
                slug = re.sub(r"[^a-z0-9]+", "-", spec.name.lower()).strip("-")
                data_dir = work / "data" / f"{slug}-{'single' if mode == MODES[0] else 'chunks'}-{run}"
                os.sync()  # flush the previous run's dirty pages before the clock starts
                with _servers.running(spec, data_dir, work / "logs" / f"{slug}.log") as server:
                    cpu_before = server.cpu_seconds()
                    result = upload(server.create_url, payload, args.size, None if mode == MODES[0] else args.chunk)
                    cpu = server.cpu_seconds() - cpu_before
                    if spec.name.startswith("datafabric"):  # the blob, from S3 with --store s3
                        verify_blob(server.base_url, result.final_headers, expected, args.size)
                shutil.rmtree(data_dir)
                mib_s = args.size / result.seconds / MiB
                series[(spec.name, mode)].mib_s.append(mib_s)
                series[(spec.name, mode)].cpu_s.append(cpu)
                say(
                    f"run {run}/{args.runs}  {spec.name:<12} {mode:<8} {mib_s:8,.0f} MiB/s  {result.seconds:6.2f} s  server CPU {cpu:5.1f} s"
                )
        if "dd" in args.targets:
            dd.mib_s.append(run_dd(work, args.size))
            say(f"run {run}/{args.runs}  dd conv=fdatasync     {dd.mib_s[-1]:8,.0f} MiB/s")
    return [*series.values(), dd]


def verify_blob(base_url: str, headers: dict[str, str], expected: str, size: int) -> None:
    urn = headers.get("artifact-urn")
    if not urn:
        raise SystemExit(f"datafabric finished the upload but sent no Artifact-Urn (headers: {headers})")
    digest, length = sha256_of_download(f"{base_url}/v1/artifacts/{urn}/blob")
    if (digest, length) != (expected, size):
        raise SystemExit(
            f"datafabric stored {length} bytes with sha256 {digest}; sent {size} bytes with sha256 {expected}"
        )


def tool_versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for argv in (["node", "--version"], ["go", "version"]):
        if shutil.which(argv[0]):
            parts.append(subprocess.run(argv, capture_output=True, text=True).stdout.strip())
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="datafabric-bench-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    ok = False
    load_before = os.getloadavg()[0]
    try:
        rows = measure(args, work)
        ok = True
    finally:
        if args.keep or not ok:
            say(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    references = {r.server: {} for r in rows}
    for r in rows:
        references[r.server][r.mode] = r
    print()
    print(
        f"upload of {args.size / MiB:,.0f} MiB over 127.0.0.1, chunks of {args.chunk / MiB:,.0f} MiB, {args.runs} run(s) each, "
        f"fresh server and empty data dir per run"
    )
    print(f"data dirs and payload on {work} ({filesystem_of(work.parent)}); {os.cpu_count()} CPUs; {tool_versions()}")
    if args.store == "s3":
        print("store: S3 — datafabric's S3 store and tusd's s3store on one versitygw v1.8.0 (posix backend, same disk)")
    print(
        f"1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine skews the figures)"
    )
    print(
        f"servers: datafabric (this checkout), @tus/server {_tools.TUS_NODE_VERSIONS['@tus/server']} + @tus/file-store "
        f"{_tools.TUS_NODE_VERSIONS['@tus/file-store']}, tusd {_tools.TUSD_VERSION}; client: http.client + socket.sendfile"
    )
    print()
    print(table(rows, references))
    print_aims(references)
    return 0


def print_aims(references: dict[str, dict[str, Series]]) -> None:
    node, tusd = references.get("@tus/server", {}), references.get("tusd", {})
    lines = []
    ours = [
        (name, mode, series)
        for name, by_mode in references.items()
        if name.startswith("datafabric")
        for mode, series in by_mode.items()
    ]
    for name, mode, series in ours:
        checks = []
        if mode in node:
            checks.append(f">= 3x @tus/server: {'yes' if series.median >= 3 * node[mode].median else 'NO'}")
        if mode in tusd:
            checks.append(f">= tusd: {'yes' if series.median >= tusd[mode].median else 'NO'}")
        if checks:
            lines.append(f"  {name} {mode}: " + ", ".join(checks))
    if lines:
        print("\naims (median vs median, same mode):")
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
