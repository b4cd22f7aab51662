"""Schemas in the graph: the built-ins saved at start, user schemas registered, kept and reloaded."""

from __future__ import annotations

from typing import Any

import orjson

from aspects.backends import Runner
from aspects.checks import check_asserter
from aspects.rows import canonical
from aspects.schema_registry import SchemaEntry
from aspects.store_core import StoreCore


class SchemaOperations(StoreCore):
    def _install_schemas(self) -> None:
        """At start: tables and indexes for every schema's edges, the built-ins saved, registered ones reloaded."""
        builtins = self.registry.entries()
        self.backend.setup(self.registry.labels(), [self._connection_of(entry, "Artifact") for entry in builtins])
        now = self._now()
        for entry in builtins:
            self._save_schema(self.backend, entry, f"urn:{self.namespace}:system:builtin", now)
        for row in self.backend.run(self._q.LOAD_REGISTERED_SCHEMAS):
            entry = self.registry.compile(orjson.loads(row["body"]))
            self._prepare_schema(entry)
            self.registry.add(entry)

    def _save_schema(self, runner: Runner, entry: SchemaEntry, asserter: str, now: int) -> None:
        runner.run(
            self._q.MERGE_SCHEMA,
            {
                "urn": self.registry.full_id(entry.name),
                "name": entry.name,
                "body": canonical(self.registry.document(entry)),
                "builtin": entry.builtin,
                "asserter": asserter,
                "registered": now,
            },
        )

    def _prepare_schema(self, entry: SchemaEntry) -> None:
        if entry.link is not None:
            self.backend.ensure_label(entry.link.label)
            self.backend.ensure_connection(*self._connection_of(entry, "Artifact"))

    def register_schema(self, schema: dict[str, Any], *, asserter: str) -> dict[str, Any]:
        """Register a user schema (kept in the graph, reloaded at start). The same schema again is a no-op;
        another schema under a registered id is a Conflict."""
        asserter = check_asserter(asserter)
        with self._lock:
            entry = self.registry.prepare(schema)
            if entry is None:
                return self.registry.document(self.registry.get(schema["$id"]))
            self._prepare_schema(entry)
            self._save_schema(self.backend, entry, asserter, self._now())
            self.registry.add(entry)
            return self.registry.document(entry)

    def get_schema(self, schema_id: str) -> dict[str, Any]:
        return self.registry.document(self.registry.get(schema_id))

    def list_schemas(self) -> list[dict[str, Any]]:
        return [self.registry.document(entry) for entry in self.registry.entries()]
