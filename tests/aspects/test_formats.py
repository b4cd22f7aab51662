"""Format checks of registered schemas: jsonschema's Draft 2020-12 set, with `iri` and `iri-reference` checked
without `rfc3987-syntax` (whose import costs every process 2.4 s and 19 MB)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator

from aspects import AspectStore, ValidationFailed
from aspects.formats import FORMAT_CHECKER, as_uri
from tests.aspects.helpers import USER, ready_artifact


@pytest.mark.parametrize(
    ("value", "iri", "reference"),
    [
        ("https://例え.テスト/パス?q=値#frag", True, True),
        ("urn:fabric:artifact:0b6c", True, True),
        ("http://[::1]:8080/a", True, True),
        ("//host/ü", False, True),
        ("relative/path", False, True),
        ("http://a b", False, False),
        ("http://host/%zz", False, False),
        ("\ud800", False, False),  # a lone surrogate is no character of an IRI
    ],
)
def test_iri_formats(value: str, iri: bool, reference: bool) -> None:
    assert FORMAT_CHECKER.conforms(value, "iri") is iri
    assert FORMAT_CHECKER.conforms(value, "iri-reference") is reference
    assert FORMAT_CHECKER.conforms(42, "iri")  # formats say nothing of other types


def test_every_format_jsonschema_checks_is_checked_and_the_iri_ones_too() -> None:
    assert set(Draft202012Validator.FORMAT_CHECKER.checkers) | {"iri", "iri-reference"} == set(FORMAT_CHECKER.checkers)
    assert as_uri("a/ü b") == "a/%C3%BC b"


def test_no_process_imports_the_slow_iri_grammar() -> None:
    code = "import sys, fabric.cli, fabric.client, fabric.app; print('rfc3987_syntax' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_registered_schema_checks_iris(store: AspectStore) -> None:
    store.register_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "urn:fabric:schema:homepage.1",
            "type": "object",
            "required": ["page"],
            "properties": {"page": {"type": "string", "format": "iri"}},
        },
        asserter=USER,
    )
    artifact = ready_artifact(store)
    store.assert_aspect(artifact.urn, "homepage.1", {"page": "https://例え.テスト/"}, asserter=USER)
    with pytest.raises(ValidationFailed):
        store.assert_aspect(artifact.urn, "homepage.1", {"page": "not an iri"}, asserter=USER)
