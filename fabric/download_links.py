"""Download links: short-lived signed URLs that a browser can follow without an `Authorization` header.

A link is minted by an authenticated POST and names one artifact and one target in it (its blob, one file, or
the whole as tar or zip), the caller it was minted for, and an expiry (a minute). It is a JWT signed with a key
derived from the server's signing key for this purpose only, so a link never passes as a bearer token and a
token never passes as a link. Following it re-checks, at that moment, that its caller still reads the artifact.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import jwt

from fabric.auth.tokens import Principal

LINK_TTL = 60  # seconds: long enough to follow at once, too short to be worth passing around
PURPOSE = "download"
ALGORITHM = "HS256"
ARCHIVE_FORMATS = ("tar", "zip")


class InvalidLink(Exception):
    """The link is malformed, tampered with, minted by another server or expired."""


@dataclass(frozen=True, slots=True)
class LinkTarget:
    """What a link downloads: the artifact's blob, one of its files (`path`) or an archive (`archive`)."""

    artifact: str
    path: str | None = None
    archive: str | None = None


def link_key(signing_key: bytes) -> bytes:
    return hmac.new(signing_key, b"datafabric download links", hashlib.sha256).digest()


def mint_link(
    signing_key: bytes, principal: Principal, target: LinkTarget, *, now: float | None = None
) -> tuple[str, int]:
    """The link's token and when it expires (seconds since the epoch)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {
        "purpose": PURPOSE,
        "sub": principal.email,
        "org": principal.org,
        "admin": principal.admin,
        "artifact": target.artifact,
        "iat": issued,
        "exp": issued + LINK_TTL,
    }
    if target.path is not None:
        claims["path"] = target.path
    if target.archive is not None:
        claims["archive"] = target.archive
    if principal.order:
        claims["order"] = principal.order
        claims["reads_before"] = principal.reads_before
    return jwt.encode(claims, link_key(signing_key), algorithm=ALGORITHM), issued + LINK_TTL


def verify_link(signing_key: bytes, token: str, namespace: str) -> tuple[Principal, LinkTarget]:
    """Who the link was minted for and what it downloads; InvalidLink otherwise."""
    try:
        claims = jwt.decode(
            token,
            link_key(signing_key),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "org", "artifact", "purpose"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidLink("the download link has expired: ask for a new one") from None
    except jwt.PyJWTError:
        raise InvalidLink("the download link is not valid") from None
    if claims["purpose"] != PURPOSE:
        raise InvalidLink("the download link is not valid")
    principal = Principal(
        email=str(claims["sub"]),
        org=str(claims["org"]),
        admin=bool(claims.get("admin")),
        order=claims.get("order"),
        reads_before=claims.get("reads_before"),
        namespace=namespace,
    )
    return principal, LinkTarget(str(claims["artifact"]), claims.get("path"), claims.get("archive"))
