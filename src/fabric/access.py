"""Who may read what. Every read path asks here."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from aspects import ArtifactRecord, InvalidUrn, parse_urn
from fabric.auth.middleware import principal_of
from fabric.state import app_state


def artifact_urn(text: str) -> str:
    """`text` if it is an artifact URN (any namespace), else InvalidUrn (a 400)."""
    urn = parse_urn(text)
    if urn.kind != "artifact":
        raise InvalidUrn(f"{text!r} is not an artifact URN")
    return text


def readable_artifact(connection: HTTPConnection, urn: str) -> ArtifactRecord:
    """The artifact if the caller may read it; NotFound otherwise, so existence is not revealed (blocking)."""
    return app_state(connection).store.get_artifact(artifact_urn(urn))


def current_user(connection: HTTPConnection) -> str:
    """The URN of the caller."""
    return principal_of(connection).user_urn
