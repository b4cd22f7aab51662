"""What a new user meets on the command line: where commands go, names, a server that is down or busy, login,
tables, the access log. Real `fabric serve` processes on loopback and the real `fabric` command in a subprocess
(on a pseudo-terminal where a terminal changes the output)."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from fabric.cli import main
from fabric.client import Fabric, NotFound, Unauthorized
from tests.server_process import FabricServer, free_port

ROOT = Path(__file__).resolve().parents[2]
FABRIC = str(Path(sys.executable).parent / "fabric")  # the installed command, as a user runs it
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FABRIC_URL", "FABRIC_TOKEN", "FABRIC_LOCAL_DIR")}
    return {**env, **extra}


def fabric(
    *args: str, env: dict[str, str], cwd: Path | None = None, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [FABRIC, *args],
        env=env,
        cwd=cwd,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        timeout=120,
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def on_terminal(*args: str, env: dict[str, str], cwd: Path | None = None) -> tuple[int, str]:
    """Run `fabric ARGS` with stdout and stderr on a pseudo-terminal; its exit code and what the terminal got."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [FABRIC, *args],
        env={**env, "COLUMNS": "160", "TERM": "xterm"},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    received = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            received += chunk
        elif process.poll() is not None:
            break
    os.close(leader)
    return process.wait(30), ANSI.sub("", received.decode(errors="replace")).replace("\r\n", "\n")


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("fabric → ")]


# ---- 1. where a command goes ----------------------------------------------------------------------------


def test_every_command_says_where_it_went(tmp_path: Path, client_server: FabricServer) -> None:
    local = fabric("ls", env=cli_env(FABRIC_LOCAL_DIR=str(tmp_path / "store")), cwd=tmp_path)
    assert local.returncode == 0
    first = local.stderr.splitlines()[0]
    assert first.startswith("fabric → local store ") and str(tmp_path / "store") in first and "fabric login" in first

    by_env = fabric("ls", env=cli_env(FABRIC_URL=client_server.url))
    assert by_env.stderr.splitlines()[0] == f"fabric → {client_server.url} (from FABRIC_URL)"
    # --url wins over FABRIC_URL
    by_option = fabric("ls", "--url", client_server.url, env=cli_env(FABRIC_URL="http://127.0.0.1:9"))
    assert (
        by_option.returncode == 0 and by_option.stderr.splitlines()[0] == f"fabric → {client_server.url} (from --url)"
    )
    # on a terminal too, as the first line
    code, screen = on_terminal("ls", env=cli_env(FABRIC_URL=client_server.url))
    assert code == 0 and screen.splitlines()[0] == f"fabric → {client_server.url} (from FABRIC_URL)"


# ---- 2. names, 8. download refuses to overwrite --------------------------------------------------------


def test_upload_names_the_artifact_after_its_file_and_download_keeps_it(
    tmp_path: Path, client_server: FabricServer
) -> None:
    env = cli_env(FABRIC_URL=client_server.url)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.nc").write_bytes(b"netcdf bytes")
    up = fabric("upload", "data/a.nc", env=env, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    urn = up.stdout.strip()
    assert re.fullmatch(r"urn:fabric:artifact:[0-9a-f-]{36}", urn)
    assert "data/a.nc → a.nc (12 B)" in up.stderr
    assert json.loads(fabric("show", urn, "--json", env=env).stdout)["name"] == "a.nc"

    out = tmp_path / "out"
    out.mkdir()
    down = fabric("download", urn, env=env, cwd=out)
    assert down.returncode == 0 and Path(down.stdout.strip()) == out / "a.nc"
    assert (out / "a.nc").read_bytes() == b"netcdf bytes"
    (out / "a.nc").write_bytes(b"my own edits")
    again = fabric("download", urn, env=env, cwd=out)
    assert again.returncode == 1 and (out / "a.nc").read_bytes() == b"my own edits"
    assert errors(again.stderr) == [
        f"Error: {out / 'a.nc'} exists; pass --force to overwrite it, or -o to write elsewhere"
    ]
    forced = fabric("download", urn, "--force", env=env, cwd=out)
    assert forced.returncode == 0 and (out / "a.nc").read_bytes() == b"netcdf bytes"


def with_ctrl_c(*command: str) -> list[str]:
    """`command` with SIGINT at its default, as from a terminal: a child inherits an ignored SIGINT, and something
    earlier in the suite leaves pytest's ignored, so the CLI would never see Ctrl-C. The disposition is reset in a
    small Python that then exec's the command (safer than preexec_fn while the test process has threads)."""
    reset = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])"
    return [sys.executable, "-c", reset, *command]


