"""`fabric serve` takes every option from FABRIC_<OPTION> too."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.server_process import FabricServer


def test_options_come_from_environment_variables(tmp_path: Path) -> None:
    env = {"FABRIC_MAX_SIZE": "12345", "FABRIC_NO_AUTH": "false"}
    with FabricServer(tmp_path / "data", env=env) as server:
        assert httpx.options(f"{server.url}/v1/uploads").headers["Tus-Max-Size"] == "12345"
        unauthenticated = httpx.get(f"{server.url}/v1/artifacts")
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["WWW-Authenticate"].startswith("Bearer")
