"""The errors the aspect store raises; the HTTP layer maps each to a status."""

from __future__ import annotations


class AspectError(Exception):
    """Base of every error the store raises on purpose."""


class NotFound(AspectError):
    """No entity, aspect or schema has this name (404)."""


class ValidationFailed(AspectError):
    """Content or a schema breaks the rules (422). `path` is the JSON path of the failing part, e.g. `$.size`."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.message} (at {self.path})"


class InvalidUrn(AspectError, ValueError):
    """A malformed URN, or one of the wrong kind (400)."""


class Conflict(AspectError):
    """The request contradicts the stored state, e.g. an aspect already retracted (409)."""


class InvalidCursor(AspectError, ValueError):
    """A paging cursor this store did not hand out (400)."""
