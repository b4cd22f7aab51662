"""Where the S3-compatible object storage is, and clients for it.

The client library is botocore, with aiobotocore for the event loop: aiobotocore is aio-libs' asyncio port of
the AWS SDK's own core, released in step with botocore, so every S3 operation (multipart uploads, ranges,
presigned URLs, the AWS credential chain) behaves as in the SDK; it streams request bodies from an async
iterator and response bodies in chunks, so nothing is held whole in memory. Calls that run in worker threads
(ingesting a finished file, garbage collection) use botocore itself.

Credentials come from the usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
AWS_PROFILE...). Payloads are not signed (UNSIGNED-PAYLOAD) and no checksum is computed unless an operation
requires one: the bytes are hashed by the server already, and signing would mean reading a body twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class S3Location:
    endpoint: str | None  # None: AWS itself
    bucket: str
    region: str | None = None
    path_style: bool = False  # http://host/bucket/key rather than http://bucket.host/key (most S3-compatible servers)
    prefix: str = ""  # every key of this server starts with it, so one bucket can hold several deployments

    def _options(self) -> dict[str, Any]:
        return {
            "s3": {"addressing_style": "path" if self.path_style else "auto", "payload_signing_enabled": False},
            "signature_version": "s3v4",
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
            "retries": {"max_attempts": 3, "mode": "standard"},
        }

    def client(self) -> Any:
        """A botocore S3 client for worker threads (thread-safe)."""
        import botocore.session  # imported when S3 is used: botocore and aiobotocore hold ~30 MB once imported
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region or "us-east-1",
            config=Config(max_pool_connections=32, **self._options()),
        )

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[Any]:
        """An aiobotocore S3 client for the event loop."""
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        options = self._options()
        options["retries"] = {"max_attempts": 1}  # a streamed body cannot be sent twice
        async with get_session().create_client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region or "us-east-1",
            config=AioConfig(max_pool_connections=64, **options),
        ) as client:
            yield client


def is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("404", "NoSuchKey", "NotFound", "NoSuchUpload") or status == 404
