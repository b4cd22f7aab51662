"""Who may read and change what. Every read path asks here: the request becomes a `Reader`, the store filters.

With authentication off (`--no-auth`) there is no `Reader` (None): one local user sees and manages everything.
A compute token (scoped to an order) reads what its caller could read when it was minted, uploads, and does
nothing else.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from aspects import ArtifactRecord, Aspect, InvalidUrn, NotFound, Reader, hmac_redactor, parse_urn
from aspects.lifecycle import FROZEN_BY_LOCK, LIFECYCLE_SCHEMAS, Lifecycle, Repository
from fabric.auth.middleware import principal_of
from fabric.state import app_state
from fabric.wire import ArtifactJSON, AspectJSON

# Aspects that decide access or describe the bytes: only those who manage the artifact assert or change them.
# Collections are open labels: whoever may read an artifact may file it in any collection; a collection's listing
# shows each caller only what it may read, and lineage never follows collection membership.
MANAGED_SCHEMAS = frozenset({"artifact.1", "policy.1", "grant.1"})
# Who owns an order: asserted by the server when the order is claimed, never by users.
ORDER_OWNER_SCHEMA = "order-owner.1"
SERVER_SCHEMAS = frozenset({ORDER_OWNER_SCHEMA})
USER_URN = re.compile(r"^urn:[a-z0-9][a-z0-9-]*:user:")
_claims = threading.Lock()


def artifact_urn(text: str) -> str:
    """`text` if it is an artifact URN (any namespace), else InvalidUrn (a 400)."""
    urn = parse_urn(text)
    if urn.kind != "artifact":
        raise InvalidUrn(f"{text!r} is not an artifact URN")
    return text


def reader_of(connection: HTTPConnection) -> Reader | None:
    """The caller as the store's `Reader`; None (unrestricted) when the server runs without authentication."""
    if app_state(connection).settings.auth_disabled:
        return None
    principal = principal_of(connection)
    as_of = int((principal.reads_before or 0) * 1_000_000) if principal.order else None
    return Reader(user=principal.user_urn, org=principal.org_urn, admin=principal.admin, as_of=as_of)


def readable_artifact(
    connection: HTTPConnection,
    urn: str,
    *,
    aspects: bool = True,
    deleted: bool = True,
    linked_by: Sequence[str] = (),
) -> ArtifactRecord:
    """The artifact (with its aspects unless `aspects=False`, and the link aspects of `linked_by` pointing at it)
    if the caller may read it; NotFound otherwise, so existence is not revealed (blocking). A version of a
    repository the caller may read is readable too (a grant on a repository reads every version in it). With
    `deleted=False`, a deleted artifact is 410 Gone."""
    state = app_state(connection)
    reader = reader_of(connection)
    urn = artifact_urn(urn)
    try:
        record = state.store.get_artifact(urn, reader=reader, aspects=aspects, linked_by=linked_by)
    except NotFound:
        if reader is None or not state.lifecycle.readable_through_repository(urn, reader):
            raise
        record = state.store.get_artifact(urn, aspects=aspects, linked_by=linked_by)
    if not deleted and record.status == "deleted":
        raise HTTPException(410, f"{urn} was deleted: it stays in lineage as a tombstone, its bytes are gone")
    return record


def require_user_token(connection: HTTPConnection) -> None:
    """403 for a compute token: it may upload and read, nothing else."""
    if principal_of(connection).order is not None:
        raise HTTPException(403, "a compute token may only upload artifacts and read; this needs the user's own token")


def manageable_artifact(connection: HTTPConnection, urn: str) -> ArtifactRecord:
    """The artifact if the caller may manage it (its creator, or an admin of its organisation): 404 if the caller
    cannot even read it, 403 if it can read but not manage (blocking)."""
    require_user_token(connection)
    artifact = readable_artifact(connection, urn, aspects=False)
    reader = reader_of(connection)
    if reader is not None and not reader.may_manage(artifact):
        raise HTTPException(403, "only the artifact's creator or an admin of its organisation may do this")
    return artifact


