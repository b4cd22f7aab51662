"""`fabric access grant|list|revoke|shared`: who may read an artifact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from fabric.commands.common import artifact_urn, client_command, echo_json
from fabric.commands.tables import echo_table, short_time, stdout_is_terminal


@click.group()
def access() -> None:
    """Share artifacts: grant users (by email) or organisations (by id) read access, list and revoke grants."""


def _grantee(grant: dict[str, Any]) -> str:
    return f"email:{grant['email']}" if "email" in grant else f"org:{grant.get('org')}"


@access.command("grant")
@click.argument("urn")
@click.option("--email", "-e", default=None, help="The user to share with.")
@click.option("--org", "-o", default=None, help="The organisation (id) to share with.")
@click.option("--json", "as_json", is_flag=True, help="Print the grant as JSON, not just its id.")
@client_command
def grant(fab: Any, urn: str, email: str | None, org: str | None, as_json: bool) -> None:
    """Let a user or an organisation read URN; prints the grant id (what `fabric access revoke` takes)."""
    if (email is None) == (org is None):
        raise click.UsageError("give exactly one of --email and --org")
    made = fab.grant_access(artifact_urn(fab, urn), email=email, org=org)
    echo_json(made) if as_json else click.echo(made["id"])


@access.command("list")
@click.argument("urn")
@click.option("--include-revoked", is_flag=True, help="Revoked grants too (the history).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of grants.")
@client_command
def list_grants(fab: Any, urn: str, include_revoked: bool, as_json: bool) -> None:
    """The grants on URN: id, grantee, who granted it and when (revoked ones marked).

    On a terminal: a table with a header. For scripts: --json, or (when the output is piped) tab-separated lines
    without a header: id, grantee, granted by, granted at, state.
    """
    grants = fab.list_access(artifact_urn(fab, urn), include_revoked=include_revoked)
    if as_json:
        echo_json(grants)
        return
    if not grants:
        click.echo(
            f"no {'' if include_revoked else 'active '}grants on {urn}: only its creator and their admins read it",
            err=True,
        )
    elif stdout_is_terminal():
        rows = [
            [_grantee(g), g.get("granted_by") or "-", _when(g, "granted_at"), _state(g, _when), g["id"]] for g in grants
        ]
        echo_table(["GRANTEE", "GRANTED BY", "GRANTED", "STATE", "ID"], rows)
    else:
        for g in grants:
            fields = [g["id"], _grantee(g), g.get("granted_by") or "-", g.get("granted_at") or "-", _state(g, _exact)]
            click.echo("\t".join(fields))


def _when(grant: dict[str, Any], key: str) -> str:
    return short_time(grant.get(key))


def _exact(grant: dict[str, Any], key: str) -> str:
    return str(grant.get(key) or "-")


def _state(grant: dict[str, Any], time_of: Callable[[dict[str, Any], str], str]) -> str:
    return f"revoked {time_of(grant, 'revoked_at')}" if grant.get("revoked_at") else "active"


@access.command("revoke")
@click.argument("urn")
@click.argument("grant_id")
@client_command
def revoke(fab: Any, urn: str, grant_id: str) -> None:
    """Revoke grant GRANT_ID on URN (the grant stays in the history, retracted)."""
    revoked = fab.revoke_access(artifact_urn(fab, urn), grant_id)
    click.echo(f"revoked {revoked['id']} ({_grantee(revoked)})")


@access.command("shared")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@client_command
def shared(fab: Any, limit: int, as_json: bool) -> None:
    """Artifacts others shared with you or your organisation.

    On a terminal: a table with a header. For scripts: --json, or (when the output is piped) tab-separated lines
    without a header: urn, name, creator (organisation).
    """
    items = list(fab.shared_artifacts(limit=limit))
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("nothing is shared with you or your organisation yet", err=True)
        return
    rows = [[item.get("name") or "-", _creator(item), item["urn"]] for item in items]
    if stdout_is_terminal():
        echo_table(["NAME", "SHARED BY", "URN"], rows)
        return
    for name, creator, urn in rows:
        click.echo("\t".join([urn, name, creator]))


def _creator(item: dict[str, Any]) -> str:
    creator = item.get("creator") or {}
    return f"{creator.get('name') or '-'} ({creator.get('org') or '-'})"
