"""Artifacts of several files, the Apheris way: `art = fab.new_artifact(name=..., type=...)`,
`art.add_file(local_path=..., path=...)`, `art.save()`; and `pull`, which writes every file of an artifact under a
directory, resumed and verified.

`save()` sends each file once: bytes the fabric already holds for the caller are linked by sha256 (nothing is
sent), the rest go up over tus (resumable) with metadata `artifact` and `path`; then the draft is sealed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from fabric.client.errors import IntegrityError
from fabric.client.sidecar import file_digests
from fabric.client.sources import SeekableSource
from fabric.names import guess_mime_type

if TYPE_CHECKING:
    from fabric.client.fabric import Fabric
    from fabric.client.models import Artifact

PULL_BLOCK = 1 << 20


def relative_path(path: str) -> str:
    """`path` as a relative POSIX path inside an artifact; ValueError for `..`, absolute or empty segments."""
    text = str(path).replace(os.sep, "/") if os.sep != "/" else str(path)
    parts = text.split("/")
    if not text or text.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{path!r} is not a relative path inside the artifact")
    return text


class DraftArtifact:
    """A draft on the fabric, filled by `add_file` and made ready by `save`."""

    def __init__(self, fabric: Fabric, data: dict[str, Any]) -> None:
        self._fabric = fabric
        self.data = data
        self._files: dict[str, Path] = {}

    @property
    def id(self) -> str:
        return str(self.data["urn"])

    def __repr__(self) -> str:
        return f"<DraftArtifact {self.id} {len(self._files)} files>"

    def add_file(self, local_path: str | os.PathLike[str], path: str | None = None) -> DraftArtifact:
        """Queue a local file as `path` in the artifact (default: its file name)."""
        source = Path(local_path).expanduser().resolve()
        if not source.is_file():
            raise FileNotFoundError(f"no such file: {local_path}")
        name = relative_path(path if path is not None else source.name)
        if name in self._files:
            raise ValueError(f"{name!r} is already in the artifact")
        self._files[name] = source
        return self

    def add_directory(self, directory: str | os.PathLike[str]) -> DraftArtifact:
        """Every regular file under `directory`, by its path relative to it (sidecar files skipped)."""
        root = Path(directory).expanduser().resolve()
        if not root.is_dir():
            raise NotADirectoryError(f"no such directory: {directory}")
        for file in sorted(root.rglob("*")):
            if file.is_file() and not file.name.startswith(".fabric-"):
                self.add_file(file, PurePosixPath(*file.relative_to(root).parts).as_posix())
        return self

    def save(self, **upload_options: Any) -> Artifact:
        """Link or upload every queued file, then seal the draft; returns the ready artifact."""
        transport = self._fabric._transport
        for path, source in self._files.items():
            md5, sha256 = file_digests(source)
            size = source.stat().st_size
            mime_type = guess_mime_type(source.name)
            linked = transport.link_file(
                self.id, {"path": path, "sha256": sha256, "size": size, "md5": md5, "mime_type": mime_type}
            )
            if linked:
                continue
            stream = SeekableSource.open(source)
            try:
                transport.upload(
                    stream,
                    {"artifact": self.id, "path": path, "filename": source.name, "content_type": mime_type},
                    resume_url=None,
                    on_created=lambda state: None,
                    chunk_size=upload_options.get("chunk_size", 128 << 20),
                    retries=upload_options.get("retries", 10),
                    retry_delay=upload_options.get("retry_delay", 0.5),
                    progress=upload_options.get("progress"),
                )
                _, sent = stream.finish_hash()
            finally:
                stream.close()
            if sent != sha256:
                raise IntegrityError(f"{source} changed while it was being uploaded")
        self._files.clear()
        transport.artifact_action(self.id, "seal")
        return self._fabric.get_artifact(self.id)


def pull(fabric: Fabric, urn: str, directory: str | os.PathLike[str]) -> list[Path]:
    """Write every file of the artifact under `directory`; a partial file is resumed, every file is verified."""
    transport = fabric._transport
    root = Path(directory).expanduser().resolve()
    written: list[Path] = []
    for item in transport.files(urn):
        target = root.joinpath(*relative_path(item["path"]).split("/"))
        if root not in target.parents:
            raise ValueError(f"{item['path']!r} would leave {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.stat().st_size == item["size"] and file_digests(target)[1] == item["sha256"]:
            written.append(target)
            continue
        partial = target.with_name(f".{target.name}.part")
        start = partial.stat().st_size if partial.is_file() else 0
        if item["size"] is not None and start > item["size"]:
            partial.unlink()
            start = 0
        with partial.open("ab") as out:
            for block in transport.file_chunks(urn, item["path"], start=start, expected_sha256=item["sha256"]):
                out.write(block)
        digest = hashlib.sha256()
        with partial.open("rb") as handle:
            while block := handle.read(PULL_BLOCK):
                digest.update(block)
        if digest.hexdigest() != item["sha256"]:
            partial.unlink()
            raise IntegrityError(
                f"{urn} {item['path']}: received sha256 {digest.hexdigest()}, expected {item['sha256']}"
            )
        os.replace(partial, target)
        written.append(target)
    return written
