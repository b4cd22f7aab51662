"""The `fabric` command."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from fabric.settings import Settings


def server_option(*decls: str, **attrs: object):  # type: ignore[no-untyped-def]
    """A `fabric serve` option whose environment variable is FABRIC_<OPTION>, e.g. FABRIC_GRAPH_URL."""
    flag = next(d for d in decls if d.startswith("--")).split("/")[0]
    attrs.setdefault("envvar", "FABRIC_" + flag[2:].replace("-", "_").upper())
    attrs.setdefault("show_envvar", True)
    return click.option(*decls, **attrs)  # type: ignore[arg-type]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "FABRIC"})
def main() -> None:
    """datafabric: resumable uploads, artifacts with provenance, and who may read them."""


@main.command()
@server_option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@server_option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@server_option(
    "--data-dir",
    default="./fabric-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Uploads, blobs and the embedded graph.",
)
@server_option("--graph-url", default=None, help="bolt://host:7687 to use Neo4j instead of the embedded graph.")
@server_option("--neo4j-user", default=None, help="Neo4j user name.")
@server_option("--neo4j-password", default=None, help="Neo4j password.")
@server_option("--neo4j-database", default=None, help="Neo4j database (default: the server's default).")
@server_option(
    "--namespace", default="fabric", show_default=True, help="The namespace word of the URNs this server mints."
)
@server_option(
    "--max-size", default=1 << 40, show_default=True, type=int, help="Largest upload in bytes (Tus-Max-Size)."
)
@server_option(
    "--upload-expiry",
    default=24 * 3600.0,
    show_default=True,
    type=float,
    help="Seconds an unfinished, untouched upload is kept.",
)
@server_option(
    "--sweep-interval", default=60.0, show_default=True, type=float, help="Seconds between sweeps of expired uploads."
)
@server_option(
    "--gc-interval",
    default=3600.0,
    show_default=True,
    type=float,
    help="Seconds between collections of blobs no artifact names.",
)
@server_option(
    "--blob-grace",
    default=3600.0,
    show_default=True,
    type=float,
    help="Seconds an unreferenced blob is kept before it may be collected.",
)
@server_option(
    "--md5/--no-md5",
    default=True,
    show_default=True,
    help="Compute each upload's md5 beside its sha256 (md5 takes more CPU than sha256).",
)
@server_option(
    "--no-auth/--auth",
    "no_auth",
    default=None,
    help="Serve without tokens (one local user). Default: --no-auth on a loopback address, --auth elsewhere.",
)
@server_option("--token-key", default=None, help="HS256 key that signs tokens (default: generated into the data dir).")
@server_option(
    "--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"])
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
    no_auth: bool | None,
    token_key: str | None,
    log_level: str,
) -> None:
    """Run the server (embedded graph and storage under --data-dir unless --graph-url is given).

    Every option can also be set as FABRIC_<OPTION>, e.g. FABRIC_GRAPH_URL=bolt://localhost:7687.
    """
    import uvicorn

    from fabric.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
        no_auth=no_auth,
        token_key=token_key,
    )
    app = create_app(settings)
    auth = "no authentication: every caller is the local user" if settings.auth_disabled else "bearer tokens required"
    click.echo(
        f"datafabric serving on http://{host}:{port} (data in {data_dir.resolve()}, graph: {graph_url or 'embedded LadybugDB'}, {auth})",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level, http="httptools", loop="uvloop", access_log=False)


@main.group()
def token() -> None:
    """Mint access tokens."""


@token.command("create")
@click.option("--user", "email", required=True, help="The user's email.")
@click.option("--org", required=True, help="The user's organisation id.")
@click.option("--admin", is_flag=True, help="An admin of the organisation.")
@click.option("--name", default=None, help="Display name.")
@click.option("--ttl", default=30 * 24 * 3600, show_default=True, type=int, help="Seconds until the token expires.")
@click.option(
    "--data-dir",
    default="./fabric-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The server's data dir (holds the signing key).",
)
@click.option("--token-key", default=None, help="The server's --token-key, if it was started with one.")
def token_create(
    email: str, org: str, admin: bool, name: str | None, ttl: int, data_dir: Path, token_key: str | None
) -> None:
    """Print a token for USER in ORG, signed with the server's key (for bootstrapping)."""
    from fabric.auth.tokens import Principal, load_or_create_secret, mint_token

    if "@" not in email:
        raise click.BadParameter("expected an email address", param_hint="--user")
    secret = token_key.encode() if token_key else load_or_create_secret(data_dir)
    click.echo(mint_token(secret, Principal(email=email, org=org, admin=admin, name=name), ttl=ttl))


from fabric.commands import COMMANDS  # noqa: E402  (the client commands: upload, download, ls, show, aspect, schema, lineage)

for _command in COMMANDS:
    main.add_command(_command)
