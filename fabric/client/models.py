"""What the client hands back: artifacts (with their bytes a call away) and aspects."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PosixPath
from typing import TYPE_CHECKING, Any

from fabric.client.errors import IntegrityError

if TYPE_CHECKING:
    from fabric.client.fabric import Fabric


@dataclass(frozen=True, slots=True)
class Aspect:
    """One aspect: typed content about an entity, asserted at `valid_from`, retracted at `valid_to` (if ever)."""

    urn: str
    entity: str
    schema: str
    content: Any
    asserter: str | None = None
    valid_from: str | None = None
    valid_to: str | None = None
    retracted_by: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.urn

    @property
    def retracted(self) -> bool:
        return self.valid_to is not None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Aspect:
        return cls(
            urn=data.get("urn") or data.get("id") or "",
            entity=data.get("entity", ""),
            schema=data.get("schema", ""),
            content=data.get("content"),
            asserter=data.get("asserter"),
            valid_from=data.get("valid_from"),
            valid_to=data.get("valid_to"),
            retracted_by=data.get("retracted_by"),
            raw=data,
        )


class LocalPath(PosixPath):
    """A path from `as_local_file()`; as a context manager it removes the file on exit if it is a temporary one."""

    _delete_on_exit: bool = False

    def __enter__(self) -> LocalPath:  # type: ignore[override]
        return self

    def __exit__(self, *exc: object) -> None:  # type: ignore[override]
        if self._delete_on_exit:
            self.unlink(missing_ok=True)
            try:
                self.parent.rmdir()  # the private temporary directory it was made in
            except OSError:
                pass

    @classmethod
    def make(cls, path: Path | str, *, delete_on_exit: bool) -> LocalPath:
        made = cls(path)
        made._delete_on_exit = delete_on_exit
        return made


class BlobReader(io.RawIOBase):
    """The artifact's bytes as a read-only, unseekable file; reads pull from the stream as needed."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


