"""Group commit: creations and completions of artifacts from many threads share transactions, each caller gets
its own outcome after the commit, and `artifact.1` keeps its retract+assert history. Both backends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from aspects import AspectStore, Conflict, NewArtifact, NotFound, ValidationFailed, new_urn
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


def _in_one_batch(store: AspectStore, calls: list[Callable[[], object]]) -> list[object]:
    """Run each call in a thread of its own, all queued on the group commit before any runs (the store's lock is
    held until they are): their outcomes, in order."""
    with store._lock:
        outcomes: list[object] = []
        starter = threading.Thread(target=lambda: outcomes.extend(_in_threads(calls)))
        starter.start()
        _wait_for(lambda: len(store._group._queue) == len(calls))
    starter.join(WAIT)
    assert not starter.is_alive()
    return outcomes


def test_writes_waiting_for_the_lock_commit_as_one_batch(store: AspectStore) -> None:
    urns = [new_urn("artifact") for _ in range(6)]
    for urn in urns:
        store.create_artifact(urn, name="n.csv", uploader=USER)
    batches, jobs = store._group.batches, store._group.jobs
    contents = [artifact_content("n.csv", body=urn.encode()) for urn in urns]
    combined: list[int] = []
    complete_many = store._complete_many

    def counting(tx: Any, items: list[Any]) -> list[Any]:
        combined.append(len(items))
        return complete_many(tx, items)

    store._complete_many = counting  # type: ignore[method-assign]
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
    assert combined == [len(urns)]  # one call wrote them all, a statement per step
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


def test_combined_completions_each_get_their_own_outcome(store: AspectStore) -> None:
    """One batch, written a statement per step for all: creations with completion, plain completions, the same
    URN twice (same content: both ready, one `artifact.1`; other content: a Conflict) and an unknown URN."""
    plain, twice, clash, created, missing = (new_urn("artifact") for _ in range(5))
    for urn in (plain, twice, clash):
        store.create_artifact(urn, name="p.csv", uploader=USER)
    same = artifact_content("t.csv", body=b"same")
    calls: list[Callable[[], object]] = [
        lambda: store.complete_artifact(plain, artifact_content("p.csv", body=b"p"), asserter=USER),
        lambda: store.complete_artifact(twice, same, asserter=USER),
        lambda: store.complete_artifact(clash, artifact_content("c.csv", body=b"first"), asserter=USER),
        lambda: store.complete_artifact(
            created, artifact_content("n.csv", body=b"n"), asserter=USER, create=NewArtifact("n.csv", USER)
        ),
        lambda: store.complete_artifact(missing, artifact_content("m.csv"), asserter=USER),
        lambda: store.complete_artifact(twice, same, asserter=USER),
        lambda: store.complete_artifact(clash, artifact_content("c.csv", body=b"second"), asserter=USER),
    ]
    batches = store._group.batches
    outcomes = _in_one_batch(store, calls)
    assert store._group.batches == batches + 1  # all of them in one transaction
    by_urn = dict.fromkeys([plain, twice, created], "ready")
    for outcome, urn in zip(outcomes, [plain, twice, None, created, None, twice, None], strict=True):
        if urn is not None:
            assert getattr(outcome, "urn", None) == urn and getattr(outcome, "status", None) == by_urn[urn]
    assert isinstance(outcomes[4], NotFound)
    first, second = outcomes[2], outcomes[6]  # the order the threads queued in decides which one wins
    assert {type(first), type(second)} == {Conflict, type(store.get_artifact(plain))}
    winner = b"first" if not isinstance(first, Conflict) else b"second"
    assert store.get_artifact(clash).sha256 == artifact_content("c.csv", body=winner)["sha256"]
    for urn in (plain, twice, clash, created):
        history = store.query_aspects(entity=urn, schema=ARTIFACT, include_retracted=True).items
        assert len(history) == 1 and history[0].valid_to is None
    assert store.get_artifact(created).name == "n.csv"
    assert store.get_artifact(twice).sha256 == same["sha256"]


def test_combined_creations_of_one_urn_create_it_once(store: AspectStore) -> None:
    urn, other = new_urn("artifact"), new_urn("artifact")
    calls: list[Callable[[], object]] = [
        lambda: store.create_artifact(urn, name="a.csv", uploader=USER),
        lambda: store.create_artifact(other, name="b.csv", uploader=USER),
        lambda: store.create_artifact(urn, name="a.csv", uploader=USER),
    ]
    outcomes = _in_one_batch(store, calls)
    assert [getattr(o, "urn", o) for o in outcomes] == [urn, other, urn]
    assert [getattr(o, "status", o) for o in outcomes] == ["pending"] * 3
    assert {a.urn for a in store.list_artifacts(limit=10).items} == {urn, other}


def test_a_completion_of_an_artifact_no_longer_ready_replaces_its_content(store: AspectStore) -> None:
    """Only a `pending` (or `abandoned`) artifact is known to have no current `artifact.1`: any other status not
    `ready` has its current one closed before the new one is asserted."""
    urn = new_urn("artifact")
    store.create_artifact(urn, name="d.csv", uploader=USER)
    store.complete_artifact(urn, artifact_content("d.csv", body=b"old"), asserter=USER)
    assert store.backend.run(store._q.SET_ARTIFACT_STATUS, {"urn": urn, "from": ["ready"], "to": "deleted"})
    store.complete_artifact(urn, artifact_content("d.csv", body=b"new"), asserter=USER)
    history = store.query_aspects(entity=urn, schema=ARTIFACT, include_retracted=True).items
    assert len(history) == 2 and history[0].valid_to == history[1].valid_from and history[1].valid_to is None
    assert [a.urn for a in store.query_aspects(entity=urn, schema=ARTIFACT).items] == [history[1].urn]
    record = store.get_artifact(urn)
    assert record.status == "ready" and record.sha256 == artifact_content("d.csv", body=b"new")["sha256"]


@pytest.mark.parametrize("create", [False, True])
def test_absent_values_stay_absent(store: AspectStore, create: bool) -> None:
    """No md5 and no organisation are null in the graph, not '' (the combined statements carry them as '')."""
    urn = new_urn("artifact")
    content = {**artifact_content("e.csv"), "md5": None}
    if not create:
        store.create_artifact(urn, name="e.csv", uploader=USER)
    record = store.complete_artifact(urn, content, asserter=USER, create=NewArtifact("e.csv", USER) if create else None)
    for found in (record, store.get_artifact(urn)):
        assert found.md5 is None and found.org is None and found.sha256 == content["sha256"]
    assert store.list_artifacts(limit=10).items[0].md5 is None


def test_a_repeated_completion_never_revives_an_artifact(store: AspectStore) -> None:
    """A completion repeated after a crash (its upload's finished mark lost) finds the artifact deleted since:
    it stays deleted, with its one `artifact.1`."""
    urn = new_urn("artifact")
    content = artifact_content("r.csv", body=b"kept")
    store.complete_artifact(urn, content, asserter=USER, create=NewArtifact("r.csv", USER))
    assert store.backend.run(store._q.SET_ARTIFACT_STATUS, {"urn": urn, "from": ["ready"], "to": "deleted"})
    again = store.complete_artifact(urn, content, asserter=USER, create=NewArtifact("r.csv", USER))
    assert again.status == "deleted" and store.get_artifact(urn).status == "deleted"
    assert len(store.query_aspects(entity=urn, schema=ARTIFACT, include_retracted=True).items) == 1


def test_a_batch_in_hand_completes_in_one_transaction_with_an_outcome_each(store: AspectStore) -> None:
    """`complete_artifacts`, for a caller holding a batch (the server's lane of small uploads): one transaction
    for all, and each item's own outcome: ready (created now, or pending before), invalid content, a URN that is
    not an artifact's, an unknown artifact, other content than the artifact has; the failures wrote nothing."""
    pending, done, created, missing = (new_urn("artifact") for _ in range(4))
    for urn in (pending, done):
        store.create_artifact(urn, name="p.csv", uploader=USER)
    store.complete_artifact(done, artifact_content("p.csv", body=b"kept"), asserter=USER)
    bad = {**artifact_content("b.csv"), "sha256": "not a digest"}
    batches = store._group.batches
    outcomes = store.complete_artifacts(
        [
            (pending, artifact_content("p.csv", body=b"p"), USER, None),
            (created, artifact_content("n.csv", body=b"n"), USER, NewArtifact("n.csv", USER)),
            (new_urn("artifact"), bad, USER, NewArtifact("b.csv", USER)),
            ("urn:fabric:aspect:nope", artifact_content("x.csv"), USER, None),
            (missing, artifact_content("m.csv"), USER, None),
            (done, artifact_content("p.csv", body=b"other"), USER, None),
        ]
    )
    assert store._group.batches == batches + 1
    assert [getattr(o, "status", None) for o in outcomes[:2]] == ["ready", "ready"]
    assert [getattr(o, "urn", None) for o in outcomes[:2]] == [pending, created]
    assert isinstance(outcomes[2], ValidationFailed)
    assert isinstance(outcomes[3], ValueError)
    assert isinstance(outcomes[4], NotFound)
    assert isinstance(outcomes[5], Conflict)
    assert store.get_artifact(done).sha256 == artifact_content("p.csv", body=b"kept")["sha256"]
    assert store.get_artifact(created).sha256 == artifact_content("n.csv", body=b"n")["sha256"]
    with pytest.raises(NotFound):
        store.get_artifact(missing)


def test_pending_artifacts_of_a_batch_in_hand_are_created_in_one_transaction(store: AspectStore) -> None:
    """`create_pending_artifacts` (the server's lane of upload creations): one transaction for all, each item's
    own outcome: a new pending artifact, one that exists already (returned unchanged), an invalid one."""
    existing, fresh = new_urn("artifact"), new_urn("artifact")
    store.create_artifact(existing, name="old.csv", uploader=USER)
    batches = store._group.batches
    outcomes = store.create_pending_artifacts(
        [
            (fresh, NewArtifact("new.csv", USER, properties={"upload_id": "u1"})),
            (existing, NewArtifact("renamed.csv", USER)),
            (new_urn("artifact"), NewArtifact("", USER)),
        ]
    )
    assert store._group.batches == batches + 1
    assert [(getattr(o, "urn", None), getattr(o, "status", None)) for o in outcomes[:2]] == [
        (fresh, "pending"),
        (existing, "pending"),
    ]
    assert getattr(outcomes[1], "name", None) == "old.csv"
    assert isinstance(outcomes[2], ValueError)
    assert store.get_artifact(fresh).name == "new.csv"
    assert [a.urn for a in store.list_artifacts(limit=10).items if a.urn in (fresh, existing)] == [fresh, existing]
