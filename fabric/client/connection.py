"""Which server a client talks to: explicit arguments, then environment variables, then the stored login.

`fabric login` stores a server and a token (`fabric.credentials`); `Fabric()` and every CLI command read it the
same way, through `choose_server`. A stored token is only ever sent to the server it was stored for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from fabric.client.errors import ConfigurationError
from fabric.credentials import load_login, login_path


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    token: str | None
    source: str  # where the URL came from: "--url", "FABRIC_URL" or "fabric login, <path>"


def choose_server(url: str | None = None, token: str | None = None, *, url_source: str = "--url") -> Server | None:
    """The server `url`, `FABRIC_URL` or the login file names, in that order, with its token; None: local mode.

    The token is `token`, else `FABRIC_TOKEN`, else the stored one when the server is the one it was stored for.
    A token with no server anywhere is a ConfigurationError, not a silent local mode.
    """
    token = token or os.environ.get("FABRIC_TOKEN") or None
    if url:
        return Server(url.rstrip("/"), token or _stored_token(url), url_source)
    env_url = os.environ.get("FABRIC_URL")
    if env_url:
        return Server(env_url.rstrip("/"), token or _stored_token(env_url), "FABRIC_URL")
    stored = load_login()
    if stored is not None:
        return Server(stored.url.rstrip("/"), token or stored.token, f"fabric login, {login_path()}")
    if token:
        raise ConfigurationError(
            "a token was given but no server URL: set FABRIC_URL, pass one (url=... or --url) or run "
            "`fabric login --url URL`, or drop the token (FABRIC_TOKEN) for local mode"
        )
    return None


def _stored_token(url: str) -> str | None:
    """The login file's token, only if it was stored for this very server."""
    stored = load_login()
    if stored is not None and stored.url.rstrip("/") == url.rstrip("/"):
        return stored.token
    return None
