"""tus-js-client (Node) uploads through a proxy that keeps cutting the connection.

`js/upload.mjs` relies on tus-js-client's own resume (`retryDelays`: HEAD, then PATCH from the server's
offset). `npm ci --prefix tests/interop/js` (done by `make test-deps` / `.ci/run`) must have run first.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.interop.conftest import SourceFile
from tests.interop.cutting_proxy import CuttingProxy
from tests.interop.support import MiB, artifact_urn_of, assert_blob_equals, durable_offset, upload_path
from tests.server_process import FabricServer

JS_DIR = Path(__file__).parent / "js"
RETRY_DELAYS = ",".join(["0", "20", "50", "100"] + ["200"] * 16)  # the attempt count resets whenever bytes got through


def run_node_upload(
    source: Path,
    endpoint: str,
    chunk_size: str,
    parallel: int = 1,
    during_creation: bool = False,
    protocol: str = "tus-v1",
) -> dict[str, object]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: the tus-js-client interop test needs Node.js >= 18"
    assert (JS_DIR / "node_modules" / "tus-js-client" / "package.json").is_file(), (
        f"tus-js-client is not installed: run `npm ci --prefix {JS_DIR}` (make test-deps does it)"
    )
    done = subprocess.run(
        [
            node,
            "upload.mjs",
            str(source),
            endpoint,
            chunk_size,
            RETRY_DELAYS,
            str(parallel),
            "1" if during_creation else "0",
            protocol,
        ],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, (
        f"node upload.mjs exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("chunk_size", "parallel", "during_creation"),
    [("Infinity", 1, False), (str(2 * MiB + 512), 1, False), (str(2 * MiB + 512), 1, True), (str(2 * MiB), 3, False)],
    ids=["one-patch", "chunk-2MiB", "chunk-2MiB-creation-with-upload", "3-partial-uploads-concatenated"],
)
def test_tus_js_client_resumes_across_cuts_to_a_byte_exact_blob(
    interop_server: FabricServer,
    cutting_proxy: CuttingProxy,
    source_file: SourceFile,
    chunk_size: str,
    parallel: int,
    during_creation: bool,
) -> None:
    result = run_node_upload(source_file.path, f"{cutting_proxy.url}/v1/uploads", chunk_size, parallel, during_creation)
    print(f"proxy cuts: {cutting_proxy.cuts}, tus-js-client: {result}")

    assert cutting_proxy.cuts >= 2, f"the proxy cut only {cutting_proxy.cuts} times"
    assert isinstance(result["retries"], int) and result["retries"] >= 1, f"tus-js-client never retried: {result}"
    url = str(result["url"])
    assert urlsplit(url).netloc == f"127.0.0.1:{cutting_proxy.port}"
    upload_path(url)
    assert durable_offset(interop_server.url, url) == source_file.size
    urn = artifact_urn_of(interop_server.url, url)
    assert result["artifactUrn"] == urn
    assert_blob_equals(interop_server.url, urn, source_file.sha256, source_file.size)
