"""The Cypher of the two backends: written once where it is the same, and every statement listed in one place."""

from __future__ import annotations

import re
from dataclasses import MISSING, fields
from pathlib import Path

from aspects.backends import ladybug_queries, neo4j_queries
from aspects.backends.queries import Queries, statements
from tests.fixtures_backends import BACKENDS

QUERY_MODULES = {"ladybug": ladybug_queries, "neo4j": neo4j_queries}
# `key`: a parameter stem the store makes, or a sort expression of `SORT_KEYS`; `cmp` and `direction`: `<`/`DESC` or
# `>`/`ASC`. All come from closed tables in `aspects.artifact_operations`, never from a request. `columns`, `column`
# and `values`: property names of a claim node, each checked against a strict pattern before it is spliced in.
PLACEHOLDERS = {"label", "rel", "src", "dst", "rels", "key", "cmp", "direction", "columns", "column", "values"}


def test_both_backends_define_the_same_query_names() -> None:
    assert list(QUERY_MODULES) == BACKENDS  # every backend the tests run has its query module here
    names = [set(statements(module.QUERIES)) for module in QUERY_MODULES.values()]
    assert names[0] == names[1] == {field.name for field in fields(Queries)}


def test_what_is_shared_is_not_overridden_and_what_is_overridden_differs() -> None:
    for field in fields(Queries):
        texts = {name: getattr(module.QUERIES, field.name) for name, module in QUERY_MODULES.items()}
        if field.default is MISSING:
            assert texts["ladybug"] != texts["neo4j"], f"{field.name} is the same on both: give it a default"
        else:
            assert set(texts.values()) == {field.default}, f"{field.name} is shared: no backend may override it"


def test_every_statement_a_backend_runs_is_listed_and_only_checked_placeholders_are_used(backend_name: str) -> None:
    backend = backend_name
    module = QUERY_MODULES[backend]
    listed = module.every_query()
    source = (Path(module.__file__).parent / f"{backend}.py").read_text()
    used = set(re.findall(r"\bown\.([A-Z_]+)", source)) - {"QUERIES"}
    assert used and used <= set(listed), f"{backend}.py runs statements every_query() does not list"
    for name, text in listed.items():
        for statement in text if isinstance(text, tuple) else (text,):
            assert statement.strip(), name
            found = set(re.findall(r"\{([a-z]+)\}", statement))
            assert found <= PLACEHOLDERS, f"{name} has placeholders {found - PLACEHOLDERS}"