def _schema_name(schema: str) -> str:
    return schema if not schema.startswith("urn:") else parse_urn(schema, "schema").id


def order_owner(connection: HTTPConnection, order: str) -> dict[str, Any] | None:
    """The `order-owner.1` content of an order (`owner`, `org`), None if nobody claimed it yet (blocking)."""
    store = app_state(connection).store
    try:
        found = store.query_aspects(entity=order, schema=ORDER_OWNER_SCHEMA, limit=1)
    except NotFound:  # no node yet: never mentioned
        return None
    return dict(found.items[0].content) if found.items else None


def may_manage_order(reader: Reader, owner: dict[str, Any]) -> bool:
    if reader.is_compute:
        return False
    return owner.get("owner") == reader.user or (reader.admin and owner.get("org") == reader.org)


def claim_order(connection: HTTPConnection, order: str) -> None:
    """The caller may act for `order`: it owns it (claiming it now if nobody does) or is an admin of the owner's
    organisation; 403 otherwise. Without authentication there is one user, who owns everything (blocking)."""
    parse_urn(order, "order")
    reader = reader_of(connection)
    if reader is None:
        return
    with _claims:
        owner = order_owner(connection, order)
        if owner is None:
            app_state(connection).store.assert_aspect(
                order, ORDER_OWNER_SCHEMA, {"owner": reader.user, "org": reader.org}, asserter=reader.user
            )
            return
    if not may_manage_order(reader, owner):
        raise HTTPException(
            403, "this order belongs to another user: only they and their organisation's admins may use it"
        )


def _linked_order(connection: HTTPConnection, schema: str, content: Any) -> str | None:
    """The order an aspect of `schema` with `content` links its entity to, if any."""
    try:
        link = app_state(connection).store.registry.get(schema).link
    except (NotFound, InvalidUrn):
        return None  # the store answers for an unknown schema
    if link is None or link.label != "Order" or not isinstance(content, dict):
        return None
    target = content.get(link.property)
    return target if isinstance(target, str) and target.startswith("urn:") else None


def check_assert(connection: HTTPConnection, entity: str, schema: str, content: Any = None) -> None:
    """May the caller assert an aspect of `schema` on `entity`? Artifacts: it must read it (else 404), and manage
    it for access and content schemas (else 403). Orders: only their owner and the admins of the owner's
    organisation assert on them or link artifacts to them (else 403). Collections are open to users."""
    require_user_token(connection)
    name = _schema_name(schema)
    if name in LIFECYCLE_SCHEMAS:
        raise HTTPException(403, f"{name} is written by the lifecycle routes only (types, labels, files, versions)")
    if name in SERVER_SCHEMAS:
        raise HTTPException(403, f"{name} aspects are asserted by the server only")
    kind = parse_urn(entity).kind
    if kind == "repository":
        manageable_repository(connection, entity)
    elif kind == "artifact":
        if name in FROZEN_BY_LOCK:
            app_state(connection).lifecycle.require_unlocked(entity)
        if name in MANAGED_SCHEMAS:
            manageable_artifact(connection, entity)
        else:
            readable_artifact(connection, entity, aspects=False)
    elif kind == "order":
        claim_order(connection, entity)
    order = _linked_order(connection, schema, content)
    if order is not None:
        claim_order(connection, order)


def check_change(connection: HTTPConnection, urn: str, content: Any = None) -> Aspect:
    """May the caller update (with `content`) or retract aspect `urn`? 404 if it cannot read it; 403 unless it
    manages the entity or asserted the aspect (and the aspect is not one only managers may change), and for an
    update, unless it may link to the order the new content names."""
    require_user_token(connection)
    store = app_state(connection).store
    reader = reader_of(connection)
    aspect = store.get_aspect(urn, reader=reader)
    require_readable_entity(connection, aspect.entity)
    name = _schema_name(aspect.schema)
    if name in LIFECYCLE_SCHEMAS:
        raise HTTPException(403, f"{name} is written by the lifecycle routes only (types, labels, files, versions)")
    if name in SERVER_SCHEMAS:
        raise HTTPException(403, f"{name} aspects are changed by the server only")
    if name in FROZEN_BY_LOCK and parse_urn(aspect.entity).kind == "artifact":
        app_state(connection).lifecycle.require_unlocked(aspect.entity)
    if content is not None:
        order = _linked_order(connection, aspect.schema, content)
        if order is not None:
            claim_order(connection, order)
    if reader is None:
        return aspect
    if parse_urn(aspect.entity).kind == "artifact":
        if reader.may_manage(store.get_artifact(aspect.entity, reader=reader, aspects=False)):
            return aspect
        if aspect.asserter == reader.user and _schema_name(aspect.schema) not in MANAGED_SCHEMAS:
            return aspect
    elif aspect.asserter == reader.user:
        return aspect
    raise HTTPException(403, "only whoever asserted this aspect, or who manages its artifact, may change it")


