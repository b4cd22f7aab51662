"""Artifacts of several files, the Apheris way: `art = fab.new_artifact(name=..., type=...)`,
`art.add_file(local_path=..., path=...)`, `art.save()`; and `pull`, which writes every file of an artifact under a
directory, resumed and verified.

`save()` sends each file once: bytes the fabric already holds for the caller are linked by sha256 (nothing is
sent), the rest go up over tus (resumable) with metadata `artifact` and `path`; then the draft is sealed.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from fabric.client.errors import IntegrityError
from fabric.client.jobs import each_at_once
from fabric.client.models import Artifact
from fabric.client.pull import relative_path
from fabric.client.sidecar import file_digests
from fabric.client.sources import SeekableSource
from fabric.client.transport import Transport, UploadOptions
from fabric.names import guess_mime_type
from fabric.wire import ArtifactJSON


class DraftArtifact:
    """A draft on the fabric, filled by `add_file` and made ready by `save`."""

    def __init__(self, transport: Transport, data: ArtifactJSON) -> None:
        self._transport = transport
        self.data = data
        self._files: dict[str, Path] = {}

    @property
    def id(self) -> str:
        return self.data.urn

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

    def save(self, options: UploadOptions | None = None) -> Artifact:
        """Link or upload every queued file, `options.jobs` at once against a server, then seal the draft;
        returns the ready artifact. If a file fails, the ones under way still finish, the draft is not sealed, and
        the first failure in the order of `add_file` is raised."""
        transport = self._transport
        options = options or UploadOptions()
        files = list(self._files.items())
        jobs = options.jobs if transport.mode == "platform" else 1
        each_at_once(lambda item: self._send(item[0], item[1], options), files, jobs, "fabric-upload")
        self._files.clear()
        transport.artifact_action(self.id, "seal")
        return Artifact.fetch(transport, self.id)

    def _send(self, path: str, source: Path, options: UploadOptions) -> None:
        """One file into the draft: linked if the fabric holds its bytes for the caller, else uploaded (tus)."""
        transport = self._transport
        md5, sha256 = file_digests(source)
        size = source.stat().st_size
        mime_type = guess_mime_type(source.name)
        linked = transport.link_file(
            self.id, {"path": path, "sha256": sha256, "size": size, "md5": md5, "mime_type": mime_type}
        )
        if linked:
            return
        stream = SeekableSource.open(source)
        try:
            transport.upload(
                stream,
                {"artifact": self.id, "path": path, "filename": source.name, "content_type": mime_type},
                resume_url=None,
                on_created=lambda state: None,
                options=options,
            )
            _, sent = stream.finish_hash()
        finally:
            stream.close()
        if sent != sha256:
            raise IntegrityError(f"{source} changed while it was being uploaded")
