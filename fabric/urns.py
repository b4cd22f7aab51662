"""The URNs fabric writes: `urn:<namespace>:<kind>:<id>`. The namespace word is a setting (`--namespace`);
`DEFAULT_NAMESPACE` is its default, and this is the one place that spells it."""

from __future__ import annotations

DEFAULT_NAMESPACE = "fabric"


def fabric_urn(kind: str, ident: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    return f"urn:{namespace}:{kind}:{ident}"


def collection_urn(name_or_urn: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """A collection named plainly (`climate`) or by URN (`urn:<ns>:collection:climate`), as a URN."""
    return name_or_urn if name_or_urn.startswith("urn:") else fabric_urn("collection", name_or_urn, namespace)
