"""Which artifacts a listing or a count takes, as one value: the filters `list_artifacts` and `count_artifacts`
share, instead of the same keyword arguments passed on twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from aspects.reader import Reader


@dataclass(frozen=True, slots=True)
class ArtifactFilter:
    """Every field left at `None` (or `False`) filters nothing.

    `name` matches exactly, `name_prefix` by prefix; `created_after` is inclusive and `created_before` exclusive;
    `schema` keeps artifacts with a current aspect of that schema; `collection` (a collection URN) keeps current
    members of that collection; `status` one status (deleted and abandoned artifacts are listed only when asked
    for); `type` and `labels` (key to value) match the lifecycle's current type and label aspects; `uploader`
    (a user URN) keeps what that user uploaded; `org` (an organisation URN) what members of that organisation
    uploaded (the artifact's `org`, whose admins manage it). With a `reader`, only what it may read; with
    `shared` too, only what others granted to it (its user or its organisation). A `reader` who does not manage
    an artifact never sees its uploader, so `uploader` matches only the reader's own artifacts and those it
    manages: filtering by someone's address tells nothing the reader could not read already.
    """

    name: str | None = None
    name_prefix: str | None = None
    mime_type: str | None = None
    collection: str | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None
    schema: str | None = None
    status: str | None = None
    type: str | None = None
    labels: Mapping[str, str] | None = None
    uploader: str | None = None
    org: str | None = None
    reader: Reader | None = None
    shared: bool = False
