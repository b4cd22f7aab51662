"""The `fabric` command."""

from __future__ import annotations

from pathlib import Path

import click

from fabric.auth.tokens import DEFAULT_TTL
from fabric.settings import DEFAULT_URL, DEFAULTS, Settings


def server_option(*decls: str, **attrs: object):  # type: ignore[no-untyped-def]
    """A `fabric serve` option whose environment variable is FABRIC_<OPTION>, e.g. FABRIC_GRAPH_URL."""
    flag = next(d for d in decls if d.startswith("--")).split("/")[0]
    attrs.setdefault("envvar", "FABRIC_" + flag[2:].replace("-", "_").upper())
    attrs.setdefault("show_envvar", True)
    return click.option(*decls, **attrs)  # type: ignore[arg-type]


def cors_origins_option(text: str) -> tuple[str, ...]:
    from fabric.cors import parse_origins

    try:
        return parse_origins(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cors-origins") from None


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "FABRIC"},
    epilog=f"Start with `fabric login --url {DEFAULT_URL}` (or set FABRIC_URL); without a server, "
    "commands use a local store in ./fabric-artifacts. `fabric COMMAND --help` tells more.",
)
@click.version_option(package_name="datafabric", prog_name="fabric")
def main() -> None:
    """datafabric: resumable uploads, artifacts with provenance, and who may read them."""