def readable_repository(connection: HTTPConnection, project: str, name: str) -> Repository:
    """The repository if the caller may read it (its organisation, or a grant); NotFound otherwise (blocking)."""
    lifecycle = app_state(connection).lifecycle
    repo = lifecycle.get_repository(project, name)
    if not lifecycle.may_read_repository(repo, reader_of(connection)):
        raise NotFound(f"no repository {project}/{name}")
    return repo


def writable_repository(connection: HTTPConnection, repo: Repository) -> None:
    """Register, alias, stage: members of the repository's organisation with their own token; 403 otherwise."""
    require_user_token(connection)
    if not Lifecycle.may_write_repository(repo, reader_of(connection)):
        raise HTTPException(403, f"only members of {repo.org or 'its organisation'} change {repo.project}/{repo.name}")


def manageable_repository(connection: HTTPConnection, urn: str) -> Repository:
    """Grant and govern a repository: its creator or an admin of its organisation (404 if it cannot read it)."""
    require_user_token(connection)
    lifecycle = app_state(connection).lifecycle
    repo = lifecycle.repository_of_urn(urn)
    reader = reader_of(connection)
    if not lifecycle.may_read_repository(repo, reader):
        raise NotFound(f"no repository {urn}")
    if reader is not None and not (reader.user == repo.creator or (reader.admin and reader.org == repo.org)):
        raise HTTPException(403, "only the repository's creator or an admin of its organisation may do this")
    return repo


def hide_other_users(value: Any, me: str) -> Any:
    """`value` with every user URN but `me` replaced by None, however deep it sits."""
    if isinstance(value, str):
        return None if USER_URN.match(value) and value != me else value
    if isinstance(value, dict):
        return {key: hide_other_users(item, me) for key, item in value.items()}
    if isinstance(value, list):
        return [hide_other_users(item, me) for item in value]
    return value


def _manages_entity(connection: HTTPConnection, reader: Reader, entity: str) -> bool:
    store = app_state(connection).store
    try:
        kind = parse_urn(entity).kind
        if kind == "artifact":
            return reader.may_manage(store.get_artifact(entity, aspects=False))
        if kind == "order":
            owner = order_owner(connection, entity)
            return owner is not None and may_manage_order(reader, owner)
    except (NotFound, InvalidUrn):
        return False
    return False


def _reads_repository(connection: HTTPConnection, reader: Reader, urn: str) -> bool:
    lifecycle = app_state(connection).lifecycle
    try:
        return lifecycle.may_read_repository(lifecycle.repository_of_urn(urn), reader)
    except (NotFound, InvalidUrn):
        return False


def visible_aspects(connection: HTTPConnection, aspects: list[Aspect]) -> list[Aspect]:
    """Aspects without those on repositories the caller may not read (the store filters artifacts itself; a
    repository's versions name artifacts, so its aspects are as private as it is) (blocking)."""
    reader = reader_of(connection)
    if reader is None:
        return aspects
    readable: dict[str, bool] = {}
    for entity in {a.entity for a in aspects if entity_kind(a.entity) == "repository"}:
        readable[entity] = _reads_repository(connection, reader, entity)
    return [a for a in aspects if readable.get(a.entity, True)]


