"""Artifact listings in other orders than newest first, and their totals, on the embedded LadybugDB graph.

Makes N artifacts (10 uploaders) in a temporary store, then times a 25-item page as one uploader sees it: newest
first (the reference: the in-memory order), by name, by size, `uploader=me`, and `count=true`'s counting query.
Each line prints its mean over 5 runs and its ratio to the reference measured in the same run.

    python bench/listing_orders.py            # 100,000 artifacts (about two minutes, most of it making them)
    python bench/listing_orders.py 20000
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aspects import Reader, open_store
from aspects.artifact_filter import ArtifactFilter

BATCH = 10_000


def timed(label: str, fn: Callable[[], Any], runs: int = 5) -> float:
    fn()  # warm
    started = time.perf_counter()
    for _ in range(runs):
        fn()
    ms = (time.perf_counter() - started) / runs * 1000
    print(f"{label:40s} {ms:8.1f} ms", end="")
    return ms


def main(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(None, Path(tmp))
        users = [f"urn:fabric:user:u{i}@bench.test" for i in range(10)]
        for start in range(0, count, BATCH):
            store.create_artifacts(
                [
                    {
                        "urn": f"urn:fabric:artifact:{uuid.uuid4()}",
                        "name": f"n-{uuid.uuid4().hex}",
                        "uploader": users[i % len(users)],
                        "org": "urn:fabric:org:bench",
                    }
                    for i in range(start, min(count, start + BATCH))
                ]
            )
        me = users[3]
        reader = Reader(user=me, org="urn:fabric:org:elsewhere")
        print(f"{count} artifacts, LadybugDB, as one of {len(users)} uploaders")
        reference = timed(
            "newest first (reference)", lambda: store.list_artifacts(ArtifactFilter(reader=reader), limit=25)
        )
        print()
        cases: list[tuple[str, Callable[[], Any]]] = [
            (
                "by name",
                lambda: store.list_artifacts(ArtifactFilter(reader=reader), limit=25, sort="name", descending=False),
            ),
            ("by size", lambda: store.list_artifacts(ArtifactFilter(reader=reader), limit=25, sort="size")),
            (
                "uploader=me, newest first",
                lambda: store.list_artifacts(ArtifactFilter(reader=reader, uploader=me), limit=25),
            ),
            ("count", lambda: store.count_artifacts(ArtifactFilter(reader=reader))),
            ("count, uploader=me", lambda: store.count_artifacts(ArtifactFilter(reader=reader, uploader=me))),
        ]
        for label, fn in cases:
            print(f"   x{timed(label, fn) / reference:.1f}")
        store.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
