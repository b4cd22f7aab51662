"""Real Redis, a real S3-compatible server (versitygw) and a real load balancer (HAProxy) for the tests.

Each runs from its script in `scripts/` (`redis-server`, `s3-server`, `balancer`), which prints `<name> ready
<url>` once it answers. A service that cannot start FAILS the test that needs it: nothing is skipped.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pytest

from tests.fixtures_neo4j import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = REPO_ROOT / "scripts"
S3_ACCESS_KEY = "datafabric"
S3_SECRET_KEY = "datafabric-secret"


class ServiceError(RuntimeError):
    """A service did not start; the message ends with the tail of its output."""


class ScriptService:
    """Runs `scripts/<script> PORT ARGS...` until `stop()`; `restart()` keeps the port and the data."""

    def __init__(self, script: str, *args: str, port: int | None = None, startup_timeout: float = 240.0) -> None:
        self.script = SCRIPTS / script
        self.args = list(args)
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._output: collections.deque[str] = collections.deque(maxlen=60)

    def start(self) -> str:
        self._ready.clear()
        self._process = subprocess.Popen(
            [str(self.script), str(self.port), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
            env=dict(os.environ, AWS_ACCESS_KEY_ID=S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=S3_SECRET_KEY),
        )
        threading.Thread(target=self._drain, args=(self._process,), daemon=True).start()
        if not self._ready.wait(self.startup_timeout) or self._process.poll() is not None:
            tail = "".join(self._output)
            self.stop()
            raise ServiceError(f"{self.script.name} did not become ready; its last output:\n{tail}")
        return self.url

    def _drain(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self._output.append(line)
            if line.startswith(f"{self.script.name} ready "):
                self.url = line.split()[-1]
                self._ready.set()

    def kill(self) -> None:
        """SIGKILL the service's whole process group (a crash)."""
        self._signal(signal.SIGKILL)
        if self._process is not None:
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process is None:
            return
        self._signal(signal.SIGTERM)
        try:
            self._process.wait(20)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def _signal(self, sig: signal.Signals) -> None:
        if self._process is not None:
            try:
                os.killpg(self._process.pid, sig)
            except ProcessLookupError:
                pass

    def __enter__(self) -> ScriptService:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class S3Target:
    """Where the tests' S3 server is and a bucket of their own on it."""

    endpoint: str
    bucket: str
    access_key: str = S3_ACCESS_KEY
    secret_key: str = S3_SECRET_KEY

    def env(self) -> dict[str, str]:
        """The `fabric serve` settings that use this bucket."""
        return {
            "FABRIC_S3_ENDPOINT": self.endpoint,
            "FABRIC_S3_BUCKET": self.bucket,
            "FABRIC_S3_PATH_STYLE": "true",
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def make_bucket(endpoint: str, bucket: str) -> None:
    import botocore.session
    from botocore.config import Config

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=bucket)


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptService]:
    with ScriptService("redis-server", str(tmp_path_factory.mktemp("redis"))) as service:
        yield service


@pytest.fixture
def redis_url(redis_service: ScriptService) -> str:
    """A real Redis server; each test gets its own key prefix through `redis_prefix`."""
    return redis_service.url


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def s3_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScriptService]:
    with ScriptService("s3-server", str(tmp_path_factory.mktemp("s3"))) as service:
        yield service


@pytest.fixture
def s3_target(s3_service: ScriptService) -> S3Target:
    """A fresh bucket on the session's real S3 server."""
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    make_bucket(s3_service.url, bucket)
    return S3Target(s3_service.url, bucket)
