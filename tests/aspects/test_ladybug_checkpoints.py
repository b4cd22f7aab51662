"""The embedded graph checkpoints after a number of commits that updated or deleted, so that the versions those
updates keep in memory until a checkpoint stay bounded (LadybugDB only: Neo4j manages its own memory).

A checkpoint is seen on disk: LadybugDB removes its WAL file once the WAL is folded into the graph.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from aspects.backends.ladybug import LadybugBackend


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[LadybugBackend]:
    backend = LadybugBackend(tmp_path / "graph", 64 << 20, checkpoint_updates=3)
    backend.run("CREATE NODE TABLE T(urn STRING PRIMARY KEY, v INT64)")
    backend.run("CREATE (:T {urn: 'a', v: 0})")
    yield backend
    backend.close()


def wal(tmp_path: Path) -> Path:
    return tmp_path / "graph.wal"


def update(backend: LadybugBackend, value: int) -> None:
    with backend.transaction():
        backend.run("MATCH (t:T {urn: 'a'}) SET t.v = $v", {"v": value})


def test_the_third_updating_commit_checkpoints(backend: LadybugBackend, tmp_path: Path) -> None:
    update(backend, 1)
    update(backend, 2)
    assert wal(tmp_path).exists()
    update(backend, 3)
    assert not wal(tmp_path).exists()
    assert backend.run("MATCH (t:T {urn: 'a'}) RETURN t.v AS v") == [{"v": 3}]
    update(backend, 4)
    update(backend, 5)
    assert wal(tmp_path).exists()  # counted again from the checkpoint
    backend.run("MATCH (t:T {urn: 'a'}) SET t.v = 6")  # a statement of its own is a commit too
    assert not wal(tmp_path).exists()


def test_creations_rollbacks_and_merges_that_create_are_not_counted(backend: LadybugBackend, tmp_path: Path) -> None:
    update(backend, 1)
    update(backend, 2)
    for k in range(5):
        with backend.transaction():
            backend.run("CREATE (:T {urn: $u, v: 1})", {"u": f"new-{k}"})
        backend.run("MERGE (t:T {urn: $u}) ON CREATE SET t.v = 1", {"u": f"merged-{k}"})
    with pytest.raises(RuntimeError, match="undone"), backend.transaction():
        backend.run("MATCH (t:T {urn: 'a'}) SET t.v = 99")
        raise RuntimeError("undone")
    assert wal(tmp_path).exists()
    assert backend.run("MATCH (t:T {urn: 'a'}) RETURN t.v AS v") == [{"v": 2}]
    with backend.transaction():
        backend.run("MATCH (t:T {urn: 'new-0'}) DELETE t")
    assert not wal(tmp_path).exists()


MAKE_READY = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from aspects import new_urn, open_store
    from tests.aspects.helpers import USER, artifact_content

    def anon_mb():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024

    store = open_store(None, Path(sys.argv[1]))
    def one():
        urn = new_urn("artifact")
        store.create_artifact(urn, name="x.bin", uploader=USER, created=datetime.now(UTC))
        store.complete_artifact(urn, artifact_content("x.bin", body=urn.encode()), asserter=USER)
    for _ in range(64):  # the first writes' own memory (indexes, relationship arrays) before the baseline
        one()
    before = anon_mb()
    for _ in range(384):
        one()
    print(json.dumps({"growth": anon_mb() - before}))
    store.close()
    """
)


def test_memory_stays_bounded_while_pending_artifacts_are_made_ready(tmp_path: Path) -> None:
    """Each pending artifact made ready is an update; without the checkpoints every one of them held about
    170 KB until the WAL reached its threshold (384 of them: 64 MB). In a process of its own, for a clean RSS."""
    done = subprocess.run(
        [sys.executable, "-c", MAKE_READY, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    growth = json.loads(done.stdout.strip().splitlines()[-1])["growth"]
    assert growth < 24, f"private memory grew {growth:.1f} MB over 384 completions"
