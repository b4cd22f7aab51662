"""The lifecycle from `fabric.Fabric` and the `fabric` CLI, in local mode and against a real server (through the
counting proxy): directories as one artifact, the Apheris shape, pull, versions, aliases, stages, lock, delete,
orders with `fabric://` inputs and promotion."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fabric.cli import main
from fabric.client import Conflict, Fabric, Gone, NotFound
from fabric.client.http_transport import HttpTransport
from fabric.client.transport import UploadOptions
from tests.client.proxy import CountingProxy
from tests.fixtures_client import upload_requests


def tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(200_000), "sub/deeper/c.json": b'{"c": 3}'}
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return files


def repo_name() -> str:
    return f"proj/m{uuid.uuid4().hex[:8]}"


def test_directory_upload_pull_and_apheris_shape(fab: Fabric, tmp_path: Path) -> None:
    files = tree(tmp_path / "run")
    art = fab.upload_artifact(dir_path=tmp_path / "run", type="checkpoint", labels={"run": "7"})
    assert art.status == "ready" and art.type == "checkpoint" and art.labels == {"run": "7"}
    assert {f["path"]: f["size"] for f in art.files()} == {path: len(data) for path, data in files.items()}
    written = art.pull(tmp_path / "out")
    assert {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in written} == files
    (tmp_path / "out" / "sub" / "b.bin").write_bytes(files["sub/b.bin"][:1000])  # a cut download
    (tmp_path / "out" / "sub" / "b.bin").rename(tmp_path / "out" / "sub" / ".b.bin.part")
    (tmp_path / "out" / "sub" / "b.bin").write_bytes(b"")  # (an empty leftover is replaced, not trusted)
    art.pull(tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "b.bin").read_bytes() == files["sub/b.bin"]
    draft = fab.new_artifact(name="metrics", type="metric")
    draft.add_file(local_path=tmp_path / "run" / "a.txt", path="m/a.txt")
    with pytest.raises(ValueError):
        draft.add_file(local_path=tmp_path / "run" / "a.txt", path="../escape")
    saved = draft.save()
    assert saved.state == "ready" and [f["path"] for f in saved.files()] == ["m/a.txt"]
    assert [a.id for a in fab.list_artifacts(type="metric")] == [saved.id]
    assert saved.id in [a.id for a in fab.list_artifacts(labels={}, type="metric")]
    assert art.id in [a.id for a in fab.list_artifacts(labels={"run": "7"})]
    listed = {a.id: a for a in fab.list_artifacts(labels={"run": "7"})}[art.id]
    assert (listed.type, listed.labels) == (art.type, art.labels) and listed.labels["run"] == "7"  # as GET shows it
    assert {a.id: a for a in fab.list_artifacts(type="metric")}[saved.id].type == "metric"


def test_unchanged_files_are_linked_not_sent(proxy: CountingProxy, tmp_path: Path, client_server: object) -> None:
    tree(tmp_path / "run")
    with Fabric(url=proxy.url) as fab:
        fab.upload_artifact(dir_path=tmp_path / "run")
        before = upload_requests(proxy.url)
        again = fab.upload_artifact(dir_path=tmp_path / "run", name="again")
        assert upload_requests(proxy.url) == before  # every file linked by its sha256: no tus upload at all
        assert len(again.files()) == 3


def test_the_files_of_an_artifact_go_up_at_once_and_one_that_fails_leaves_it_a_draft(
    proxy: CountingProxy, tmp_path: Path, client_server: object
) -> None:
    """Against a server a draft's files go up `jobs` at once: the first two threads to report progress wait for
    each other at a barrier, which one upload at a time could never pass. A file that fails does not stop the
    others; the draft is not sealed and that file's error is raised."""
    sizes = [10_000 + k for k in range(6)]
    for k, size in enumerate(sizes):
        (tmp_path / f"f{k}.bin").write_bytes(os.urandom(size))
    barrier = threading.Barrier(2, timeout=60)
    waited: set[threading.Thread] = set()
    lock = threading.Lock()

    def progress(done: int, total: int | None) -> None:
        with lock:
            first = len(waited) < 2 and threading.current_thread() not in waited
            waited.add(threading.current_thread())
        if first:
            barrier.wait()  # two uploads under way at the same moment
        if total == sizes[4]:
            raise OSError("the disk holding f4.bin failed")

    with Fabric(url=proxy.url) as fab:
        draft = fab.new_artifact(name=f"parallel-{uuid.uuid4().hex[:8]}")
        for k in range(6):
            draft.add_file(local_path=tmp_path / f"f{k}.bin")
        with pytest.raises(OSError, match=r"f4\.bin failed"):
            draft.save(UploadOptions(progress=progress, jobs=3, retries=0))
        assert not barrier.broken and len(waited) >= 2
        unsealed = fab.get_artifact(draft.id)
        assert unsealed.state == "draft"
        stored = sorted(f["path"] for f in unsealed.files() if f["sha256"] is not None)
        assert stored == [f"f{k}.bin" for k in (0, 1, 2, 3, 5)]  # f4.bin's upload was made, its bytes never sent
        whole = fab.upload_artifact(dir_path=tmp_path, name="all-six", jobs=4)
        assert whole.state == "ready"
        assert {f["path"]: f["size"] for f in whole.files()} == {f"f{k}.bin": size for k, size in enumerate(sizes)}


