"""docker-compose.yml read as data: the tests start its topology without Docker from the same settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[?-][^}]*)?\}")


def load_compose() -> dict[str, Any]:
    """The compose file with its YAML anchors resolved."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def replica_environment(hosts: dict[str, str], variables: dict[str, str]) -> dict[str, str]:
    """The environment of the compose file's replicas, its `${VARIABLES}` filled in and the service URLs of the
    stack (`bolt://neo4j:7687`, `http://s3:7070`, `redis://redis:6379/0`) replaced by `hosts` (keyed by those)."""
    services = load_compose()["services"]
    environment: dict[str, str] = {}
    for key, value in services["fabric1"]["environment"].items():
        text = _VARIABLE.sub(lambda match: variables[match.group(1)], str(value))
        environment[key] = hosts.get(text, text)
    return environment
