"""The namespace word is a setting: a server started with `--namespace acme` writes `urn:acme:…` everywhere (its
artifacts, aspects, users and organisations), and the client follows it."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabric.cli import main
from fabric.client import Fabric
from tests.server_process import FabricServer


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    with FabricServer(tmp_path_factory.mktemp("acme") / "data", args=["--namespace", "acme"]) as server:
        yield server


def test_a_server_in_another_namespace_writes_its_own_urns(acme: FabricServer) -> None:
    with Fabric(url=acme.url) as fab:
        artifact = fab.upload_artifact(name="a.txt", io_stream=io.BytesIO(b"acme"), collection="reports")
        assert artifact.id.startswith("urn:acme:artifact:")
        assert artifact.collection == "urn:acme:collection:reports"
        assert artifact.data.uploader == "urn:acme:user:local@localhost"
        assert artifact.data.org == "urn:acme:org:local"
        note = artifact.add_metadata({"station": "Mawson"})  # the client's own schema, registered on first use
        assert note.schema == "urn:acme:schema:metadata.1" and note.asserter == "urn:acme:user:local@localhost"
        assert fab.get_aspect(note.urn.rsplit(":", 1)[-1]) == note  # a bare UUID, in the server's namespace
        assert fab.transport.namespace == "acme"


def test_the_cli_expands_short_names_in_the_servers_namespace(acme: FabricServer) -> None:
    """A bare UUID, `metadata.1` and a plain collection name mean `urn:acme:…` against a server in `acme`."""
    env = {"FABRIC_URL": acme.url}
    runner = CliRunner()
    name = f"ns-{uuid.uuid4().hex[:8]}"
    uploaded = runner.invoke(main, ["upload", "-", "--name", "n.txt", "--collection", name], env=env, input="n")
    urn = uploaded.stdout.strip()
    assert uploaded.exit_code == 0 and urn.startswith("urn:acme:artifact:"), uploaded.stderr
    bare = urn.rsplit(":", 1)[1]
    added = runner.invoke(main, ["aspect", "add", bare, "metadata.1", '{"site": "Davis"}', "--json"], env=env)
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["schema"] == "urn:acme:schema:metadata.1"
    assert json.loads(added.stdout)["entity"] == urn
    listed = runner.invoke(main, ["ls", "--collection", name, "--json"], env=env)
    assert [a["urn"] for a in json.loads(listed.stdout)] == [urn]


def test_local_mode_in_another_namespace(tmp_path: Path) -> None:
    from fabric.client.local_transport import LocalTransport

    with Fabric.over(LocalTransport(tmp_path / "local", namespace="acme")) as fab:
        artifact = fab.upload_artifact(name="b.txt", io_stream=io.BytesIO(b"acme"))
        assert artifact.id == f"urn:file://{(tmp_path / 'local').resolve()}/b.txt"  # a file is a file, any namespace
        assert artifact.data.uploader == "urn:acme:user:local@localhost"
