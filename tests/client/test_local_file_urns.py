"""Local mode hands out IVCAP's local URNs: an uploaded file is the file `<base>/<name>`, named `urn:file:///abs/path`.

The seed (`ivcap-working-with-artifacts.txt`): `IVCAP.local(base_dir="./my-artifacts").upload_artifact(name="result.csv",
file_path=...)` gives `urn:file:///abs/path/to/my-artifacts/result.csv`; such URNs go back to `get_artifact`, and
`open()`/`as_local_file()` read the file without the network. Here the file also carries the fabric's aspects and
lineage, since local mode runs the whole fabric.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from fabric import Fabric
from fabric.cli import main
from fabric.client import Gone


def test_the_seeds_local_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "result.csv"
    source.write_bytes(b"station,temp\nMawson,-12\n")
    with Fabric.local(base_dir="./my-artifacts") as fab:
        artifact = fab.upload_artifact(name="result.csv", file_path=str(source))
        placed = (tmp_path / "my-artifacts" / "result.csv").resolve()
        assert artifact.id == f"urn:file://{placed}"
        assert placed.read_bytes() == source.read_bytes()  # the URN names a real file with the bytes
        assert not stat.S_IMODE(placed.stat().st_mode) & 0o222  # read-only: the stored bytes cannot be edited in place
        with artifact.as_local_file() as path:
            assert path == placed  # the file itself, never a temporary copy
        assert path.exists()
        with artifact.open() as f:
            assert f.read() == source.read_bytes()
        assert fab.upload_artifact(file_path=str(source)) == artifact  # unchanged, same name: not sent again
        renamed = fab.upload_artifact(name="copy.csv", file_path=str(source))  # another name: another file
        assert renamed.id == f"urn:file://{placed.parent}/copy.csv" and renamed.read_bytes() == source.read_bytes()


def test_file_urns_go_back_to_get_artifact_with_aspects_and_lineage(tmp_path: Path) -> None:
    base = tmp_path / "my artifacts"  # a space: the URN keeps the path as it is, `file://` percent-encodes it
    with Fabric.local(base) as fab:
        artifact = fab.upload_artifact(name="in.csv", io_stream=io.BytesIO(b"1,2\n"), collection="climate")
        path = base.resolve() / "in.csv"
        for urn in (artifact.id, f"file://{path}", f"urn:file://{quote(str(path))}"):
            found = fab.get_artifact(urn)
            assert found.id == artifact.id and not found.plain_file
            assert found.collection == "urn:fabric:collection:climate" and found.sha256 == artifact.sha256
        note = fab.add_aspect(artifact.id, {"$schema": "urn:fabric:schema:metadata.1", "station": "Mawson"})
        assert [a.urn for a in fab.list_aspects(entity=artifact.id, schema="urn:fabric:schema:metadata.1")] == [
            note.urn
        ]
        assert [a.id for a in fab.collection("climate")] == [artifact.id]

        with fab.order(service="double", inputs={"data": artifact.id}) as order:
            made = order.upload_artifact(name="out.csv", io_stream=io.BytesIO(b"2,4\n"))
        assert made.id == f"urn:file://{base.resolve() / 'out.csv'}"
        rels = {(e["from"], e["rel"], e["to"]) for e in fab.lineage(made.id, depth=3)["edges"]}
        assert {(made.id, "WAS_GENERATED_BY", order.urn), (order.urn, "USED", artifact.id)} <= rels

        elsewhere = tmp_path / "plain.txt"  # a file this store did not make: a plain view, no graph
        elsewhere.write_bytes(b"plain")
        view = fab.get_artifact(f"urn:file://{elsewhere}")
        assert view.plain_file and view.aspects == [] and view.read_bytes() == b"plain"


def test_names_never_overwrite_and_unnamed_streams_get_a_uuid(tmp_path: Path) -> None:
    with Fabric.local(tmp_path / "store") as fab:
        base = tmp_path.resolve() / "store"
        first = fab.upload_artifact(name="a.txt", io_stream=io.BytesIO(b"one"))
        second = fab.upload_artifact(name="a.txt", io_stream=io.BytesIO(b"two"))
        assert (first.id, second.id) == (f"urn:file://{base}/a.txt", f"urn:file://{base}/a-2.txt")
        assert (first.read_bytes(), second.read_bytes()) == (b"one", b"two")
        internal = fab.upload_artifact(name="blobs", io_stream=io.BytesIO(b"not the blob store"))
        assert internal.id == f"urn:file://{base}/blobs-2" and (base / "blobs").is_dir()
        unnamed = fab.upload_artifact(io_stream=io.BytesIO(b"anonymous"))
        assert unnamed.name and unnamed.id == f"urn:file://{base}/{unnamed.name}"
        assert len(unnamed.name) == 36 and unnamed.name.count("-") == 4  # a UUID


def test_delete_removes_the_file_and_its_urn_is_not_reused(tmp_path: Path) -> None:
    with Fabric.local(tmp_path / "store") as fab:
        base = tmp_path.resolve() / "store"
        gone = fab.upload_artifact(name="old.bin", io_stream=io.BytesIO(os.urandom(100)))
        fab.delete(gone.id, reason="superseded")
        assert not (base / "old.bin").exists()
        with pytest.raises(Gone):
            fab.get_artifact(gone.id)
        again = fab.upload_artifact(name="old.bin", io_stream=io.BytesIO(b"new"))
        assert again.id == f"urn:file://{base}/old-2.bin"  # the tombstone keeps its URN in lineage

        (base / "old-2.bin").unlink()  # removed by hand: the artifact still reads from its blob
        assert fab.get_artifact(again.id).read_bytes() == b"new"


def test_cli_local_mode_prints_file_urns_and_takes_them_back(tmp_path: Path) -> None:
    env = {"FABRIC_LOCAL_DIR": str(tmp_path / "local"), "FABRIC_CONFIG": str(tmp_path / "login.json")}
    (tmp_path / "obs.csv").write_bytes(b"t,1\n")
    runner = CliRunner()
    uploaded = runner.invoke(main, ["upload", str(tmp_path / "obs.csv")], env=env)
    assert uploaded.exit_code == 0, uploaded.stderr
    urn = uploaded.stdout.strip()
    assert urn == f"urn:file://{(tmp_path / 'local').resolve()}/obs.csv"
    shown = runner.invoke(main, ["show", urn], env=env)
    assert (
        shown.exit_code == 0 and f"urn:       {urn}" in shown.stdout and "urn:fabric:schema:artifact.1" in shown.stdout
    )
    out = tmp_path / "copy.csv"
    fetched = runner.invoke(main, ["download", urn, "-o", str(out), "-q"], env=env)
    assert fetched.exit_code == 0, fetched.stderr
    assert out.read_bytes() == b"t,1\n"
    listed = runner.invoke(main, ["ls"], env=env)
    assert listed.stdout.split("\t")[0] == urn
