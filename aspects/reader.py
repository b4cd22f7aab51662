"""Who is reading: the value the store's read paths take to filter what a caller may see.

`None` in place of a `Reader` means unrestricted (a server without authentication, local mode, tools).
The predicate itself is Cypher, in each backend's queries module (`READABLE`, `MANAGEABLE`), so a listing is
filtered in the one query that pages it. An artifact is readable by its creator, by admins of its
organisation, by everyone while `urn:<ns>:policy:open` governs it, and by the users and organisations it is
currently granted to (`grant.1`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aspects.model import FAR_FUTURE, ArtifactRecord
from aspects.urns import DEFAULT_NAMESPACE

GRANT_SCHEMA = "grant.1"
POLICY_SCHEMA = "policy.1"
GRANT_REL = "GRANTED_TO"
OPEN_POLICY = "open"


@dataclass(frozen=True, slots=True)
class Reader:
    """A user (`urn:<ns>:user:<email>`) of an organisation (`urn:<ns>:org:<id>`), perhaps one of its admins.

    `as_of` (microseconds since the epoch) marks a compute token: grants, policies and organisation
    membership count only if they were already in force at that time (and still are), and it may manage
    nothing. Its own artifacts (its user's) it always reads: they include what its order produces.
    """

    user: str
    org: str
    admin: bool = False
    as_of: int | None = None

    @property
    def is_compute(self) -> bool:
        return self.as_of is not None

    def may_manage(self, artifact: ArtifactRecord) -> bool:
        """Grant, revoke, change the policy: the creator, or an admin of the artifact's organisation; never a compute token."""
        if self.is_compute:
            return False
        return artifact.uploader == self.user or (self.admin and artifact.org is not None and artifact.org == self.org)

    def may_read(
        self,
        *,
        uploader: str | None,
        org: str | None,
        created: int | None,
        links: Iterable[tuple[str | None, str | None, int | None]],
        namespace: str,
    ) -> bool:
        """`READABLE` decided here, from what a read of the artifact fetched anyway: its columns (`created` in
        microseconds) and its current outgoing aspect edges as `(schema, target, valid_from)` (others may be among
        them; rows without an edge are `(None, None, None)`). The same rule as the Cypher predicate, which costs
        LadybugDB a subquery per alternative (most of a read by URN at 100,000 artifacts)."""
        at = self.as_of if self.as_of is not None else FAR_FUTURE
        if uploader == self.user:
            return True
        if self.admin and org is not None and org == self.org and created is not None and created <= at:
            return True
        open_policy = f"urn:{namespace}:policy:{OPEN_POLICY}"
        policy_schema = f"urn:{namespace}:schema:{POLICY_SCHEMA}"
        grant_schema = f"urn:{namespace}:schema:{GRANT_SCHEMA}"
        for schema, target, valid_from in links:
            if valid_from is None or valid_from > at:
                continue
            if schema == policy_schema and target == open_policy:
                return True
            if schema == grant_schema and target is not None and target in (self.user, self.org):
                return True
        return False

    def params(self, namespace: str) -> dict[str, Any]:
        """The `$r_*` parameters of the `READABLE` and `MANAGEABLE` predicates."""
        return {
            "r_user": self.user,
            "r_org": self.org,
            "r_admin": self.admin,
            "r_at": self.as_of if self.as_of is not None else FAR_FUTURE,
            "r_manage": not self.is_compute,
            "r_open": f"urn:{namespace}:policy:{OPEN_POLICY}",
            "r_grant_schema": f"urn:{namespace}:schema:{GRANT_SCHEMA}",
            "r_policy_schema": f"urn:{namespace}:schema:{POLICY_SCHEMA}",
        }


def hmac_redactor(key: bytes, namespace: str = DEFAULT_NAMESPACE) -> Callable[[str], str]:
    """An opaque, stable stand-in for a URN a reader may not see: `urn:<ns>:redacted:<hmac-sha256 prefix>`."""

    def redact(urn: str) -> str:
        digest = hmac.new(key, urn.encode(), hashlib.sha256).hexdigest()[:32]
        return f"urn:{namespace}:redacted:{digest}"

    return redact
