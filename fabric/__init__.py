"""datafabric: `from fabric import Fabric` for the client; the server lives in `fabric.app`.

The client names are loaded on first use, so importing the server does not import the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fabric.client import Artifact, Aspect, Fabric, FabricError, Order

__all__ = ["Artifact", "Aspect", "Fabric", "FabricError", "Order"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import fabric.client

        return getattr(fabric.client, name)
    raise AttributeError(f"module 'fabric' has no attribute {name!r}")
