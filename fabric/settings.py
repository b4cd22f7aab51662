"""Server settings and their defaults, written here only: `fabric serve` takes its option defaults from
`Settings()`. Every flag of `fabric serve` has an environment variable `FABRIC_<FLAG>`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fabric.urns import DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path("./fabric-data")
    host: str = "127.0.0.1"
    port: int = 8000
    graph_url: str | None = None  # None: the embedded LadybugDB graph under data_dir; bolt://...: Neo4j
    neo4j_user: str | None = None
    neo4j_password: str | None = None
    neo4j_database: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    # Bytes of page cache of the embedded graph (LadybugDB's own default: 80 % of RAM). Its bookkeeping is resident
    # from the start (2 GiB: 5.6 MB, 256 MiB: 2 MB) and every page it caches stays resident: 100,000 artifacts read
    # through the API touch about 90 MB, and a larger graph is still served from the OS's file cache beyond it.
    graph_buffer_pool: int = 256 << 20
    max_size: int = 1 << 40
    upload_expiry: float = 24 * 3600.0
    sweep_interval: float = 60.0
    md5: bool = False  # md5 of every upload; else only of those whose metadata asks (key `md5`)
    upload_buffer_budget: int = 64 << 20  # bytes of uploads held in memory by all requests together
    gc_interval: float = 3600.0  # seconds between reconciliations and collections of unreferenced blobs
    blob_grace: float = 3600.0  # an unreferenced blob younger than this is kept (it may be being registered)
    no_auth: bool | None = None  # None: no authentication on a loopback address, tokens required elsewhere
    token_key: str | None = None  # the HS256 signing key; None: generated into the data dir
    stages: tuple[str, ...] = ("none", "testing", "staging", "production", "archived")
    protected_aliases: tuple[str, ...] = ("prod", "production")  # an artifact they name cannot be deleted
    access_log: bool = True  # one line per request on the `fabric.access` logger
    cors_origins: tuple[str, ...] = ()  # origins whose pages may call the API (tus from the browser); "*" for any
    s3_endpoint: str | None = None  # blobs in this S3-compatible server (with s3_bucket) instead of data_dir/blobs
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_path_style: bool = False  # http://host/bucket/key addressing (most S3-compatible servers want it)
    s3_prefix: str = ""  # every key this server writes starts with it
    blob_redirect: bool = False  # downloads answer 307 to a presigned S3 URL instead of passing the bytes
    blob_redirect_ttl: int = 300  # seconds a presigned download URL stays valid
    redis_url: str | None = None  # upload locks and the maintenance lease shared by replicas
    workers: int = 1  # processes serving on one machine (upload locks in lock files under data_dir)

    @property
    def uses_s3(self) -> bool:
        return self.s3_bucket is not None

    @property
    def auth_disabled(self) -> bool:
        if self.no_auth is not None:
            return self.no_auth
        return self.host in ("127.0.0.1", "localhost", "::1")

    def signing_key(self) -> bytes:
        """The key that signs and verifies tokens (`token_key`, else the one kept in the data dir)."""
        from fabric.auth.tokens import signing_key

        return signing_key(self.token_key, self.data_dir)

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"


DEFAULTS = Settings()  # what `fabric serve` starts with when told nothing
DEFAULT_URL = f"http://{DEFAULTS.host}:{DEFAULTS.port}"  # where such a server answers
