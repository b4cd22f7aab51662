"""Filling identifier placeholders (labels, relationship types) in query templates with checked names."""

from __future__ import annotations

from aspects.schema_registry import LABEL_RE, REL_RE

_CHECKS = {"label": LABEL_RE, "src": LABEL_RE, "dst": LABEL_RE, "rel": REL_RE}


def fill(template: str, **identifiers: str | list[str]) -> str:
    """`template` with `{label}`, `{src}`, `{dst}`, `{rel}` or `{rels}` replaced by checked identifiers.

    A value reaching here has been validated when its schema was registered; this checks again, so that no
    query text is ever built from an unchecked string.
    """
    for key, value in identifiers.items():
        if key == "rels":
            assert isinstance(value, list) and value
            for rel in value:
                if not REL_RE.match(rel):
                    raise ValueError(f"bad relationship type {rel!r}")
            text = "|".join(f"`{rel}`" for rel in value)
        else:
            assert isinstance(value, str)
            if not _CHECKS[key].match(value):
                raise ValueError(f"bad identifier {value!r}")
            text = value
        template = template.replace("{" + key + "}", text)
    return template
