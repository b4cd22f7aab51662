"""Real tus clients (tuspy, tus-js-client) against the S3 store, through the connection-cutting proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures_services import S3Target
from tests.interop.conftest import CUT_EVERY, SEED, SOURCE_SIZE, SourceFile
from tests.interop.cutting_proxy import CuttingProxy
from tests.interop.support import artifact_urn_of, assert_blob_equals, durable_offset, random_file
from tests.interop.test_tus_js_client import run_node_upload
from tests.interop.test_tuspy import upload_resuming
from tests.server_process import FabricServer

MiB = 1 << 20


@pytest.fixture(scope="module")
def s3_fabric(tmp_path_factory: pytest.TempPathFactory, s3_service: object) -> Iterator[FabricServer]:
    from tests.fixtures_services import make_bucket

    bucket = "interop"
    make_bucket(s3_service.url, bucket)  # type: ignore[attr-defined]
    env = S3Target(s3_service.url, bucket).env()  # type: ignore[attr-defined]
    with FabricServer(tmp_path_factory.mktemp("s3-interop") / "data", env=env) as server:
        yield server


@pytest.fixture
def source_file(tmp_path: Path) -> SourceFile:
    path = tmp_path / "source.bin"
    return SourceFile(path, SOURCE_SIZE, random_file(path, SOURCE_SIZE, SEED))


@pytest.fixture
def proxy(s3_fabric: FabricServer) -> Iterator[CuttingProxy]:
    with CuttingProxy(s3_fabric.port, cut_every=CUT_EVERY, jitter=0.25, seed=SEED) as cutting:
        yield cutting


@pytest.mark.slow
def test_tuspy_resumes_across_cuts_on_s3(s3_fabric: FabricServer, proxy: CuttingProxy, source_file: SourceFile) -> None:
    outcome = upload_resuming(f"{proxy.url}/v1/uploads", source_file, 6 * MiB + 4096)
    assert proxy.cuts >= 2 and outcome.failures >= 1
    assert durable_offset(s3_fabric.url, outcome.url) == source_file.size
    assert_blob_equals(s3_fabric.url, artifact_urn_of(s3_fabric.url, outcome.url), source_file.sha256, source_file.size)


@pytest.mark.slow
def test_tus_js_client_resumes_across_cuts_on_s3(
    s3_fabric: FabricServer, proxy: CuttingProxy, source_file: SourceFile, tmp_path: Path
) -> None:
    result = run_node_upload(source_file.path, f"{proxy.url}/v1/uploads", "Infinity")
    assert proxy.cuts >= 2 and isinstance(result["retries"], int) and result["retries"] >= 1
    url = str(result["url"])
    assert durable_offset(s3_fabric.url, url) == source_file.size
    assert_blob_equals(s3_fabric.url, artifact_urn_of(s3_fabric.url, url), source_file.sha256, source_file.size)
