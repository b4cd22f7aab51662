"""tus-js-client speaking Resumable Uploads for HTTP (the IETF draft) through the connection-cutting proxy.

`protocol: 'ietf-draft-03'` sends interop version 5, `'ietf-draft-05'` version 6 (appends as
`application/partial-upload`). The server sends `104 (Upload Resumption Supported)` before a creation's content,
but tus-js-client does not read it, so a creation request whose body is cut off leaves the client without the
upload's location: `with-data-in-creation` shows what it then does (it creates the upload anew and still ends
with a byte-exact blob). `test_draft_interim_104.py` resumes such a creation with the 104's location.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.interop.conftest import SourceFile
from tests.interop.cutting_proxy import CuttingProxy
from tests.interop.support import MiB, assert_blob_equals, upload_path
from tests.interop.test_tus_js_client import run_node_upload
from tests.server_process import FabricServer

INTEROP_VERSIONS = {"ietf-draft-03": "5", "ietf-draft-05": "6"}


def draft_head(server: FabricServer, url: str, protocol: str) -> httpx.Response:
    """HEAD the upload directly on the server, in the draft's terms."""
    headers = {"Upload-Draft-Interop-Version": INTEROP_VERSIONS[protocol]}
    r = httpx.head(server.url + upload_path(url), headers=headers, timeout=30)
    assert r.status_code == 204, f"HEAD {url}: {r.status_code} {r.text}"
    return r


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["ietf-draft-03", "ietf-draft-05"])
@pytest.mark.parametrize(
    ("chunk_size", "during_creation"),
    [("Infinity", False), (str(2 * MiB + 512), False), (str(2 * MiB + 512), True)],
    ids=["one-patch", "chunk-2MiB", "with-data-in-creation"],
)
def test_tus_js_client_draft_resumes_across_cuts_to_a_byte_exact_blob(
    interop_server: FabricServer,
    cutting_proxy: CuttingProxy,
    source_file: SourceFile,
    protocol: str,
    chunk_size: str,
    during_creation: bool,
) -> None:
    result = run_node_upload(
        source_file.path, f"{cutting_proxy.url}/v1/uploads", chunk_size, 1, during_creation, protocol
    )
    print(f"proxy cuts: {cutting_proxy.cuts}, tus-js-client ({protocol}): {result}")

    assert cutting_proxy.cuts >= 2, f"the proxy cut only {cutting_proxy.cuts} times"
    assert isinstance(result["retries"], int) and result["retries"] >= 1, f"tus-js-client never retried: {result}"
    url = str(result["url"])
    assert urlsplit(url).netloc == f"127.0.0.1:{cutting_proxy.port}"
    head = draft_head(interop_server, url, protocol)
    assert head.headers["Upload-Complete"] == "?1"
    assert head.headers["Upload-Offset"] == str(source_file.size)
    urn = head.headers["Artifact-Urn"]
    assert result["artifactUrn"] == urn
    assert_blob_equals(interop_server.url, urn, source_file.sha256, source_file.size)


@pytest.mark.slow
def test_a_client_ignoring_104_starts_a_cut_creation_anew(
    interop_server: FabricServer, source_file: SourceFile
) -> None:
    """The creation request carries the first 1 MiB; the proxy cuts it, so the client never learns where that
    upload is (it ignores the 104 that told it). tus-js-client then creates a new upload and finishes that one; the cut
    one is an unfinished draft upload nobody resumes, left to the expiry sweep."""
    uploads = interop_server.data_dir / "uploads"
    before = set(uploads.glob("*.info"))
    with CuttingProxy(interop_server.port, cut_every=300 << 10, jitter=0.0) as proxy:
        stop = threading.Event()

        def pass_everything_after_the_first_cut() -> None:
            while not stop.is_set():
                if proxy.cuts >= 1:
                    proxy.enabled = False
                    return
                time.sleep(0.001)

        watcher = threading.Thread(target=pass_everything_after_the_first_cut, daemon=True)
        watcher.start()
        try:
            result = run_node_upload(source_file.path, f"{proxy.url}/v1/uploads", str(MiB), 1, True, "ietf-draft-05")
        finally:
            stop.set()
            watcher.join(5)
        assert proxy.cuts >= 1
    assert isinstance(result["retries"], int) and result["retries"] >= 1
    head = draft_head(interop_server, str(result["url"]), "ietf-draft-05")
    assert head.headers["Upload-Complete"] == "?1"
    assert_blob_equals(interop_server.url, head.headers["Artifact-Urn"], source_file.sha256, source_file.size)
    orphans = [
        info
        for info in (orjson.loads(path.read_bytes()) for path in set(uploads.glob("*.info")) - before)
        if info["protocol"] == "ietf-draft"
        and not info["finished"]
        and not (uploads / f"{info['id']}.finished").exists()  # the file store's finished mark (`FinishMarker`)
    ]
    assert len(orphans) >= 1, "the cut creation left no upload behind"
    assert all(info["offset"] < source_file.size for info in orphans)


def test_the_readme_curl_example_works_as_written(interop_server: FabricServer) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    block = next(block for block in blocks if "Upload-Draft-Interop-Version: 8" in block)
    script = "set -euo pipefail\n" + block.replace("http://127.0.0.1:8000", interop_server.url)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [line.strip().lower() for line in done.stdout.splitlines()]
    assert lines[0] == "204"
    assert {"upload-offset: 6", "upload-complete: ?0", "upload-complete: ?1"} <= set(lines)
    assert any(line.startswith("artifact-urn: urn:fabric:artifact:") for line in lines)
    interim, final = [line for line in lines if line.startswith("http/")][-2:]
    assert (interim.split()[1], final.split()[1]) == ("104", "201")
    locations = [line for line in lines if line.startswith("location:")][-2:]
    assert len(locations) == 2 and locations[0] == locations[1]
