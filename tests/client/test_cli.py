"""The `fabric` client commands, through click's runner in both modes, and once as a real subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fabric.cli import main
from fabric.client import Fabric
from tests.client.proxy import CountingProxy


@pytest.fixture(params=["local", "platform"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "local":
        return {"FABRIC_LOCAL_DIR": str(tmp_path / "local")}
    proxy: CountingProxy = request.getfixturevalue("proxy")
    return {"FABRIC_URL": proxy.url}


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def problems(stderr: str) -> list[str]:
    """stderr without the line announcing the destination (`fabric → ...`), which every client command prints."""
    return [line for line in stderr.splitlines() if not line.startswith("fabric → ")]


def ok(env: dict[str, str], *args: str, input: str | None = None) -> str:
    result = run(env, *args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_upload_prints_the_urn_and_deduplicates(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_bytes(b"a,b\n1,2\n")
    urn = ok(env, "upload", str(path), "--name", "table.csv", "--collection", "tables").strip()
    assert uploaded_as(env, "table.csv").fullmatch(urn)
    assert ok(env, "upload", str(path)).strip() == urn  # unchanged: the same artifact
    forced = ok(env, "upload", "--force", str(path)).strip()
    assert forced != urn and uploaded_as(env, "table-2.csv").fullmatch(forced)  # locally: the name was taken
    assert uploaded_as(env, "stdin.txt").fullmatch(
        ok(env, "upload", "-", "--name", "stdin.txt", input="from stdin").strip()
    )


def uploaded_as(env: dict[str, str], name: str) -> re.Pattern[str]:
    """Local mode names an upload by the file it became (`urn:file://<base>/<name>`), a server by a UUID."""
    if "FABRIC_LOCAL_DIR" in env:
        return re.compile(re.escape(f"urn:file://{Path(env['FABRIC_LOCAL_DIR']).resolve()}/{name}"))
    return re.compile(r"urn:fabric:artifact:[0-9a-f-]{36}")


def test_several_files_go_up_at_once_in_order_and_a_failure_stops_no_other(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fabric upload a b c ... --jobs 3`: against a server the first two uploads wait for each other at a
    barrier (one upload at a time could never pass it); the URNs come out in the order of the paths; a path
    that does not exist is reported and the others still go up; the command then exits with 1. Local mode
    copies one file at a time, with the same outcome."""
    files = []
    for k in range(6):
        files.append(tmp_path / f"part-{k}.bin")
        files[-1].write_bytes(os.urandom(3000 + k))
    if "FABRIC_URL" in env:
        barrier = threading.Barrier(2, timeout=60)
        calls = iter(range(1_000))
        real = Fabric.upload_artifact

        def upload_artifact(self: Fabric, *args: Any, **kwargs: Any) -> Any:
            if next(calls) < 2:
                barrier.wait()
            return real(self, *args, **kwargs)

        monkeypatch.setattr(Fabric, "upload_artifact", upload_artifact)
    paths = [str(path) for path in files[:3]] + [str(tmp_path / "missing.bin")] + [str(path) for path in files[3:]]
    result = run(env, "upload", *paths, "--jobs", "3")
    assert result.exit_code == 1
    urns = result.stdout.split()
    assert len(urns) == 6
    assert [json.loads(ok(env, "show", urn, "--json"))["name"] for urn in urns] == [path.name for path in files]
    assert f"fabric: no such file: {tmp_path / 'missing.bin'}" in problems(result.stderr)
    assert "Error: 1 of 7 uploads failed (above)" in result.stderr
    again = tmp_path / "again.bin"
    again.write_bytes(os.urandom(100))
    twice = run(env, "upload", str(again), str(again), "--jobs", "3").stdout.split()
    assert len(twice) == 2 and twice[0] == twice[1]  # a path named twice is one artifact, as one at a time makes it


