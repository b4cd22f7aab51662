"""tus_server on its own, without fabric: the hooks it calls, recovery after a crash, durable checkpoints."""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import uvicorn
from starlette.requests import Request

from tests.server_process import free_port
from tests.tus.helpers import OCTETS, TUS, create, patch
from tus_server import (
    BlockingCompletion,
    CompletedUpload,
    FileUploadStore,
    TusConfig,
    TusError,
    TusServer,
    UploadInfo,
    create_tus_app,
)


@contextmanager
def serving(server: TusServer, **options: Any) -> Iterator[httpx.Client]:
    """The standalone tus app under uvicorn on loopback, in a thread (`options`: more of uvicorn's `Config`)."""
    port = free_port()
    config = uvicorn.Config(create_tus_app(server), host="127.0.0.1", port=port, log_level="warning", **options)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        uv.should_exit = True
        thread.join(10)


class Recorder:
    def __init__(self, fail_completion: bool = False) -> None:
        self.created: list[UploadInfo] = []
        self.completed: list[CompletedUpload] = []
        self.fail_completion = fail_completion

    async def on_create(self, info: UploadInfo, request: Request) -> dict[str, str]:
        if info.metadata.get("forbidden"):
            raise TusError(403, "Forbidden", "the hook said no")
        self.created.append(info)
        return {"X-Thing": f"thing-{info.id}"}

    async def on_complete(self, upload: CompletedUpload) -> None:
        if self.fail_completion:
            raise RuntimeError("graph unavailable")
        self.completed.append(upload)


def tus_server(directory: Path, recorder: Recorder, **config: object) -> TusServer:
    return TusServer(
        FileUploadStore(directory), TusConfig(**config), on_create=recorder.on_create, on_complete=recorder.on_complete
    )  # type: ignore[arg-type]


def test_hooks_run_once_with_the_digests_of_the_whole_upload(tmp_path: Path) -> None:
    recorder = Recorder()
    data = os.urandom(5 << 20)
    with serving(tus_server(tmp_path, recorder, md5=True)) as client:
        created = create(client, len(data))
        assert created.headers["X-Thing"].startswith("thing-")
        location = created.headers["Location"]
        for start in range(0, len(data), 1 << 20):
            assert patch(client, location, start, data[start : start + (1 << 20)]).status_code == 204
        assert client.head(location, headers=TUS).headers["X-Thing"] == created.headers["X-Thing"]
    assert len(recorder.created) == 1
    assert len(recorder.completed) == 1
    done = recorder.completed[0].info
    assert done.sha256 == hashlib.sha256(data).hexdigest()
    assert done.md5 == hashlib.md5(data).hexdigest()
    assert b"".join(recorder.completed[0].read(1 << 20)) == data


def test_creation_hook_can_refuse_and_nothing_is_stored(tmp_path: Path) -> None:
    recorder = Recorder()
    with serving(tus_server(tmp_path, recorder)) as client:
        r = client.post("/v1/uploads", headers={**TUS, "Upload-Length": "3", "Upload-Metadata": "forbidden eWVz"})
        assert r.status_code == 403
    assert list(tmp_path.iterdir()) == []


def test_failed_completion_is_repeated_at_the_next_start(tmp_path: Path) -> None:
    failing = Recorder(fail_completion=True)
    with serving(tus_server(tmp_path, failing)) as client:
        location = create(client, 3).headers["Location"]
        r = patch(client, location, 0, b"abc")
        assert r.status_code == 500
        assert r.headers["Content-Type"] == "application/problem+json"
        assert client.head(location, headers=TUS).headers["Upload-Offset"] == "3"
    healthy = Recorder()
    with serving(tus_server(tmp_path, healthy)):
        pass
    assert [c.info.sha256 for c in healthy.completed] == [hashlib.sha256(b"abc").hexdigest()]


