"""The upload store interface: where the bytes and the info of uploads live.

The protocol (`server.py`) reaches uploads only through this interface; `file_store.FileUploadStore` is the
default implementation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from tus_server.info import UploadInfo

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def is_valid_upload_id(upload_id: str) -> bool:
    """Ids are 32 lowercase hex digits, so no id can name a path outside the store."""
    return bool(_UPLOAD_ID.fullmatch(upload_id))


class UploadStore(Protocol):
    def create(self, info: UploadInfo) -> None: ...
    def load(self, upload_id: str) -> UploadInfo | None: ...
    def save(self, info: UploadInfo) -> None: ...
    def data_path(self, upload_id: str) -> Path: ...
    def delete(self, upload_id: str) -> None: ...
    def ids(self) -> Iterator[str]: ...
    def recover(self) -> list[UploadInfo]: ...
    def free_bytes(self) -> int: ...
