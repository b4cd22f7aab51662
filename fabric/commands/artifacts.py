"""`fabric upload`, `fabric download`, `fabric ls`, `fabric show`."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from fabric.commands.common import artifact_urn, client_command, echo_json, error_message, human_size
from fabric.commands.progress import FilesProgress, files_progress, transfer_progress
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
@click.option(
    "--jobs",
    "-j",
    default=4,
    show_default=True,
    type=click.IntRange(1),
    help="Files sent at once: of several PATHs or --each (one bar for all), and of a DIRECTORY.",
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
    jobs: int,
    quiet: bool,
) -> None:
    """Upload files (or - for stdin) and print each artifact's URN on stdout.

    A DIRECTORY becomes one artifact holding all its files by their relative paths (--each: one artifact per
    file). Files the fabric already holds are linked by their sha256, not sent again.

    Each artifact is named after its file (data/a.nc becomes a.nc) unless --name says otherwise. An unchanged
    file uploaded before is not sent again (a .fabric-<name>.json sidecar beside it remembers), and an
    interrupted upload resumes where it stopped. Against a server several files go up --jobs at once; their URNs
    come out in the order of the PATHs, and one that fails does not stop the others (the command then exits 1).
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
    common = dict(
        content_type=content_type,
        collection=collection,
        policy=policy,
        chunk_size=chunk_size << 20,
        retries=retries,
        type=type_,
        labels=label_map or None,
        jobs=jobs,
    )
    if jobs > 1 and fab.mode == "platform" and len(expanded) > 1 and not any(str(p) == "-" for p in expanded):
        _upload_at_once(fab, expanded, force, quiet, jobs, common)
        return
    failed = 0
    for path in expanded:
        try:
            if str(path) == "-":
                with transfer_progress("stdin", None, enabled=False if quiet else None) as progress:
                    artifact = fab.upload_artifact(name=name, io_stream=sys.stdin.buffer, progress=progress, **common)
                how = ""
            elif path.is_file():
                with transfer_progress(path.name, path.stat().st_size, enabled=False if quiet else None) as bar:
                    artifact, how = _send_path(fab, path, name, force, bar, common)
            else:
                artifact, how = _send_path(fab, path, name, force, None, common)
        except KeyboardInterrupt:
            if not path.is_file():
                raise
            click.echo(f"\nfabric: interrupted; the same command resumes {path} where it stopped", err=True)
            sys.exit(130)
        except Exception as exc:
            line = _file_failure(path, exc)
            if line is None or len(expanded) == 1:
                raise
            click.echo(line, err=True)
            failed += 1
            continue
        if not quiet:
            click.echo(_summary(path, artifact, how), err=True)
        click.echo(artifact.id)
    if failed:
        raise click.ClickException(f"{failed} of {len(expanded)} uploads failed (above)")


def _send_path(
    fab: Any, path: Path, name: str | None, force: bool, bar: Callable[[int, int | None], None] | None, common: Any
) -> tuple[Any, str]:
    """Upload one PATH (a file, or a directory as one artifact); the artifact, and how it went when the file was
    not simply sent whole (", resumed at 3.0 MiB")."""
    if path.is_dir():
        options = {key: value for key, value in common.items() if key != "content_type"}
        return fab.upload_artifact(name=name or path.resolve().name, dir_path=path, **options), ""
    if not path.is_file():
        raise click.ClickException(f"no such file: {path}")
    started: list[int] = []  # the offset the first progress report gave: >0 means resumed

    def progress(done: int, total: int | None) -> None:
        if not started:
            started.append(done)
        if bar is not None:
            bar(done, total)

    artifact = fab.upload_artifact(
        name=name or path.name, file_path=path, force_upload=force, progress=progress, **common
    )
    if not started and artifact.size:
        return artifact, ", unchanged since its last upload: not sent again"
    if started and started[0] and fab.mode == "platform":  # the server's offset, before any byte
        return artifact, f", resumed at {human_size(started[0])}"
    return artifact, ""


def _summary(path: Path | str, artifact: Any, how: str) -> str:
    return f"{path} → {artifact.name} ({human_size(artifact.size)}{how})"


def _upload_at_once(fab: Any, paths: list[Path], force: bool, quiet: bool, jobs: int, common: Any) -> None:
    """Several PATHs, an artifact each, `jobs` at a time: one bar for all, a line on stderr as each is done, the
    URNs on stdout in the order of the paths. A file that cannot be read stops no other upload (the command then
    exits with 1); any other failure (the server unreachable, a refusal) starts no further upload and is the
    command's error. Ctrl-C ends the command at once; the same command resumes the uploads under way."""
    total = sum(path.stat().st_size for path in {path.resolve() for path in paths} if path.is_file())
    failed = 0
    held: list[str] = []  # URNs for a terminal that also shows the bar: printed once it is gone
    with files_progress(len(paths), total, enabled=False if quiet else None) as shown:
        hold = shown.drawn and stdout_is_terminal()
        pool = ThreadPoolExecutor(jobs, thread_name_prefix="fabric-upload")
        futures = []
        started: dict[Path, Future[tuple[Any, str]]] = {}  # a path named twice goes up once (as one at a time would)
        for key, path in enumerate(paths):
            if path.resolve() not in started:
                track = shown.tracker(key)
                future = pool.submit(_send_path, fab, path, None, force, track, common)
                future.add_done_callback(functools.partial(_report, shown, track, path, quiet))
                started[path.resolve()] = future
            futures.append(started[path.resolve()])
        try:
            for path, future in zip(paths, futures, strict=True):
                failure = future.exception()
                if failure is None:
                    urn = future.result()[0].id
                    held.append(urn) if hold else click.echo(urn)
                elif _file_failure(path, failure) is not None:
                    failed += 1
                else:  # no upload starts any more; those under way end with their retries
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise failure
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            shown.close()
            click.echo("\nfabric: interrupted; the same command resumes the uploads under way", err=True)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)  # a normal exit would wait for the uploads under way
        pool.shutdown()
    for urn in held:
        click.echo(urn)
    if failed:
        raise click.ClickException(f"{failed} of {len(paths)} uploads failed (above)")


def _file_failure(path: Path | str, exc: BaseException) -> str | None:
    """The line for an upload that failed because of its file (missing, unreadable), which stops no other; None
    for any other failure."""
    if isinstance(exc, click.ClickException):
        message = exc.message
    elif isinstance(exc, OSError):
        message = error_message(exc, None) or repr(exc)
    else:
        return None
    return f"fabric: {message}" if str(path) in message else f"fabric: {path}: {message}"


def _report(
    shown: FilesProgress,
    track: Callable[[int, int | None], None],
    path: Path,
    quiet: bool,
    future: Future[tuple[Any, str]],
) -> None:
    """For one finished upload of `_upload_at_once`: its bytes all counted on the bar (a file linked or unchanged
    reports none), and its line: the summary, or why its file failed (also with --quiet)."""
    if future.cancelled():
        return
    failure = future.exception()
    if failure is None:
        artifact, how = future.result()
        if path.is_file():
            track(artifact.size or 0, artifact.size)
        if not quiet:
            shown.say(_summary(path, artifact, how))
        return
    line = _file_failure(path, failure)
    if line is not None:
        shown.say(line)


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
