"""Where a client command goes: a server (from --url, FABRIC_URL or the login file) or the local store.

The order is: command-line options, then environment variables, then the file `fabric login` wrote (the one
rule `Fabric()` follows too, `fabric.client.connection`). A stored token is only ever sent to the server it was
stored for. Every command announces the destination it chose on
stderr, so that nothing silently lands in a local `./fabric-artifacts` while a server is running.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_LOCAL_DIR = "./fabric-artifacts"


@dataclass(frozen=True, slots=True)
class Destination:
    url: str | None  # None: local mode
    token: str | None
    source: str  # where the URL (or local mode) came from, for the announcement
    local_dir: Path | None = None

    @property
    def is_local(self) -> bool:
        return self.url is None

    def open(self) -> Any:
        from fabric.client import Fabric

        if self.url is None:
            return Fabric.local(self.local_dir)
        return Fabric(url=self.url, token=self.token)

    def describe(self) -> str:
        """`http://host:8000 as alice@acme.org (from FABRIC_URL)`, or the local store and how to use a server."""
        if self.url is None:
            return f"local store {self.local_dir} (no server set: `fabric login --url URL`, FABRIC_URL or --url to use one)"
        user = token_user(self.token)
        exp = token_claims(self.token).get("exp")
        expired = isinstance(exp, int | float) and exp < time.time()
        who = (f" as {user}" if user else "") + (" with an expired token" if expired else "")
        return f"{self.url}{who} (from {self.source})"


def resolve(url: str | None = None, token: str | None = None, *, local: bool = False) -> Destination:
    """The destination the options, the environment and the login file name, in that order."""
    if local:
        return Destination(None, None, "--local", _local_dir())
    from fabric.client.connection import choose_server

    server = choose_server(url, token)
    if server is None:
        return Destination(None, None, "default", _local_dir())
    return Destination(server.url, server.token, server.source)


def _local_dir() -> Path:
    return Path(os.environ.get("FABRIC_LOCAL_DIR") or DEFAULT_LOCAL_DIR).expanduser().resolve()


def token_claims(token: str | None) -> dict[str, Any]:
    """A token's claims, unverified (for display: the server checks the signature)."""
    if not token:
        return {}
    import jwt

    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def token_user(token: str | None) -> str | None:
    sub = token_claims(token).get("sub")
    return sub if isinstance(sub, str) else None