def test_recovery_cuts_bytes_that_were_never_acknowledged(tmp_path: Path) -> None:
    recorder = Recorder()
    with serving(tus_server(tmp_path, recorder)) as client:
        location = httpx.URL(create(client, 10).headers["Location"]).path  # the next server has another port
        assert patch(client, location, 0, b"abcd").status_code == 204
    upload_id = location.rsplit("/", 1)[1]
    with open(tmp_path / upload_id, "ab") as data:  # as if a crash left unsynced bytes behind the offset
        data.write(b"garbage")
    with serving(tus_server(tmp_path, recorder)) as client:
        assert client.head(location, headers=TUS).headers["Upload-Offset"] == "4"
        assert (tmp_path / upload_id).read_bytes() == b"abcd"
        assert patch(client, location, 4, b"efghij").status_code == 204
    assert recorder.completed[-1].info.sha256 == hashlib.sha256(b"abcdefghij").hexdigest()


def test_a_long_patch_records_durable_checkpoints(tmp_path: Path) -> None:
    recorder = Recorder()
    total = 24 << 20
    gate = threading.Event()
    with serving(tus_server(tmp_path, recorder, checkpoint_bytes=4 << 20)) as client:
        location = create(client, total).headers["Location"]

        def body() -> Iterator[bytes]:
            yield b"x" * (12 << 20)
            gate.wait(70)
            yield b"x" * (total - (12 << 20))

        result: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: result.append(
                client.patch(location, headers={**OCTETS, "Upload-Offset": "0"}, content=body())
            )
        )
        sender.start()
        seen = 0
        deadline = time.monotonic() + 60  # generous: on ext4 an fdatasync waits for every dirty file of the disk
        with httpx.Client(timeout=10) as observer:
            while seen == 0 and time.monotonic() < deadline:
                seen = int(observer.head(location, headers=TUS).headers["Upload-Offset"])
                time.sleep(0.05)
        gate.set()
        sender.join(30)
    assert 0 < seen <= 12 << 20  # HEAD during the PATCH saw a durable offset, never more than was sent
    assert result[0].status_code == 204
    assert recorder.completed[0].info.length == total


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "A" * 32, "0" * 31])
def test_store_refuses_ids_that_are_not_32_hex_digits(tmp_path: Path, bad_id: str) -> None:
    store = FileUploadStore(tmp_path)
    assert store.load(bad_id) is None
    with pytest.raises(ValueError):
        store.data_path(bad_id)


def test_md5_only_when_the_server_or_the_upload_asks_for_it(tmp_path: Path) -> None:
    """By default only sha256 is computed; the metadata key `md5` (with or without a value) asks for md5 too,
    kept across several PATCHes."""
    recorder = Recorder()
    data = os.urandom(9 << 20)
    with serving(tus_server(tmp_path, recorder)) as client:
        for asked in ({}, {"Upload-Metadata": "md5"}, {"Upload-Metadata": "filename YS5iaW4=,md5 eWVz"}):
            location = create(client, len(data), **asked).headers["Location"]
            for start in range(0, len(data), 3 << 20):
                assert patch(client, location, start, data[start : start + (3 << 20)]).status_code == 204
    plain, bare_key, with_value = (upload.info for upload in recorder.completed)
    assert plain.sha256 == bare_key.sha256 == with_value.sha256 == hashlib.sha256(data).hexdigest()
    assert plain.md5 is None
    assert bare_key.md5 == with_value.md5 == hashlib.md5(data).hexdigest()


class CountingStore(FileUploadStore):
    """A file store that counts its info writes and can fail the first completion record (a disk error)."""

    def __init__(self, directory: Path, fail_record: bool = False) -> None:
        super().__init__(directory)
        self.saves = 0
        self.records = 0
        self.fail_record = fail_record

    def _write_info(self, info: UploadInfo, *, sync: bool) -> None:
        self.saves += 1  # every info write: `save`, and a creation's in a batch (`create_many`)
        super()._write_info(info, sync=sync)

    def record_completion(self, info: UploadInfo) -> None:
        self.records += 1
        if self.fail_record:
            self.fail_record = False
            raise OSError(errno.EIO, "the disk failed")
        super().record_completion(info)


