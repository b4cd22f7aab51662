"""`fabric upload`, `fabric download`, `fabric ls`, `fabric show`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from fabric.commands.common import artifact_urn, client_command, echo_json, human_size
from fabric.commands.progress import transfer_progress
from fabric.commands.tables import echo_csv, echo_table, short_time, stdout_is_terminal
from fabric.urns import collection_urn


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True, path_type=Path))
@click.option(
    "--name", default=None, help="Artifact name (one PATH only; default: the file's own name, e.g. a.nc for data/a.nc)."
)
@click.option("--content-type", default=None, help="MIME type (default: guessed from the name).")
@click.option(
    "--collection", default=None, help="Add to this collection (a name, or its URN urn:<namespace>:collection:<name>)."
)
@click.option("--policy", default=None, help="Access policy: open, or a policy URN.")
@click.option("--force", is_flag=True, help="Upload even if the file was uploaded unchanged before.")
@click.option("--each", is_flag=True, help="A directory becomes one artifact per file instead of one artifact.")
@click.option("--type", "type_", default=None, help="Artifact type: file (default), dataset, model, checkpoint, ...")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="A label; repeat for several.")
@click.option("--chunk-size", default=128, show_default=True, type=click.IntRange(1), help="MiB per PATCH request.")
@click.option(
    "--retries", default=10, show_default=True, type=click.IntRange(0), help="Consecutive failed attempts allowed."
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary on stderr.")
@client_command
def upload(
    fab: Any,
    paths: tuple[Path, ...],
    name: str | None,
    content_type: str | None,
    collection: str | None,
    policy: str | None,
    force: bool,
    each: bool,
    type_: str | None,
    labels: tuple[str, ...],
    chunk_size: int,
    retries: int,
    quiet: bool,
) -> None:
    """Upload files (or - for stdin) and print each artifact's URN on stdout.

    A DIRECTORY becomes one artifact holding all its files by their relative paths (--each: one artifact per
    file). Files the fabric already holds are linked by their sha256, not sent again.

    Each artifact is named after its file (data/a.nc becomes a.nc) unless --name says otherwise. An unchanged
    file uploaded before is not sent again (a .fabric-<name>.json sidecar beside it remembers), and an
    interrupted upload resumes where it stopped.
    """
    if name and len(paths) > 1:
        raise click.UsageError("--name needs a single PATH")
    label_map = parse_labels(labels)
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir() and each:
            expanded += [f for f in sorted(path.rglob("*")) if f.is_file() and not f.name.startswith(".fabric-")]
        else:
            expanded.append(path)
    for path in expanded:
        how = ""  # how a file's upload went, when it was not simply sent whole
        common = dict(
            content_type=content_type,
            collection=collection,
            policy=policy,
            chunk_size=chunk_size << 20,
            retries=retries,
            type=type_,
            labels=label_map or None,
        )
        if path.is_dir():
            common.pop("content_type")
            artifact = fab.upload_artifact(name=name or path.resolve().name, dir_path=path, **common)
        elif str(path) == "-":
            with transfer_progress("stdin", None, enabled=False if quiet else None) as progress:
                artifact = fab.upload_artifact(name=name, io_stream=sys.stdin.buffer, progress=progress, **common)
        else:
            if not path.is_file():
                raise click.ClickException(f"no such file: {path}")
            started: list[int] = []  # the offset the first progress report gave: >0 means resumed
            try:
                with transfer_progress(path.name, path.stat().st_size, enabled=False if quiet else None) as bar:

                    def progress(done: int, total: int | None, bar: Any = bar, started: list[int] = started) -> None:
                        if not started:
                            started.append(done)
                        bar(done, total)

                    artifact = fab.upload_artifact(
                        name=name or path.name, file_path=path, force_upload=force, progress=progress, **common
                    )
            except KeyboardInterrupt:
                click.echo(f"\nfabric: interrupted; the same command resumes {path} where it stopped", err=True)
                sys.exit(130)
            if not started and artifact.size:
                how = ", unchanged since its last upload: not sent again"
            elif started and started[0] and fab.mode == "platform":  # the server's offset, before any byte
                how = f", resumed at {human_size(started[0])}"
        if not quiet:
            click.echo(f"{path} → {artifact.name} ({human_size(artifact.size)}{how})", err=True)
        click.echo(artifact.id)


@click.command()
@click.argument("urn")
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(allow_dash=True, path_type=Path),
    help="File or directory to write to, or - for stdout (default: the artifact's name in the current directory).",
)
@click.option("--force", "-f", is_flag=True, help="Overwrite the file if it exists.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@client_command
def download(fab: Any, urn: str, output: Path | None, force: bool, quiet: bool) -> None:
    """Download an artifact's bytes into a file named after it (resumed after a cut, checked against its sha256).

    Prints the path written. An existing file is never overwritten without --force.
    """
    artifact = fab.get_artifact(artifact_urn(fab, urn))
    if output is not None and str(output) == "-":
        out = sys.stdout.buffer
        for chunk in artifact.as_stream():
            out.write(chunk)
        out.flush()
        return
    target = output or Path.cwd()
    if target.is_dir():
        target = target / file_name(artifact)
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it, or -o to write elsewhere")
    with transfer_progress(
        artifact.name or urn, artifact.size, enabled=False if quiet else None, finishing="checking sha256"
    ) as progress:
        path = artifact.as_local_file(target, progress=progress)
    click.echo(str(path))


def file_name(artifact: Any) -> str:
    """The name a download is saved as: the artifact's name, made safe, or its UUID when it has none."""
    from fabric.names import safe_name

    try:
        return safe_name(artifact.name or "")
    except ValueError:
        return str(artifact.id).rsplit(":", 1)[-1] or "artifact"


