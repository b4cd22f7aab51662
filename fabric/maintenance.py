"""Keeping blobs, uploads and the graph consistent.

- At start-up `tus_server` completes every upload that had all its bytes (a crash between durable bytes and the
  graph write); then `reconcile` marks artifacts whose upload is gone (terminated, expired, never stored) as
  abandoned, so no artifact waits forever for bytes that will not come.
- `collect_garbage` removes blobs no artifact names. A blob is only removed once it is older than a grace
  period, so the bytes of an upload that is being registered right now are never touched.
"""

from __future__ import annotations

import logging

from aspects import AspectStore
from fabric.blobs import BlobStorage
from fabric.coordination import Coordination
from fabric.settings import DEFAULTS
from tus_server import UploadStore

log = logging.getLogger("fabric.maintenance")

BLOB_GRACE_SECONDS = DEFAULTS.blob_grace


def reconcile(store: AspectStore, uploads: UploadStore) -> list[str]:
    """Abandon pending artifacts whose upload no longer exists; returns their URNs (blocking)."""
    abandoned: list[str] = []
    for artifact in store.pending_artifacts():
        upload_id = artifact.properties.get("upload_id")
        if isinstance(upload_id, str) and uploads.load(upload_id) is not None:
            continue
        store.abandon_artifact(artifact.urn)
        abandoned.append(artifact.urn)
    if abandoned:
        log.info("abandoned %d artifacts whose upload is gone", len(abandoned))
    return abandoned


def collect_garbage(
    store: AspectStore,
    blobs: BlobStorage,
    grace: float = BLOB_GRACE_SECONDS,
    coordination: Coordination | None = None,
) -> list[str]:
    """Delete blobs that no artifact names and that are older than `grace` seconds; returns their hashes (blocking).

    The last check and the deletion hold the blob's guard, which a completion holds from finding the blob to
    naming it: a blob that another process has just referenced is never removed."""
    coordination = coordination or Coordination()
    referenced = store.referenced_blob_hashes()
    removed: list[str] = []
    for sha256 in blobs.hashes():
        if sha256 in referenced:
            continue
        age = blobs.age_seconds(sha256)
        if age is None or age < grace:
            continue
        with coordination.blob(sha256):
            if store.is_blob_referenced(sha256):  # named since the snapshot above was taken
                continue
            blobs.delete(sha256)
        removed.append(sha256)
    if removed:
        log.info("removed %d blobs no artifact names", len(removed))
    return removed