def test_a_small_upload_writes_its_info_at_creation_completion_and_hand_over(tmp_path: Path) -> None:
    """Two requests, two info writes (created; complete with digests, one write) and the hand-over mark."""
    recorder = Recorder()
    store = CountingStore(tmp_path)
    server = TusServer(store, on_create=recorder.on_create, on_complete=recorder.on_complete)  # type: ignore[arg-type]
    with serving(server) as client:
        location = create(client, 4).headers["Location"]
        assert patch(client, location, 0, b"abcd").status_code == 204
        assert client.head(location, headers=TUS).headers["Upload-Offset"] == "4"
    assert (store.saves, store.records) == (2, 1)  # the record is one of the two writes
    assert recorder.completed[0].info.sha256 == hashlib.sha256(b"abcd").hexdigest()
    upload_id = location.rsplit("/", 1)[1]
    info = store.load(upload_id)
    assert info is not None and info.finished and info.sha256 == hashlib.sha256(b"abcd").hexdigest()
    assert (tmp_path / f"{upload_id}.finished").exists()
    assert not UploadInfo.from_bytes((tmp_path / f"{upload_id}.info").read_bytes()).finished  # the mark says it


def test_a_lost_hand_over_mark_repeats_the_completion_and_stray_marks_go(tmp_path: Path) -> None:
    """The mark is not synced: a crash may lose it, and the next start then runs the hook again (which hooks
    allow: a crash may also fall between the hook and any record of it). A mark without its upload is removed."""
    first = Recorder()
    with serving(tus_server(tmp_path, first)) as client:
        location = create(client, 4).headers["Location"]
        assert patch(client, location, 0, b"abcd").status_code == 204
    upload_id = location.rsplit("/", 1)[1]
    again = Recorder()
    with serving(tus_server(tmp_path, again)):  # the mark is there: nothing to repeat
        pass
    assert again.completed == []
    (tmp_path / f"{upload_id}.finished").unlink()  # as if the crash came before the mark reached the disk
    stray = tmp_path / f"{'e' * 32}.finished"
    stray.touch()
    repeated = Recorder()
    with serving(tus_server(tmp_path, repeated)) as client:
        assert client.head(f"/v1/uploads/{upload_id}", headers=TUS).headers["Upload-Offset"] == "4"
    assert [c.info.sha256 for c in repeated.completed] == [hashlib.sha256(b"abcd").hexdigest()]
    assert (tmp_path / f"{upload_id}.finished").exists() and not stray.exists()


def test_a_small_body_whose_offset_cannot_be_recorded_is_not_kept(tmp_path: Path) -> None:
    """The bytes were synced but the info write failed: the answer is a 500 problem, the upload stays at its
    recorded offset with nothing behind it, and the client's retry completes it."""
    recorder = Recorder()
    store = CountingStore(tmp_path, fail_record=True)
    server = TusServer(store, on_create=recorder.on_create, on_complete=recorder.on_complete)  # type: ignore[arg-type]
    with serving(server) as client:
        location = create(client, 4).headers["Location"]
        failed = patch(client, location, 0, b"abcd")
        assert failed.status_code == 500 and failed.headers["Content-Type"] == "application/problem+json"
        assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"
        assert (tmp_path / location.rsplit("/", 1)[1]).stat().st_size == 0
        assert recorder.completed == []
        assert patch(client, location, 0, b"abcd").status_code == 204
    assert [c.info.sha256 for c in recorder.completed] == [hashlib.sha256(b"abcd").hexdigest()]


