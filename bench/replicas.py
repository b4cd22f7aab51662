"""Concurrent uploads through HAProxy to 1, 2 and 3 `fabric serve` replicas on S3 (versitygw), Neo4j and Redis.

Starts every part from `scripts/` (neo4j-server, redis-server, s3-server, balancer) on free loopback ports, then
for N = 1, 2, 3 replicas sends `--uploads` uploads of `--size` bytes at once (one PATCH each, one thread each)
through the balancer and reports the aggregate MiB/s and its ratio to N = 1, measured in the same run. Every
stored blob's sha256 is checked afterwards (outside the timing). On a machine with few cores the replicas share
them, so the ratio says what the balancer and the shared locks cost rather than how far it scales.

    python bench/replicas.py                          # 16 uploads of 64 MiB, 1/2/3 replicas
    python bench/replicas.py --uploads 8 --size 32MiB
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _servers
from _client import sha256_of_download, upload
from _report import MiB, parse_size

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
KEY, SECRET = "datafabric-bench", "datafabric-bench-secret"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def service(script: str, *args: str) -> Iterator[str]:
    """Run `scripts/<script> PORT ARGS...` until it prints `<script> ready <url>`; yields the URL."""
    port = _servers.free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    process = subprocess.Popen(
        [str(SCRIPTS / script), str(port), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(f"{script} ready") or line.startswith("neo4j-server ready"):
                url = next(word for word in line.split() if "://" in word)
                break
        else:
            raise SystemExit(f"{script} did not start")
        threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(60)


def one(create_url: str, payload: Path, size: int, outcomes: list[object]) -> None:
    try:
        outcomes.append(upload(create_url, payload, size, None))
    except Exception as exc:  # reported by the caller
        outcomes.append(exc)


def replica(work: Path, env: dict[str, str], name: str) -> _servers.ServerSpec:
    spec = _servers.datafabric()
    return _servers.ServerSpec(name, spec.command, spec.create_path, spec.ready, env=env)


def run(args: argparse.Namespace, work: Path) -> list[tuple[int, float]]:
    payload = work / "payload.bin"
    with open(payload, "wb") as out:
        out.write(os.urandom(args.size))
    expected = hashlib.sha256(payload.read_bytes()).hexdigest()
    results = []
    with ExitStack() as stack:
        neo4j = stack.enter_context(service("neo4j-server", str(work / "neo4j")))
        redis = stack.enter_context(service("redis-server", str(work / "redis")))
        s3 = stack.enter_context(service("s3-server", str(work / "s3")))
        for count in (1, 2, 3):
            env = {
                "AWS_ACCESS_KEY_ID": KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET,
                "FABRIC_S3_ENDPOINT": s3,
                "FABRIC_S3_BUCKET": f"bench-{count}",
                "FABRIC_S3_PATH_STYLE": "true",
                "FABRIC_REDIS_URL": redis,
                "FABRIC_GRAPH_URL": neo4j,
                "FABRIC_NAMESPACE": f"bench{count}",
            }
            with ExitStack() as replicas:
                running = [
                    replicas.enter_context(
                        _servers.running(
                            replica(work, env, f"r{n}"), work / f"data-{count}-{n}", work / f"r{count}-{n}.log"
                        )
                    )
                    for n in range(count)
                ]
                backends = [server.base_url.removeprefix("http://") for server in running]
                balancer = replicas.enter_context(service("balancer", *backends))
                outcomes: list[object] = []

                threads = [
                    threading.Thread(target=one, args=(f"{balancer}/v1/uploads", payload, args.size, outcomes))
                    for _ in range(args.uploads)
                ]
                started = time.monotonic()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                seconds = time.monotonic() - started
                failures = [o for o in outcomes if isinstance(o, Exception)]
                if failures:
                    raise SystemExit(f"{len(failures)} uploads failed with {count} replicas: {failures[0]}")
                for outcome in outcomes:
                    urn = outcome.final_headers.get("artifact-urn")  # type: ignore[attr-defined]
                    digest, length = sha256_of_download(f"{balancer}/v1/artifacts/{urn}/blob")
                    if (digest, length) != (expected, args.size):
                        raise SystemExit(f"{urn}: stored {length} bytes with sha256 {digest}")
                mib_s = args.uploads * args.size / seconds / MiB
                say(
                    f"{count} replica(s): {args.uploads} x {args.size / MiB:,.0f} MiB in {seconds:.1f} s = {mib_s:,.0f} MiB/s"
                )
                results.append((count, mib_s))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=16, help="concurrent uploads (default 16)")
    parser.add_argument("--size", type=parse_size, default=64 * MiB, help="bytes per upload (default 64MiB)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="datafabric-replicas-", dir="/tmp"))
    try:
        results = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = results[0][1]
    print(f"\n{args.uploads} concurrent uploads of {args.size / MiB:,.0f} MiB through HAProxy; {os.cpu_count()} CPUs")
    print("replicas  MiB/s  ratio to 1 replica")
    for count, mib_s in results:
        print(f"{count:>8}  {mib_s:5,.0f}  {mib_s / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
