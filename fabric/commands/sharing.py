"""`fabric access grant|list|revoke|shared`: who may read an artifact."""

from __future__ import annotations

from typing import Any

import click

from fabric.commands.common import artifact_urn, client_command, echo_json


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
    made = fab.grant_access(artifact_urn(urn), email=email, org=org)
    echo_json(made) if as_json else click.echo(made["id"])


@access.command("list")
@click.argument("urn")
@click.option("--include-revoked", is_flag=True, help="Revoked grants too (the history).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of grants.")
@client_command
def list_grants(fab: Any, urn: str, include_revoked: bool, as_json: bool) -> None:
    """The grants on URN: id, grantee, who granted it and when (revoked ones marked)."""
    grants = fab.list_access(artifact_urn(urn), include_revoked=include_revoked)
    if as_json:
        echo_json(grants)
        return
    if not grants:
        click.echo(
            f"no {'' if include_revoked else 'active '}grants on {urn}: only its creator and their admins read it",
            err=True,
        )
    for item in grants:
        state = f"revoked {item['revoked_at']}" if item.get("revoked_at") else "active"
        click.echo(
            "\t".join([item["id"], _grantee(item), item.get("granted_by") or "-", item.get("granted_at") or "-", state])
        )


@access.command("revoke")
@click.argument("urn")
@click.argument("grant_id")
@client_command
def revoke(fab: Any, urn: str, grant_id: str) -> None:
    """Revoke grant GRANT_ID on URN (the grant stays in the history, retracted)."""
    revoked = fab.revoke_access(artifact_urn(urn), grant_id)
    click.echo(f"revoked {revoked['id']} ({_grantee(revoked)})")


@access.command("shared")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@client_command
def shared(fab: Any, limit: int, as_json: bool) -> None:
    """Artifacts others shared with you or your organisation."""
    items = list(fab.shared_artifacts(limit=limit))
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("nothing is shared with you or your organisation yet", err=True)
        return
    for item in items:
        creator = item.get("creator") or {}
        click.echo(
            "\t".join(
                [item["urn"], item.get("name") or "-", f"{creator.get('name') or '-'} ({creator.get('org') or '-'})"]
            )
        )
