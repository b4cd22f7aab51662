"""`fabric login`, `fabric logout`, `fabric whoami`: remember a server and a token, and show who you are there.

`fabric login` checks the server and the token (`GET /v1/me`) before it stores anything. How the token is
obtained is one step, `_token_for`: today given with --token or typed at a prompt. Another way to sign in (a
browser sign-in link from the web portal, say) is another option whose handler obtains a token and hands it to
`finish_login(url, token)`, which checks it, stores it and reports, the same for every way.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from fabric.commands.common import destination_options, echo_json, error_message, is_terminal
from fabric.credentials import Login, forget_login, load_login, login_path, save_login
from fabric.settings import DEFAULT_URL

if TYPE_CHECKING:
    import httpx

TIMEOUT = 10.0  # seconds; httpx is imported where used: `fabric serve` loads this module but never calls out


class NeedsToken(Exception):
    """The server requires a token and none (or a rejected one) was sent."""


def server_identity(url: str, token: str | None) -> dict[str, Any]:
    """The caller as the server sees it (`GET /v1/me`); NeedsToken on 401, a one-line ClickException otherwise."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(f"{url}/v1/me", headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise click.ClickException(error_message(exc, url) or str(exc)) from None
    if response.status_code == 401:
        raise NeedsToken(_problem_detail(response))
    if response.status_code == 404:
        raise click.ClickException(f"{url} does not look like a datafabric server (GET /v1/me answered 404)")
    if response.status_code >= 400:
        raise click.ClickException(f"{url} answered {response.status_code}: {_problem_detail(response)}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise click.ClickException(f"{url} does not look like a datafabric server (GET /v1/me is not JSON)")
    return _identity(body, token)


def _identity(me: dict[str, Any], token: str | None) -> dict[str, Any]:
    """`GET /v1/me`'s answer as shown here, with the token's expiry (read from the token itself)."""
    from fabric.commands.destination import token_claims

    auth = bool(me.get("auth"))
    exp = token_claims(token).get("exp") if auth else None
    return {
        "user": me.get("email"),
        "name": me.get("name"),
        "org": me.get("org"),
        "roles": ["admin"] if me.get("admin") else [],
        "auth": "token" if auth else "none",
        "expires": datetime.fromtimestamp(exp, UTC).isoformat() if isinstance(exp, int | float) else None,
    }


def _problem_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body.get("detail") or body.get("title"))
    except (ValueError, AttributeError):
        return response.reason_phrase


def _token_for(url: str, token: str | None) -> tuple[str | None, dict[str, Any]]:
    """The token to store for `url` and the identity it gives: the one given, else none if the server needs none,
    else one typed at a prompt (on a terminal)."""
    try:
        return token, server_identity(url, token)
    except NeedsToken as exc:
        if token is not None:
            raise click.ClickException(f"{url} rejected the token: {exc}") from None
        if not (is_terminal() and is_terminal(sys.stdin)):
            raise click.ClickException(
                f"{url} requires a token: fabric login --url {url} --token TOKEN "
                "(an admin mints one with `fabric token create`)"
            ) from None
    typed = click.prompt("Token (input hidden; `fabric token create` mints one)", hide_input=True, err=True).strip()
    try:
        return typed, server_identity(url, typed)
    except NeedsToken as exc:
        raise click.ClickException(f"{url} rejected the token: {exc}") from None


def finish_login(url: str, token: str | None, identity: dict[str, Any]) -> None:
    """Store the login and say what it is; warn when the environment overrides it."""
    path = save_login(Login(url=url, token=token))
    click.echo(f"Logged in to {url} as {_who(identity)}.")
    if identity.get("expires"):
        click.echo(f"The token expires {_when(identity['expires'])}.")
    click.echo(f"Saved in {path} (readable by you only); `fabric logout` removes it.")
    for name in ("FABRIC_URL", "FABRIC_TOKEN"):
        if os.environ.get(name):
            click.echo(f"Note: {name} is set in your environment and wins over this login.", err=True)


