"""Small creations-with-upload are stored and completed in batches (the server's lane), on both backends.

Twelve POSTs, each carrying its whole body, sent at once while the lane's first batch is held in its store
write, so that the others queue behind it: plain uploads, one linked to a collection and one that is a file of
a draft (those two are completed one by one inside the batch), two with the same bytes. Each gets its own
artifact, ready, with its own bytes, and the draft its file.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from typing import Any

import pytest

from tests.inprocess import InProcessServer
from tests.tus.helpers import OCTETS, metadata

WAIT = 60.0


def test_small_uploads_sent_together_are_completed_in_batches(
    app_server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app_server.app is not None
    state = app_server.app.state.fabric
    lane = state.tus._whole_lane
    assert lane is not None, "the file store and fabric's hook make the lane"
    store, held, release = state.tus.store, threading.Event(), threading.Event()
    create_many = store.create_completed_many

    def held_first(uploads: list[Any]) -> list[Any]:
        if not held.is_set():
            held.set()
            assert release.wait(WAIT)
        return create_many(uploads)

    monkeypatch.setattr(store, "create_completed_many", held_first)
    tag = uuid.uuid4().hex[:8]
    with app_server.client() as api:
        draft = api.post("/v1/artifacts", json={"name": f"batch-draft-{tag}"}).json()["urn"]
        same = os.urandom(100)
        bodies = [same, same, *(os.urandom(100 + i) for i in range(10))]
        metas = [{"filename": f"batch-{tag}-{i}.bin"} for i in range(len(bodies))]
        metas[2]["collection"] = f"batch-{tag}"
        metas[3] = {"artifact": draft, "path": f"in/draft-{tag}.bin"}
        answers: list[object] = [None] * len(bodies)

        def send(i: int) -> None:
            headers = {**OCTETS, "Upload-Length": str(len(bodies[i])), "Upload-Metadata": metadata(**metas[i])}
            answers[i] = api.post("/v1/uploads", headers=headers, content=bodies[i])

        batches, items = lane.batches, lane.items
        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
        threads[0].start()
        assert held.wait(WAIT)  # the first batch, of the first upload alone, is held
        for thread in threads[1:]:
            thread.start()
        deadline = time.monotonic() + WAIT
        while len(lane._queue) < len(bodies) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        for thread in threads:
            thread.join(WAIT)
        assert (lane.items - items, lane.batches - batches) == (len(bodies), 2)  # the first alone, then the rest

        for answer in answers:
            assert getattr(answer, "status_code", None) == 201, getattr(answer, "text", answer)
        urns = [answer.headers["Artifact-Urn"] for answer in answers]  # type: ignore[attr-defined]
        for i in set(range(len(bodies))) - {3}:
            artifact = api.get(f"/v1/artifacts/{urns[i]}").json()
            assert (artifact["status"], artifact["name"]) == ("ready", metas[i]["filename"])
            assert artifact["sha256"] == hashlib.sha256(bodies[i]).hexdigest()
            assert api.get(f"/v1/artifacts/{urns[i]}/blob").content == bodies[i]
        assert urns[0] != urns[1]  # the same bytes, two artifacts, one blob
        listed = api.get("/v1/artifacts", params={"collection": f"urn:fabric:collection:batch-{tag}"}).json()
        assert [item["urn"] for item in listed["items"]] == [urns[2]]
        assert urns[3] == draft
        files = api.get(f"/v1/artifacts/{draft}/files").json()["items"]
        assert [(f["path"], f["sha256"]) for f in files] == [
            (f"in/draft-{tag}.bin", hashlib.sha256(bodies[3]).hexdigest())
        ]


def test_small_patches_that_complete_uploads_are_handed_on_in_batches(
    app_server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST then PATCH: the PATCHes that complete small uploads go through a lane together, as creations-with-upload
    do: their bytes, one sync, their infos (offset and digests), one sync, then handed on together: blobs, one
    graph transaction. Ten PATCHes sent while the first is held in its graph write queue behind it and go as one
    batch."""
    assert app_server.app is not None
    state = app_server.app.state.fabric
    lane = state.tus._last_lane
    assert lane is not None
    held, release = threading.Event(), threading.Event()
    complete_artifacts = state.store.complete_artifacts

    def held_first(items: list[Any]) -> list[Any]:
        if not held.is_set():
            held.set()
            assert release.wait(WAIT)
        return complete_artifacts(items)

    monkeypatch.setattr(state.store, "complete_artifacts", held_first)
    tag = uuid.uuid4().hex[:8]
    with app_server.client() as api:
        bodies = [os.urandom(50 + i) for i in range(11)]
        created = [
            api.post(
                "/v1/uploads",
                headers={
                    **OCTETS,
                    "Upload-Length": str(len(body)),
                    "Upload-Metadata": metadata(filename=f"pp-{tag}-{i}.bin"),
                },
            )
            for i, body in enumerate(bodies)
        ]
        answers: list[Any] = [None] * len(bodies)

        def send(i: int) -> None:
            headers = {**OCTETS, "Upload-Offset": "0"}
            answers[i] = api.patch(created[i].headers["Location"], headers=headers, content=bodies[i])

        batches, items = lane.batches, lane.items
        first = threading.Thread(target=send, args=(0,))
        first.start()
        assert held.wait(WAIT)
        rest = [threading.Thread(target=send, args=(i,)) for i in range(1, len(bodies))]
        for thread in rest:
            thread.start()
        deadline = time.monotonic() + WAIT
        while len(lane._queue) < len(bodies) - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        for thread in [first, *rest]:
            thread.join(WAIT)
        assert (lane.items - items, lane.batches - batches) == (len(bodies), 2)
        for i, answer in enumerate(answers):
            assert answer.status_code == 204, answer.text
            urn = created[i].headers["Artifact-Urn"]
            artifact = api.get(f"/v1/artifacts/{urn}").json()
            assert (artifact["status"], artifact["sha256"]) == ("ready", hashlib.sha256(bodies[i]).hexdigest())
            assert api.get(f"/v1/artifacts/{urn}/blob").content == bodies[i]
