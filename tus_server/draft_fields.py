"""The header fields of "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload), per interop version.

The draft's fields are Structured Fields (RFC 9651), parsed and written with the `http-sfv` library. Interop versions
3 to 8 differ in what a server sends and expects; `Interop` holds those differences in one place:

| version | drafts   | differences                                                                          |
|---------|----------|--------------------------------------------------------------------------------------|
| 3       | -01      | completeness is `Upload-Incomplete` (true while more is coming)                      |
| 4       | -02      | `Upload-Complete` replaces it                                                        |
| 5       | -03, -04 | `Upload-Limit` (lifetime as `expires`); problem types for offsets and completed uploads |
| 6       | -05      | appends must be `application/partial-upload`; `Upload-Length`; `max-age`             |
| 7       | -06..-08 | problem type for inconsistent lengths                                                |
| 8       | -09..    | `OPTIONS` must announce `Upload-Limit`; no problem type for completed uploads         |
"""

from __future__ import annotations

from dataclasses import dataclass

from http_sfv.dictionary import Dictionary
from http_sfv.item import Item

from tus_server.errors import PROBLEM_TYPES, invalid_header

VERSION_HEADER = "upload-draft-interop-version"
VERSIONS = range(3, 9)
PARTIAL_UPLOAD = "application/partial-upload"

MISMATCHING_OFFSET = PROBLEM_TYPES + "mismatching-upload-offset"
COMPLETED_UPLOAD = PROBLEM_TYPES + "completed-upload"
INCONSISTENT_LENGTH = PROBLEM_TYPES + "inconsistent-upload-length"


@dataclass(frozen=True, slots=True)
class Interop:
    version: int

    @property
    def complete_field(self) -> str:
        return "Upload-Incomplete" if self.version == 3 else "Upload-Complete"

    @property
    def sends_limit(self) -> bool:
        return self.version >= 5

    @property
    def lifetime_key(self) -> str:
        return "expires" if self.version == 5 else "max-age"

    @property
    def requires_partial_upload_type(self) -> bool:
        return self.version >= 6

    def knows_problem_type(self, problem_type: str) -> bool:
        if problem_type == MISMATCHING_OFFSET:
            return self.version >= 5
        if problem_type == COMPLETED_UPLOAD:
            return 5 <= self.version <= 7
        if problem_type == INCONSISTENT_LENGTH:
            return self.version >= 7
        return False

    def complete_header(self, complete: bool) -> dict[str, str]:
        """`Upload-Complete: ?1` (or, in version 3, the inverse `Upload-Incomplete`)."""
        value = (not complete) if self.version == 3 else complete
        return {self.complete_field: str(Item(value))}

    def limit_header(self, max_size: int, lifetime: int | None) -> dict[str, str]:
        if not self.sends_limit:
            return {}
        limits = Dictionary()
        limits["max-size"] = Item(max_size)
        if lifetime is not None:
            limits[self.lifetime_key] = Item(max(lifetime, 0))
        return {"Upload-Limit": str(limits)}


def parse_version(value: str) -> Interop:
    version = _item(value)
    if type(version) is not int or version not in VERSIONS:
        raise invalid_header(
            "Upload-Draft-Interop-Version",
            f"this server speaks interop versions {VERSIONS.start} to {VERSIONS.stop - 1}, got {value[:20]!r}",
        )
    return Interop(version)


def parse_integer(value: str | None, field: str) -> int | None:
    """A non-negative Integer item, or None when the field is absent; anything else is a 400."""
    if value is None:
        return None
    number = _item(value)
    if type(number) is not int or number < 0:
        raise invalid_header(field, f"{field} must be a non-negative Structured Field Integer, got {value[:40]!r}")
    return number


def parse_length(value: str | None) -> int | None:
    """`Upload-Length`: the draft says a value that is not a non-negative Integer is ignored."""
    if value is None:
        return None
    number = _item(value)
    return number if type(number) is int and number >= 0 else None


def parse_complete(interop: Interop, headers: dict[str, str]) -> bool | None:
    """Whether the request completes the upload, None if it does not say; a malformed value is a 400."""
    field = interop.complete_field
    value = headers.get(field.lower())
    if value is None:
        return None
    flag = _item(value)
    if type(flag) is not bool:
        raise invalid_header(field, f"{field} must be a Structured Field Boolean (?1 or ?0), got {value[:40]!r}")
    return (not flag) if interop.version == 3 else flag


def parse_sha256_digest(value: str | None, field: str) -> bytes | None:
    """The `sha-256` member of a `Repr-Digest` or `Content-Digest` Dictionary (RFC 9530), if there is one."""
    if value is None:
        return None
    digests = Dictionary()
    try:
        digests.parse(value.encode("latin-1"))
    except (ValueError, UnicodeEncodeError):
        raise invalid_header(field, f"{field} is not a Structured Field Dictionary") from None
    member = digests.get("sha-256")
    if member is None:
        return None
    digest = member.value
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise invalid_header(field, f"the sha-256 member of {field} must be a 32-byte Byte Sequence")
    return digest


def _item(value: str) -> object:
    item = Item()
    try:
        item.parse(value.encode("latin-1"))
    except (ValueError, UnicodeEncodeError):
        return None
    if item.params:
        return None
    return item.value
