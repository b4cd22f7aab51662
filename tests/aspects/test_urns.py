"""URNs: parsing, minting, and finding artifact references in JSON."""

from __future__ import annotations

import pytest

from aspects import InvalidUrn, Urn, find_artifact_urns, is_artifact_urn, new_urn, parse_urn


def test_parse_urn_parts() -> None:
    assert parse_urn("urn:fabric:artifact:1234") == Urn("fabric", "artifact", "1234")
    assert parse_urn("urn:fabric:user:alice@example.com").id == "alice@example.com"
    assert parse_urn("urn:file:///data/x.csv") == Urn("file", "artifact", "/data/x.csv")
    assert str(parse_urn("urn:file:///data/x.csv")) == "urn:file:///data/x.csv"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "urn",
        "urn:fabric",
        "urn:fabric:artifact",
        "urn:fabric:artifact:",
        "URN:fabric:artifact:1",
        "urn:Fabric:artifact:1",
        "urn:fabric:Artifact:1",
        "urn:fabric:artifact:a b",
        "urn:fabric:artifact:x'})-[r]-() DETACH DELETE r//",
        "urn:fabric:artifact:`x`",
        "urn:fabric:artifact:" + "x" * 2000,
        "http://example.com",
        "urn:file://relative/path",
        None,
        42,
    ],
)
def test_malformed_urns_are_refused(text: object) -> None:
    with pytest.raises(InvalidUrn):
        parse_urn(text)


def test_parse_urn_checks_the_kind() -> None:
    with pytest.raises(InvalidUrn):
        parse_urn("urn:fabric:order:1", "artifact")


def test_new_urn_is_fresh_and_parses() -> None:
    first, second = new_urn("artifact"), new_urn("artifact", ns="acme")
    assert first != second
    assert parse_urn(first).kind == "artifact" and first.startswith("urn:fabric:artifact:")
    assert second.startswith("urn:acme:artifact:")
    with pytest.raises(InvalidUrn):
        new_urn("Bad Kind")


def test_is_artifact_urn() -> None:
    assert is_artifact_urn("urn:other:artifact:x")
    assert is_artifact_urn("urn:file:///tmp/a b.csv")
    assert not is_artifact_urn("urn:fabric:order:x")
    assert not is_artifact_urn(17)


def test_find_artifact_urns_walks_nested_json() -> None:
    value = {
        "inputs": ["urn:fabric:artifact:a", {"deep": ["urn:acme:artifact:b", "urn:fabric:order:o"]}],
        "note": "mentions urn:fabric:artifact:c inside text, which is not a reference",
        "again": "urn:fabric:artifact:a",
        "local": "urn:file:///data/in.csv",
        "n": 3,
        "nothing": None,
    }
    assert find_artifact_urns(value) == ["urn:fabric:artifact:a", "urn:acme:artifact:b", "urn:file:///data/in.csv"]
    assert find_artifact_urns("urn:fabric:artifact:z") == ["urn:fabric:artifact:z"]
    assert find_artifact_urns([1, 2.5, True]) == []