class Artifact:
    """An artifact: a URN, what the fabric knows of it, and its bytes (downloaded only when asked for)."""

    def __init__(self, fabric: Fabric, data: dict[str, Any], *, local_path: Path | None = None) -> None:
        self._fabric = fabric
        self._data = data
        self.local_path = local_path  # where the bytes already are on this machine (local mode, urn:file)

    def __repr__(self) -> str:
        return f"<Artifact id={self.id}, name={self.name!r}, status={self.status}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # ---- what the fabric knows ----------------------------------------------------------------------

    def _field(self, key: str) -> Any:
        if key in self._data and self._data[key] is not None:
            return self._data[key]
        content = self._artifact_aspect_content()
        return content.get(key) if content else None

    def _artifact_aspect_content(self) -> dict[str, Any] | None:
        for aspect in self._data.get("aspects") or []:
            if isinstance(aspect, dict) and str(aspect.get("schema", "")).endswith(":schema:artifact.1"):
                content = aspect.get("content")
                return content if isinstance(content, dict) else None
        return None

    @property
    def id(self) -> str:
        return self._data.get("urn") or self._data.get("id") or ""

    urn = id

    @property
    def name(self) -> str | None:
        return self._field("name")

    @property
    def size(self) -> int | None:
        return self._field("size")

    @property
    def mime_type(self) -> str | None:
        return self._field("mime_type")

    @property
    def status(self) -> str | None:
        return self._field("status")

    @property
    def sha256(self) -> str | None:
        return self._field("sha256")

    @property
    def md5(self) -> str | None:
        return self._field("md5")

    @property
    def created(self) -> str | None:
        return self._field("created")

    @property
    def collection(self) -> str | None:
        return self._field("collection")

    @property
    def aspects(self) -> list[Aspect]:
        """The current aspects the server sent with the artifact."""
        return [Aspect.from_json(a) for a in self._data.get("aspects") or [] if isinstance(a, dict)]

    @property
    def metadata(self) -> list[Aspect]:
        return self.aspects

    def to_json(self) -> dict[str, Any]:
        return dict(self._data)

    def refresh(self) -> Artifact:
        fresh = self._fabric.get_artifact(self.id)
        self._data = fresh._data
        return self

    # ---- bytes --------------------------------------------------------------------------------------

    def as_stream(self) -> Iterator[bytes]:
        """The bytes in chunks, streamed (a cut download resumes with Range; sha256 checked at the end)."""
        if self.local_path is not None:
            return _file_chunks(self.local_path)
        return self._fabric._transport.blob_chunks(self.id, expected_sha256=self.sha256)

    def open(self) -> io.BufferedReader:
        """A read-only file object over the streamed bytes: `read(n)` pulls only what it needs."""
        if self.local_path is not None:
            return open(self.local_path, "rb")
        return io.BufferedReader(BlobReader(self.as_stream()), buffer_size=1 << 20)

    def read_bytes(self) -> bytes:
        """All the bytes in memory: only for small artifacts."""
        with self.open() as f:
            return f.read()

    def as_local_file(
        self, path: str | os.PathLike[str] | None = None, *, progress: Callable[[int, int | None], None] | None = None
    ) -> LocalPath:
        """The bytes in a local file.

        Without `path`: a temporary file, removed when the `with` block it is used in ends (in local mode, and for
        `urn:file` artifacts, the existing file itself, never removed). With `path`: the file is kept there.
        """
        if path is None:
            if self.local_path is not None:
                return LocalPath.make(self.local_path, delete_on_exit=False)
            folder = Path(tempfile.mkdtemp(prefix="fabric-"))
            target = folder / _file_name(self)
            try:
                self._download_to(target, progress)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            return LocalPath.make(target, delete_on_exit=True)
        target = Path(path)
        if target.is_dir():
            target = target / _file_name(self)
        self._download_to(target, progress)
        return LocalPath.make(target.resolve(), delete_on_exit=False)

    def _download_to(self, target: Path, progress: Callable[[int, int | None], None] | None = None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        try:
            with open(partial, "wb") as out:
                done = 0
                for chunk in self.as_stream():
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, self.size)
                out.flush()
                os.fsync(out.fileno())
            if self.size is not None and partial.stat().st_size != self.size:
                raise IntegrityError(f"{self.id}: received {partial.stat().st_size} bytes, expected {self.size}")
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    # ---- aspects ------------------------------------------------------------------------------------

    @property
    def type(self) -> str:
        return str(self._data.get("type") or "file")

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._data.get("labels") or {})

    @property
    def state(self) -> str | None:
        """draft, ready, locked or deleted (or the upload's pending/abandoned)."""
        return self._data.get("state") or self.status

    def files(self) -> list[dict[str, Any]]:
        """The manifest: `{path, size, sha256, md5, mime_type}` of every file."""
        return self._fabric.files(self.id)

    def pull(self, path: str | os.PathLike[str]) -> list[Path]:
        """Write every file under the directory `path` (resumed after a cut, each verified by sha256)."""
        return self._fabric.pull(self.id, path)

    def lock(self, reason: str | None = None) -> Artifact:
        return self._fabric.lock(self.id, reason=reason)

    def delete(self, reason: str | None = None) -> None:
        self._fabric.delete(self.id, reason=reason)

    def add_metadata(self, metadata: dict[str, Any], *, schema: str | None = None) -> Aspect:
        """Attach user metadata: a `$schema` key (or `schema=`) names a registered schema, else the free-form `metadata.1`."""
        if schema is not None:
            return self._fabric.add_aspect(self.id, schema, dict(metadata))
        return self._fabric.add_metadata(self.id, metadata)

    def add_aspect(self, schema: str, content: Any) -> Aspect:
        return self._fabric.add_aspect(self.id, schema, content)

    def list_aspects(self, schema: str | None = None, **kwargs: Any) -> list[Aspect]:
        return list(self._fabric.list_aspects(entity=self.id, schema=schema, **kwargs))

    def lineage(self, direction: str = "upstream", depth: int = 10, at: Any = None) -> dict[str, Any]:
        return self._fabric.lineage(self.id, direction=direction, depth=depth, at=at)


def _file_chunks(path: Path, block: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while data := f.read(block):
            yield data


def _file_name(artifact: Artifact) -> str:
    from fabric.names import safe_name

    try:
        return safe_name(artifact.name or "")
    except ValueError:
        return artifact.id.rsplit(":", 1)[-1] or "artifact"
