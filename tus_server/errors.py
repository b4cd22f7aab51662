"""Every error the upload protocols answer with, named once (tusd's `ErrMismatchOffset` style).

A `ProtocolError` is a kind of answer (status, title, problem type); calling it with the detail of one case
gives the `TusError` to raise: `raise MISMATCHED_OFFSET(f"Upload-Offset is {a} but the upload is at {b}")`.
Storage failures go through `storage_error`, the one place that tells a full disk from other failures.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from tus_server.problems import TusError

NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
PROBLEM_TYPES = "https://iana.org/assignments/http-problem-types#"  # the registry the resumable-upload draft uses


@dataclass(frozen=True, slots=True)
class ProtocolError:
    status: int
    title: str
    type: str = "about:blank"

    def __call__(self, detail: str | None = None, headers: dict[str, str] | None = None) -> TusError:
        return TusError(self.status, self.title, detail, headers, problem_type=self.type)


# requests
METHOD_NOT_ALLOWED = ProtocolError(405, "Method not allowed")
UNSUPPORTED_VERSION = ProtocolError(412, "Unsupported tus version")
UNSUPPORTED_CONTENT_TYPE = ProtocolError(415, "Unsupported Content-Type")
UNSUPPORTED_EXTENSION = ProtocolError(400, "Unsupported extension")
INVALID_HEADER = ProtocolError(400, "Invalid header")  # titled per header by `invalid_header`
MISSING_UPLOAD_LENGTH = ProtocolError(400, "Missing Upload-Length")
MISSING_UPLOAD_OFFSET = ProtocolError(400, "Missing Upload-Offset")
CONFLICTING_HEADERS = ProtocolError(400, "Conflicting headers")
UPLOAD_LENGTH_NOT_ALLOWED = ProtocolError(400, "Upload-Length not allowed")
UNSUPPORTED_CHECKSUM_ALGORITHM = ProtocolError(400, "Unsupported checksum algorithm")

# uploads
NOT_FOUND = ProtocolError(404, "Upload not found")
EXPIRED = ProtocolError(410, "Upload expired")
LOCKED = ProtocolError(423, "Upload is locked")
LOCK_SERVICE_UNAVAILABLE = ProtocolError(503, "Lock service unavailable")
MISMATCHED_OFFSET = ProtocolError(409, "Offset mismatch", PROBLEM_TYPES + "mismatching-upload-offset")
TAKEN_OVER = ProtocolError(409, "Upload taken over")
TOO_LARGE = ProtocolError(413, "Upload too large")
BODY_EXCEEDS_LENGTH = ProtocolError(413, "Body exceeds Upload-Length")
BODY_TOO_LARGE = ProtocolError(413, "Body too large")
ALREADY_COMPLETE = ProtocolError(413, "Upload already complete", PROBLEM_TYPES + "completed-upload")
LENGTH_ALREADY_SET = ProtocolError(400, "Upload-Length already set", PROBLEM_TYPES + "inconsistent-upload-length")
LENGTH_TOO_SMALL = ProtocolError(400, "Upload-Length too small", PROBLEM_TYPES + "inconsistent-upload-length")
CHECKSUM_MISMATCH = ProtocolError(460, "Checksum mismatch")
DIGEST_MISMATCH = ProtocolError(400, "Digest mismatch")  # the whole upload is not what the client said it is
WRONG_PROTOCOL = ProtocolError(400, "Upload of another protocol")

# concatenation
INVALID_CONCAT = ProtocolError(400, "Invalid Upload-Concat")
UNKNOWN_PARTIAL = ProtocolError(400, "Unknown partial upload")
NOT_PARTIAL = ProtocolError(400, "Not a partial upload")
PARTIAL_UNFINISHED = ProtocolError(400, "Partial upload unfinished")
FINAL_UPLOAD = ProtocolError(403, "Final upload")

# storage and hooks
INSUFFICIENT_STORAGE = ProtocolError(507, "Insufficient storage")
STORAGE_ERROR = ProtocolError(500, "Storage error")
COMPLETION_FAILED = ProtocolError(500, "Completion failed")


def invalid_header(header: str, detail: str) -> TusError:
    """A header that does not parse: titled by its name, e.g. "Invalid Upload-Offset"."""
    return TusError(400, f"Invalid {header}", detail)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS


def storage_error(exc: OSError, detail: str | None = None) -> TusError:
    """507 when the storage is out of space or quota, else 500."""
    if is_disk_full(exc):
        return INSUFFICIENT_STORAGE(detail or "the server ran out of disk space")
    return STORAGE_ERROR(detail or str(exc))
