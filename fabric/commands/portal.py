"""`fabric portal`: a one-time link that opens the web portal already signed in, without the token in any URL."""

from __future__ import annotations

import webbrowser

import click

from fabric.commands.common import destination_options, error_message

TIMEOUT = 10.0  # seconds; httpx is imported where used: `fabric serve` loads this module but never calls out


def portal_link(url: str, token: str | None) -> str:
    """The portal's address; with a token, a link holding a one-time code for it (good once, for two minutes)."""
    if not token:
        return f"{url}/"
    import httpx

    try:
        response = httpx.post(f"{url}/v1/auth/codes", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise click.ClickException(error_message(exc, url) or str(exc)) from None
    if response.status_code == 400:
        return f"{url}/"  # the server runs without authentication: nothing to sign in to
    if response.status_code >= 300:
        try:
            detail = response.json().get("detail") or response.reason_phrase
        except ValueError:
            detail = response.reason_phrase
        raise click.ClickException(f"{url} answered {response.status_code}: {detail}")
    return str(response.json()["url"])


@click.command()
@click.option("--open", "open_browser", is_flag=True, help="Open the link in your web browser.")
@destination_options
def portal(url: str | None, token: str | None, local: bool, open_browser: bool) -> None:
    """Print a link that opens the web portal signed in as you (once, within two minutes).

    The link carries a one-time code in its #fragment, never your token; the page trades the code for it.
    """
    from fabric.client import ConfigurationError
    from fabric.commands.destination import resolve

    try:
        destination = resolve(url, token, local=local)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    if destination.url is None:
        raise click.ClickException("the portal is served by a server: `fabric login --url URL` first, or pass --url")
    link = portal_link(destination.url.rstrip("/"), destination.token)
    click.echo(link)
    if "#signin=" in link:
        click.echo("The link works once, within two minutes.", err=True)
    if open_browser:
        webbrowser.open(link)
