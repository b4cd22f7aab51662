"""The datafabric server: tus uploads, blobs and the aspect graph composed into one Starlette app."""

from __future__ import annotations

import base64
import functools
import logging
import os
import pickle
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import timedelta
from importlib.metadata import version
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware

from aspects import AspectStore, open_store
from aspects.lifecycle import Lifecycle
from fabric import maintenance, metrics, portal
from fabric.access_log import AccessLogMiddleware
from fabric.api import (
    artifacts,
    aspects,
    blobs,
    docs,
    downloads,
    files,
    health,
    lifecycle,
    repositories,
    schema_registry,
    session,
    sharing,
)
from fabric.api.options import OptionsMiddleware
from fabric.auth.middleware import AuthMiddleware
from fabric.auth.signin import CodeBook, FileSignInCodes, RedisSignInCodes, SignInCodes
from fabric.blobs import BlobStorage, BlobStore
from fabric.coordination import Coordination, FileCoordination, RedisCoordination
from fabric.cors import cors_middleware
from fabric.errors import exception_handlers
from fabric.ingest import UploadIngest
from fabric.malloc import IdleTrim
from fabric.metrics import MetricsMiddleware
from fabric.openapi import build_document
from fabric.openapi import tus as tus_description
from fabric.reference_paths import ReferencePathMiddleware
from fabric.s3 import S3Location
from fabric.s3_blobs import S3BlobStore
from fabric.settings import Settings
from fabric.slashes import TrailingSlashMiddleware
from fabric.state import AppState
from tus_server import FileUploadStore, TusConfig, TusServer, UploadStore
from tus_server.file_locks import FileUploadLocks
from tus_server.locks import UploadLocker
from tus_server.s3_store import S3UploadStore

log = logging.getLogger("fabric")


def open_graph(settings: Settings) -> AspectStore:
    return open_store(
        settings.graph_url,
        settings.data_dir,
        neo4j_user=settings.neo4j_user,
        neo4j_password=settings.neo4j_password,
        neo4j_database=settings.neo4j_database,
        namespace=settings.namespace,
        buffer_pool_size=settings.graph_buffer_pool,
    )


def s3_location(settings: Settings) -> S3Location | None:
    if settings.s3_bucket is None:
        return None
    return S3Location(
        endpoint=settings.s3_endpoint,
        bucket=settings.s3_bucket,
        region=settings.s3_region,
        path_style=settings.s3_path_style,
        prefix=settings.s3_prefix,
    )


def open_storage(settings: Settings) -> tuple[UploadStore, BlobStorage]:
    """Uploads and blobs under data_dir, or both in the S3 bucket of the settings."""
    location = s3_location(settings)
    if location is None:
        return FileUploadStore(settings.uploads_dir), BlobStore(settings.blobs_dir)
    return S3UploadStore(location.client(), location.bucket, location.prefix), S3BlobStore(location)


def open_locker(settings: Settings) -> UploadLocker | None:
    """Upload locks shared by replicas (Redis), by the workers of one machine (lock files), or of this process."""
    if settings.redis_url:
        from tus_server.redis_locks import RedisUploadLocks  # redis is loaded only when the deployment uses it

        return RedisUploadLocks(settings.redis_url, prefix=f"{settings.namespace}:uploads:", expiry=5.0)
    if settings.workers > 1:
        return FileUploadLocks(settings.data_dir / "locks")
    return None


def open_coordination(settings: Settings) -> Coordination:
    if settings.redis_url:
        return RedisCoordination(settings.redis_url, prefix=f"{settings.namespace}:")
    if settings.workers > 1:
        return FileCoordination(settings.data_dir / "coordination")
    return Coordination()


def open_signin_codes(settings: Settings) -> CodeBook:
    """One-time portal sign-in codes where every process of the deployment sees them."""
    if settings.redis_url:
        return RedisSignInCodes(settings.redis_url, prefix=f"{settings.namespace}:signin:")
    if settings.workers > 1:
        return FileSignInCodes(settings.data_dir / "signin")
    return SignInCodes()


def build_state(settings: Settings, store: AspectStore) -> AppState:
    upload_store, blob_store = open_storage(settings)
    artifact_lifecycle = Lifecycle(store, stages=settings.stages, protected_aliases=settings.protected_aliases)
    coordination = open_coordination(settings)
    ingest = UploadIngest(
        store, blob_store, settings.namespace, lifecycle=artifact_lifecycle, coordination=coordination
    )
    tus = TusServer(
        upload_store,
        TusConfig(
            base_path="/v1/uploads",
            max_size=settings.max_size,
            expiry=timedelta(seconds=settings.upload_expiry),
            sweep_interval=settings.sweep_interval,
            md5=settings.md5,
            upload_buffer_budget=settings.upload_buffer_budget,
        ),
        on_create=ingest.on_create,
        on_complete=ingest.on_complete,
        on_abandon=ingest.on_abandon,
        check_access=ingest.check_access,
        locker=open_locker(settings),
        sweep_lease=functools.partial(coordination.take_lease, maintenance_lease(settings)),
    )
    return AppState(
        settings=settings,
        store=store,
        blobs=blob_store,
        tus=tus,
        lifecycle=artifact_lifecycle,
        signing_key=settings.signing_key(),
        signin=open_signin_codes(settings),
        coordination=coordination,
        ingest=ingest,
    )


