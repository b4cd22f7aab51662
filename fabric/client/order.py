"""Orders: a service run that records which artifacts it used and which it produced.

    with fab.order(service="resize", inputs={"image": art.id}) as order:
        with open(order.input_path(art.id)) as f: ...
        order.upload_artifact(name="small.jpg", file_path="/tmp/small.jpg")

Entering resolves every artifact URN in the inputs (each must exist and be readable) before anything is
written, so a bad input leaves no trace. Then it asserts `order-status.1` (`running`) on the order and
`artifact-used-by-order.1` on each input. Outputs get `artifact-produced-by-order.1`. Leaving sets the status
to `succeeded`, or `failed` with the error: an update (retract + assert), so the run's history stays queryable.

Against a server with access control (the client holds a token), the order first obtains a compute token
scoped to it: inputs are resolved and downloaded, and outputs uploaded, with that token, which reads only
what the caller could read when the order started. The order's aspects are asserted with the caller's token.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aspects import find_artifact_urns, new_urn
from fabric.client.client_schemas import ORDER_STATUS_SCHEMA, assert_aspect
from fabric.client.errors import FabricError
from fabric.client.models import Artifact, Aspect
from fabric.client.references import find_references, parse_reference, resolve_urn, version_body
from fabric.client.transport import Transport, UploadOptions
from fabric.client.tus import Progress
from fabric.client.uploads import DEFAULT_CHUNK_SIZE, UploadRequest, upload_artifact
from fabric.urns import DEFAULT_NAMESPACE

USED_SCHEMA = "artifact-used-by-order.1"
PRODUCED_SCHEMA = "artifact-produced-by-order.1"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OrderFailed(FabricError):
    """The order could not be started: an input is missing or unreadable. Nothing was recorded."""


class Order:
    """A service run. It holds the transport of the client that made it (and, with access control, a second one
    acting with the order's compute token)."""

    def __init__(
        self,
        transport: Transport,
        service: str,
        inputs: Any = None,
        *,
        order_urn: str | None = None,
        namespace: str = DEFAULT_NAMESPACE,
    ) -> None:
        if not service:
            raise ValueError("an order needs a service name")
        self.transport = transport
        self.service = service
        self.inputs_payload = inputs
        self.urn = order_urn or new_urn("order", ns=namespace)
        self.inputs: dict[str, Artifact] = {}
        self.references: dict[str, str] = {}  # fabric:// reference -> the artifact URN it named when the order began
        self.outputs: list[Artifact] = []
        self.status: str = "new"
        self.error: str | None = None
        self._status_aspect: Aspect | None = None
        self._used: list[Aspect] = []
        self._paths: dict[str, Path] = {}
        self._scratch: Path | None = None
        self._started = _now()
        self.compute: Transport = transport  # for inputs and outputs: the compute token's, when the server has auth
        self.compute_token: str | None = None

    @property
    def id(self) -> str:
        return self.urn

    def __repr__(self) -> str:
        return f"<Order {self.urn} service={self.service!r} status={self.status}>"

    # ---- lifecycle ----------------------------------------------------------------------------------

    def __enter__(self) -> Order:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        try:
            if exc is None:
                self.finish()
            else:
                self.fail(f"{exc_type.__name__ if exc_type else 'Error'}: {exc}")
        finally:
            self.cleanup()

    def _obtain_compute_token(self) -> None:
        if not self.transport.token:
            return  # local mode, or a server without authentication: nothing to scope
        try:
            self.compute_token = str(self.transport.order_token(self.urn)["token"])
        except FabricError as exc:
            raise OrderFailed(f"order {self.urn} could not obtain a compute token: {exc}", status=exc.status) from exc
        self.compute = self.transport.with_token(self.compute_token)

    def start(self) -> None:
        # 0. With access control, a compute token scoped to this order reads the inputs and uploads the outputs.
        self._obtain_compute_token()
        # 1. Resolve every input before writing anything: a missing or unreadable one stops the order clean.
        #    A `fabric://` reference is resolved now, once: the order records the concrete artifact it used.
        for reference in find_references(self.inputs_payload):
            try:
                self.references[reference] = resolve_urn(self.compute, reference)
            except FabricError as exc:
                raise OrderFailed(f"order input {reference} cannot be resolved: {exc}", status=exc.status) from exc
        for urn in dict.fromkeys([*find_artifact_urns(self.inputs_payload), *self.references.values()]):
            try:
                artifact = Artifact.fetch(self.compute, urn)
            except FabricError as exc:
                raise OrderFailed(f"order input {urn} cannot be used: {exc}", status=exc.status) from exc
            if artifact.status != "ready":
                raise OrderFailed(f"order input {urn} is not ready (status {artifact.status})")
            self.inputs[urn] = artifact
        # 2. Record the order, then what it uses. If that fails halfway, what was asserted is retracted.
        try:
            status = self._status_content("running")
            self._status_aspect = assert_aspect(self.transport, self.urn, ORDER_STATUS_SCHEMA, status)
            for urn, artifact in self.inputs.items():
                if artifact.plain_file:
                    continue  # a local file the graph does not know: nothing to link
                self._used.append(self.transport.assert_aspect(urn, USED_SCHEMA, {"order": self.urn}))
        except BaseException:
            self._undo_start()
            raise
        self.status = "running"

    def _undo_start(self) -> None:
        for aspect in [*self._used, *([self._status_aspect] if self._status_aspect else [])]:
            try:
                self.transport.retract_aspect(aspect.urn)
            except FabricError:
                pass
        self._used.clear()
        self._status_aspect = None

    def _status_content(self, status: str, error: str | None = None) -> dict[str, Any]:
        content: dict[str, Any] = {
            "service": self.service,
            "status": status,
            "inputs": list(self.inputs),
            "started": self._started,
        }
        if status != "running":
            content["outputs"] = [artifact.id for artifact in self.outputs]
            content["finished"] = _now()
        if error:
            content["error"] = error[:4000]
        return content

    def _set_status(self, status: str, error: str | None = None) -> None:
        if self._status_aspect is None:
            return
        self._status_aspect = self.transport.update_aspect(self._status_aspect.urn, self._status_content(status, error))
        self.status = status
        self.error = error

    def finish(self) -> None:
        self._set_status("succeeded")

    def fail(self, error: str) -> None:
        self._set_status("failed", error)

    def cleanup(self) -> None:
        if self.compute is not self.transport:
            self.compute.close()
            self.compute = self.transport
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # ---- inside the order ---------------------------------------------------------------------------

    def input(self, urn: str) -> Artifact:
        urn = self.references.get(urn, urn)
        if urn not in self.inputs:
            raise KeyError(f"{urn} is not among this order's inputs")
        return self.inputs[urn]

    def input_path(self, urn: str) -> Path:
        """A local file with the input's bytes: downloaded once per order, then reused."""
        urn = self.references.get(urn, urn)
        if urn in self._paths:
            return self._paths[urn]
        artifact = self.input(urn)
        if artifact.local_path is not None:
            path = Path(artifact.local_path)
        else:
            if self._scratch is None:
                self._scratch = Path(tempfile.mkdtemp(prefix="fabric-order-"))
            folder = self._scratch / str(len(self._paths))
            path = Path(artifact.as_local_file(folder))
        self._paths[urn] = path
        return path

    def upload_artifact(
        self,
        name: str | None = None,
        file_path: str | os.PathLike[str] | None = None,
        io_stream: IO[bytes] | IO[str] | None = None,
        content_type: str | None = None,
        content_size: int = -1,
        collection: str | None = None,
        policy: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        retries: int = 10,
        retry_delay: float = 0.5,
        force_upload: bool = True,
        progress: Progress | None = None,
        dir_path: str | os.PathLike[str] | None = None,
        type: str | None = None,
        labels: Mapping[str, str] | None = None,
        jobs: int = 4,
    ) -> Artifact:
        """`Fabric.upload_artifact` (the same arguments, through the order's compute token), recording the result
        as produced by this order.

        An output is a new artifact of this order even if its bytes are old, so `force_upload` defaults to True.
        """
        request = UploadRequest(
            name=name, content_type=content_type, collection=collection, policy=policy, type=type, labels=labels
        )
        options = UploadOptions(
            chunk_size=chunk_size, retries=retries, retry_delay=retry_delay, progress=progress, jobs=jobs
        )
        made = upload_artifact(
            self.compute,
            request,
            options,
            file_path=file_path,
            io_stream=io_stream,
            dir_path=dir_path,
            content_size=content_size,
            force=force_upload,
        )
        # bound to the caller's transport, which outlives the compute token
        artifact = made if self.compute is self.transport else Artifact.fetch(self.transport, made.id)
        self.transport.assert_aspect(artifact.id, PRODUCED_SCHEMA, {"order": self.urn})
        self.outputs.append(artifact)
        return artifact

    def promote(self, repository: str, artifact: Artifact | str, **version: Any) -> dict[str, Any]:
        """Register an artifact (an output of this order) as the next version of `<project>/<name>`, with this
        order in its lineage (Polyaxon's "promote a run")."""
        urn = artifact.id if not isinstance(artifact, str) else artifact
        body = version_body(resolve_urn(self.transport, urn), order=self.urn, **version)
        return self.transport.register_version(parse_reference(repository)[0], body)
