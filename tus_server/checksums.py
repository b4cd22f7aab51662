"""The checksum extension: per-request digests named by `Upload-Checksum: <algorithm> <base64 digest>`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from tus_server.errors import UNSUPPORTED_CHECKSUM_ALGORITHM, invalid_header


class Digest(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def digest(self) -> bytes: ...


class Crc32:
    """CRC-32 (zlib polynomial) with the hashlib interface; its digest is the 4-byte big-endian value."""

    def __init__(self) -> None:
        self._value = 0

    def update(self, data: bytes | memoryview) -> None:
        self._value = zlib.crc32(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(4, "big")


ALGORITHMS: dict[str, Callable[[], Digest]] = {
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "crc32": Crc32,
}


@dataclass(frozen=True, slots=True)
class ExpectedChecksum:
    algorithm: str
    digest: bytes
    field: str = "Upload-Checksum"  # the header that named it

    def new_digest(self) -> Digest:
        return ALGORITHMS[self.algorithm]()


def parse_checksum(value: str | None) -> ExpectedChecksum | None:
    if value is None:
        return None
    parts = value.strip().split(" ")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise invalid_header("Upload-Checksum", "expected 'Upload-Checksum: <algorithm> <base64 digest>'")
    algorithm = parts[0].lower()
    if algorithm not in ALGORITHMS:
        raise UNSUPPORTED_CHECKSUM_ALGORITHM(f"{parts[0]!r} is not one of {', '.join(ALGORITHMS)}")
    try:
        digest = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise invalid_header("Upload-Checksum", "the digest is not valid base64") from None
    return ExpectedChecksum(algorithm, digest)
