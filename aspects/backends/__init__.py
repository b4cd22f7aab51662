"""Graph backends: LadybugDB embedded in a directory, or Neo4j over Bolt, behind one protocol.

Each backend module imports its driver; `open_backend` imports only the one a URL asks for.
"""

from __future__ import annotations

from pathlib import Path

from aspects.backends.protocol import Backend, Runner

NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")

__all__ = ["NEO4J_SCHEMES", "Backend", "Runner", "open_backend"]


def open_backend(
    graph_url: str | None,
    data_dir: Path,
    *,
    neo4j_user: str | None = None,
    neo4j_password: str | None = None,
    neo4j_database: str | None = None,
    buffer_pool_size: int = 0,
) -> Backend:
    """LadybugDB at `data_dir/graph` when `graph_url` is empty (with `buffer_pool_size` bytes of page cache, 0 for
    LadybugDB's default); Neo4j for `bolt://`/`neo4j://` URLs."""
    if not graph_url:
        from aspects.backends.ladybug import LadybugBackend

        return LadybugBackend(Path(data_dir) / "graph", buffer_pool_size)
    scheme = graph_url.split("://", 1)[0]
    if scheme in NEO4J_SCHEMES:
        from aspects.backends.neo4j import Neo4jBackend

        return Neo4jBackend(graph_url, neo4j_user, neo4j_password, neo4j_database)
    raise ValueError(
        f"unsupported graph URL {graph_url!r}: use bolt:// or neo4j://, or none for the embedded LadybugDB"
    )
