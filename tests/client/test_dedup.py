"""Sidecar deduplication: an unchanged file is not sent (nor read) again; a changed one is."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from fabric.client import Fabric
from fabric.client.sidecar import sidecar_path
from tests.client.proxy import CountingProxy
from tests.fixtures_client import upload_requests
from tests.server_process import FabricServer


def artifact_count(fab: Fabric) -> int:
    return sum(1 for _ in fab.list_artifacts())


def sent(fab: Fabric, request: pytest.FixtureRequest) -> int:
    """Bytes the client has sent to the server so far (platform mode) or artifacts made (local mode)."""
    if fab.mode == "platform":
        return request.getfixturevalue("proxy").bytes_up
    return artifact_count(fab)


def test_second_upload_of_an_unchanged_file_sends_nothing(
    fab: Fabric, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    path = tmp_path / "data" / "file.csv"
    path.parent.mkdir()
    path.write_bytes(os.urandom(2 << 20))
    first = fab.upload_artifact(name="data", file_path=path)
    side = json.loads(sidecar_path(path).read_text())
    entry = side["destinations"][fab.destination]
    assert sidecar_path(path) == tmp_path / "data" / ".fabric-file.csv.json"
    assert entry["artifact"] == first.id
    assert entry["size"] == 2 << 20 and entry["mtime_ns"] == path.stat().st_mtime_ns
    contents = path.read_bytes()
    assert entry["md5"] == hashlib.md5(contents).hexdigest()  # the client hashes md5 itself; the server only if asked
    assert entry["sha256"] == first.sha256 == hashlib.sha256(contents).hexdigest()
    assert entry["upload"] is None

    before = sent(fab, request)
    uploads_before = upload_requests(request.getfixturevalue("client_server").url) if fab.mode == "platform" else 0
    second = fab.upload_artifact(name="data", file_path=path)
    assert second.id == first.id
    if fab.mode == "platform":
        # one GET of the artifact, to check it still exists: a few hundred bytes, no upload request at all
        assert sent(fab, request) - before < 1000
        assert upload_requests(request.getfixturevalue("client_server").url) == uploads_before
    else:
        assert sent(fab, request) == before
    assert fab.artifact_for_file(path) == first


def test_unchanged_size_and_mtime_are_trusted_without_reading_the_file(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"A" * 10_000)
    first = fab.upload_artifact(file_path=path)
    stat = path.stat()
    path.write_bytes(b"B" * 10_000)  # other bytes, same size, and the old mtime put back
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fab.upload_artifact(file_path=path).id == first.id  # not hashed: the sidecar's stamp was trusted


def test_touched_but_identical_file_is_hashed_and_not_sent(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"same bytes")
    first = fab.upload_artifact(file_path=path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    assert fab.upload_artifact(file_path=path).id == first.id
    entry = json.loads(sidecar_path(path).read_text())["destinations"][fab.destination]
    assert entry["mtime_ns"] == path.stat().st_mtime_ns  # the new stamp is recorded: no hashing next time


def test_changed_file_is_uploaded_again(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"version 1")
    first = fab.upload_artifact(file_path=path)
    path.write_bytes(b"version 2, longer")
    second = fab.upload_artifact(file_path=path)
    assert second.id != first.id
    assert second.read_bytes() == b"version 2, longer"
    assert fab.artifact_for_file(path) == second


def test_force_upload_always_uploads(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"x" * 1000)
    first = fab.upload_artifact(file_path=path)
    forced = fab.upload_artifact(file_path=path, force_upload=True)
    assert forced.id != first.id
    assert forced.sha256 == first.sha256  # identical bytes: two artifacts, one blob
    assert fab.artifact_for_file(path) == forced


def test_artifact_for_file_without_an_upload_is_none(fab: Fabric, tmp_path: Path) -> None:
    path = tmp_path / "never.txt"
    path.write_bytes(b"n")
    assert fab.artifact_for_file(path) is None
    assert fab.artifact_for_file(tmp_path / "missing.txt") is None


def test_destinations_are_kept_apart(tmp_path: Path, proxy: CountingProxy) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"both places")
    with Fabric.local(tmp_path / "local") as local, Fabric(url=proxy.url) as platform:
        a = local.upload_artifact(file_path=path)
        b = platform.upload_artifact(file_path=path)
        assert a.id != b.id
        assert local.artifact_for_file(path) == a and platform.artifact_for_file(path) == b
        assert set(json.loads(sidecar_path(path).read_text())["destinations"]) == {
            local.destination,
            platform.destination,
        }


def test_local_artifact_gone_means_upload_again(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"gone")
    with Fabric.local(tmp_path / "store") as fab:
        first = fab.upload_artifact(file_path=path)
    shutil.rmtree(tmp_path / "store")
    with Fabric.local(tmp_path / "store") as fab:
        assert fab.artifact_for_file(path) is None
        again = fab.upload_artifact(file_path=path)
        assert again.id == first.id == f"urn:file://{(tmp_path / 'store').resolve()}/f.txt"  # the same place anew
        assert again.read_bytes() == b"gone" and again.refresh().status == "ready"


def test_server_artifact_gone_means_upload_again(tmp_path: Path) -> None:
    """The sidecar names an artifact the server no longer has (a fresh data dir on the same URL)."""
    path = tmp_path / "f.txt"
    path.write_bytes(b"on a server that forgot")
    server = FabricServer(tmp_path / "data")
    with server, Fabric(url=server.url) as fab:
        first = fab.upload_artifact(file_path=path)
    shutil.rmtree(tmp_path / "data")
    with FabricServer(tmp_path / "data", port=server.port) as again, Fabric(url=again.url) as fab:
        assert fab.artifact_for_file(path) is None
        second = fab.upload_artifact(file_path=path)
        assert second.id != first.id
        assert upload_requests(again.url) >= 2  # POST and PATCH: really sent


def test_unwritable_directory_still_uploads(fab: Fabric, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "f.txt"
    path.write_bytes(b"read-only dir")
    sidecar_path(path).mkdir()  # a directory where the sidecar would go: it cannot be written (even by root)
    artifact = fab.upload_artifact(file_path=path)
    assert artifact.read_bytes() == b"read-only dir"