def test_a_small_creation_with_upload_writes_its_info_once_before_the_hand_over(tmp_path: Path) -> None:
    """The whole body in the POST: the bytes, then one info with offset and digests, then the hand-over mark. A
    crash before that info leaves bytes without an info, which the next start removes."""
    recorder = Recorder()
    store = CountingStore(tmp_path)
    server = TusServer(store, on_create=recorder.on_create, on_complete=recorder.on_complete)  # type: ignore[arg-type]
    with serving(server) as client:
        r = client.post("/v1/uploads", headers={**OCTETS, "Upload-Length": "4"}, content=b"abcd")
        assert r.status_code == 201 and r.headers["Upload-Offset"] == "4"
        assert r.headers["X-Thing"].startswith("thing-")
        bad = client.post(
            "/v1/uploads", headers={**OCTETS, "Upload-Length": "4", "Upload-Checksum": "sha1 AAAA"}, content=b"abcd"
        )
        assert bad.status_code == 460 and bad.headers["Upload-Offset"] == "0"
        assert patch(client, bad.headers["Location"], 0, b"abcd").status_code == 204
    assert (store.saves, store.records) == (1 + 2, 1)  # 1 for the first upload; the refused one as any upload
    assert [c.info.sha256 for c in recorder.completed] == [hashlib.sha256(b"abcd").hexdigest()] * 2
    info = store.load(r.headers["Location"].rsplit("/", 1)[1])
    assert (
        info is not None and info.finished and info.offset == 4 and info.sha256 == hashlib.sha256(b"abcd").hexdigest()
    )

    orphan = tmp_path / ("f" * 32)  # as if the server died between the bytes and their info
    orphan.write_bytes(b"abcd")
    with serving(TusServer(FileUploadStore(tmp_path))):
        pass
    assert not orphan.exists()


class BlockingRecorder:
    """A blocking completion hook: notes the uploads it completed and fails as told."""

    def __init__(self) -> None:
        self.completed: list[str] = []
        self.fail: Exception | None = None

    def complete(self, upload: CompletedUpload) -> None:
        if self.fail is not None:
            raise self.fail
        self.completed.append(upload.info.id)


def test_a_blocking_completion_runs_in_the_worker_call_that_recorded_a_small_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small upload's last request stores its bytes, records its digests, runs the hook and marks the upload
    finished in one worker call (one thread hop for the whole completion, where an awaited hook takes three),
    whether the bytes came with the POST or in a PATCH; a streamed body (over 64 KiB) gets the hook too."""
    hops: list[str] = []
    hop = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(func, "__name__", repr(func)))
        return await hop(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    store, hook = FileUploadStore(tmp_path), BlockingRecorder()
    big = os.urandom(300_000)
    with serving(TusServer(store, on_complete=BlockingCompletion(hook.complete))) as client:
        hops.clear()
        posted = client.post("/v1/uploads", headers={**OCTETS, "Upload-Length": "4"}, content=b"abcd")
        assert posted.status_code == 201 and posted.headers["Upload-Offset"] == "4"
        assert len(hops) == 1, hops
        patched = create(client, 4).headers["Location"]
        hops.clear()
        assert patch(client, patched, 0, b"efgh").status_code == 204
        assert len(hops) == 1, hops
        streamed = create(client, len(big)).headers["Location"]
        assert patch(client, streamed, 0, big).status_code == 204
    uploads = [posted.headers["Location"], patched, streamed]
    assert hook.completed == [location.rsplit("/", 1)[1] for location in uploads]
    for upload_id in hook.completed:
        info = store.load(upload_id)
        assert info is not None and info.finished


@pytest.mark.parametrize("how", ["post", "patch"])
def test_a_blocking_completion_that_fails_is_answered_and_repeated_at_the_next_start(tmp_path: Path, how: str) -> None:
    """Its own TusError is the answer as it is; anything else is a 500 problem saying the bytes are kept, the
    upload is not marked finished, and the next start runs the hook again."""
    hook = BlockingRecorder()
    server = TusServer(FileUploadStore(tmp_path), on_complete=BlockingCompletion(hook.complete))
    with serving(server) as client:

        def send(body: bytes) -> httpx.Response:
            if how == "post":
                return client.post("/v1/uploads", headers={**OCTETS, "Upload-Length": "3"}, content=body)
            return patch(client, create(client, 3).headers["Location"], 0, body)

        hook.fail = TusError(409, "Not now", "the hook refused")
        refused = send(b"abc")
        assert refused.status_code == 409 and refused.json()["detail"] == "the hook refused"
        hook.fail = RuntimeError("graph unavailable")
        failed = send(b"xyz")
        assert failed.status_code == 500 and failed.headers["Content-Type"] == "application/problem+json"
        assert "bytes are stored" in failed.json()["detail"]
    assert hook.completed == []
    hook.fail = None
    with serving(TusServer(FileUploadStore(tmp_path), on_complete=BlockingCompletion(hook.complete))):
        pass
    assert len(hook.completed) == 2  # both repeated: neither was marked finished