@main.command()
@server_option("--host", default=DEFAULTS.host, show_default=True, help="Address to listen on.")
@server_option("--port", default=DEFAULTS.port, show_default=True, type=int, help="Port to listen on.")
@server_option(
    "--data-dir",
    default=str(DEFAULTS.data_dir),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Uploads, blobs and the embedded graph.",
)
@server_option("--graph-url", default=None, help="bolt://host:7687 to use Neo4j instead of the embedded graph.")
@server_option("--neo4j-user", default=None, help="Neo4j user name.")
@server_option("--neo4j-password", default=None, help="Neo4j password.")
@server_option("--neo4j-database", default=None, help="Neo4j database (default: the server's default).")
@server_option(
    "--namespace",
    default=DEFAULTS.namespace,
    show_default=True,
    help="The namespace word of the URNs this server mints.",
)
@server_option(
    "--max-size", default=DEFAULTS.max_size, show_default=True, type=int, help="Largest upload in bytes (Tus-Max-Size)."
)
@server_option(
    "--upload-expiry",
    default=DEFAULTS.upload_expiry,
    show_default=True,
    type=float,
    help="Seconds an unfinished, untouched upload is kept.",
)
@server_option(
    "--sweep-interval",
    default=DEFAULTS.sweep_interval,
    show_default=True,
    type=float,
    help="Seconds between sweeps of expired uploads.",
)
@server_option(
    "--gc-interval",
    default=DEFAULTS.gc_interval,
    show_default=True,
    type=float,
    help="Seconds between collections of blobs no artifact names.",
)
@server_option(
    "--blob-grace",
    default=DEFAULTS.blob_grace,
    show_default=True,
    type=float,
    help="Seconds an unreferenced blob is kept before it may be collected.",
)
@server_option(
    "--md5/--no-md5",
    default=DEFAULTS.md5,
    show_default=True,
    help="Compute every upload's md5 beside its sha256 (twice sha256's CPU). Without it, only uploads whose metadata has the key md5 get one.",
)
@server_option(
    "--graph-buffer-pool",
    default=DEFAULTS.graph_buffer_pool,
    show_default=True,
    type=click.IntRange(min=1 << 20),
    help="Bytes of page cache of the embedded graph (LadybugDB); ignored with --graph-url.",
)
@server_option(
    "--upload-buffer-budget",
    default=DEFAULTS.upload_buffer_budget,
    show_default=True,
    type=click.IntRange(min=1),
    help="Bytes of uploads the server holds in memory, all requests together; receiving waits when they are spent.",
)
@server_option(
    "--no-auth/--auth",
    "no_auth",
    default=DEFAULTS.no_auth,
    help="Serve without tokens (one local user). Default: --no-auth on a loopback address, --auth elsewhere.",
)
@server_option(
    "--token-key",
    default=DEFAULTS.token_key,
    help="HS256 key that signs tokens (default: generated into the data dir).",
)
@server_option(
    "--cors-origins",
    default="",
    help="Comma-separated origins (https://app.example.org) whose pages may call the API, e.g. tus uploads; * for any. Default: same origin only.",
)
@server_option(
    "--stages",
    default="none,testing,staging,production,archived",
    show_default=True,
    help="The stages a repository version may be in, comma-separated (only a locked version enters production).",
)
@server_option(
    "--protected-aliases",
    default="prod,production",
    show_default=True,
    help="Aliases that keep the artifact they name from being deleted, comma-separated.",
)
@server_option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
)
@server_option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="Log lines for people, or one JSON object a line.",
)
@server_option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="One line per request: method, path, status, bytes, duration, user (never a token).",
)
@server_option("--s3-endpoint", default=None, help="URL of an S3-compatible server for blobs (AWS: leave unset).")
@server_option("--s3-bucket", default=None, help="Keep blobs in this S3 bucket (credentials: the AWS_* variables).")
@server_option("--s3-region", default=None, help="S3 region (default: us-east-1).")
@server_option(
    "--s3-path-style/--no-s3-path-style",
    default=False,
    show_default=True,
    help="Path-style S3 URLs (host/bucket/key), as most S3-compatible servers want.",
)
@server_option("--s3-prefix", default="", help="A prefix for every key this server writes in the bucket.")
@server_option(
    "--blob-redirect/--no-blob-redirect",
    default=False,
    show_default=True,
    help="With S3: answer downloads with a 307 to a short-lived presigned URL, so bytes bypass the server.",
)
@server_option(
    "--blob-redirect-ttl", default=300, show_default=True, type=int, help="Seconds a presigned download URL is valid."
)
@server_option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes serving on this machine (needs --graph-url); upload locks in lock files under --data-dir.",
)
@server_option(
    "--redis-url",
    default=None,
    help="redis://host:6379/0: upload locks and the maintenance lease shared by replicas behind a load balancer.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    graph_url: str | None,
    neo4j_user: str | None,
    neo4j_password: str | None,
    neo4j_database: str | None,
    namespace: str,
    max_size: int,
    upload_expiry: float,
    sweep_interval: float,
    gc_interval: float,
    blob_grace: float,
    md5: bool,
    upload_buffer_budget: int,
    graph_buffer_pool: int,
    no_auth: bool | None,
    token_key: str | None,
    cors_origins: str,
    stages: str,
    protected_aliases: str,
    log_level: str,
    log_format: str,
    access_log: bool,
    s3_endpoint: str | None,
    s3_bucket: str | None,
    s3_region: str | None,
    s3_path_style: bool,
    s3_prefix: str,
    blob_redirect: bool,
    blob_redirect_ttl: int,
    redis_url: str | None,
    workers: int,
) -> None:
    """Run the server (embedded graph and storage under --data-dir unless --graph-url is given).

    Every option can also be set as FABRIC_<OPTION>, e.g. FABRIC_GRAPH_URL=bolt://localhost:7687.
    """
    import uvicorn

    from fabric import logs, startup
    from fabric.app import create_app
    from fabric.body_chunks import ServeProtocol
    from fabric.datadir_lock import DataDirInUse, DataDirLock
    from fabric.malloc import limit_arenas

    limit_arenas()  # before any worker thread starts
    logs.configure(log_level, log_format)
    lock = DataDirLock(data_dir)
    try:
        lock.acquire(f"http://{host}:{port}")
    except DataDirInUse as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot use the data dir {data_dir}: {exc.strerror or exc}; check --data-dir"
        ) from None
    settings = Settings(
        data_dir=data_dir,
        host=host,
        port=port,
        graph_url=graph_url,
        neo4j_user=neo4j_user,
        neo4j_password=neo4j_password,
        neo4j_database=neo4j_database,
        namespace=namespace,
        max_size=max_size,
        upload_expiry=upload_expiry,
        sweep_interval=sweep_interval,
        gc_interval=gc_interval,
        blob_grace=blob_grace,
        md5=md5,
        upload_buffer_budget=upload_buffer_budget,
        graph_buffer_pool=graph_buffer_pool,
        no_auth=no_auth,
        token_key=token_key,
        stages=tuple(word.strip() for word in stages.split(",") if word.strip()),
        protected_aliases=tuple(word.strip() for word in protected_aliases.split(",") if word.strip()),
        access_log=access_log,
        cors_origins=cors_origins_option(cors_origins),
        s3_endpoint=s3_endpoint,
        s3_bucket=s3_bucket,
        s3_region=s3_region,
        s3_path_style=s3_path_style,
        s3_prefix=s3_prefix,
        blob_redirect=blob_redirect,
        blob_redirect_ttl=blob_redirect_ttl,
        redis_url=redis_url,
        workers=workers,
    )
    if blob_redirect and not s3_bucket:
        raise click.BadParameter("--blob-redirect needs --s3-bucket", param_hint="--blob-redirect")
    if workers > 1 and not graph_url:
        raise click.BadParameter(
            "--workers needs --graph-url: the embedded graph belongs to one process", param_hint="--workers"
        )
    if workers > 1:
        serve_workers(settings, workers, lock, log_level, log_format)
        return
    try:
        startup.check_port_free(host, port)
        app = create_app(settings)
    except startup.CannotStart as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        message = startup.explain(exc, settings)
        if message is None:
            raise
        raise click.ClickException(message) from None
    auth = "no authentication: every caller is the local user" if settings.auth_disabled else "bearer tokens required"
    click.echo(
        f"datafabric serving on http://{host}:{port} (data in {data_dir.resolve()}, graph: {graph_url or 'embedded LadybugDB'}, {auth})",
        err=True,
    )
    with lock:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            log_config=None,  # our handler and format (logs.configure), not uvicorn's
            http=ServeProtocol,  # type: ignore[arg-type]  # a BufferedProtocol: httptools, 104, bodies without copies
            loop="uvloop",
            access_log=False,  # fabric.access_log writes the access log, with the user and without secrets
        )


