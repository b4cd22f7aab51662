"""The S3 upload store on a real S3-compatible server (versitygw): concurrent part uploads, checkpoints, server-side
concatenation and a start-up that lists only the uploads that need completing.

The store is driven directly (as the tus server drives it, in worker threads); botocore's own event hooks count
the S3 operations it sends, so the tests see what reaches the server without standing in for it.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from fabric.s3 import S3Location
from tests.fixtures_services import S3Target
from tus_server.info import UploadInfo
from tus_server.s3_store import MIN_PART, PART_SIZE, PARTS_IN_FLIGHT, S3UploadStore, part_size
from tus_server.upload_store import Checkpointer, Concatenator, StreamingWriter

MiB = 1 << 20


class Operations:
    """Counts the S3 operations a botocore client sends, and the most part uploads in flight at once."""

    def __init__(self, client: Any) -> None:
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-call.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)

    def _before(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.counts[model.name] += 1
            if model.name == "UploadPart":
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _after(self, model: Any, **_: Any) -> None:
        if model.name == "UploadPart":
            with self._lock:
                self.in_flight -= 1


def open_store(target: S3Target, monkeypatch: pytest.MonkeyPatch, **options: Any) -> S3UploadStore:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", target.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", target.secret_key)
    location = S3Location(target.endpoint, target.bucket, path_style=True, prefix="t/")
    return S3UploadStore(location.client(), location.bucket, location.prefix, **options)


@pytest.fixture
def store(s3_target: S3Target, monkeypatch: pytest.MonkeyPatch) -> S3UploadStore:
    return open_store(s3_target, monkeypatch)


def new_upload(store: S3UploadStore, length: int | None, **fields: Any) -> UploadInfo:
    info = UploadInfo(id=uuid.uuid4().hex, length=length, **fields)
    store.create(info)
    return info


def blocks(data: bytes, size: int) -> Iterator[list[bytes]]:
    """`data` in blocks of `size`, each a list of 64 KiB chunks as the server hands them over."""
    for start in range(0, len(data), size):
        block = data[start : start + size]
        yield [block[i : i + (64 << 10)] for i in range(0, len(block), 64 << 10)]


def read_all(store: S3UploadStore, info: UploadInfo) -> bytes:
    return b"".join(store.read(info.id, info.length or 0))


def send(store: S3UploadStore, info: UploadInfo, data: bytes, *, declared: bool = True) -> None:
    """One request of all of `data` (its length declared, as a Content-Length does, unless `declared` is False)."""
    writer = store.writer(info.id, 0)
    if declared:
        writer.expect(len(data))
    for block in blocks(data, 4 * MiB):
        assert writer.write(block) == sum(len(chunk) for chunk in block)
    writer.sync()
    writer.close()
    info.offset = len(data)
    store.save(info)
    store.finish(info)


def tails(store: S3UploadStore) -> list[str]:
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
    return [item["Key"] for item in listed.get("Contents", []) if ".tail." in item["Key"]]


@pytest.mark.slow
def test_a_request_of_known_length_streams_whole_parts_and_its_last_part_takes_the_rest(store: S3UploadStore) -> None:
    data = os.urandom(40 * MiB + 12345)
    info = new_upload(store, len(data))
    operations = Operations(store.client)
    send(store, info, data)

    assert read_all(store, info) == data
    # 8 MiB parts; the last takes the 8 MiB + 12345 bytes left rather than leave a tail object below 5 MiB
    assert operations.counts["UploadPart"] == 5
    assert operations.counts["PutObject"] == 3  # the info twice (offset, finished) and the completing marker
    assert operations.most_in_flight <= PARTS_IN_FLIGHT
    assert not tails(store)


def test_a_request_of_unknown_length_makes_parts_of_its_writes_through_tail_objects(store: S3UploadStore) -> None:
    data = os.urandom(2 * MIN_PART + 3 * MiB)
    info = new_upload(store, len(data))
    operations = Operations(store.client)
    send(store, info, data, declared=False)

    assert read_all(store, info) == data
    # writes of 4 MiB: a 4 MiB tail object, then 8 MiB as a part (the tail read back ahead of the write), the
    # last 1 MiB as a tail object that `finish` makes the last part
    assert operations.counts["UploadPart"] == 2
    assert not tails(store)


@pytest.mark.slow
def test_concurrent_requests_stream_side_by_side(store: S3UploadStore) -> None:
    payloads = [os.urandom(24 * MiB) for _ in range(3)]
    infos = [new_upload(store, len(data)) for data in payloads]
    threads = [threading.Thread(target=send, args=(store, *pair)) for pair in zip(infos, payloads, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert [read_all(store, info) for info in infos] == payloads


def test_a_request_cut_in_the_middle_of_a_part_keeps_the_whole_parts_and_resumes_byte_exact(
    store: S3UploadStore,
) -> None:
    data = os.urandom(3 * PART_SIZE + 2 * MiB)
    info = new_upload(store, len(data))
    writer = store.writer(info.id, 0)
    assert isinstance(writer, StreamingWriter)
    writer.expect(len(data))
    for block in blocks(data[: PART_SIZE + 3 * MiB], 2 * MiB):  # cut 3 MiB into the second part
        writer.write(block)
    kept = writer.sync_prefix()
    writer.close()
    assert kept == PART_SIZE  # the first part; the second was given up
    info.offset = kept
    store.save(info)

    # the next request ramps up with objects no larger than its writes: cut again, it loses nothing
    writer = store.writer(info.id, kept)
    writer.expect(len(data) - kept)
    for block in blocks(data[kept : kept + 3 * MiB + 4321], 256 << 10):
        writer.write(block)
    assert writer.sync_prefix() == kept + 3 * MiB + 4321
    writer.close()
    kept = info.offset = kept + 3 * MiB + 4321
    store.save(info)

    writer = store.writer(info.id, kept)
    writer.expect(len(data) - kept)
    for block in blocks(data[kept:], 4 * MiB):
        writer.write(block)
    assert writer.sync_prefix() == len(data)
    writer.close()
    info.offset = len(data)
    store.save(info)
    store.finish(info)
    assert read_all(store, info) == data
    assert not tails(store)


def test_a_request_ending_below_the_minimum_part_leaves_a_tail_the_next_request_continues(
    store: S3UploadStore,
) -> None:
    data = os.urandom(2 * MIN_PART + 3 * MiB)
    info = new_upload(store, len(data))
    cuts = [0, 1 * MiB, MIN_PART + 2 * MiB, len(data)]  # tail only; a part and a tail; the rest
    for start, end in itertools.pairwise(cuts):
        writer = store.writer(info.id, start)
        for block in blocks(data[start:end], 3 * MiB):
            writer.write(block)
        writer.sync()
        writer.close()
        info.offset = end
        store.save(info)
    store.finish(info)

    assert read_all(store, info) == data
    assert not tails(store)


def test_a_checkpoint_records_the_end_of_stored_parts_and_a_writer_can_be_cut_back_to_it(
    store: S3UploadStore,
) -> None:
    data = os.urandom(3 * part_size(None) + MiB)
    info = new_upload(store, None)
    writer = store.writer(info.id, 0)
    assert isinstance(writer, Checkpointer)
    for block in blocks(data[: 2 * part_size(None) + MiB], 4 * MiB):
        writer.write(block)
    durable = writer.checkpoint()
    assert durable == 2 * part_size(None)  # the parts handed over; the MiB gathered after them is not durable yet
    store.save(UploadInfo(id=info.id, length=None, offset=durable))
    for block in blocks(data[2 * part_size(None) + MiB :], 4 * MiB):
        writer.write(block)
    writer.truncate(durable)  # e.g. a checksum mismatch: the bytes past the checkpoint go
    writer.close()

    writer = store.writer(info.id, durable)
    for block in blocks(data[durable:], 4 * MiB):
        writer.write(block)
    writer.sync()
    writer.close()
    info.offset = info.length = len(data)
    store.save(info)
    store.finish(info)
    assert read_all(store, info) == data


def test_concatenation_copies_large_partials_server_side_and_gathers_small_ones(store: S3UploadStore) -> None:
    assert isinstance(store, Concatenator)
    sizes = [3 * MiB, 7 * MiB, 100, 0, 6 * MiB, 2 * MiB]
    partials = []
    contents = []
    for size in sizes:
        data = os.urandom(size)
        info = new_upload(store, size, concat="partial")
        if size:
            writer = store.writer(info.id, 0)
            writer.write([data])
            writer.sync()
            writer.close()
        info.offset = size
        store.save(info)
        store.finish(info)
        partials.append(info)
        contents.append(data)
    final = new_upload(store, sum(sizes), concat="final", parts=[p.id for p in partials])
    operations = Operations(store.client)

    store.concatenate(final, partials)
    loaded = store.load(final.id)
    assert loaded is not None and loaded.offset == sum(sizes)
    store.finish(loaded)

    assert read_all(store, loaded) == b"".join(contents)
    # the 3 MiB partial and 2 MiB of the 7 MiB one make a part; the 7 MiB one's last 5 MiB are copied in S3
    assert operations.counts["UploadPartCopy"] == 1


def test_start_up_lists_only_the_uploads_that_need_completing(store: S3UploadStore) -> None:
    unfinished = [new_upload(store, 10) for _ in range(12)]
    for info in unfinished[:3]:
        info.offset = 0
        store.save(info)
    complete = new_upload(store, 0)
    complete.offset = 0
    store.save(complete)  # all its bytes, not handed over yet
    done = new_upload(store, 0)
    done.offset = 0
    store.save(done)
    done.finished = True
    store.save(done)
    operations = Operations(store.client)

    recovered = store.recover()

    assert [info.id for info in recovered] == [complete.id]
    assert operations.counts["ListObjectsV2"] == 1
    assert operations.counts["GetObject"] == 1  # the info of the one upload to complete, none of the others
    store.terminate(complete.id)
    assert store.recover() == []
