"""`fabric serve` loads the libraries of optional parts (Redis, S3, Neo4j) and of the client commands (httpx) only
when they are used: each costs megabytes of resident memory in every server process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPTIONAL = ("redis", "httpx", "botocore", "aiobotocore", "neo4j")


def test_serving_the_embedded_graph_loads_no_optional_library(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import fabric.cli, fabric.body_chunks\n"
        "from fabric.app import create_app\n"
        "from fabric.settings import Settings\n"
        f"create_app(Settings(data_dir=Path({str(tmp_path)!r})))\n"
        f"print(' '.join(name for name in {OPTIONAL!r} if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