# ---- 3. a server that is down --------------------------------------------------------------------------


def test_server_down_is_told_at_once_and_ctrl_c_stops_without_a_traceback(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    process = subprocess.Popen(
        with_ctrl_c(FABRIC, "ls"), env=cli_env(FABRIC_URL=url), stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stderr is not None
    announced = process.stderr.readline().decode()
    notice = process.stderr.readline().decode()
    assert announced.startswith(f"fabric → {url}")
    assert notice.startswith(f"fabric: the server at {url} is unreachable (connection refused); retrying for up to ")
    assert "press Ctrl-C to stop" in notice
    assert process.poll() is None  # told while it is still retrying, not after
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read().decode()
    assert process.wait(30) != 0
    assert "Traceback" not in rest


def test_server_down_ends_in_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "x.bin").write_bytes(b"x")
    done = fabric("upload", "--retries", "0", "x.bin", env=cli_env(FABRIC_URL=url), cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert errors(done.stderr) == [
        f"Error: cannot reach the server at {url}: connection refused. Is `fabric serve` running there? "
        "(check --url, FABRIC_URL or `fabric login`)"
    ]


# ---- 4. one server per data dir ------------------------------------------------------------------------


def test_a_second_server_on_the_same_data_dir_says_who_holds_it(client_server: FabricServer) -> None:
    assert client_server.process is not None
    second = fabric("serve", "--port", str(free_port()), "--data-dir", str(client_server.data_dir), env=cli_env())
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert second.stderr.strip().splitlines() == [
        f"Error: the data dir {client_server.data_dir.resolve()} is in use by fabric serve "
        f"(pid {client_server.process.pid} serving {client_server.url}); "
        f"stop it (kill {client_server.process.pid}) or pass another --data-dir"
    ]
    assert httpx.get(f"{client_server.url}/readyz").status_code == 200  # the first one is untouched


# ---- 5. token create and its key -----------------------------------------------------------------------


def test_token_create_refuses_a_data_dir_without_a_key_unless_new_key(tmp_path: Path) -> None:
    args = ["token", "create", "--user", "a@b.org", "--org", "b", "--data-dir", str(tmp_path / "empty")]
    refused = CliRunner().invoke(main, args, env={"FABRIC_TOKEN_KEY": ""})
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "no signing key at" in refused.stderr and "--new-key" in refused.stderr
    assert not (tmp_path / "empty" / "token-secret").exists()
    made = CliRunner().invoke(main, [*args, "--new-key"], env={"FABRIC_TOKEN_KEY": ""})
    key = (tmp_path / "empty" / "token-secret").resolve()
    assert made.exit_code == 0 and f"created a new signing key at {key}" in made.stderr
    assert made.stdout.count(".") == 2  # a JWT
    again = CliRunner().invoke(main, args, env={"FABRIC_TOKEN_KEY": ""})
    assert again.exit_code == 0 and again.stderr.strip() == f"signed with the key in {key}"
    by_env = CliRunner().invoke(main, args, env={"FABRIC_TOKEN_KEY": "k" * 32})
    assert by_env.exit_code == 0 and "--token-key (FABRIC_TOKEN_KEY)" in by_env.stderr


# ---- 6. collections by name, 7. trailing slash, README links -------------------------------------------


def test_collections_by_plain_name_and_no_redirect_for_a_trailing_slash(
    tmp_path: Path, client_server: FabricServer
) -> None:
    name = f"climate-{uuid.uuid4().hex[:8]}"
    (tmp_path / "t.nc").write_bytes(b"t")
    urn = fabric("upload", "t.nc", "--collection", name, env=cli_env(FABRIC_URL=client_server.url), cwd=tmp_path)
    urn_text = urn.stdout.strip()
    with httpx.Client(base_url=client_server.url, follow_redirects=False) as http:
        by_name = http.get("/v1/artifacts", params={"collection": name})
        assert by_name.status_code == 200 and [a["urn"] for a in by_name.json()["items"]] == [urn_text]
        by_urn = http.get("/v1/artifacts", params={"collection": f"urn:fabric:collection:{name}"})
        assert by_urn.json()["items"] == by_name.json()["items"]
        members = http.get(f"/v1/collections/{name}")
        assert members.status_code == 200 and [a["urn"] for a in members.json()["items"]] == [urn_text]
        slashed = http.get("/v1/artifacts/", params={"collection": name})
        assert slashed.status_code == 200 and slashed.json()["items"] == by_name.json()["items"]
        assert http.get(f"/v1/artifacts/{urn_text}/").json()["urn"] == urn_text


def test_readme_links_point_into_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if not t.startswith(("http://", "https://", "mailto:"))]
    assert "docs/ARCHITECTURE.md" in local
    assert [t for t in local if not (ROOT / t).exists()] == []


def readme_block(containing: str) -> str:
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return next(block for block in blocks if containing in block)


@pytest.mark.parametrize(("marker", "made", "copy"), [
    ("UPLOAD_URL=$(curl", "model.ckpt", "model-copy.ckpt"),
    ("URN=$(fabric upload", "data/obs.csv", "obs-copy.csv"),
])  # fmt: skip
def test_readme_blocks_work_as_written(
    tmp_path: Path, client_server: FabricServer, marker: str, made: str, copy: str
) -> None:
    """The README's curl and CLI blocks, run by bash as they stand, against a real server."""
    script = readme_block(marker).replace("http://127.0.0.1:8000", client_server.url)
    env = cli_env(FABRIC_URL=client_server.url, PATH=f"{Path(FABRIC).parent}:{os.environ['PATH']}")
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / copy).read_bytes() == (tmp_path / made).read_bytes()


