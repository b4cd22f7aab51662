"""Server memory under many concurrent large uploads: peak RSS of `fabric serve` at 64 and 256 at once.

Each upload has a size between 256 KiB and 64 MiB (spread geometrically, so most are small and a few are large,
the same sizes in every run) and goes in one PATCH from its own thread and connection (`bench/_client.py`:
`socket.sendfile` from one random payload file, so the client holds no bytes in memory). All uploads of a round
start together behind a barrier. The server's peak resident set (VmHWM, reset after start-up through
`/proc/<pid>/clear_refs`) and its idle RSS are printed with the aggregate throughput, and each round's line tells
what the peak was made of (private, file-backed and shared memory, sampled every 20 ms); every stored blob is checked
against the payload's sha256 afterwards. tusd runs the same rounds as the reference (`--only` to leave it out).

    python bench/memory.py                                       # 64 and 256 concurrent, datafabric and tusd
    python bench/memory.py --concurrency 64 --only datafabric --runs 1
    python bench/memory.py --server-arg=--upload-buffer-budget=16777216
    python bench/memory.py --asgi granian                        # the same app under granian too
    python bench/memory.py --only datafabric --concurrency 64 --runs 1 --rounds 20   # a long-running server

With `--rounds N` each server takes N rounds back to back (a new set of uploads each time, all checked): the peak
is then over all of them, and a line per round tells the resident memory after it, so memory that only grows
with use shows (a fresh server per round hides it).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _servers
import _tools
from _client import at_once, sha256_of_download, upload
from _report import MiB, parse_size

KiB = 1 << 10
TARGETS = ("datafabric", "tusd")


def sizes(count: int, smallest: int, largest: int) -> list[int]:
    """`count` sizes from `smallest` to `largest`, evenly spread on a log scale (deterministic)."""
    if count == 1:
        return [largest]
    ratio = (largest / smallest) ** (1 / (count - 1))
    return [int(smallest * ratio**i) for i in range(count)]


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and its parts (RssAnon: heap and other private memory; RssFile: mapped code and files; RssShmem:
    shared anonymous mappings, which is what Python's `mmap.mmap(-1, n)` makes)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0])
    return fields


class PeakSampler:
    """The parts of the server's RSS when it was largest, sampled every 20 ms in a thread while a round runs
    (VmHWM gives the exact peak; this tells what it was made of)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                now = memory_kib(self.pid)
            except OSError:
                return
            if now.get("VmRSS", 0) > self.peak.get("VmRSS", 0):
                self.peak = now


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux: `echo 5 > /proc/PID/clear_refs`)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def run_round(create_url: str, payload: Path, lengths: list[int]) -> tuple[float, list[dict[str, str]]]:
    """Upload every length at once (one thread each); returns the seconds taken and each final answer."""
    calls = [partial(upload, create_url, payload, length, None) for length in lengths]
    seconds, results = at_once(calls)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise SystemExit(f"{len(failures)} of {len(lengths)} uploads failed; first: {failures[0]!r}")
    return seconds, [r.final_headers for r in results if not isinstance(r, BaseException)]