def test_several_files_for_a_server_that_is_not_there_end_with_one_error(tmp_path: Path) -> None:
    """A failure that is not the file's own (here: nothing listens) starts no further upload and is the command's
    one error, said once, with nothing on stdout."""
    paths = []
    for k in range(3):
        paths.append(str(tmp_path / f"f{k}.bin"))
        Path(paths[-1]).write_bytes(b"x" * (k + 1))
    result = run({"FABRIC_URL": "http://127.0.0.1:9"}, "upload", *paths, "--retries", "0", "--jobs", "2")
    assert result.exit_code == 1 and result.stdout == ""
    assert problems(result.stderr) == [
        "Error: cannot reach the server at http://127.0.0.1:9: connection refused. Is `fabric serve` running there?"
        " (check --url, FABRIC_URL or `fabric login`)"
    ]


def test_show_ls_and_download(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"hello report")
    urn = ok(env, "upload", str(path), "--name", "report.txt", "--collection", "reports").strip()
    shown = ok(env, "show", urn)
    assert f"urn:       {urn}" in shown and "report.txt" in shown and "ready" in shown
    assert json.loads(ok(env, "show", urn, "--json"))["name"] == "report.txt"
    lines = ok(env, "ls", "--collection", "reports").splitlines()
    assert [line.split("\t")[0] for line in lines] == [urn]
    assert lines[0].split("\t")[1:] == ["ready", "12", "text/plain", "report.txt"]
    assert [a["urn"] for a in json.loads(ok(env, "ls", "--name", "report.txt", "--json"))] == [urn]

    def listed(*filters: str) -> list[str]:
        return [a["urn"] for a in json.loads(ok(env, "ls", "--collection", "reports", *filters, "--json"))]

    # without authentication (and locally) everything is the local user's, of the organisation `local`
    for uploader in ("me", "local@localhost", "urn:fabric:user:local@localhost"):
        assert listed("--uploader", uploader) == [urn]
    assert listed("--uploader", "someone@elsewhere.example") == []
    assert listed("--org", "local") == listed("--org", "urn:fabric:org:local") == [urn]
    assert listed("--org", "acme") == []

    out = tmp_path / "dl"
    out.mkdir()
    printed = ok(env, "download", urn, "-o", str(out)).strip()
    assert Path(printed) == (out / "report.txt").resolve()
    assert (out / "report.txt").read_bytes() == b"hello report"
    assert ok(env, "download", urn, "-o", "-") == "hello report"


def test_aspect_and_schema_commands(env: dict[str, str], tmp_path: Path) -> None:
    urn = ok(env, "upload", "-", "--name", "x.txt", input="x").strip()
    schema = tmp_path / "rating.json"
    schema.write_text(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "urn:fabric:schema:rating.1",
                "type": "object",
                "required": ["stars"],
                "properties": {"stars": {"type": "integer", "minimum": 1, "maximum": 5}},
            }
        )
    )
    assert ok(env, "schema", "add", str(schema)).strip() == "urn:fabric:schema:rating.1"
    assert "urn:fabric:schema:rating.1" in ok(env, "schema", "list")
    aspect = ok(env, "aspect", "add", urn, "urn:fabric:schema:rating.1", '{"stars": 4}').strip()
    assert aspect.startswith("urn:fabric:aspect:")
    listed = ok(env, "aspect", "list", "--entity", urn, "--schema", "urn:fabric:schema:rating.1").splitlines()
    assert listed == [f'{aspect}\t{urn}\turn:fabric:schema:rating.1\tcurrent\t{{"stars":4}}']
    bad = run(env, "aspect", "add", urn, "urn:fabric:schema:rating.1", '{"stars": 9}')
    assert bad.exit_code == 1
    assert problems(bad.stderr)[0].startswith("Error: ") and "stars" in bad.stderr and len(problems(bad.stderr)) == 1
    assert ok(env, "aspect", "retract", aspect).strip() == aspect
    assert ok(env, "aspect", "list", "--entity", urn, "--schema", "urn:fabric:schema:rating.1") == ""
    assert len(json.loads(ok(env, "aspect", "list", "--entity", urn, "--include-retracted", "--json"))) >= 2