@click.command()
@click.option("--url", default=None, metavar="URL", help=f"The server, e.g. {DEFAULT_URL}.")
@click.option("--token", default=None, metavar="TOKEN", help="Your token (prompted for if the server needs one).")
def login(url: str | None, token: str | None) -> None:
    """Remember a server and your token for it; later commands use them.

    FABRIC_URL and FABRIC_TOKEN, and --url/--token on a command, still win over what is stored.
    """
    url = url or os.environ.get("FABRIC_URL")
    if not url:
        if not is_terminal(sys.stdin):
            raise click.UsageError("give the server: fabric login --url URL")
        url = click.prompt("Server URL", default=DEFAULT_URL, err=True)
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("expected http://host:port or https://host", param_hint="--url")
    token, identity = _token_for(url, token.strip() if token else None)
    finish_login(url, token, identity)


@click.command()
def logout() -> None:
    """Forget the stored server and token."""
    stored = load_login()
    removed = forget_login()
    if removed is None:
        click.echo(f"Not logged in (no {login_path()}).")
    else:
        click.echo(f"Logged out of {stored.url if stored else 'the server'}: removed {removed}.")
    for name in ("FABRIC_URL", "FABRIC_TOKEN"):
        if os.environ.get(name):
            click.echo(f"Note: {name} is still set in your environment.", err=True)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@destination_options
def whoami(url: str | None, token: str | None, local: bool, as_json: bool) -> None:
    """Who you are, where: user, organisation, roles, token expiry, server and mode."""
    from fabric.client import ConfigurationError
    from fabric.commands.destination import resolve, token_claims

    try:
        destination = resolve(url, token, local=local)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    if destination.url is None:
        info: dict[str, Any] = {
            "mode": "local",
            "store": str(destination.local_dir),
            "user": "local@localhost",
            "org": "local",
            "roles": ["admin"],
            "note": "local mode: one user, no sharing; `fabric login --url URL` to use a server",
        }
    else:
        info = {"mode": "server", "server": destination.url, "from": destination.source}
        try:
            identity = server_identity(destination.url, destination.token)
        except NeedsToken as exc:
            claims = token_claims(destination.token)
            reason = f"the server rejected the token: {exc}" if destination.token else "the server requires a token"
            raise click.ClickException(
                f"{reason} ({destination.url}; from {destination.source})"
                + (f"; the token names {claims.get('sub')}" if claims.get("sub") else "")
                + ". Log in with `fabric login --url URL --token TOKEN`."
            ) from None
        info.update(identity)
        info["auth"] = "none: every caller is this local user" if identity.get("auth") == "none" else "bearer token"
    if as_json:
        echo_json(info)
        return
    rows = [("mode", "server"), ("server", info.get("server") or "-"), ("from", info.get("from") or "-")]
    if info["mode"] == "local":
        rows = [("mode", "local"), ("store", info["store"])]
    else:
        rows.append(("auth", info["auth"]))
    name = f" ({info['name']})" if info.get("name") and info.get("name") != info.get("user") else ""
    rows += [
        ("user", f"{info.get('user')}{name}"),
        ("org", str(info.get("org") or "-")),
        ("roles", ", ".join(info.get("roles") or []) or "-"),
    ]
    if info.get("expires"):
        rows.append(("token", f"expires {_when(info['expires'])}"))
    if info.get("order"):
        rows.append(("order", info["order"]))
    for key, value in rows:
        click.echo(f"{key + ':':<8}{value}")
    if info.get("note"):
        click.echo(info["note"], err=True)


def _who(identity: dict[str, Any]) -> str:
    roles = ", ".join(identity.get("roles") or [])
    extra = f"organisation {identity.get('org')}" + (f", {roles}" if roles else "")
    if identity.get("auth") == "none":
        extra += "; the server runs without authentication, no token needed"
    return f"{identity.get('user')} ({extra})"


def _when(iso: str) -> str:
    """`2026-12-23 19:22 UTC (in 29 days)`."""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    left = moment.timestamp() - time.time()
    if left < 0:
        relative = "expired"
    elif left < 60:
        relative = "in under a minute"
    elif left < 3600:
        relative = f"in {int(left // 60)} minutes"
    elif left < 2 * 86400:
        relative = f"in {int(left // 3600)} hours"
    else:
        relative = f"in {int(left // 86400)} days"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC ({relative})"