def check_blobs(base_url: str, lengths: list[int], answers: list[dict[str, str]], expected: dict[int, str]) -> None:
    """Every upload's blob, downloaded, is the payload's prefix of its length."""
    for length, answer in zip(lengths, answers, strict=True):
        url = f"{base_url}/v1/artifacts/{answer['artifact-urn']}/blob"
        if sha256_of_download(url) != (expected[length], length):
            raise SystemExit(f"the blob of a {length}-byte upload is not what was sent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, action="append", help="uploads at once (repeat; default 64 and 256)")
    parser.add_argument("--smallest", type=parse_size, default=256 * KiB, help="smallest upload (default 256KiB)")
    parser.add_argument("--largest", type=parse_size, default=64 * MiB, help="largest upload (default 64MiB)")
    parser.add_argument(
        "--runs", type=int, default=2, help="servers started, one after another, per concurrency (default 2)"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds each started server takes, back to back (default 1)"
    )
    parser.add_argument("--only", default=",".join(TARGETS), help=f"comma-separated subset of {', '.join(TARGETS)}")
    parser.add_argument("--server-arg", action="append", default=[], help="extra argument for fabric serve (repeat)")
    parser.add_argument(
        "--asgi", action="append", default=[], help="also datafabric's app under this ASGI server (granian, hypercorn)"
    )
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rounds < 1:
        parser.error("--runs and --rounds take 1 or more")
    wanted = [t.strip() for t in args.only.split(",") if t.strip()]
    if set(wanted) - set(TARGETS):
        parser.error(f"--only takes {', '.join(TARGETS)}")
    levels = args.concurrency or [64, 256]
    specs = []
    if "datafabric" in wanted:
        specs.append(_servers.datafabric(*args.server_arg))
        specs.extend(_servers.datafabric_asgi(server) for server in args.asgi)
    if "tusd" in wanted:
        specs.append(_servers.tusd(_tools.ensure_tusd(_tools.cache_dir())))

    work = Path(tempfile.mkdtemp(prefix="datafabric-memory-", dir="/tmp"))
    try:
        payload = work / "payload.bin"
        with open(payload, "wb") as out:
            for _ in range(-(-args.largest // (8 * MiB))):
                out.write(os.urandom(8 * MiB))
        rows = []
        for level in levels:
            lengths = sizes(level, args.smallest, args.largest)
            expected = {n: _prefix_sha256(payload, n) for n in set(lengths)}
            for spec in specs:
                peaks, idles, rates = [], [], []
                parts: list[dict[str, int]] = []
                for run in range(1, args.runs + 1):
                    slug = "".join(c if c.isalnum() else "-" for c in spec.name)
                    data_dir = work / "data" / f"{slug}-{level}-{run}"
                    os.sync()
                    with _servers.running(spec, data_dir, work / "logs" / f"{slug}.log") as server:
                        pid = server.process.pid
                        time.sleep(1)
                        idles.append(rss_kib(pid, "VmRSS") / 1024)
                        reset_peak(pid)
                        seconds, peak = 0.0, 0.0
                        peak_parts: dict[str, int] = {}
                        for round_ in range(1, args.rounds + 1):
                            try:
                                with PeakSampler(pid) as sampler:
                                    taken, answers = run_round(server.create_url, payload, lengths)
                            except SystemExit:
                                log = work / "logs" / f"{slug}.log"
                                print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
                                raise
                            seconds += taken
                            peak = rss_kib(pid, "VmHWM") / 1024  # the uploads' peak: read before the checks' downloads
                            if sampler.peak.get("VmRSS", 0) > peak_parts.get("VmRSS", 0):
                                peak_parts = sampler.peak
                            if spec.name.startswith("datafabric"):
                                check_blobs(server.base_url, lengths, answers, expected)
                            if args.rounds > 1:
                                print(
                                    f"{spec.name:<12} {level:4} at once, run {run}, round {round_}: "
                                    f"peak so far {peak:.0f} MiB, after the round {rss_kib(pid, 'VmRSS') / 1024:.0f} MiB "
                                    f"({rss_kib(pid, 'RssAnon') / 1024:.0f} private)",
                                    file=sys.stderr,
                                    flush=True,
                                )
                        peaks.append(peak)
                        parts.append(peak_parts)
                        rates.append(sum(lengths) * args.rounds / seconds / MiB)
                    shutil.rmtree(data_dir)
                    print(
                        f"{spec.name:<12} {level:4} at once, run {run}: peak RSS {peaks[-1]:6.0f} MiB "
                        f"(idle {idles[-1]:.0f} MiB; at the sampled peak {_parts(parts[-1])}), {rates[-1]:6.0f} MiB/s",
                        file=sys.stderr,
                        flush=True,
                    )
                rows.append((spec.name, level, statistics.median(peaks), max(peaks), statistics.median(idles), rates))
        total = {level: sum(sizes(level, args.smallest, args.largest)) / MiB for level in levels}
        print()
        print(
            f"concurrent uploads of {args.smallest // KiB} KiB to {args.largest // MiB} MiB (geometric spread), one PATCH "
            f"each, {args.runs} run(s) of {args.rounds} round(s) each; {os.cpu_count()} CPUs; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print()
        print(
            "| server | uploads at once | MiB in all | peak RSS MiB (median) | peak RSS MiB (max) | idle RSS MiB | MiB/s (median) |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, level, peak, worst, idle, rates in rows:
            print(
                f"| {name} | {level} | {total[level]:,.0f} | {peak:,.0f} | {worst:,.0f} | {idle:,.0f} | "
                f"{statistics.median(rates):,.0f} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _parts(fields: dict[str, int]) -> str:
    names = (("RssAnon", "anon"), ("RssFile", "file"), ("RssShmem", "shmem"))
    return " + ".join(f"{fields.get(key, 0) / 1024:.0f} {label}" for key, label in names) + " MiB"


def _prefix_sha256(path: Path, length: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = length
        while remaining:
            block = f.read(min(8 * MiB, remaining))
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
