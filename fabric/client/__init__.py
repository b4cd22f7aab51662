"""The datafabric client: `Fabric` (platform or local mode), `Artifact`, `Aspect`, orders and errors."""

from fabric.client.drafts import DraftArtifact
from fabric.client.errors import (
    BadRequest,
    ConfigurationError,
    Conflict,
    FabricError,
    Forbidden,
    Gone,
    IntegrityError,
    NotFound,
    ServerError,
    Unauthorized,
    UploadFailed,
    ValidationFailed,
)
from fabric.client.fabric import Fabric
from fabric.client.models import Artifact, Aspect, LocalPath
from fabric.client.order import Order, OrderFailed

__all__ = [
    "Artifact",
    "Aspect",
    "BadRequest",
    "ConfigurationError",
    "Conflict",
    "DraftArtifact",
    "Fabric",
    "FabricError",
    "Forbidden",
    "Gone",
    "IntegrityError",
    "LocalPath",
    "NotFound",
    "Order",
    "OrderFailed",
    "ServerError",
    "Unauthorized",
    "UploadFailed",
    "ValidationFailed",
]
