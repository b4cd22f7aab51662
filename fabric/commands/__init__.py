"""The user-facing `fabric` commands, one module per group; `COMMANDS` are added to `fabric.cli.main`."""

from fabric.commands.artifacts import download, ls, show, upload
from fabric.commands.aspects import aspect
from fabric.commands.completion import completion
from fabric.commands.lineage import lineage
from fabric.commands.login import login, logout, whoami
from fabric.commands.portal import portal
from fabric.commands.schema_registry import schema
from fabric.commands.sharing import access
from fabric.commands.versions import repo, version

COMMANDS = [
    login,
    logout,
    whoami,
    portal,
    upload,
    download,
    ls,
    show,
    aspect,
    schema,
    lineage,
    access,
    repo,
    version,
    completion,
]

__all__ = ["COMMANDS"]
