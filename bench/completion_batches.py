"""Upload completions written to the embedded graph in batches: the cost per upload by batch size.

A small upload's completion lane hands the uploads it stored together to `AspectStore.complete_artifacts`, one
transaction for the batch, each artifact created ready with its `artifact.1` (as an upload without links is). This
bench does the same on a fresh LadybugDB store in one thread, without HTTP, files or other threads. It prints
the wall and CPU time per upload for each `--batches` size, and the ratio of each to a batch of one, measured in
the same run. The figures split the graph's share of a batch into a fixed cost per transaction and a cost per
upload, so they show what a larger batch would save. They also split each upload's CPU between LadybugDB's
statements (the time inside `ladybug.Connection.execute`, `BEGIN` and `COMMIT` included) and the store's own Python
around them (validation, the rows, the group commit): what a leaner store could save at best.

    python bench/completion_batches.py                          # batches of 1, 4, 8, 16 and 64
    python bench/completion_batches.py --batches 1,4 --uploads 4000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import ladybug

from aspects.artifact_operations import NewArtifact
from aspects.store import AspectStore, open_store
from fabric.ingest import artifact_content

UPLOADER = "urn:fabric:user:bench"
Item = tuple[str, dict[str, object], str, NewArtifact]


def completion() -> Item:
    """One small upload's completion as the lane hands it on: a new URN, its `artifact.1`, the node to create."""
    now = datetime.now(UTC)
    sha256 = os.urandom(32).hex()
    content = artifact_content(
        name="small.bin",
        mime_type="application/octet-stream",
        size=4096,
        md5=None,
        sha256=sha256,
        location=f"file:///blobs/{sha256}",
        created=now,
        uploader=UPLOADER,
    )
    create = NewArtifact(
        name="small.bin",
        uploader=UPLOADER,
        created=now,
        properties={"upload_id": os.urandom(16).hex(), "org": None, "uploader_name": "bench"},
        org=None,
    )
    return f"urn:fabric:artifact:{os.urandom(16).hex()}", content, UPLOADER, create


class StatementClock:
    """CPU seconds spent inside `ladybug.Connection.execute` while installed (the store runs every statement,
    `BEGIN` and `COMMIT` too, through it, in this one thread)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._execute = ladybug.Connection.execute

    def __enter__(self) -> StatementClock:
        execute = self._execute

        def timed(connection: ladybug.Connection, *args: object, **kwargs: object) -> object:
            started = time.process_time()
            try:
                return execute(connection, *args, **kwargs)
            finally:
                self.seconds += time.process_time() - started

        ladybug.Connection.execute = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        ladybug.Connection.execute = self._execute  # type: ignore[method-assign]


def measure(store: AspectStore, batch: int, uploads: int) -> tuple[float, float, float]:
    """Milliseconds of wall time, CPU time, and CPU time inside LadybugDB's statements per upload, `uploads`
    completions in batches of `batch`."""
    batches = [[completion() for _ in range(batch)] for _ in range(max(1, uploads // batch))]
    with StatementClock() as statements:
        cpu, wall = time.process_time(), time.perf_counter()
        for items in batches:
            outcomes = store.complete_artifacts(items)
            failed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
            if failed:
                raise RuntimeError(f"{len(failed)} completion(s) failed; first: {failed[0]}")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = len(batches) * batch
    return wall / done * 1e3, cpu / done * 1e3, statements.seconds / done * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,4,8,16,64", help="comma-separated batch sizes (default 1,4,8,16,64)")
    parser.add_argument("--uploads", type=int, default=2000, help="completions per batch size and run (default 2000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per batch size (default 3)")
    parser.add_argument("--warm", type=int, default=200, help="completions first, not counted (default 200)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(size) for size in args.batches.split(",")]
    except ValueError:
        parser.error("--batches takes comma-separated whole numbers")
    if not sizes or min(sizes) <= 0 or args.uploads <= 0 or args.runs <= 0 or args.warm < 0:
        parser.error("--batches, --uploads and --runs must be positive, --warm not negative")
    with tempfile.TemporaryDirectory(prefix="datafabric-batches-") as work:
        store = open_store(None, Path(work), buffer_pool_size=256 << 20)
        try:
            for _ in range(args.warm):
                store.complete_artifacts([completion()])
            figures: dict[int, list[tuple[float, float, float]]] = {size: [] for size in sizes}
            for run in range(1, args.runs + 1):
                for size in sizes:  # interleaved, so that a graph growing over the run weighs on every size
                    wall, cpu, statements = measure(store, size, args.uploads)
                    figures[size].append((wall, cpu, statements))
                    print(
                        f"run {run}/{args.runs}  batch {size:3}: {wall:6.3f} ms wall, {cpu:6.3f} ms CPU per upload "
                        f"({statements:6.3f} in LadybugDB's statements)"
                    )
        finally:
            store.close()
    reference = statistics.median(cpu for _, cpu, _ in figures[sizes[0]])
    print(f"\n{args.uploads:,} completions per batch size and run, {args.runs} run(s), load {os.getloadavg()[0]:.1f}")
    print(
        f"| batch | ms wall per upload (median) | ms CPU per upload (median) | of which LadybugDB's statements "
        f"| CPU vs batch of {sizes[0]} |"
    )
    print("|---|---|---|---|---|")
    for size in sizes:
        wall = statistics.median(w for w, _, _ in figures[size])
        cpu = statistics.median(c for _, c, _ in figures[size])
        statements = statistics.median(s for _, _, s in figures[size])
        print(
            f"| {size} | {wall:.3f} | {cpu:.3f} | {statements:.3f} ({statements / cpu:.0%}) | {cpu / reference:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