# ---- 8. ls, show, access shared; 9. progress -----------------------------------------------------------


def test_ls_is_a_table_on_a_terminal_and_csv_or_json_for_scripts(tmp_path: Path, client_server: FabricServer) -> None:
    env = cli_env(FABRIC_URL=client_server.url)
    name = f"tbl-{uuid.uuid4().hex[:8]}"
    (tmp_path / "big.bin").write_bytes(os.urandom(3 << 20))
    code, screen = on_terminal("upload", "big.bin", "--collection", name, env=env, cwd=tmp_path)
    assert code == 0, screen
    assert "3.0/3.0 MiB" in screen and " MB" not in screen  # binary units
    assert "finishing" in screen  # said while the server finishes, not a silent 100%
    urn = re.search(r"urn:fabric:artifact:[0-9a-f-]{36}", screen)
    assert urn is not None

    code, screen = on_terminal("ls", "--collection", name, env=env)
    lines = screen.splitlines()
    assert code == 0 and lines[1].split() == ["NAME", "SIZE", "TYPE", "STATUS", "CREATED", "URN"]
    assert lines[2].split()[:5] == ["big.bin", "3.0", "MiB", "application/octet-stream", "ready"]
    assert lines[2].endswith(urn.group(0))

    rows = list(csv.DictReader(io.StringIO(fabric("ls", "--collection", name, "--csv", env=env).stdout)))
    assert [(r["urn"], r["name"], r["size"], r["status"]) for r in rows] == [
        (urn.group(0), "big.bin", str(3 << 20), "ready")
    ]
    assert [a["size"] for a in json.loads(fabric("ls", "--collection", name, "--json", env=env).stdout)] == [3 << 20]
    empty = fabric("ls", "--collection", "nothing-here-" + name, env=env)
    assert empty.returncode == 0 and empty.stdout == ""


def test_show_prints_aspect_content_and_shared_says_when_empty(tmp_path: Path, client_server: FabricServer) -> None:
    env = cli_env(FABRIC_URL=client_server.url)
    urn = fabric("upload", "-", "--name", "obs.csv", env=env, input=b"t,1\n").stdout.strip()
    added = fabric("aspect", "add", urn, "urn:fabric:schema:metadata.1", '{"station": "Mawson"}', env=env)
    assert added.returncode == 0, added.stderr
    shown = fabric("show", urn, env=env).stdout
    assert f"  urn:fabric:schema:metadata.1  {added.stdout.strip()}" in shown
    assert '        "station": "Mawson"' in shown
    shared = fabric("access", "shared", env=env)
    assert shared.returncode == 0 and shared.stdout == ""
    assert errors(shared.stderr) == ["nothing is shared with you or your organisation yet"]