FILTERS = ("name", "mime_type", "collection", "schema", "status", "created_before", "created_after")
LS_COLUMNS = ("urn", "name", "size", "mime_type", "status", "created")


@click.command("ls")
@click.option("--name", default=None, help="Exact artifact name.")
@click.option("--mime-type", default=None, help="MIME type, e.g. text/csv.")
@click.option("--collection", default=None, help="Collection name or URN.")
@click.option("--schema", default=None, help="Only artifacts with a current aspect of this schema.")
@click.option(
    "--status",
    default=None,
    type=click.Choice(["pending", "draft", "ready", "abandoned", "deleted"]),
    help="Artifact status (deleted artifacts are listed only with --status deleted).",
)
@click.option("--type", "type", default=None, help="Artifact type, e.g. model.")
@click.option(
    "--label", "labels", multiple=True, metavar="KEY=VALUE", help="Only artifacts with this label; repeatable."
)
@click.option(
    "--uploader",
    default=None,
    metavar="me|EMAIL|URN",
    help="Uploaded by this user (matches only uploaders you may see: yourself, and those of an organisation you manage).",
)
@click.option("--org", default=None, metavar="ID|URN", help="Uploaded by members of this organisation.")
@click.option("--created-before", default=None, help="ISO 8601 time.")
@click.option("--created-after", default=None, help="ISO 8601 time.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1), help="At most this many artifacts.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of artifacts.")
@click.option("--csv", "as_csv", is_flag=True, help=f"CSV with a header ({','.join(LS_COLUMNS)}), sizes in bytes.")
@client_command
def ls(fab: Any, limit: int, as_json: bool, as_csv: bool, **filters: Any) -> None:
    """List artifacts, newest first.

    On a terminal: a table with a header and sizes in KiB/MiB/GiB. For scripts: --json, --csv, or (when the output
    is piped) tab-separated lines without a header: urn, status, size in bytes, MIME type, name.
    """
    if as_json and as_csv:
        raise click.UsageError("give at most one of --json and --csv")
    chosen = {key: value for key, value in filters.items() if value is not None and key != "labels"}
    if filters.get("labels"):
        chosen["labels"] = parse_labels(filters["labels"])
    if "collection" in chosen:
        chosen["collection"] = collection_urn(chosen["collection"], fab.transport.namespace)
    artifacts = list(fab.list_artifacts(limit=limit, **chosen))
    if as_json:
        echo_json([artifact.to_json() for artifact in artifacts])
    elif as_csv:
        echo_csv(LS_COLUMNS, [[getattr(a, "id" if c == "urn" else c) or "" for c in LS_COLUMNS] for a in artifacts])
    elif stdout_is_terminal():
        rows = [
            [a.name or "-", human_size(a.size), a.mime_type or "-", a.status or "-", short_time(a.created), a.id]
            for a in artifacts
        ]
        echo_table(["NAME", "SIZE", "TYPE", "STATUS", "CREATED", "URN"], rows)
        if not artifacts:
            click.echo("(no artifacts" + (" match" if chosen else "") + ")", err=True)
    else:
        for artifact in artifacts:
            size = str(artifact.size if artifact.size is not None else "-")
            fields = [artifact.id, artifact.status or "-", size, artifact.mime_type or "-", artifact.name or "-"]
            click.echo("\t".join(fields))


def parse_labels(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """`("team=vision", "run=7")` -> {"team": "vision", "run": "7"}; a usage error if one has no `=`."""
    labels: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--label {pair!r} must be KEY=VALUE")
        labels[key] = value
    return labels


@click.command()
@click.argument("urn")
@click.option("--json", "as_json", is_flag=True, help="The artifact and its aspects as JSON.")
@client_command
def show(fab: Any, urn: str, as_json: bool) -> None:
    """Show an artifact and its current aspects, with their content."""
    artifact = fab.get_artifact(artifact_urn(fab, urn))
    if as_json:
        echo_json(artifact.to_json())
        return
    rows = [
        ("urn", artifact.id),
        ("name", artifact.name),
        ("status", artifact.status),
        ("size", f"{artifact.size} ({human_size(artifact.size)})" if artifact.size is not None else None),
        ("mime type", artifact.mime_type),
        ("sha256", artifact.sha256),
        ("created", artifact.created),
    ]
    for key, value in rows:
        click.echo(f"{key + ':':<11}{value if value is not None else '-'}")
    aspects = artifact.aspects
    click.echo(f"aspects:   {len(aspects)}")
    for aspect in aspects:
        click.echo(f"  {aspect.schema}  {aspect.urn}")
        if aspect.schema.endswith(":artifact.1"):
            click.echo("      (the record shown above)")
            continue
        content = json.dumps(aspect.content, indent=2, ensure_ascii=False, default=str)
        click.echo("\n".join("      " + line for line in content.splitlines()))
