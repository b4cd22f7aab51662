"""`fabric aspect add|list|show|update|retract`."""

from __future__ import annotations

from typing import Any

import click

from fabric.commands.common import artifact_urn, client_command, echo_json, read_json, schema_urn


@click.group()
def aspect() -> None:
    """Assert, list and retract aspects (typed metadata on artifacts and other entities)."""


def _print(aspect: Any) -> None:
    echo_json(aspect.to_json())


@aspect.command("add")
@click.argument("entity")
@click.argument("schema")
@click.argument("content")
@click.option("--json", "as_json", is_flag=True, help="Print the whole aspect as JSON, not just its URN.")
@client_command
def add(fab: Any, entity: str, schema: str, content: str, as_json: bool) -> None:
    """Assert CONTENT (JSON, @file or - for stdin) of SCHEMA about ENTITY; prints the aspect URN.

    ENTITY is a URN (an artifact also by its bare UUID); SCHEMA a schema URN or its short name (metadata.1).
    """
    created = fab.add_aspect(artifact_urn(fab, entity), schema_urn(fab, schema), read_json(content, "CONTENT"))
    _print(created) if as_json else click.echo(created.urn)


@aspect.command("list")
@click.option("--entity", default=None, help="Aspects about this URN.")
@click.option("--schema", default=None, help="Aspects of this schema.")
@click.option("--at", default=None, help="As of this ISO 8601 time.")
@click.option("--include-retracted", is_flag=True, help="Retracted aspects too.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON array of aspects.")
@client_command
def list_(
    fab: Any, entity: str | None, schema: str | None, at: str | None, include_retracted: bool, limit: int, as_json: bool
) -> None:
    """List aspects (URN, entity, schema, content), current ones unless --include-retracted."""
    found = fab.list_aspects(
        entity=artifact_urn(fab, entity) if entity else None,
        schema=schema_urn(fab, schema) if schema else None,
        at=at,
        include_retracted=include_retracted,
        limit=limit,
    )
    if as_json:
        echo_json([a.to_json() for a in found])
        return
    import json

    for a in found:
        state = "retracted" if a.retracted else "current"
        click.echo("\t".join([a.urn, a.entity, a.schema, state, json.dumps(a.content, separators=(",", ":"))]))


@aspect.command("show")
@click.argument("urn")
@client_command
def show(fab: Any, urn: str) -> None:
    """Print one aspect as JSON."""
    _print(fab.get_aspect(urn))


@aspect.command("update")
@click.argument("urn")
@click.argument("content")
@client_command
def update(fab: Any, urn: str, content: str) -> None:
    """Replace an aspect's content (retract + assert); prints the new aspect URN."""
    click.echo(fab.update_aspect(urn, read_json(content, "CONTENT")).urn)


@aspect.command("retract")
@click.argument("urns", nargs=-1, required=True)
@client_command
def retract(fab: Any, urns: tuple[str, ...]) -> None:
    """Retract aspects (they stay in the history, no longer current)."""
    for urn in urns:
        fab.retract_aspect(urn)
        click.echo(urn)