# ---- login, whoami, logout; 10. access log -------------------------------------------------------------


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FabricServer]:
    data = tmp_path_factory.mktemp("cli-auth") / "data"
    with FabricServer(data, args=["--auth", "--log-format", "json"]) as server:
        yield server


def mint(server: FabricServer, email: str = "alice@acme.org", org: str = "acme") -> str:
    made = fabric(
        "token", "create", "--user", email, "--org", org, "--admin", "--name", "Alice",
        "--data-dir", str(server.data_dir), env=cli_env(),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_login_whoami_logout(tmp_path: Path, auth_server: FabricServer) -> None:
    config = tmp_path / "config" / "login.json"
    env = cli_env(FABRIC_CONFIG=str(config), FABRIC_LOCAL_DIR=str(tmp_path / "local"))
    token = mint(auth_server)

    needs = fabric("login", "--url", auth_server.url, env=env)
    assert needs.returncode == 1 and "requires a token" in needs.stderr and not config.exists()
    bad = fabric("login", "--url", auth_server.url, "--token", token[:-4] + "AAAA", env=env)
    assert bad.returncode == 1 and "rejected the token" in bad.stderr and not config.exists()

    good = fabric("login", "--url", auth_server.url + "/", "--token", token, env=env)
    assert good.returncode == 0, good.stderr
    assert f"Logged in to {auth_server.url} as alice@acme.org (organisation acme, admin)." in good.stdout
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": auth_server.url, "token": token}

    who = fabric("whoami", env=env)
    assert who.returncode == 0, who.stderr
    fields = dict(line.split(":", 1) for line in who.stdout.splitlines())
    assert fields["mode"].strip() == "server" and fields["auth"].strip() == "bearer token"
    assert fields["server"].strip() == auth_server.url and fields["user"].strip() == "alice@acme.org (Alice)"
    assert fields["org"].strip() == "acme" and fields["roles"].strip() == "admin"
    assert re.fullmatch(r"expires \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 29 days\)", fields["token"].strip())
    as_json = json.loads(fabric("whoami", "--json", env=env).stdout)
    assert as_json["user"] == "alice@acme.org" and as_json["auth"] == "bearer token"

    listed = fabric("ls", env=env)
    assert listed.returncode == 0 and listed.stderr.startswith(
        f"fabric → {auth_server.url} as alice@acme.org (from fabric login"
    )
    # the environment wins; the stored token goes to no other server (localhost is not 127.0.0.1 as a string)
    other = auth_server.url.replace("127.0.0.1", "localhost")
    elsewhere = fabric("ls", env={**env, "FABRIC_URL": other})
    assert elsewhere.returncode == 1 and elsewhere.stderr.startswith(f"fabric → {other} (from FABRIC_URL)")
    assert "Unauthorized" in elsewhere.stderr

    out = fabric("logout", env=env)
    assert out.returncode == 0 and f"removed {config}" in out.stdout and not config.exists()
    local = fabric("whoami", env=env)
    assert local.returncode == 0 and local.stdout.startswith("mode:   local")


def test_fabric_in_python_uses_the_stored_login_below_arguments_and_environment(
    tmp_path: Path, auth_server: FabricServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`Fabric()` reads what `fabric login` stored: arguments > environment > login file > local mode."""
    config = tmp_path / "config" / "login.json"
    env = cli_env(FABRIC_CONFIG=str(config))
    monkeypatch.setenv("FABRIC_CONFIG", str(config))
    monkeypatch.setenv("FABRIC_LOCAL_DIR", str(tmp_path / "local"))
    assert Fabric().mode == "local"  # nothing stored yet

    token = mint(auth_server, "carol@acme.org")
    assert fabric("login", "--url", auth_server.url, "--token", token, env=env).returncode == 0
    with Fabric() as fab:  # the stored server and token: the server (with --auth) answers carol
        assert fab.destination == auth_server.url
        made = fab.upload_artifact(io_stream=io.BytesIO(b"stored login"), name="login.txt")
        assert b"".join(fab.get_artifact(made.id).as_stream()) == b"stored login"

    other = mint(auth_server, "dave@rival.test", org="rival")
    with Fabric(token=other) as fab:  # an explicit token goes to the stored server
        with pytest.raises(NotFound):
            fab.get_artifact(made.id)  # dave cannot see carol's private artifact
    monkeypatch.setenv("FABRIC_TOKEN", other)
    with Fabric() as fab:  # the environment's token wins over the stored one
        with pytest.raises(NotFound):
            fab.get_artifact(made.id)
    monkeypatch.delenv("FABRIC_TOKEN")

    elsewhere = auth_server.url.replace("127.0.0.1", "localhost")
    monkeypatch.setenv("FABRIC_URL", elsewhere)
    with Fabric() as fab:  # FABRIC_URL wins, and the stored token is not sent to another server
        assert fab.destination == elsewhere
        with pytest.raises(Unauthorized):
            fab.get_artifact(made.id)
    with Fabric(url=auth_server.url) as fab:  # an explicit URL wins over FABRIC_URL; the token is its own
        assert fab.get_artifact(made.id).name == "login.txt"
    monkeypatch.delenv("FABRIC_URL")

    assert fabric("logout", env=env).returncode == 0
    assert Fabric().mode == "local"


def test_access_list_and_shared_are_tables_on_a_terminal_and_lines_for_scripts(
    tmp_path: Path, auth_server: FabricServer
) -> None:
    owner = cli_env(FABRIC_URL=auth_server.url, FABRIC_TOKEN=mint(auth_server, "erin@acme.org"))
    reader = cli_env(FABRIC_URL=auth_server.url, FABRIC_TOKEN=mint(auth_server, "frank@rival.test", org="rival"))
    name = f"shared-{uuid.uuid4().hex[:8]}.csv"
    urn = fabric("upload", "-", "--name", name, env=owner, input=b"a,b\n").stdout.strip()
    grant_id = fabric("access", "grant", urn, "--email", "frank@rival.test", env=owner).stdout.strip()

    code, screen = on_terminal("access", "list", urn, env=owner)
    lines = [line for line in screen.splitlines() if not line.startswith("fabric →")]
    assert code == 0, screen
    assert lines[0].split() == ["GRANTEE", "GRANTED", "BY", "GRANTED", "STATE", "ID"]
    row = lines[1].split()
    assert row[0] == "email:frank@rival.test" and row[-2:] == ["active", grant_id] and "\t" not in lines[1]
    piped = fabric("access", "list", urn, env=owner)
    fields = piped.stdout.rstrip("\n").split("\t")
    assert piped.returncode == 0 and fields[:2] == [grant_id, "email:frank@rival.test"] and fields[-1] == "active"
    assert [g["id"] for g in json.loads(fabric("access", "list", urn, "--json", env=owner).stdout)] == [grant_id]

    code, screen = on_terminal("access", "shared", env=reader)
    lines = [line for line in screen.splitlines() if not line.startswith("fabric →")]
    assert code == 0, screen
    assert lines[0].split() == ["NAME", "SHARED", "BY", "URN"]
    mine = [line for line in lines[1:] if line.startswith(name)]
    assert len(mine) == 1 and mine[0].endswith(urn) and "(acme)" in mine[0] and "\t" not in mine[0]
    piped = fabric("access", "shared", env=reader)
    assert piped.returncode == 0 and f"{urn}\t{name}\t" in piped.stdout
    assert urn in [item["urn"] for item in json.loads(fabric("access", "shared", "--json", env=reader).stdout)]


def test_access_log_one_json_line_per_request_without_secrets(auth_server: FabricServer) -> None:
    token = mint(auth_server, "logger@acme.org")
    secret = uuid.uuid4().hex
    response = httpx.get(
        f"{auth_server.url}/v1/artifacts",
        params={"limit": "3", "token": secret},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert httpx.get(f"{auth_server.url}/v1/artifacts").status_code == 401
    deadline = time.monotonic() + 10
    entries: list[dict[str, object]] = []
    while time.monotonic() < deadline and len(entries) < 2:
        log = auth_server.log_path.read_text()
        entries = [
            e for e in (json.loads(line) for line in log.splitlines() if line.startswith("{"))
            if e.get("logger") == "fabric.access" and e.get("path") == "/v1/artifacts"
        ]  # fmt: skip
        time.sleep(0.1)
    mine = next(e for e in entries if e["user"] == "logger@acme.org")
    assert mine["method"] == "GET" and mine["status"] == response.status_code
    assert mine["bytes"] == len(response.content) and isinstance(mine["duration_ms"], float)
    assert "token=REDACTED" in str(mine["query"]) and "limit=3" in str(mine["query"])
    assert any(e["status"] == 401 and e["user"] is None for e in entries)
    assert secret not in log and token not in log and token.split(".")[2] not in log


def test_access_log_text_line(client_server: FabricServer) -> None:
    httpx.get(f"{client_server.url}/v1/artifacts", params={"limit": "2"})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in client_server.log_tail(400).splitlines() if "fabric.access:" in line]
        if any("GET /v1/artifacts?limit=2 200 " in line for line in lines):
            break
        time.sleep(0.1)
    line = next(line for line in lines if "GET /v1/artifacts?limit=2 200 " in line)
    assert re.search(r"127\.0\.0\.1 GET /v1/artifacts\?limit=2 200 \d+B [0-9.]+ms local@localhost$", line)


def test_access_log_counts_the_bytes_of_a_blob_sent_whole(client_server: FabricServer, tmp_path: Path) -> None:
    (tmp_path / "sent.bin").write_bytes(os.urandom(300_001))
    urn = fabric("upload", "sent.bin", env=cli_env(FABRIC_URL=client_server.url), cwd=tmp_path).stdout.strip()
    response = httpx.get(f"{client_server.url}/v1/artifacts/{urn}/blob")
    assert response.content == (tmp_path / "sent.bin").read_bytes()  # sent by `sendfile` (fabric.path_send)
    wanted = f"GET /v1/artifacts/{urn}/blob 200 300001B "
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and wanted not in client_server.log_tail(400):
        time.sleep(0.1)
    assert wanted in client_server.log_tail(400)


# ---- shell completion ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_and_completions(shell: str) -> None:
    script = fabric("completion", shell, env=cli_env())
    assert script.returncode == 0 and "_FABRIC_COMPLETE" in script.stdout
    # what each shell's script sends: bash and zsh the index of the word being completed, fish the word itself
    env = cli_env(
        _FABRIC_COMPLETE=f"{shell}_complete", COMP_WORDS="fabric up", COMP_CWORD="up" if shell == "fish" else "1"
    )
    completed = fabric(env=env)
    assert "upload" in completed.stdout


# ---- the next ten: what a new user tripped over next ----------------------------------------------------


def test_bare_uuids_and_short_schema_names(tmp_path: Path, client_server: FabricServer) -> None:
    env = cli_env(FABRIC_URL=client_server.url)
    urn = fabric("upload", "-", "--name", "u.txt", env=env, input=b"u").stdout.strip()
    bare = urn.rsplit(":", 1)[1]
    assert json.loads(fabric("show", bare, "--json", env=env).stdout)["urn"] == urn
    added = fabric("aspect", "add", bare, "metadata.1", '{"site": "Casey"}', env=env)
    assert added.returncode == 0, added.stderr
    listed = fabric("aspect", "list", "--entity", bare, "--schema", "metadata.1", "--json", env=env)
    assert [a["content"] for a in json.loads(listed.stdout)] == [{"site": "Casey"}]
    shown = fabric("show", bare, env=env).stdout
    assert "      (the record shown above)" in shown and '"site": "Casey"' in shown


def test_upload_says_when_a_file_was_not_sent_again(tmp_path: Path, client_server: FabricServer) -> None:
    env = cli_env(FABRIC_URL=client_server.url)
    (tmp_path / "same.csv").write_bytes(b"a,b\n")
    first = fabric("upload", "same.csv", env=env, cwd=tmp_path)
    second = fabric("upload", "same.csv", env=env, cwd=tmp_path)
    assert first.stdout == second.stdout and errors(first.stderr) == ["same.csv → same.csv (4 B)"]
    assert errors(second.stderr) == ["same.csv → same.csv (4 B, unchanged since its last upload: not sent again)"]


@pytest.mark.slow
def test_ctrl_c_mid_upload_says_how_to_resume_and_the_next_run_resumes(
    tmp_path: Path, client_server: FabricServer
) -> None:
    from tests.interop.cutting_proxy import CuttingProxy

    # The proxy holds the upload at 6 MiB, so Ctrl-C lands mid-upload however fast the machine is; it never cuts.
    with CuttingProxy(client_server.port, cut_every=1 << 40, jitter=0.0) as proxy:
        proxy.hold_at = 6 << 20
        env = cli_env(FABRIC_URL=proxy.url)
        (tmp_path / "big.bin").write_bytes(os.urandom(48 << 20))
        process = subprocess.Popen(
            with_ctrl_c(FABRIC, "upload", "--chunk-size", "1", "big.bin"),
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not proxy.holding and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None and proxy.holding, "the upload was not held mid-way"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
        proxy.release()  # the held request is cut now, as the interrupted client left it
        assert process.returncode == 130
        assert errors(stderr.decode())[-1] == "fabric: interrupted; the same command resumes big.bin where it stopped"
        assert "Traceback" not in stderr.decode()
        again = fabric("upload", "--chunk-size", "1", "big.bin", env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert re.fullmatch(r"big\.bin → big\.bin \(48\.0 MiB, resumed at \d+\.\d (MiB|KiB)\)", errors(again.stderr)[0])


def test_a_closed_pipe_ends_a_download_quietly(tmp_path: Path, client_server: FabricServer) -> None:
    env = cli_env(FABRIC_URL=client_server.url)
    (tmp_path / "long.bin").write_bytes(os.urandom(4 << 20))
    urn = fabric("upload", "long.bin", env=env, cwd=tmp_path).stdout.strip()
    piped = subprocess.run(
        f"{FABRIC} download {urn} -o - | head -c 10 | wc -c", shell=True, env=env, capture_output=True, timeout=120
    )
    assert piped.stdout.decode().strip() == "10"
    assert errors(piped.stderr.decode()) == []  # no "Broken pipe", no traceback


def test_serve_says_in_one_line_why_it_cannot_start(tmp_path: Path, client_server: FabricServer) -> None:
    in_use = fabric("serve", "--port", str(client_server.port), "--data-dir", str(tmp_path / "d1"), env=cli_env())
    assert in_use.returncode == 1 and in_use.stderr.strip().splitlines() == [
        f"Error: port {client_server.port} on 127.0.0.1 is in use by another program (another fabric serve?); "
        "stop it, or choose another with --port (FABRIC_PORT)"
    ]
    (tmp_path / "file").write_text("not a directory")
    bad_dir = fabric("serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "file" / "data"), env=cli_env())
    assert bad_dir.returncode == 1 and "Traceback" not in bad_dir.stderr
    assert bad_dir.stderr.strip().startswith(f"Error: cannot use the data dir {tmp_path / 'file' / 'data'}: ")
    no_neo4j = fabric(
        "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d2"),
        "--graph-url", f"bolt://127.0.0.1:{free_port()}", env=cli_env(),
    )  # fmt: skip
    assert no_neo4j.returncode == 1 and "Traceback" not in no_neo4j.stderr
    line = no_neo4j.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: cannot use the Neo4j graph at bolt://127.0.0.1:") and "is Neo4j running?" in line


def test_version_help_and_log_names() -> None:
    version = fabric("--version", env=cli_env())
    assert version.returncode == 0 and re.fullmatch(r"fabric, version \d+\.\d+\.\d+\n", version.stdout)
    helped = fabric("--help", env=cli_env()).stdout
    assert "Start with `fabric login --url" in helped and "login" in helped and "whoami" in helped


def test_server_log_names_uvicorn_plainly(client_server: FabricServer) -> None:
    log = client_server.log_path.read_text(errors="replace")  # the whole log: other tests' lines follow start-up
    assert "INFO uvicorn: Application startup complete." in log and "uvicorn.error" not in log


def test_an_expired_token_is_named_as_such(auth_server: FabricServer) -> None:
    made = fabric(
        "token", "create", "--user", "old@acme.org", "--org", "acme", "--ttl", "-60",
        "--data-dir", str(auth_server.data_dir), env=cli_env(),
    )  # fmt: skip
    listed = fabric("ls", "--url", auth_server.url, "--token", made.stdout.strip(), env=cli_env())
    assert listed.returncode == 1
    assert (
        listed.stderr.splitlines()[0]
        == f"fabric → {auth_server.url} as old@acme.org with an expired token (from --url)"
    )
    assert errors(listed.stderr)[0].startswith("Error: Unauthorized: the token has expired")
