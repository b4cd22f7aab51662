"""Artifacts by (sort key, urn), in memory, for a graph that only this process writes (the embedded LadybugDB).

LadybugDB indexes primary keys only, so a listing's `ORDER BY created DESC LIMIT n` sorts every artifact: tens of
milliseconds at 100,000 (more by name: strings). With an order here a listing walks the keys instead and looks its
candidates up by primary key a chunk at a time, the filters still checked in the graph
(`ArtifactOperations.list_artifacts`). The store keeps one order per sort key (`created`, `name`, `size`, see
`sort_value`). Every write of those properties goes through the store, which places the artifact here after its
transaction commits; a listing that finds a row whose key differs from the order here corrects it and lets the
graph sort.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Iterator
from typing import Any

Key = tuple[Any, str]  # (sort key, urn): created in microseconds, name, or size (-1 while unknown)
SORTED_IN_MEMORY = ("created", "name", "size")


def sort_value(sort: str, row: dict[str, Any]) -> Any:
    """The key an artifact row sorts by in the order `sort`, as the graph's sort expression computes it
    (`aspects.artifact_operations.SORT_KEYS`): a size not known yet is -1."""
    if sort == "size":
        return -1 if row["size"] is None else row["size"]
    return row[sort]


class ArtifactOrder:
    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: list[Key] = sorted(keys)
        self._created: dict[str, int] = {urn: created for created, urn in self._keys}

    def __len__(self) -> int:
        return len(self._keys)

    def key_of(self, urn: str) -> Any:
        return self._created.get(urn)

    def place(self, urn: str, created: Any) -> None:
        """Add the artifact, or move it if its key changed (a key of None takes it out: the graph sorts it)."""
        with self._lock:
            old = self._created.get(urn)
            if old == created:
                return
            if old is not None:
                index = bisect.bisect_left(self._keys, (old, urn))
                if index < len(self._keys) and self._keys[index] == (old, urn):
                    del self._keys[index]
                del self._created[urn]
            if created is not None:
                bisect.insort(self._keys, (created, urn))
                self._created[urn] = created

    def place_new(self, keys: Iterable[Key]) -> None:
        """Add the artifacts not here yet (a batch create leaves existing artifacts as they are)."""
        with self._lock:
            fresh = {urn: created for created, urn in keys if urn not in self._created and created is not None}
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

    def walk(self, after: Key | None, size: int, descending: bool) -> Iterator[list[Key]]:
        """The keys strictly beyond `after` (all, if None) in the direction asked, `size` at a time."""
        if descending:
            yield from self.newest(after, size)
            return
        while True:
            with self._lock:
                start = 0 if after is None else bisect.bisect_right(self._keys, after)
                chunk = self._keys[start : start + size]
            if not chunk:
                return
            yield chunk
            after = chunk[-1]
