"""`fabric serve` with parts of a small upload's work taken out, to find what bounds its rate (bench only).

    python bench/_ablated_serve.py no-storage+no-graph serve --port 8000 --data-dir /tmp/x

The first argument names the parts taken out, joined by `+`; the rest are `fabric`'s arguments. Each part is a
patch of the server's own classes in this process, so the request path (HTTP, middlewares, tus handlers, the
lanes, fabric's hooks) stays as it is:

- `no-storage`: the upload store keeps infos in memory and drops the bytes; blob ingest and finish marks do
  nothing. What a free store would leave of the work.
- `no-graph`: completions answer at once and write nothing to the graph.
- `graph-behind`: completions answer at once and a thread writes them to the graph behind, in batches of up to 64
  (one transaction each): the graph's work is still done, off the path that answers.

A server run this way loses what it is sent (and, with `graph-behind`, may answer before its graph knows): it is a
measuring instrument for `small_uploads.py --ablate`, never a way to serve.
"""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from aspects.artifact_operations import ArtifactOperations
from fabric.blobs import BlobStore, IngestedUploads
from tus_server.file_store import FileUploadStore
from tus_server.info import UploadInfo

BEHIND_BATCH = 64


def _replace(owner: type, name: str, function: Callable[..., Any]) -> None:
    """Patch `owner.name`, failing loudly if the server no longer has it (a renamed method would measure nothing)."""
    if not callable(getattr(owner, name, None)):
        raise SystemExit(f"_ablated_serve: {owner.__name__}.{name} is gone; update the ablation")
    setattr(owner, name, function)


def without_storage() -> None:
    infos: dict[str, bytes] = {}

    def keep(batch: Sequence[UploadInfo]) -> list[OSError | None]:
        for info in batch:
            infos[info.id] = info.to_bytes()
        return [None] * len(batch)

    _replace(FileUploadStore, "create_many", lambda self, batch: keep(batch))
    _replace(FileUploadStore, "create_completed_many", lambda self, batch: keep([info for info, _ in batch]))
    _replace(FileUploadStore, "append_completed_many", lambda self, batch: keep([info for info, _, _ in batch]))
    _replace(FileUploadStore, "mark_finished", lambda self, info: None)
    _replace(
        FileUploadStore,
        "load",
        lambda self, upload_id: UploadInfo.from_bytes(infos[upload_id]) if upload_id in infos else None,
    )
    _replace(BlobStore, "ingest_uploads", lambda self, uploads: IngestedUploads([None] * len(uploads), 0))


def without_graph() -> None:
    _replace(ArtifactOperations, "complete_artifacts", lambda self, items: [object() for _ in items])


def graph_behind() -> None:
    write = ArtifactOperations.complete_artifacts
    waiting: deque[Any] = deque()
    changed = threading.Condition()

    def drain(store: ArtifactOperations) -> None:
        while True:
            with changed:
                while not waiting:
                    changed.wait()
                batch = [waiting.popleft() for _ in range(min(BEHIND_BATCH, len(waiting)))]
            failed = [outcome for outcome in write(store, batch) if isinstance(outcome, Exception)]
            if failed:
                print(
                    f"_ablated_serve: {len(failed)} completion(s) written behind failed: {failed[0]}", file=sys.stderr
                )

    started: list[threading.Thread] = []

    def complete_artifacts(self: ArtifactOperations, items: Sequence[Any]) -> list[object]:
        with changed:
            if not started:
                started.append(threading.Thread(target=drain, args=(self,), name="graph behind", daemon=True))
                started[0].start()
            waiting.extend(items)
            changed.notify()
        return [object() for _ in items]

    _replace(ArtifactOperations, "complete_artifacts", complete_artifacts)


ABLATIONS: dict[str, Callable[[], None]] = {
    "no-storage": without_storage,
    "no-graph": without_graph,
    "graph-behind": graph_behind,
}


def problem(variant: str) -> str | None:
    """What is wrong with `variant` (parts joined by `+`), or None if it names a server this script can start."""
    parts = variant.split("+")
    if unknown := [part for part in parts if part not in ABLATIONS]:
        return f"unknown part(s) {unknown}; choose from {', '.join(ABLATIONS)}"
    if len(set(parts)) != len(parts):
        return "a part named twice"
    if {"no-graph", "graph-behind"} <= set(parts):
        return "no-graph and graph-behind exclude each other"
    return None


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(f"usage: _ablated_serve.py PART[+PART...] FABRIC-ARGS...; parts: {', '.join(ABLATIONS)}")
    if wrong := problem(sys.argv[1]):
        raise SystemExit(f"_ablated_serve: {wrong}")
    for part in sys.argv[1].split("+"):
        ABLATIONS[part]()
    from fabric.cli import main as fabric

    sys.argv = ["fabric", *sys.argv[2:]]
    fabric()


if __name__ == "__main__":
    main()