def serve_workers(settings: Settings, workers: int, lock: object, log_level: str, log_format: str) -> None:
    """`fabric serve --workers N`: recover uploads once, then N uvicorn workers on one socket."""
    import os

    import uvicorn

    from fabric.app import SETTINGS_ENV, recover_uploads, settings_for_workers
    from fabric.body_chunks import ServeProtocol

    recover_uploads(settings)
    os.environ.update(
        {SETTINGS_ENV: settings_for_workers(settings), "FABRIC_LOG_LEVEL": log_level, "FABRIC_LOG_FORMAT": log_format}
    )
    click.echo(
        f"datafabric serving on http://{settings.host}:{settings.port} with {workers} workers (graph: {settings.graph_url})",
        err=True,
    )
    with lock:  # type: ignore[attr-defined]
        uvicorn.run(
            "fabric.app:create_app_from_environment",
            factory=True,
            workers=workers,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            log_config=None,
            http=ServeProtocol,  # type: ignore[arg-type]  # a BufferedProtocol: httptools, 104, bodies without copies
            loop="uvloop",
            access_log=False,
        )


@main.group()
def token() -> None:
    """Mint access tokens."""


@token.command("create")
@click.option("--user", "email", required=True, help="The user's email.")
@click.option("--org", required=True, help="The user's organisation id.")
@click.option("--admin", is_flag=True, help="An admin of the organisation.")
@click.option("--name", default=None, help="Display name.")
@click.option("--ttl", default=DEFAULT_TTL, show_default=True, type=int, help="Seconds until the token expires.")
@click.option(
    "--data-dir",
    default=str(DEFAULTS.data_dir),
    show_default=True,
    envvar="FABRIC_DATA_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The server's data dir (holds the signing key, token-secret).",
)
@click.option(
    "--token-key",
    default=None,
    envvar="FABRIC_TOKEN_KEY",
    show_envvar=True,
    help="The server's --token-key, if it was started with one.",
)
@click.option(
    "--new-key", is_flag=True, help="Create the signing key in --data-dir if it holds none (before the first start)."
)
def token_create(
    email: str,
    org: str,
    admin: bool,
    name: str | None,
    ttl: int,
    data_dir: Path,
    token_key: str | None,
    new_key: bool,
) -> None:
    """Print a token for USER in ORG, signed with the server's key (for bootstrapping).

    The key is the server's --token-key (FABRIC_TOKEN_KEY) if given, else the file token-secret in the server's
    --data-dir. A data dir without that file is refused unless --new-key: a server already running elsewhere
    would reject tokens signed with a key made up here.
    """
    from fabric.auth.tokens import SECRET_FILE, Principal, mint_token, signing_key

    if "@" not in email:
        raise click.BadParameter("expected an email address", param_hint="--user")
    if token_key:
        click.echo("signed with the key given by --token-key (FABRIC_TOKEN_KEY)", err=True)
    else:
        key_file = (data_dir / SECRET_FILE).resolve()
        if not key_file.is_file():
            if not new_key:
                raise click.ClickException(
                    f"no signing key at {key_file}: pass the running server's --data-dir (or its --token-key), "
                    "or --new-key to create one there (a server started on that data dir afterwards will accept it)"
                )
            click.echo(f"created a new signing key at {key_file}", err=True)
        click.echo(f"signed with the key in {key_file}", err=True)
    secret = signing_key(token_key, data_dir)
    click.echo(mint_token(secret, Principal(email=email, org=org, admin=admin, name=name), ttl=ttl))


from fabric.commands import COMMANDS  # noqa: E402  (the client commands: upload, download, ls, show, aspect, schema, lineage)

for _command in COMMANDS:
    main.add_command(_command)
