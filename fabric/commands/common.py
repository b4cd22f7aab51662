"""What every client command shares: the `Fabric` from the environment, errors as one line on stderr, JSON input."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def fabric_from_env() -> Any:
    """`Fabric()`: FABRIC_URL (+ FABRIC_TOKEN) for a server, else local mode under FABRIC_LOCAL_DIR."""
    from fabric.client import Fabric

    return Fabric()


def client_command(func: F) -> F:
    """Run the command with a `Fabric`, turning client errors into `Error: <message>` and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from fabric.client import FabricError

        fab = None
        try:
            fab = fabric_from_env()
            return func(fab, *args, **kwargs)
        except (FabricError, ValueError, OSError) as exc:
            raise click.ClickException(_one_line(exc)) from None
        finally:
            if fab is not None:
                fab.close()

    return wrapper  # type: ignore[return-value]


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
