"""What the client hands back: artifacts (with their bytes a call away) and aspects."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path, PosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from fabric.client.client_schemas import METADATA_SCHEMA, assert_aspect
from fabric.client.errors import Gone, IntegrityError, NotFound
from fabric.client.pull import pull
from fabric.client.references import resolve_urn
from fabric.client.transport import AspectQuery, Transport, lineage_direction
from fabric.names import guess_mime_type, safe_name
from fabric.wire import ARTIFACT_SCHEMA_NAME, ArtifactJSON, AspectJSON

Aspect = AspectJSON  # the client hands back the JSON shape the server sends, as it is


def file_urn_path(urn: str) -> Path | None:
    """The absolute path an `urn:file:///abs/path` (or `file:///abs/path`) names; None for other URNs."""
    text = urn[4:] if urn.startswith("urn:file:") else urn
    if not text.startswith("file://"):
        return None
    parts = urlsplit(text)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{urn!r} names a file on another host")
    return Path(unquote(parts.path))


def file_urn(path: Path) -> str:
    """`urn:file:///abs/path` for a local file."""
    return f"urn:file://{path.resolve()}"


class LocalPath(PosixPath):
    """A path from `as_local_file()`; as a context manager it removes the file on exit if it is a temporary one."""

    _delete_on_exit: bool = False

    def __enter__(self) -> LocalPath:
        return self

    def __exit__(self, *exc: object) -> None:
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
    """An artifact: a URN, what the fabric knows of it, and its bytes (downloaded only when asked for).

    It holds the transport it came through, so its calls (bytes, aspects, lineage) go where it came from.
    """

    def __init__(self, transport: Transport, data: ArtifactJSON, *, local_path: Path | None = None) -> None:
        self._transport = transport
        self._data = data
        self.local_path = local_path  # where the bytes already are on this machine (local mode, urn:file)
        self.plain_file = False  # a view of a local file the fabric does not know (no aspects, no lineage)

    @classmethod
    def of(cls, transport: Transport, data: ArtifactJSON) -> Artifact:
        """The artifact `data` describes, reached through `transport`."""
        return cls(transport, data, local_path=transport.blob_path(data))

    @classmethod
    def fetch(cls, transport: Transport, urn: str) -> Artifact:
        """The artifact `urn` names; `urn:file:///abs/path` (or `file:///abs/path`) is the local-mode artifact of
        that file when this local store made it, else a view of that local file (read without the network)."""
        urn = resolve_urn(transport, urn)
        path = file_urn_path(urn)
        if path is None:
            return cls.of(transport, transport.get_artifact(urn))
        if transport.mode == "local":
            try:
                return cls.of(transport, transport.get_artifact(f"urn:file://{path}"))
            except Gone:
                raise
            except NotFound:
                pass  # a file the graph does not know: a plain view of it
        if not path.is_file():
            raise NotFound(f"no such file: {path}")
        stat = path.stat()
        data = ArtifactJSON(
            urn=f"urn:file://{path}",
            name=path.name,
            status="ready",
            size=stat.st_size,
            mime_type=guess_mime_type(path.name),
            created=datetime.fromtimestamp(stat.st_mtime).astimezone().isoformat(),
            location=f"file://{path}",
            aspects=(),
        )
        view = cls(transport, data, local_path=path)
        view.plain_file = True
        return view

    def __repr__(self) -> str:
        return f"<Artifact id={self.id}, name={self.name!r}, status={self.status}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # ---- what the fabric knows ----------------------------------------------------------------------

    def _content(self, key: str) -> Any:
        """`key` of the `artifact.1` aspect's content, for what the record itself left empty."""
        for aspect in self._data.current(ARTIFACT_SCHEMA_NAME):
            if isinstance(aspect.content, dict):
                return aspect.content.get(key)
        return None

    @property
    def data(self) -> ArtifactJSON:
        """What the fabric sent about the artifact."""
        return self._data

    @property
    def id(self) -> str:
        return self._data.urn

    urn = id

    @property
    def name(self) -> str | None:
        return self._data.name if self._data.name is not None else _optional_str(self._content("name"))

    @property
    def size(self) -> int | None:
        if self._data.size is not None:
            return self._data.size
        size = self._content("size")
        return size if isinstance(size, int) else None

    @property
    def mime_type(self) -> str | None:
        return self._data.mime_type or _optional_str(self._content("mime_type"))

    @property
    def status(self) -> str | None:
        return self._data.status or None

    @property
    def sha256(self) -> str | None:
        return self._data.sha256 or _optional_str(self._content("sha256"))

    @property
    def md5(self) -> str | None:
        return self._data.md5 or _optional_str(self._content("md5"))

    @property
    def created(self) -> str | None:
        return self._data.created or _optional_str(self._content("created"))

    @property
    def collections(self) -> list[str]:
        """The collections the artifact is in (known when it was read one at a time, as `get_artifact` does)."""
        return self._data.collections

    @property
    def collection(self) -> str | None:
        """The first collection the artifact is in, if any."""
        return next(iter(self._data.collections), None)

    @property
    def aspects(self) -> list[Aspect]:
        """The current aspects the fabric sent with the artifact."""
        return list(self._data.aspects or ())

    @property
    def metadata(self) -> list[Aspect]:
        return self.aspects

    def to_json(self) -> dict[str, Any]:
        return self._data.to_json()

    def refresh(self) -> Artifact:
        fresh = Artifact.fetch(self._transport, self.id)
        self._data, self.local_path = fresh._data, fresh.local_path
        return self

    # ---- bytes --------------------------------------------------------------------------------------

    def as_stream(self) -> Iterator[bytes]:
        """The bytes in chunks, streamed (a cut download resumes with Range; sha256 checked at the end)."""
        if self.local_path is not None:
            return _file_chunks(self.local_path)
        return self._transport.blob_chunks(self.id, expected_sha256=self.sha256)

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
        return self._data.type or "file"

    @property
    def labels(self) -> dict[str, str]:
        return dict(self._data.labels or {})

    @property
    def state(self) -> str | None:
        """draft, ready, locked or deleted (or the upload's pending/abandoned)."""
        return self._data.state or self.status

    def files(self) -> list[dict[str, Any]]:
        """The manifest: `{path, size, sha256, md5, mime_type}` of every file."""
        return self._transport.files(self.id)

    def pull(self, path: str | os.PathLike[str], *, jobs: int = 4) -> list[Path]:
        """Write every file under the directory `path` (resumed after a cut, each verified by sha256), `jobs` at
        once against a server."""
        return pull(self._transport, self.id, path, jobs)

    def lock(self, reason: str | None = None) -> Artifact:
        self._transport.artifact_action(self.id, "lock", reason)
        return self.refresh()

    def delete(self, reason: str | None = None) -> None:
        self._transport.artifact_action(self.id, "delete", reason)

    def add_metadata(self, metadata: dict[str, Any], *, schema: str | None = None) -> Aspect:
        """Attach user metadata: a `$schema` key (or `schema=`) names a registered schema, else the free-form `metadata.1`."""
        content = dict(metadata)
        named = content.pop("$schema", None)
        return assert_aspect(self._transport, self.id, schema or named or METADATA_SCHEMA, content)

    def add_aspect(self, schema: str, content: Any) -> Aspect:
        return assert_aspect(self._transport, self.id, schema, content)

    def list_aspects(
        self,
        schema: str | None = None,
        *,
        at: datetime | str | None = None,
        include_retracted: bool = False,
        limit: int | None = None,
    ) -> list[Aspect]:
        query = AspectQuery(entity=self.id, schema=schema, at=at, include_retracted=include_retracted)
        return list(self._transport.query_aspects(query, limit))

    def lineage(self, direction: str = "upstream", depth: int = 10, at: Any = None) -> dict[str, Any]:
        return self._transport.lineage(self.id, direction=lineage_direction(direction), depth=depth, at=at)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _file_chunks(path: Path, block: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while data := f.read(block):
            yield data


def _file_name(artifact: Artifact) -> str:
    try:
        return safe_name(artifact.name or "")
    except ValueError:
        return artifact.id.rsplit(":", 1)[-1] or "artifact"
