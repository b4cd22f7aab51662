"""`fabric repo ls|show` and `fabric version register|ls|show|alias|stage|lock|pull|delete`.

A version is named `<project>/<name>[:<number|alias>]` (latest without one), or `fabric://…` the same way;
`lock`, `pull` and `delete` also take an artifact URN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from fabric.commands.common import client_command, echo_json
from fabric.commands.tables import echo_table, stdout_is_terminal


def _artifact_of(fab: Any, target: str) -> str:
    """The artifact URN `target` names: itself if it is a URN, else the version it names."""
    if target.startswith("urn:"):
        return target
    return str(fab.get_version(target)["artifact"])


def _echo_versions(versions: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json(versions)
    elif stdout_is_terminal():
        rows = [
            [
                str(v["number"]),
                v.get("stage") or "-",
                ",".join(v.get("aliases") or []) or "-",
                v["artifact"],
                v["description"] or "-",
            ]
            for v in versions
        ]
        echo_table(["VERSION", "STAGE", "ALIASES", "ARTIFACT", "DESCRIPTION"], rows)
    else:
        for v in versions:
            click.echo("\t".join([str(v["number"]), v.get("stage") or "-", v["artifact"], v["description"] or "-"]))


@click.group()
def repo() -> None:
    """Repositories of versions: <project>/<name>."""


@repo.command("ls")
@click.option("--project", default=None, help="Only this project.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@client_command
def repo_ls(fab: Any, project: str | None, limit: int, as_json: bool) -> None:
    """List the repositories you may read."""
    repos = list(fab.list_repositories(project=project, limit=limit))
    if as_json:
        echo_json(repos)
        return
    for item in repos:
        click.echo(f"{item['project']}/{item['name']}")


@repo.command("show")
@click.argument("repository")
@click.option("--json", "as_json", is_flag=True, help="The repository as JSON.")
@client_command
def repo_show(fab: Any, repository: str, as_json: bool) -> None:
    """A repository: its aliases and newest versions."""
    body = fab.get_repository(repository)
    if as_json:
        echo_json(body)
        return
    click.echo(f"{body['project']}/{body['name']}  (organisation {body.get('org') or '-'}, created {body['created']})")
    for alias, item in sorted(body["aliases"].items()):
        click.echo(f"  {alias} -> {item['version']}")
    aliases: dict[str, list[str]] = {}
    for alias, item in body["aliases"].items():
        aliases.setdefault(item["artifact"], []).append(alias)
    _echo_versions([{**v, "aliases": aliases.get(v["artifact"], [])} for v in body["versions"]["items"]], False)


@click.group()
def version() -> None:
    """Versions of a repository: register, list, show, alias, stage, lock, pull, delete."""


@version.command("register")
@click.argument("repository")
@click.argument("artifact")
@click.option("--description", "-d", default="", help="What this version is.")
@click.option("--tag", "tags", multiple=True, help="A tag; repeatable.")
@click.option("--alias", "aliases", multiple=True, help="An alias to point at it (champion, prod, ...); repeatable.")
@click.option("--order", default=None, help="The order (run) that produced it: recorded in its lineage.")
@client_command
def register(
    fab: Any,
    repository: str,
    artifact: str,
    description: str,
    tags: tuple[str, ...],
    aliases: tuple[str, ...],
    order: str | None,
) -> None:
    """Register ARTIFACT (a URN or a reference) as the next version of REPOSITORY (<project>/<name>); prints it
    as fabric://<project>/<name>:<number>."""
    made = fab.register_version(
        repository, artifact, description=description, tags=list(tags), aliases=list(aliases), order=order
    )
    click.echo(made["reference"])


@version.command("ls")
@click.argument("repository")
@click.option("--stage", default=None, help="Only versions in this stage.")
@click.option("--at", default=None, help="As of this ISO 8601 time.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@client_command
def version_ls(fab: Any, repository: str, stage: str | None, at: str | None, limit: int, as_json: bool) -> None:
    """The versions of REPOSITORY, newest first."""
    _echo_versions(list(fab.list_versions(repository, stage=stage, at=at, limit=limit)), as_json)


@version.command("show")
@click.argument("reference")
@click.option("--at", default=None, help="As of this ISO 8601 time (which version an alias named then).")
@client_command
def version_show(fab: Any, reference: str, at: str | None) -> None:
    """One version (p/n, p/n:3, p/n:prod) as JSON."""
    echo_json(fab.get_version(reference, at=at))


@version.command("alias")
@click.argument("repository")
@click.argument("alias")
@click.argument("number", required=False, type=click.IntRange(1))
@click.option("--remove", is_flag=True, help="Remove the alias instead.")
@client_command
def alias(fab: Any, repository: str, alias: str, number: int | None, remove: bool) -> None:
    """Point ALIAS of REPOSITORY at version NUMBER (or --remove it)."""
    if remove == (number is not None):
        raise click.UsageError("give a version NUMBER, or --remove")
    if remove:
        fab.remove_alias(repository, alias)
        click.echo(f"{repository}: {alias} removed")
        return
    fab.set_alias(repository, alias, number)
    click.echo(f"{repository}:{alias} -> {number}")


@version.command("stage")
@click.argument("reference")
@click.argument("stage", required=False)
@click.option("--reason", default="", help="Why.")
@click.option("--message", "-m", default="", help="A longer note.")
@click.option("--history", is_flag=True, help="Print the version's stage history instead.")
@client_command
def stage(fab: Any, reference: str, stage: str | None, reason: str, message: str, history: bool) -> None:
    """Move version REFERENCE (p/n:3) to STAGE (none, testing, staging, production, archived), or show --history."""
    if history:
        echo_json(fab.stage_history(reference))
        return
    if not stage:
        raise click.UsageError("give a STAGE, or --history")
    done = fab.stage(reference, stage, reason=reason, message=message)
    click.echo(f"{done['reference']} is in {done['stage']}")


@version.command("lock")
@click.argument("target")
@click.option("--reason", default=None, help="Why.")
@client_command
def lock(fab: Any, target: str, reason: str | None) -> None:
    """Lock the artifact of a version (or an artifact URN): one way; then it may enter production."""
    urn = _artifact_of(fab, target)
    fab.lock(urn, reason=reason)
    click.echo(f"{urn} locked")


@version.command("pull")
@click.argument("target")
@click.option("-o", "--output", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--jobs", "-j", default=4, show_default=True, type=click.IntRange(1), help="Files fetched at once.")
@client_command
def pull(fab: Any, target: str, output: Path, jobs: int) -> None:
    """Write every file of a version (or an artifact URN) under OUTPUT (resumed, verified); prints each path."""
    for path in fab.pull(_artifact_of(fab, target), output, jobs=jobs):
        click.echo(str(path))


@version.command("delete")
@click.argument("target")
@click.option("--reason", default=None, help="Why.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@client_command
def delete(fab: Any, target: str, reason: str | None, yes: bool) -> None:
    """Delete the artifact of a version (or an artifact URN): refused if locked, protected by an alias, or in use."""
    urn = _artifact_of(fab, target)
    if not yes:
        click.confirm(f"delete {urn}?", abort=True, err=True)
    fab.delete(urn, reason=reason)
    click.echo(f"{urn} deleted")