def test_lineage_formats(env: dict[str, str], tmp_path: Path) -> None:
    from fabric.client import Fabric

    with Fabric(url=env["FABRIC_URL"]) if "FABRIC_URL" in env else Fabric.local(env["FABRIC_LOCAL_DIR"]) as fab:
        source = fab.upload_artifact(name="in.csv", file_path=_write(tmp_path / "in.csv", b"1"))
        with fab.order(service="double", inputs={"x": source.id}) as order:
            result = order.upload_artifact(name="out.csv", file_path=_write(tmp_path / "out.csv", b"2"))
    tree = ok(env, "lineage", result.id)
    assert tree.splitlines()[0].startswith(result.id)
    assert f"WAS_GENERATED_BY → {order.urn}" in tree and f"USED → {source.id}" in tree
    assert {n["urn"] for n in json.loads(ok(env, "lineage", result.id, "--format", "json"))["nodes"]} >= {
        result.id,
        order.urn,
        source.id,
    }
    dot = ok(env, "lineage", result.id, "--format", "dot")
    assert dot.startswith("digraph lineage {") and f'"{result.id}" -> "{order.urn}"' in dot
    mermaid = ok(env, "lineage", result.id, "--format", "mermaid")
    assert mermaid.startswith("flowchart LR") and "-->|WAS_GENERATED_BY|" in mermaid
    down = ok(env, "lineage", source.id, "--down")
    assert f"USED ← {order.urn}" in down and f"WAS_GENERATED_BY ← {result.id}" in down


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_errors_exit_1_with_one_line_and_usage_exits_2(env: dict[str, str], tmp_path: Path) -> None:
    missing = run(env, "show", "urn:fabric:artifact:00000000-0000-4000-8000-000000000000")
    assert missing.exit_code == 1
    assert problems(missing.stderr)[0].startswith("Error: ") and len(problems(missing.stderr)) == 1
    assert "00000000-0000-4000-8000-000000000000" in missing.stderr
    assert run(env, "upload", str(tmp_path / "nope.bin")).exit_code in (1, 2)
    usage = run(env, "lineage")
    assert usage.exit_code == 2 and "Missing argument" in usage.stderr
    assert run(env, "upload", "a", "b", "--name", "x").exit_code == 2
    assert run(env, "aspect", "add", "urn:fabric:artifact:x", "s", "{not json").exit_code == 2


def test_token_without_url_is_an_error() -> None:
    result = run({"FABRIC_TOKEN": "abc"}, "ls")
    assert result.exit_code == 1 and "FABRIC_URL" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["upload"],
        ["download"],
        ["ls"],
        ["show"],
        ["aspect"],
        ["aspect", "add"],
        ["aspect", "list"],
        ["aspect", "retract"],
        ["schema"],
        ["schema", "add"],
        ["schema", "list"],
        ["lineage"],
    ],
)
def test_help_everywhere(command: list[str]) -> None:
    result = run({}, *command, "--help")
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")


def test_real_subprocess_upload_and_download(tmp_path: Path, proxy: CountingProxy) -> None:
    data = os.urandom(100_000)
    (tmp_path / "blob.bin").write_bytes(data)
    env = {**os.environ, "FABRIC_URL": proxy.url}
    env.pop("FABRIC_TOKEN", None)
    up = subprocess.run(
        [sys.executable, "-m", "fabric", "upload", "blob.bin"], cwd=tmp_path, env=env, capture_output=True, timeout=120
    )
    assert up.returncode == 0, up.stderr
    # piped: no progress bar, only where it went and what it became
    assert up.stderr.decode().splitlines() == [
        f"fabric → {proxy.url} (from FABRIC_URL)",
        "blob.bin → blob.bin (97.7 KiB)",
    ]
    urn = up.stdout.decode().strip()
    down = subprocess.run(
        [sys.executable, "-m", "fabric", "download", urn, "-o", "-"], env=env, capture_output=True, timeout=120
    )
    assert down.returncode == 0 and down.stdout == data
    bad = subprocess.run(
        [sys.executable, "-m", "fabric", "show", "urn:fabric:artifact:nope"], env=env, capture_output=True, timeout=120
    )
    assert bad.returncode == 1 and problems(bad.stderr.decode())[0].startswith("Error: ") and bad.stdout == b""
