"""Why `fabric serve` cannot start, in one line a person can act on (a port in use, Neo4j unreachable, a data
dir that cannot be written), instead of a traceback."""

from __future__ import annotations

import errno
import socket

from fabric.settings import Settings


class CannotStart(Exception):
    """The server cannot start; the message says why and what to do."""


def check_port_free(host: str, port: int) -> None:
    """CannotStart if nothing can listen on (host, port) now: in use, or not an address of this machine."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CannotStart(f"cannot listen on {host}: {exc.strerror} (check --host)") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no conflict
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CannotStart(
                    f"port {port} on {host} is in use by another program (another fabric serve?); "
                    "stop it, or choose another with --port (FABRIC_PORT)"
                ) from None
            if exc.errno == errno.EACCES:
                raise CannotStart(f"no permission to listen on port {port}; use a port above 1023 (--port)") from None
            raise CannotStart(f"cannot listen on {host}:{port}: {exc.strerror} (check --host and --port)") from None


def explain(exc: BaseException, settings: Settings) -> str | None:
    """One line for a failure to open the graph or the data dir; None for anything else (a bug: let it show)."""
    if settings.graph_url and _is_neo4j_error(exc):
        return (
            f"cannot use the Neo4j graph at {settings.graph_url}: {_first_line(exc)} "
            "(is Neo4j running? check --graph-url, --neo4j-user and --neo4j-password)"
        )
    if isinstance(exc, PermissionError | FileNotFoundError | NotADirectoryError | IsADirectoryError):
        where = exc.filename or settings.data_dir
        return f"cannot use the data dir {settings.data_dir}: {exc.strerror} ({where}); check --data-dir"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
        return f"cannot use the data dir {settings.data_dir}: {exc.strerror}"
    return None


def _is_neo4j_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("neo4j")


def _first_line(exc: BaseException) -> str:
    """The exception's text on one line, without a trailing colon."""
    return " ".join(str(exc).split()).rstrip(":") or type(exc).__name__
