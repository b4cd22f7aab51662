"""What the running app holds: the graph store, the blob store, the upload server and the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from aspects import AspectStore
from aspects.lifecycle import Lifecycle
from fabric.auth.signin import CodeBook, SignInCodes
from fabric.blobs import BlobStorage
from fabric.coordination import Coordination
from fabric.ingest import UploadIngest
from fabric.settings import Settings
from tus_server import TusServer


@dataclass(slots=True)
class AppState:
    settings: Settings
    store: AspectStore
    blobs: BlobStorage
    tus: TusServer
    lifecycle: Lifecycle
    signing_key: bytes  # signs and verifies tokens; keys the redaction of lineage
    signin: CodeBook = field(default_factory=SignInCodes)
    coordination: Coordination = field(default_factory=Coordination)  # maintenance lease and blob guards
    ingest: UploadIngest | None = None  # the upload hooks, stopped before the graph closes


def app_state(connection: HTTPConnection) -> AppState:
    state = connection.app.state.fabric
    assert isinstance(state, AppState)
    return state
