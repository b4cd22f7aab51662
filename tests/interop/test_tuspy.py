"""tuspy uploads through a proxy that keeps cutting the connection; the user resumes until it is done.

tuspy's own retry is off (`retries=0`): a cut surfaces as an exception, and the test resumes the way a user
would, alternately by refreshing the offset of the same uploader with a HEAD and by building a new uploader
on the same upload URL. The upload must end byte-exact and the proxy must really have cut it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from tusclient import client
from tusclient.exceptions import TusCommunicationError, TusUploadFailed
from tusclient.uploader import Uploader

from tests.interop.conftest import SourceFile
from tests.interop.cutting_proxy import CuttingProxy
from tests.interop.support import ARTIFACT_URN, MiB, artifact_urn_of, assert_blob_equals, durable_offset, upload_path
from tests.server_process import FabricServer

RETRIES = 200
MAX_FAILURES = 200  # a liveness guard: a 409 after a stale HEAD wastes a whole chunk of the proxy's budget, so 40+ failures are normal


@dataclass
class Outcome:
    url: str
    urn_from_patch: str | None
    failures: int
    resumed_with_new_uploader: int


def upload_resuming(endpoint: str, source: SourceFile, chunk_size: int, checksum: bool = False) -> Outcome:
    tus = client.TusClient(endpoint)

    def new_uploader(url: str | None = None) -> Uploader:
        return tus.uploader(
            file_path=str(source.path),
            chunk_size=chunk_size,
            metadata={"filename": "tuspy.bin", "content_type": "application/x-test"},
            retries=0,
            upload_checksum=checksum,  # sha1 of each chunk: a cut chunk is discarded whole
            url=url,
        )

    uploader: Uploader | None = None
    failures = renewed = 0
    while True:
        try:
            if uploader is None:
                uploader = new_uploader()  # no URL yet: the POST happens in upload()
            elif failures and uploader.url is not None:
                if failures % 2:
                    uploader.offset = uploader.get_offset()  # HEAD, then go on with the same uploader
                else:
                    uploader = new_uploader(uploader.url)  # a fresh uploader HEADs the URL itself
                    renewed += 1
            uploader.upload()
            break
        except (TusUploadFailed, TusCommunicationError) as error:
            failures += 1
            if failures > MAX_FAILURES:
                raise AssertionError(f"gave up after {failures} failures; last: {error!r}") from error
    assert uploader.url is not None
    urn = uploader.request.response_headers.get("artifact-urn") if uploader.request is not None else None
    return Outcome(uploader.url, urn, failures, renewed)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chunk_size", "checksum"),
    [(1 * MiB + 4096, False), (5 * MiB, False), (1 * MiB, True)],
    ids=["chunk-1MiB", "chunk-5MiB", "chunk-1MiB-sha1-checksum"],
)
def test_tuspy_resumes_across_cuts_to_a_byte_exact_blob(
    interop_server: FabricServer, cutting_proxy: CuttingProxy, source_file: SourceFile, chunk_size: int, checksum: bool
) -> None:
    outcome = upload_resuming(f"{cutting_proxy.url}/v1/uploads", source_file, chunk_size, checksum)
    print(
        f"proxy cuts: {cutting_proxy.cuts}, tuspy failures: {outcome.failures}, new uploaders: {outcome.resumed_with_new_uploader}"
    )

    assert cutting_proxy.cuts >= 2, f"the proxy cut only {cutting_proxy.cuts} times"
    assert outcome.failures >= 1, "tuspy never saw a cut connection"
    # Location is absolute and built from the Host the client used: the proxy's.
    assert urlsplit(outcome.url).netloc == f"127.0.0.1:{cutting_proxy.port}"
    upload_path(outcome.url)
    assert durable_offset(interop_server.url, outcome.url) == source_file.size

    urn = artifact_urn_of(interop_server.url, outcome.url)
    if outcome.urn_from_patch is not None:  # absent only if the last PATCH's answer was the one cut
        assert outcome.urn_from_patch == urn
    assert ARTIFACT_URN.fullmatch(urn)
    assert_blob_equals(interop_server.url, urn, source_file.sha256, source_file.size)


def test_tuspy_built_in_retry_survives_cuts(
    interop_server: FabricServer, cutting_proxy: CuttingProxy, source_file: SourceFile
) -> None:
    """tuspy's own `retries` (HEAD, then PATCH from the server's offset) also gets through the cuts.

    tuspy counts retries per `upload_chunk()` call, and a retry chain may run across many chunks; with no
    delay its HEAD often comes before the server has noticed the cut, so a 409 (and one more retry) follows.
    Hence the generous count.
    """
    tus = client.TusClient(f"{cutting_proxy.url}/v1/uploads")
    url = tus.uploader(file_path=str(source_file.path)).create_url()  # POST alone: nothing to cut
    uploader = tus.uploader(
        file_path=str(source_file.path), chunk_size=2 * MiB, retries=RETRIES, retry_delay=0, url=url
    )
    uploader.upload()
    print(f"proxy cuts: {cutting_proxy.cuts}")

    assert cutting_proxy.cuts >= 2, f"the proxy cut only {cutting_proxy.cuts} times"
    urn = uploader.request.response_headers.get("artifact-urn")
    assert urn == artifact_urn_of(interop_server.url, url)
    assert_blob_equals(interop_server.url, urn, source_file.sha256, source_file.size)
