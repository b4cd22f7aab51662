"""tus 1.0.0 resumable uploads as a Starlette component. Knows uploads, not what they mean."""

from tus_server.app import create_tus_app
from tus_server.config import TusConfig
from tus_server.file_store import FileUploadStore
from tus_server.info import UploadInfo
from tus_server.locks import HeldLock, UploadLocker, UploadLocks
from tus_server.problems import TusError
from tus_server.server import BlockingCompletion, CompletedUpload, TusServer, completes_at_creation
from tus_server.upload_store import (
    Checkpointer,
    CompletionRecorder,
    Concatenator,
    DataMover,
    FinishMarker,
    LengthDeferrer,
    PartialWrite,
    Terminator,
    UploadStore,
    UploadWriter,
)

__all__ = [
    "BlockingCompletion",
    "Checkpointer",
    "CompletedUpload",
    "CompletionRecorder",
    "Concatenator",
    "DataMover",
    "FileUploadStore",
    "FinishMarker",
    "HeldLock",
    "LengthDeferrer",
    "PartialWrite",
    "Terminator",
    "TusConfig",
    "TusError",
    "TusServer",
    "UploadInfo",
    "UploadLocker",
    "UploadLocks",
    "UploadStore",
    "UploadWriter",
    "completes_at_creation",
    "create_tus_app",
]
