"""Pending artifacts made ready on the embedded graph: CPU and private memory by checkpoint frequency.

Each measurement runs in a process of its own (a clean resident set): an aspect store on a fresh LadybugDB graph
creates `--count` pending artifacts one by one and makes each ready with an `artifact.1` that repeats its name,
creation time and uploader, as an upload's completion does (after `--warm` such artifacts, so that the graph's
first writes are not counted). It prints the CPU per artifact and the peak of private memory (`RssAnon`) over
the baseline, for each `--checkpoint-updates` (commits that update between checkpoints; 0: none, only LadybugDB's
WAL threshold).

    python bench/pending_completions.py                                  # 32, 64, 128 and none, 2 runs each
    python bench/pending_completions.py --checkpoint-updates 32 --runs 3 --count 5000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UPLOADER = "urn:fabric:user:bench@example.com"
STAMP = "2026-01-02T03:04:05Z"


def private_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


def measure(count: int, warm: int, checkpoint_updates: int) -> dict[str, float]:
    """In this process: the store, the artifacts, the figures."""
    sys.path.insert(0, str(REPO))
    from aspects import new_urn, open_store
    from aspects.backends import ladybug

    defaults = ladybug.LadybugBackend.__init__.__kwdefaults__
    assert defaults is not None
    defaults["checkpoint_updates"] = checkpoint_updates or 1 << 62
    created = datetime.fromisoformat(STAMP).astimezone(UTC)
    with tempfile.TemporaryDirectory() as data:
        store = open_store(None, Path(data) / "data")

        def one() -> None:
            urn = new_urn("artifact")
            store.create_artifact(urn, name="model.bin", uploader=UPLOADER, created=created)
            sha256 = hashlib.sha256(urn.encode()).hexdigest()
            content = {
                "name": "model.bin",
                "mime_type": "application/octet-stream",
                "size": len(urn),
                "md5": None,
                "sha256": sha256,
                "location": f"blob:sha256:{sha256}",
                "created": STAMP,
                "uploader": UPLOADER,
            }
            store.complete_artifact(urn, content, asserter=UPLOADER)

        for _ in range(warm):
            one()
        baseline = peak = private_mb()
        before = resource.getrusage(resource.RUSAGE_SELF)
        for n in range(count):
            one()
            if n % 8 == 0:
                peak = max(peak, private_mb())
        after = resource.getrusage(resource.RUSAGE_SELF)
        store.close()
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"cpu_ms": cpu / count * 1000, "private_mb": max(peak, private_mb()) - baseline}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1280, help="artifacts measured (default 1280)")
    parser.add_argument("--warm", type=int, default=64, help="artifacts before the measurement (default 64)")
    parser.add_argument("--runs", type=int, default=2, help="processes per setting (default 2)")
    parser.add_argument(
        "--checkpoint-updates",
        type=int,
        action="append",
        help="updating commits per checkpoint, 0 for none (repeat; default 32, 64, 128 and 0)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = args.checkpoint_updates or [32, 64, 128, 0]
    if args.child:
        print(json.dumps(measure(args.count, args.warm, settings[0])))
        return 0
    print(f"{args.count} pending artifacts made ready after {args.warm}, {args.runs} process(es) per setting")
    print()
    print("| updating commits per checkpoint | CPU per artifact (ms) | private memory over the baseline, peak (MB) |")
    print("|---|---|---|")
    for setting in settings:
        results = []
        for _ in range(args.runs):
            command = [sys.executable, __file__, "--child", "--count", str(args.count), "--warm", str(args.warm)]
            done = subprocess.run([*command, "--checkpoint-updates", str(setting)], capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(done.stderr[-2000:])
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        cpu = " / ".join(f"{r['cpu_ms']:.2f}" for r in results)
        memory = " / ".join(f"{r['private_mb']:+.1f}" for r in results)
        name = str(setting) if setting else "none (WAL threshold only)"
        print(f"| {name} | {cpu} (median {statistics.median(r['cpu_ms'] for r in results):.2f}) | {memory} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
