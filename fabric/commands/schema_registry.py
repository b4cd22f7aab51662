"""`fabric schema add|list|show`."""

from __future__ import annotations

from typing import Any

import click

from fabric.commands.common import client_command, echo_json, read_json


@click.group()
def schema() -> None:
    """Register and list aspect schemas (JSON Schema, Draft 2020-12)."""


@schema.command("add")
@click.argument("source")
@client_command
def add(fab: Any, source: str) -> None:
    """Register the JSON Schema in SOURCE (a file, @file, - for stdin, or inline JSON); prints its $id."""
    from pathlib import Path

    if source not in ("-",) and not source.startswith(("@", "{")) and Path(source).is_file():
        source = "@" + source
    document = read_json(source, "SOURCE")
    if not isinstance(document, dict):
        raise click.BadParameter("a schema is a JSON object", param_hint="SOURCE")
    registered = fab.register_schema(document)
    click.echo(registered.get("$id") or registered.get("id") or "")


@schema.command("list")
@click.option("--json", "as_json", is_flag=True, help="The schemas as a JSON array.")
@client_command
def list_(fab: Any, as_json: bool) -> None:
    """List schema ids and titles."""
    schemas = fab.list_schemas()
    if as_json:
        echo_json(schemas)
        return
    for item in schemas:
        click.echo(f"{item.get('$id') or item.get('id')}\t{item.get('title', '')}")


@schema.command("show")
@click.argument("schema_id")
@client_command
def show(fab: Any, schema_id: str) -> None:
    """Print one schema."""
    echo_json(fab.get_schema(schema_id))
