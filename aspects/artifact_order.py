"""Artifacts by (created, urn), in memory, for a graph that only this process writes (the embedded LadybugDB).

LadybugDB indexes primary keys only, so a listing's `ORDER BY created DESC LIMIT n` sorts every artifact: tens of
milliseconds at 100,000. With this order a listing walks the newest keys instead and looks its candidates up by
primary key a chunk at a time, the filters still checked in the graph (`ArtifactOperations.list_artifacts`).
Every write of `created` goes through the store, which places the artifact here after its transaction commits;
a listing that finds a row whose `created` differs from the order here corrects it and lets the graph sort.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator

Key = tuple[int, str]  # (created in microseconds, urn)


class ArtifactOrder:
    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: list[Key] = sorted(keys)
        self._created: dict[str, int] = {urn: created for created, urn in self._keys}

    def __len__(self) -> int:
        return len(self._keys)

    def created_of(self, urn: str) -> int | None:
        return self._created.get(urn)

    def place(self, urn: str, created: int) -> None:
        """Add the artifact, or move it if its `created` changed."""
        with self._lock:
            old = self._created.get(urn)
            if old == created:
                return
            if old is not None:
                index = bisect.bisect_left(self._keys, (old, urn))
                if index < len(self._keys) and self._keys[index] == (old, urn):
                    del self._keys[index]
            bisect.insort(self._keys, (created, urn))
            self._created[urn] = created

    def place_new(self, keys: Iterable[Key]) -> None:
        """Add the artifacts not here yet (a batch create leaves existing artifacts as they are)."""
        with self._lock:
            fresh = {urn: created for created, urn in keys if urn not in self._created}
            if len(fresh) > 64:
                self._keys = sorted([*self._keys, *((created, urn) for urn, created in fresh.items())])
            else:
                for urn, created in fresh.items():
                    bisect.insort(self._keys, (created, urn))
            self._created.update(fresh)

    def newest(self, before: Key | None, size: int) -> Iterator[list[Key]]:
        """The keys strictly older than `before` (all, if None), newest first, `size` at a time."""
        while True:
            with self._lock:
                end = len(self._keys) if before is None else bisect.bisect_left(self._keys, before)
                chunk = self._keys[max(0, end - size) : end][::-1]
            if not chunk:
                return
            yield chunk
            before = chunk[-1]
