"""Which aspects one page asks for, as one value instead of ten positional arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aspects.model import FAR_FUTURE
from aspects.reader import Reader


@dataclass(frozen=True, slots=True)
class AspectQuery:
    """Aspects over the relationship types `rels`, ordered by (valid_from, urn), after the keyset
    (`after_from`, `after_urn`).

    With `entity` (a node of `label`): only that entity's aspects. `schema` is a full schema id, `""` for any.
    `at` is a time in microseconds (`FAR_FUTURE`: now); `include_retracted` keeps retracted aspects too. With a
    `reader` and no `entity`: only aspects of entities it may read (the entity's own check is the caller's).
    """

    rels: tuple[str, ...]
    label: str | None = None
    entity: str | None = None
    schema: str = ""
    at: int = FAR_FUTURE
    include_retracted: bool = False
    after_from: int = -1
    after_urn: str = ""
    limit: int = 100
    reader: Reader | None = None

    def params(self) -> dict[str, Any]:
        """The `$parameters` of the aspect window (`ASPECT_WINDOW`), the schema filter and the limit."""
        return {
            "schema": self.schema,
            "at": self.at,
            "include_retracted": self.include_retracted,
            "after_from": self.after_from,
            "after_urn": self.after_urn,
            "limit": self.limit,
        }
