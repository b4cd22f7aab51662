"""The aspect store: schema-validated aspects on a provenance graph (LadybugDB embedded, or Neo4j)."""

from aspects.artifact_filter import ArtifactFilter
from aspects.artifact_operations import NewArtifact
from aspects.errors import Conflict, InvalidCursor, InvalidUrn, NotFound, ValidationFailed
from aspects.model import ArtifactRecord, Aspect, Lineage, Page
from aspects.reader import Reader, hmac_redactor
from aspects.store import AspectStore, open_store
from aspects.urns import Urn, find_artifact_urns, is_artifact_urn, new_urn, parse_urn

__all__ = [
    "ArtifactFilter",
    "ArtifactRecord",
    "Aspect",
    "AspectStore",
    "Conflict",
    "InvalidCursor",
    "InvalidUrn",
    "Lineage",
    "NewArtifact",
    "NotFound",
    "Page",
    "Reader",
    "Urn",
    "ValidationFailed",
    "find_artifact_urns",
    "hmac_redactor",
    "is_artifact_urn",
    "new_urn",
    "open_store",
    "parse_urn",
]
