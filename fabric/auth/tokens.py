"""Signed bearer tokens (JWT, HS256) carrying a user, an organisation and roles.

The signing key is generated into the data dir on first use (or given explicitly), so `fabric token create`
run beside the server's data dir mints tokens the server accepts.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from fabric.urns import DEFAULT_NAMESPACE, fabric_urn

ALGORITHM = "HS256"
ISSUER = "datafabric"
SECRET_FILE = "token-secret"
DEFAULT_TTL = 30 * 24 * 3600


class InvalidToken(Exception):
    """The token is missing, malformed, badly signed or expired."""


@dataclass(frozen=True, slots=True)
class Principal:
    email: str
    org: str
    admin: bool = False
    name: str | None = None
    order: str | None = None  # a compute token is scoped to this order URN
    reads_before: float | None = None  # a compute token reads what its caller could read at this time
    roles: tuple[str, ...] = field(default=())
    namespace: str = DEFAULT_NAMESPACE  # the namespace word of the server's URNs

    @property
    def user_urn(self) -> str:
        return fabric_urn("user", self.email, self.namespace)

    @property
    def org_urn(self) -> str:
        return fabric_urn("org", self.org, self.namespace)

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@", 1)[0]


def signing_key(token_key: str | None, data_dir: Path) -> bytes:
    """The key that signs and verifies a server's tokens: `token_key` if given (`--token-key`), else the one kept
    in `<data_dir>/token-secret`, generated there on first use. The server, its redaction of lineage and
    `fabric token create` all resolve it here."""
    return token_key.encode() if token_key else load_or_create_secret(data_dir)


def load_or_create_secret(data_dir: Path) -> bytes:
    path = Path(data_dir) / SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


def mint_token(secret: bytes, principal: Principal, ttl: float = DEFAULT_TTL) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": ISSUER,
        "sub": principal.email,
        "org": principal.org,
        "roles": sorted({*principal.roles, *(("admin",) if principal.admin else ())}),
        "iat": now,
        "exp": now + int(ttl),
    }
    if principal.name:
        claims["name"] = principal.name
    if principal.order:
        claims["order"] = principal.order
        claims["reads_before"] = principal.reads_before or now
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def local_principal(namespace: str = DEFAULT_NAMESPACE) -> Principal:
    """The one user of a server without authentication (and of local mode): admin of the organisation `local`."""
    return Principal(email="local@localhost", org="local", admin=True, name="local", namespace=namespace)


def verify_token(secret: bytes, token: str, namespace: str = DEFAULT_NAMESPACE) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["exp", "sub", "org"]}
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"the token is not valid: {exc}") from None
    roles = tuple(claims.get("roles") or ())
    return Principal(
        email=str(claims["sub"]),
        org=str(claims["org"]),
        admin="admin" in roles,
        name=claims.get("name"),
        order=claims.get("order"),
        reads_before=claims.get("reads_before"),
        roles=roles,
        namespace=namespace,
    )
