"""A tar of an artifact's files from a real `fabric serve`: its files go out with `sendfile` between the archive's
own headers and padding (`fabric.api.files.TarOfFiles`), the response announces its length, and the archive is
exactly what `tarfile` reads back, for sizes around the 512-byte blocks, long and non-ASCII paths, and empty files.
A blob that is shorter on disk than the manifest says cuts the connection instead of sending a wrong archive.
With S3 storage the same archive is streamed through the process, and announces its length too."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures_services import S3Target
from tests.server_process import FabricServer
from tests.tus.helpers import upload

SIZES = [1, 511, 512, 513, 100_000, 3 * 1024 * 1024 + 5]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    with FabricServer(tmp_path_factory.mktemp("archive-sendfile") / "data") as running:
        yield running


def artifact_of(client: httpx.Client, files: dict[str, bytes]) -> str:
    """A sealed artifact holding `files`, each uploaded as a blob and linked under its path."""
    made = client.post("/v1/artifacts", json={"name": "archive-test"})
    assert made.status_code == 201, made.text
    urn = made.json()["urn"]
    for path, data in files.items():
        assert upload(client, data, filename=path.rsplit("/", 1)[-1]).status_code == 204
        linked = client.post(
            f"/v1/artifacts/{urn}/files",
            json={"path": path, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)},
        )
        assert linked.status_code == 201, linked.text
    assert client.post(f"/v1/artifacts/{urn}/seal").status_code == 200
    return urn


@pytest.fixture
def s3_server(s3_target: S3Target, tmp_path: Path) -> Iterator[FabricServer]:
    with FabricServer(tmp_path / "data", env=s3_target.env()) as running:
        yield running


@pytest.mark.parametrize("storage", ["disk", "s3"])
def test_a_tar_of_files_is_exact_and_announces_its_length(storage: str, request: pytest.FixtureRequest) -> None:
    server: FabricServer = request.getfixturevalue("server" if storage == "disk" else "s3_server")
    files = {f"sizes/{size}.bin": os.urandom(size) for size in SIZES}
    files["deep/" + "x" * 150 + "/é ü.txt"] = b"a path longer than ustar's 100 bytes, not ASCII\n"
    files["empty.txt"] = b""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        urn = artifact_of(client, files)
        answer = client.get(f"/v1/artifacts/{urn}/archive", params={"format": "tar"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-tar"
    assert int(answer.headers["content-length"]) == len(answer.content)
    with tarfile.open(fileobj=io.BytesIO(answer.content)) as archive:
        read = {member.name: archive.extractfile(member).read() for member in archive.getmembers()}  # type: ignore[union-attr]
    assert read == files


def test_a_blob_shorter_than_its_manifest_cuts_the_connection(server: FabricServer, tmp_path: Path) -> None:
    data = os.urandom(200_000)
    digest = hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        urn = artifact_of(client, {"a.bin": b"before\n", "b.bin": data})
        [stored] = list((server.data_dir / "blobs").rglob(digest))
        os.truncate(stored, 1000)  # damaged behind the server's back
        with pytest.raises(httpx.RemoteProtocolError):  # fewer bytes than the announced length, then the end
            client.get(f"/v1/artifacts/{urn}/archive", params={"format": "tar"})
        assert client.get("/healthz").status_code == 200  # and the server goes on