def test_the_files_of_an_artifact_come_down_at_once_and_one_that_fails_stops_no_other(
    proxy: CountingProxy, tmp_path: Path, client_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a server `pull` fetches `jobs` files at once: the first two fetches wait for each other at a
    barrier, which one file at a time could never pass. A file that fails does not stop the others, and its
    error is raised; a second pull fetches only what is missing."""
    files = {f"d/f{k}.bin": os.urandom(20_000 + k) for k in range(6)}
    for path, data in files.items():
        (tmp_path / "src" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / path).write_bytes(data)
    barrier = threading.Barrier(2, timeout=60)
    entered: set[threading.Thread] = set()
    fetched: list[str] = []
    lock = threading.Lock()
    real = HttpTransport.file_chunks

    def file_chunks(self: HttpTransport, urn: str, path: str, **kw: Any) -> Iterator[bytes]:
        with lock:
            first = len(entered) < 2 and threading.current_thread() not in entered
            entered.add(threading.current_thread())
            fetched.append(path)
        if first:
            barrier.wait()  # two files under way at the same moment
        if path == "d/f4.bin" and len(fetched) <= len(files):
            raise OSError("the disk holding f4.bin failed")
        return real(self, urn, path, **kw)

    monkeypatch.setattr(HttpTransport, "file_chunks", file_chunks)
    with Fabric(url=proxy.url) as fab:
        art = fab.upload_artifact(dir_path=tmp_path / "src", name=f"pull-{uuid.uuid4().hex[:8]}")
        with pytest.raises(OSError, match=r"f4\.bin failed"):
            art.pull(tmp_path / "out", jobs=3)
        assert not barrier.broken and len(entered) >= 2
        written = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.bin")}
        assert written == set(files) - {"d/f4.bin"}
        again = fab.pull(art.id, tmp_path / "out", jobs=4)
        assert fetched[len(files) :] == ["d/f4.bin"]  # the others were there, whole: kept
        assert {p.relative_to(tmp_path / "out").as_posix(): p.read_bytes() for p in again} == files


def test_versions_aliases_stages_lock_delete(fab: Fabric, tmp_path: Path) -> None:
    repo = repo_name()
    (tmp_path / "a").write_bytes(b"one")
    (tmp_path / "b").write_bytes(b"two")
    one = fab.upload_artifact(file_path=tmp_path / "a", type="model")
    two = fab.upload_artifact(file_path=tmp_path / "b", type="model")
    assert fab.register_version(repo, one.id, description="first", aliases=["champion"])["number"] == 1
    assert fab.register_version(repo, two.id, tags=["x"])["number"] == 2
    assert fab.get_version(repo)["artifact"] == two.id
    assert fab.get_version(f"{repo}:champion")["artifact"] == one.id
    assert fab.get_artifact(f"fabric://{repo}:1").id == one.id
    fab.set_alias(repo, "champion", 2)
    assert fab.resolve(f"fabric://{repo}:champion")["number"] == 2
    with pytest.raises(Conflict):
        fab.stage(f"{repo}:2", "production")
    fab.lock(two.id)
    assert fab.stage(f"{repo}:2", "production", reason="good")["stage"] == "production"
    assert [v["number"] for v in fab.list_versions(repo, stage="production")] == [2]
    assert fab.stage_history(f"{repo}:2")[0]["reason"] == "good"
    assert fab.update_version(f"{repo}:1", description="patched")["description"] == "patched"
    with pytest.raises(Conflict):
        fab.delete(two.id)  # locked
    fab.delete(one.id)
    with pytest.raises(Gone):
        fab.get_artifact(one.id)
    assert [v["number"] for v in fab.list_versions(repo)] == [2]
    assert any(r["name"] == repo.split("/")[1] for r in fab.list_repositories(project="proj"))
    with pytest.raises(NotFound):
        fab.get_version(f"{repo}:nope")


def test_orders_resolve_references_once_and_promote(fab: Fabric, tmp_path: Path) -> None:
    repo = repo_name()
    (tmp_path / "in").write_bytes(b"input")
    data = fab.upload_artifact(file_path=tmp_path / "in")
    fab.register_version(repo, data.id, aliases=["prod"])
    with fab.order(service="train", inputs={"data": f"fabric://{repo}:prod"}) as order:
        assert order.input_path(f"fabric://{repo}:prod").read_bytes() == b"input"
        (tmp_path / "out").write_bytes(b"model")
        model = order.upload_artifact(file_path=tmp_path / "out")
        promoted = order.promote("proj/models-" + repo.split("/m")[1], model, description="from the run")
    assert promoted["order"] == order.id and promoted["number"] == 1
    used = [a.entity for a in fab.list_aspects(schema="urn:fabric:schema:artifact-used-by-order.1")]
    assert data.id in used  # the concrete artifact the alias named when the order began
    lineage = fab.lineage(f"fabric://{promoted['repository']}", depth=3)
    assert data.id in {node["urn"] for node in lineage["nodes"]}


@pytest.fixture(params=["local", "platform"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "local":
        return {"FABRIC_LOCAL_DIR": str(tmp_path / "local")}
    proxy: CountingProxy = request.getfixturevalue("proxy")
    return {"FABRIC_URL": proxy.url}


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def ok(env: dict[str, str], *args: str) -> str:
    result = run(env, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_cli_repo_and_version_commands(env: dict[str, str], tmp_path: Path) -> None:
    files = tree(tmp_path / "ckpt")
    urn = ok(env, "upload", str(tmp_path / "ckpt"), "--type", "checkpoint", "--label", "team=vision", "-q").strip()
    each = ok(env, "upload", str(tmp_path / "ckpt"), "--each", "-q").split()
    assert len(each) == 3 and urn not in each
    assert json.loads(ok(env, "ls", "--type", "checkpoint", "--label", "team=vision", "--json"))[0]["urn"] == urn
    repo = repo_name()
    assert (
        ok(env, "version", "register", repo, urn, "-d", "first", "--alias", "champion").strip() == f"fabric://{repo}:1"
    )
    assert ok(env, "version", "register", repo, each[0]).strip() == f"fabric://{repo}:2"
    listed = json.loads(ok(env, "version", "ls", repo, "--json"))
    assert [v["number"] for v in listed] == [2, 1]
    assert json.loads(ok(env, "version", "show", f"{repo}:champion"))["artifact"] == urn
    ok(env, "version", "alias", repo, "prod", "1")
    assert "protected alias" in run(env, "version", "delete", f"{repo}:prod", "--yes").stderr
    ok(env, "version", "alias", repo, "prod", "--remove")
    ok(env, "version", "lock", f"{repo}:1")
    assert "production" in ok(env, "version", "stage", f"{repo}:1", "production", "--reason", "ship")
    assert json.loads(ok(env, "version", "stage", f"{repo}:1", "--history"))[0]["stage"] == "production"
    pulled = ok(env, "version", "pull", f"{repo}:champion", "-o", str(tmp_path / "pulled")).split()
    assert {Path(p).relative_to(tmp_path / "pulled").as_posix() for p in pulled} == set(files)
    ok(env, "version", "delete", f"{repo}:2", "--yes")
    assert [v["number"] for v in json.loads(ok(env, "version", "ls", repo, "--json"))] == [1]
    assert repo.split("/")[1] in ok(env, "repo", "ls", "--project", "proj")
    assert "champion -> 1" in ok(env, "repo", "show", repo)
    bad = run(env, "version", "show", "nota-ref")
    assert bad.exit_code == 1 and "Error" in bad.stderr
