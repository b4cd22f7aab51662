"""What every client command shares: its destination (announced), errors as one line on stderr, JSON input."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from fabric.urns import fabric_urn

F = TypeVar("F", bound=Callable[..., Any])


def destination_options(func: F) -> F:
    """--url, --token and --local: where a command goes, before the environment and the login file."""
    func = click.option(
        "--local",
        is_flag=True,
        help="Use the local store (FABRIC_LOCAL_DIR, default ./fabric-artifacts) even if a server is set.",
    )(func)
    func = click.option(
        "--token", default=None, metavar="TOKEN", help="Bearer token (default: FABRIC_TOKEN, else the stored login's)."
    )(func)
    func = click.option(
        "--url",
        default=None,
        metavar="URL",
        help="Server URL (default: FABRIC_URL, else the server of `fabric login`, else the local store).",
    )(func)
    return func


def client_command(func: F) -> F:
    """Run the command with a `Fabric` for the destination it names (announced on stderr); client and network
    errors become one line, `Error: <message>`, and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, url: str | None, token: str | None, local: bool, **kwargs: Any) -> Any:
        from fabric.commands.destination import resolve

        destination = None
        try:
            destination = resolve(url, token, local=local)
            click.secho(f"fabric → {destination.describe()}", err=True, dim=True)
            with retry_notices(destination.url):
                fab = destination.open()
                try:
                    return func(fab, *args, **kwargs)
                finally:
                    fab.close()
        except click.ClickException:
            raise
        except BrokenPipeError:
            # the reader went away (`fabric download URN -o - | head`): stop quietly, as cat does
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except Exception as exc:
            message = error_message(exc, destination.url if destination is not None else None)
            if message is None:
                raise
            raise click.ClickException(message) from None

    return destination_options(wrapper)  # type: ignore[return-value]


def error_message(exc: BaseException, url: str | None) -> str | None:
    """One line for an error a user can act on; None for a bug (let it show)."""
    import httpx

    from fabric.client import FabricError, Unauthorized

    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return (
            f"cannot reach the server at {url}: {_reason(exc)}. Is `fabric serve` running there? "
            "(check --url, FABRIC_URL or `fabric login`)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"the server at {url} did not answer in time ({type(exc).__name__})"
    if isinstance(exc, httpx.HTTPError):
        return f"network error with the server at {url}: {_reason(exc)}"
    if isinstance(exc, Unauthorized):
        return _one_line(exc) + " (log in with `fabric login --url URL --token TOKEN`, or set FABRIC_TOKEN)"
    if isinstance(exc, FabricError | ValueError | OSError):
        return _one_line(exc)
    return None


def _reason(exc: BaseException) -> str:
    """`[Errno 111] Connection refused` as `connection refused`."""
    text = " ".join((str(exc) or type(exc).__name__).split())
    if text.startswith("[Errno") and "] " in text:
        text = text.split("] ", 1)[1]
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


@contextlib.contextmanager
def retry_notices(url: str | None) -> Iterator[None]:
    """Show the client's retries on stderr while the command runs: at once when the server is unreachable, with
    how long the retries may take and how to stop them."""
    handler = _RetryNoticeHandler(url)
    logger = logging.getLogger("fabric.client.retry")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class _RetryNoticeHandler(logging.Handler):
    def __init__(self, url: str | None) -> None:
        super().__init__(logging.INFO)
        self.url = url
        self.told = False

    def emit(self, record: logging.LogRecord) -> None:
        notice = getattr(record, "retry", None)
        if notice is None:
            return
        import httpx

        error = notice.error
        if isinstance(error, httpx.TransportError):
            what = f"the server at {self.url} is unreachable ({_reason(error)})"
        else:
            what = f"the server at {self.url} answered: {_one_line(error)}"
        if not self.told:
            self.told = True
            click.echo(f"fabric: {what}; retrying for up to {notice.remaining:.0f} s (press Ctrl-C to stop)", err=True)
        else:
            click.echo(
                f"fabric: still failing ({_reason(error)}); attempt {notice.failures + 1} of {notice.retries + 1} in {notice.pause:.0f} s",
                err=True,
            )


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename:
        text = f"no such file: {exc.filename}"
    return " ".join(text.split())


def read_json(value: str, what: str) -> Any:
    """JSON given inline, as `@file`, or `-` for stdin."""
    try:
        if value == "-":
            text = sys.stdin.read()
        elif value.startswith("@"):
            text = Path(value[1:]).read_text()
        else:
            text = value
        return json.loads(text)
    except FileNotFoundError:
        raise click.BadParameter(f"no such file: {value[1:]}", param_hint=what) from None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON ({exc})", param_hint=what) from None


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def is_terminal(stream: Any = None) -> bool:
    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def human_size(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def artifact_urn(fab: Any, value: str) -> str:
    """An artifact named by URN, or by its bare UUID (the last part of the URN `fabric ls` shows), in the
    destination's namespace."""
    value = value.strip()
    return fabric_urn("artifact", value.lower(), fab.transport.namespace) if UUID.match(value) else value


def schema_urn(fab: Any, value: str) -> str:
    """A schema named by URN or id, or by its short name: `metadata.1` is `urn:<namespace>:schema:metadata.1`, in
    the destination's namespace (`urn:fabric:schema:metadata.1` unless the server says otherwise)."""
    value = value.strip()
    if value.startswith("urn:") or "://" in value or "/" in value:
        return value
    return fabric_urn("schema", value, fab.transport.namespace)
