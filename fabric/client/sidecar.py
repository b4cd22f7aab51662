"""Sidecar files: what became of a local file's uploads, so an unchanged file is never sent twice.

`dir/.fabric-f.csv.json` sits beside `dir/f.csv`. It holds one entry per destination (a server URL, or
`local:<base dir>`): the artifact URN, the file's size, mtime and digests when it was uploaded, and while an
upload is under way its tus URL and the size and mtime it started from, so a later call resumes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("fabric.client")
VERSION = 1


def sidecar_path(file_path: Path) -> Path:
    return file_path.parent / f".fabric-{file_path.name}.json"


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What says a file has not changed, without reading it."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns)


@dataclass(slots=True)
class Entry:
    artifact: str | None = None
    size: int | None = None
    mtime_ns: int | None = None
    md5: str | None = None
    sha256: str | None = None
    uploaded_at: str | None = None
    upload: dict[str, Any] | None = None  # {"url", "size", "mtime_ns"} while an upload is under way

    def matches(self, stamp: FileStamp) -> bool:
        return self.artifact is not None and self.size == stamp.size and self.mtime_ns == stamp.mtime_ns

    def resumable_upload(self, stamp: FileStamp) -> str | None:
        up = self.upload or {}
        if up.get("url") and up.get("size") == stamp.size and up.get("mtime_ns") == stamp.mtime_ns:
            return str(up["url"])
        return None


@dataclass(slots=True)
class Sidecar:
    path: Path
    file: str
    entries: dict[str, Entry] = field(default_factory=dict)

    @classmethod
    def load(cls, file_path: Path) -> Sidecar:
        path = sidecar_path(file_path)
        sidecar = cls(path, file_path.name)
        try:
            data = json.loads(path.read_text())
            if data.get("version") == VERSION:
                for key, value in (data.get("destinations") or {}).items():
                    sidecar.entries[key] = Entry(**{k: v for k, v in value.items() if k in Entry.__slots__})
        except FileNotFoundError:
            pass
        except (ValueError, TypeError, AttributeError, OSError) as exc:
            log.warning("ignoring unreadable sidecar %s: %s", path, exc)
        return sidecar

    def entry(self, destination: str) -> Entry:
        return self.entries.get(destination) or Entry()

    def save(self) -> None:
        """Write-then-rename, so a reader never sees half a sidecar. A read-only directory is not an error."""
        data = {
            "version": VERSION,
            "file": self.file,
            "destinations": {key: asdict(entry) for key, entry in self.entries.items()},
        }
        try:
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=2, sort_keys=True)
                out.write("\n")
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning(
                "could not write the sidecar %s (%s): the next upload of this file will not be deduplicated",
                self.path,
                exc,
            )

    def record_upload_started(self, destination: str, url: str, stamp: FileStamp) -> None:
        entry = self.entry(destination)
        entry.upload = {"url": url, "size": stamp.size, "mtime_ns": stamp.mtime_ns}
        self.entries[destination] = entry
        self.save()

    def record_uploaded(self, destination: str, artifact: str, stamp: FileStamp, md5: str, sha256: str) -> None:
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.entries[destination] = Entry(artifact, stamp.size, stamp.mtime_ns, md5, sha256, now, None)
        self.save()


def file_digests(path: Path, block: int = 8 << 20) -> tuple[str, str]:
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while data := f.read(block):
            md5.update(data)
            sha256.update(data)
    return md5.hexdigest(), sha256.hexdigest()