def require_readable_entity(connection: HTTPConnection, entity: str | None) -> None:
    """NotFound for a repository the caller may not read (artifacts the store checks itself) (blocking)."""
    reader = reader_of(connection)
    if reader is not None and entity and entity_kind(entity) == "repository":
        if not _reads_repository(connection, reader, entity):
            raise NotFound(f"no entity {entity!r}")


def entity_kind(urn: str) -> str | None:
    try:
        return parse_urn(urn).kind
    except InvalidUrn:
        return None


def aspect_views(connection: HTTPConnection, aspects: list[Aspect]) -> list[dict[str, Any]]:
    """The JSON of aspects as the caller may see them: who manages an aspect's entity sees it whole; anyone else
    sees no other user's URN (and so no email) in who asserted or retracted it, its target or its content
    (blocking)."""
    bodies = [AspectJSON.from_record(aspect).to_json() for aspect in aspects]
    reader = reader_of(connection)
    if reader is None:
        return bodies
    manages = {entity: _manages_entity(connection, reader, entity) for entity in {a.entity for a in aspects}}
    return [body if manages[body["entity"]] else redacted_aspect(body, reader.user) for body in bodies]


def redacted_aspect(body: dict[str, Any], me: str) -> dict[str, Any]:
    return {
        **body,
        **{key: hide_other_users(body.get(key), me) for key in ("asserter", "retracted_by", "target", "content")},
    }


PEOPLE_KEYS = frozenset({"creator", "registered_by", "by"})


def hide_people(request: HTTPConnection, value: Any, org: str | None) -> Any:
    """`value` without other users' emails (who created, registered, moved), unless the caller administers the
    repository's organisation: the rule artifacts follow, where readers see no other user's email."""
    reader = reader_of(request)
    if reader is None or (reader.admin and not reader.is_compute and org is not None and reader.org == org):
        return value
    if isinstance(value, dict):
        return {
            key: (None if key in PEOPLE_KEYS and item not in (None, reader.user) else hide_people(request, item, org))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [hide_people(request, item, org) for item in value]
    return value


def server_secret(connection: HTTPConnection) -> bytes:
    """The key that signs this server's tokens (the same one the middleware verifies with)."""
    return app_state(connection).signing_key


def redactor(connection: HTTPConnection) -> Callable[[str], str]:
    """Opaque ids for artifacts in lineage the caller may not read: stable per artifact, not reversible."""
    state = app_state(connection)
    key = hmac.new(server_secret(connection), b"datafabric lineage redaction", hashlib.sha256).digest()
    return hmac_redactor(key, state.settings.namespace)


def current_user(connection: HTTPConnection) -> str:
    """The URN of the caller."""
    return principal_of(connection).user_urn


__all__ = [
    "MANAGED_SCHEMAS",
    "NotFound",
    "artifact_urn",
    "aspect_views",
    "check_assert",
    "check_change",
    "claim_order",
    "current_user",
    "hide_people",
    "manageable_artifact",
    "manageable_repository",
    "readable_artifact",
    "readable_repository",
    "reader_of",
    "redactor",
    "require_readable_entity",
    "require_user_token",
    "server_secret",
    "visible_aspects",
    "writable_repository",
]


def artifact_view(connection: HTTPConnection, artifact: ArtifactRecord) -> dict[str, Any]:
    """The JSON of an artifact as the caller may see it.

    Its creator and those who manage it see everything. Other readers (granted, or by the open policy) see who made it only as
    organisation and display name, as `/v1/shared/artifacts` shows it: no email of other users, in the
    artifact, its `artifact.1` content or who asserted its aspects.
    """
    shown = ArtifactJSON.from_record(artifact)
    reader = reader_of(connection)
    if reader is None or artifact.uploader == reader.user or reader.may_manage(artifact):
        return shown.to_json()
    org = artifact.org or str(artifact.properties.get("org") or "")
    body = shown.to_json()
    body["uploader"] = None
    body["creator"] = {"org": parse_urn(org).id if org else None, "name": artifact.properties.get("uploader_name")}
    if body.get("aspects"):
        body["aspects"] = [redacted_aspect(aspect, reader.user) for aspect in body["aspects"]]
    return body
