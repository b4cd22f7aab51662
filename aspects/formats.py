"""The format checks of registered schemas: jsonschema's own for Draft 2020-12, with `iri` and `iri-reference`
checked through the URI an IRI maps to (RFC 3987, section 3.1) by `rfc3986-validator`.

jsonschema checks IRIs with `rfc3987-syntax` when that is installed, and builds its grammar on import: 2.4 s and
19 MB in every process that imports jsonschema, which is every `fabric` command and the server. So that package
is not installed (pyproject lists jsonschema's other format libraries instead of its `format-nongpl` extra), and
these two checks stand in for it.
"""

from __future__ import annotations

from jsonschema import Draft202012Validator, FormatChecker
from rfc3986_validator import validate_rfc3986

FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)


def as_uri(iri: str) -> str:
    """The URI of an IRI: each character outside ASCII as its UTF-8 bytes, percent-encoded (RFC 3987, 3.1)."""
    return "".join(c if c.isascii() else "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in iri)


@FORMAT_CHECKER.checks("iri", raises=(ValueError, UnicodeError))
def is_iri(instance: object) -> bool:
    return not isinstance(instance, str) or validate_rfc3986(as_uri(instance), rule="URI") is not None


@FORMAT_CHECKER.checks("iri-reference", raises=(ValueError, UnicodeError))
def is_iri_reference(instance: object) -> bool:
    return not isinstance(instance, str) or validate_rfc3986(as_uri(instance), rule="URI_reference") is not None