def maintenance_lease(settings: Settings) -> float:
    """Seconds the maintenance lease lasts: the maintainer (which also sweeps expired uploads) keeps it while alive,
    another process takes over after it expires."""
    return 2 * settings.gc_interval + 60


TRIM_INTERVAL = 10.0  # seconds between looks at whether the process is quiet and has freed memory to give back


async def trim_when_idle(trimmer: IdleTrim) -> None:
    """Give the heap's free memory back to the system after bursts of requests (`fabric.malloc`)."""
    while True:
        await anyio.sleep(TRIM_INTERVAL)
        if trimmer.due():
            await anyio.to_thread.run_sync(trimmer.trim)


async def keep_consistent(state: AppState) -> None:
    """Reconcile the graph with the uploads at start-up, then collect unreferenced blobs now and then."""
    settings = state.settings
    lease = maintenance_lease(settings)
    while True:
        try:
            if await anyio.to_thread.run_sync(state.coordination.take_lease, lease):
                await anyio.to_thread.run_sync(maintenance.reconcile, state.store, state.tus.store)
                removed = await anyio.to_thread.run_sync(
                    maintenance.collect_garbage, state.store, state.blobs, settings.blob_grace, state.coordination
                )
                metrics.BLOBS_COLLECTED.inc(len(removed))
                metrics.MAINTENANCE_RUNS.inc()
        except Exception:
            log.exception("maintenance failed; retrying at the next interval")
        await anyio.sleep(settings.gc_interval)


def api_description() -> dict[str, Any]:
    """The OpenAPI document of every route below; a new route module adds its `paths` here beside its `routes`."""
    return build_document(
        [
            health.paths,
            docs.paths,
            tus_description.paths,
            blobs.paths,
            artifacts.paths,
            lifecycle.paths,
            files.paths,
            downloads.paths,
            repositories.paths,
            sharing.paths,
            aspects.paths,
            schema_registry.paths,
            session.paths,
            portal.paths,
        ],
        version=version("datafabric"),
    )


def blobs_running(blob_store: BlobStorage) -> AbstractAsyncContextManager[object]:
    return blob_store.running() if isinstance(blob_store, S3BlobStore) else nullcontext()


SETTINGS_ENV = "FABRIC_SERVE_SETTINGS"  # how `fabric serve --workers N` hands its settings to the workers


def create_app_from_environment() -> Starlette:
    """The app of one worker of `fabric serve --workers N` (uvicorn's factory)."""
    from fabric import logs

    logs.configure(os.environ.get("FABRIC_LOG_LEVEL", "info"), os.environ.get("FABRIC_LOG_FORMAT", "text"))
    settings = pickle.loads(base64.b64decode(os.environ[SETTINGS_ENV]))
    assert isinstance(settings, Settings)
    return create_app(settings)


def settings_for_workers(settings: Settings) -> str:
    return base64.b64encode(pickle.dumps(settings)).decode()


def recover_uploads(settings: Settings) -> None:
    """Recover the uploads once, before the workers of `fabric serve --workers N` start (blocking)."""
    store = open_graph(settings)
    try:
        state = build_state(settings, store)

        async def recover() -> None:
            async with blobs_running(state.blobs):
                await state.tus.recover()

        anyio.run(recover)
    finally:
        store.close()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_graph(settings)
    state = build_state(settings, store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            recover = settings.workers <= 1  # with workers, `fabric serve` recovered once before starting them
            async with (
                blobs_running(state.blobs),
                state.tus.running(recover=recover),
                anyio.create_task_group() as tasks,
            ):
                tasks.start_soon(keep_consistent, state)
                tasks.start_soon(trim_when_idle, IdleTrim())
                yield
                tasks.cancel_scope.cancel()
        finally:
            if state.ingest is not None:
                await anyio.to_thread.run_sync(state.ingest.stop)
            await anyio.to_thread.run_sync(store.close)

    routes = [
        *health.routes,
        *docs.routes,
        *state.tus.routes,
        *blobs.routes,
        *files.routes,
        *downloads.routes,
        *lifecycle.routes,
        *repositories.routes,
        *artifacts.routes,
        *sharing.routes,
        *aspects.routes,
        *schema_registry.routes,
        *session.routes,
        *portal.routes,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers=exception_handlers,
        middleware=[
            *cors_middleware(settings.cors_origins),  # outermost: preflights need no token
            *([Middleware(AccessLogMiddleware)] if settings.access_log else []),
            Middleware(TrailingSlashMiddleware),
            Middleware(MetricsMiddleware),
            Middleware(OptionsMiddleware, routes=routes),
            Middleware(
                AuthMiddleware, secret=state.signing_key, no_auth=settings.auth_disabled, namespace=settings.namespace
            ),
            Middleware(ReferencePathMiddleware),  # needs the caller: inside authentication
        ],
        lifespan=lifespan,
    )
    app.state.openapi = api_description()
    app.state.fabric = state
    return app
