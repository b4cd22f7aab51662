"""Writing an artifact's files (its manifest) into a local directory: resumed after a cut, each verified by sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from fabric.client.errors import IntegrityError
from fabric.client.jobs import each_at_once
from fabric.client.sidecar import file_digests
from fabric.client.transport import Transport

PULL_BLOCK = 1 << 20


def relative_path(path: str) -> str:
    """`path` as a relative POSIX path inside an artifact; ValueError for `..`, absolute or empty segments."""
    text = str(path).replace(os.sep, "/") if os.sep != "/" else str(path)
    parts = text.split("/")
    if not text or text.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"{path!r} is not a relative path inside the artifact")
    return text


def pull(transport: Transport, urn: str, directory: str | os.PathLike[str], jobs: int = 4) -> list[Path]:
    """Write every file of the artifact under `directory`, `jobs` at once against a server (local mode copies one
    at a time); a partial file is resumed, every file is verified. Every path is checked before any file is
    written. If a file fails, the ones under way still finish and the first failure in the manifest's order is
    raised; the files written stay (a second pull skips them)."""
    root = Path(directory).expanduser().resolve()
    items = transport.files(urn)
    pieces = [(item, _target(root, item["path"])) for item in items]
    jobs = jobs if transport.mode == "platform" else 1
    return each_at_once(lambda piece: _pull_file(transport, urn, *piece), pieces, jobs, "fabric-pull")


def _target(root: Path, path: str) -> Path:
    """Where the artifact's file `path` goes under `root`; ValueError if it would leave it."""
    target = root.joinpath(*relative_path(path).split("/"))
    if root not in target.parents:
        raise ValueError(f"{path!r} would leave {root}")
    return target


def _pull_file(transport: Transport, urn: str, item: dict[str, Any], target: Path) -> Path:
    """One file of the manifest at `target`: kept if it is there already, else resumed or fetched, then verified."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.stat().st_size == item["size"] and file_digests(target)[1] == item["sha256"]:
        return target
    partial = target.with_name(f".{target.name}.part")
    start = partial.stat().st_size if partial.is_file() else 0
    if item["size"] is not None and start > item["size"]:
        partial.unlink()
        start = 0
    digest = hashlib.sha256()
    if start:  # the bytes of a cut pull, read once to continue the digest
        with partial.open("rb") as handle:
            while block := handle.read(min(PULL_BLOCK, start - handle.tell())):
                digest.update(block)
    with partial.open("ab") as out:
        for block in transport.file_chunks(urn, item["path"], start=start, expected_sha256=item["sha256"]):
            out.write(block)
            digest.update(block)  # hashed as written: the file is not read back
    if digest.hexdigest() != item["sha256"]:
        partial.unlink()
        raise IntegrityError(f"{urn} {item['path']}: received sha256 {digest.hexdigest()}, expected {item['sha256']}")
    os.replace(partial, target)
    return target
