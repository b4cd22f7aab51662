"""The default upload store: each upload is two files in one directory.

Each upload is `<id>` (the bytes) and `<id>.info` (an `UploadInfo` as JSON). The info file is replaced by
write-then-rename after an fsync, and always after the data it describes is fdatasync'ed, so the offset it
records is never past what is durably on disk.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from tus_server.info import UploadInfo
from tus_server.upload_store import is_valid_upload_id


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileUploadStore:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def data_path(self, upload_id: str) -> Path:
        if not is_valid_upload_id(upload_id):
            raise ValueError(f"invalid upload id {upload_id!r}")
        return self.directory / upload_id

    def _info_path(self, upload_id: str) -> Path:
        return self.data_path(upload_id).with_suffix(".info")

    def create(self, info: UploadInfo) -> None:
        fd = os.open(self.data_path(info.id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        os.close(fd)
        self.save(info)
        fsync_directory(self.directory)

    def load(self, upload_id: str) -> UploadInfo | None:
        if not is_valid_upload_id(upload_id):
            return None
        try:
            return UploadInfo.from_bytes(self._info_path(upload_id).read_bytes())
        except FileNotFoundError:
            return None

    def save(self, info: UploadInfo) -> None:
        target = self._info_path(info.id)
        tmp = target.with_suffix(".info.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, info.to_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)

    def delete(self, upload_id: str) -> None:
        for path in (self.data_path(upload_id), self._info_path(upload_id)):
            path.unlink(missing_ok=True)

    def ids(self) -> Iterator[str]:
        for path in self.directory.glob("*.info"):
            if is_valid_upload_id(path.stem):
                yield path.stem

    def recover(self) -> list[UploadInfo]:
        """Bring every upload back to its durable state after a crash; returns their infos.

        Bytes past the recorded offset were never acknowledged and may not have reached the disk, so they are
        cut off. Leftover temporary info files and data files without an info are removed.
        """
        for tmp in self.directory.glob("*.info.tmp"):
            tmp.unlink(missing_ok=True)
        infos: list[UploadInfo] = []
        for upload_id in list(self.ids()):
            info = self.load(upload_id)
            if info is None:
                continue
            data = self.data_path(upload_id)
            if not info.finished and data.exists():
                size = data.stat().st_size
                if size > info.offset:
                    os.truncate(data, info.offset)
                elif size < info.offset:  # only if the disk lost acknowledged bytes; resume from what is there
                    info.offset = size
                    self.save(info)
            infos.append(info)
        known = {info.id for info in infos}
        for path in self.directory.iterdir():
            if is_valid_upload_id(path.name) and path.name not in known:
                path.unlink(missing_ok=True)
        return infos

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.directory).free
