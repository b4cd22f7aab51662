"""Group commit: creations and completions of artifacts from many threads share transactions, each caller gets
its own outcome after the commit, and `artifact.1` keeps its retract+assert history. Both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from aspects import AspectStore, Conflict, NotFound, new_urn
from tests.aspects.helpers import ARTIFACT, USER, artifact_content

WAIT = 60.0  # generous: the machine may be slow, and nothing here depends on it being fast


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def _in_threads(calls: list[Callable[[], object]]) -> list[object]:
    """Run each call in a thread of its own; their results (or exceptions), in order."""
    outcomes: list[object] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            outcomes[index] = calls[index]()
        except Exception as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive()
    return outcomes


def test_writes_waiting_for_the_lock_commit_as_one_batch(store: AspectStore) -> None:
    urns = [new_urn("artifact") for _ in range(6)]
    for urn in urns:
        store.create_artifact(urn, name="n.csv", uploader=USER)
    batches, jobs = store._group.batches, store._group.jobs
    contents = [artifact_content("n.csv", body=urn.encode()) for urn in urns]
    with store._lock:  # hold the writers back until all six wait in the queue
        threads_done: list[object] = []
        starter = threading.Thread(
            target=lambda: threads_done.extend(
                _in_threads(
                    [
                        lambda u=urn, c=content: store.complete_artifact(u, c, asserter=USER)
                        for urn, content in zip(urns, contents, strict=True)
                    ]
                )
            )
        )
        starter.start()
        _wait_for(lambda: len(store._group._queue) == len(urns))
    starter.join(WAIT)
    assert not starter.is_alive()
    assert [getattr(r, "status", r) for r in threads_done] == ["ready"] * len(urns)
    assert (store._group.batches - batches, store._group.jobs - jobs) == (1, len(urns))
    for urn, content in zip(urns, contents, strict=True):
        record = store.get_artifact(urn)
        assert record.status == "ready" and record.sha256 == content["sha256"]
        assert [a.schema for a in record.aspects or []] == [ARTIFACT]


def test_a_failing_write_fails_alone(store: AspectStore) -> None:
    done, fresh, missing = new_urn("artifact"), new_urn("artifact"), new_urn("artifact")
    for urn in (done, fresh):
        store.create_artifact(urn, name="f.csv", uploader=USER)
    store.complete_artifact(done, artifact_content("f.csv", body=b"one"), asserter=USER)
    with store._lock:
        outcomes: list[object] = []
        starter = threading.Thread(
            target=lambda: outcomes.extend(
                _in_threads(
                    [
                        lambda: store.complete_artifact(done, artifact_content("f.csv", body=b"two"), asserter=USER),
                        lambda: store.complete_artifact(fresh, artifact_content("f.csv", body=b"three"), asserter=USER),
                        lambda: store.complete_artifact(missing, artifact_content("f.csv"), asserter=USER),
                        lambda: store.create_artifact(new_urn("artifact"), name="g.csv", uploader=USER),
                    ]
                )
            )
        )
        starter.start()
        _wait_for(lambda: len(store._group._queue) == 4)
    starter.join(WAIT)
    assert not starter.is_alive()
    assert isinstance(outcomes[0], Conflict)
    assert getattr(outcomes[1], "status", None) == "ready"
    assert isinstance(outcomes[2], NotFound)
    assert getattr(outcomes[3], "status", None) == "pending"
    assert store.get_artifact(done).sha256 == artifact_content("f.csv", body=b"one")["sha256"]
    assert store.get_artifact(fresh).sha256 == artifact_content("f.csv", body=b"three")["sha256"]


def test_concurrent_uploads_all_become_ready(store: AspectStore) -> None:
    urns = [new_urn("artifact") for _ in range(24)]

    def upload(urn: str) -> str:
        store.create_artifact(urn, name="c.bin", uploader=USER)
        return store.complete_artifact(urn, artifact_content("c.bin", body=urn.encode()), asserter=USER).status

    assert _in_threads([lambda u=urn: upload(u) for urn in urns]) == ["ready"] * len(urns)
    listed = store.list_artifacts(limit=100).items
    assert {a.urn for a in listed} == set(urns)
    assert all(a.status == "ready" for a in listed)


def test_artifact_content_replaced_keeps_its_history(store: AspectStore) -> None:
    """`artifact.1` asserted again retracts the current one (retract+assert), so `at=` still sees the old one."""
    urn = new_urn("artifact")
    store.create_artifact(urn, name="h.csv", uploader=USER)
    store.complete_artifact(urn, artifact_content("h.csv", body=b"v1"), asserter=USER)
    first = store.get_artifact(urn).aspects or []
    assert len(first) == 1
    between = datetime.now(UTC)
    while datetime.now(UTC) <= between:  # microsecond clock: the next write is strictly later
        pass
    second = store.assert_aspect(urn, ARTIFACT, artifact_content("h2.csv", body=b"v2"), asserter=USER)
    current = store.query_aspects(entity=urn, schema=ARTIFACT).items
    assert [a.urn for a in current] == [second.urn]
    history = store.query_aspects(entity=urn, schema=ARTIFACT, include_retracted=True).items
    assert [a.urn for a in history] == [first[0].urn, second.urn]
    assert history[0].valid_to == second.valid_from and history[0].retracted_by == USER
    assert [a.urn for a in store.query_aspects(entity=urn, schema=ARTIFACT, at=between).items] == [first[0].urn]
    assert store.get_artifact(urn).name == "h2.csv"


@pytest.mark.parametrize("repeat", [1, 2])
def test_completion_is_idempotent(store: AspectStore, repeat: int) -> None:
    urn = new_urn("artifact")
    store.create_artifact(urn, name="i.csv", uploader=USER, created=datetime.now(UTC) - timedelta(days=1))
    content = artifact_content("i.csv", body=b"same")
    for _ in range(repeat + 1):
        assert store.complete_artifact(urn, content, asserter=USER).status == "ready"
    assert len(store.query_aspects(entity=urn, schema=ARTIFACT, include_retracted=True).items) == 1
