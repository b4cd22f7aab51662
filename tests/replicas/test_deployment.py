"""The production stack in docker-compose.yml: valid Compose, health checks everywhere, the balancer configuration
the scripts generate, and settings every replica understands. (Docker is not available here: test_replicas.py
starts the same topology from the same settings with real processes.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from compose_spec import PyCompose

from fabric.cli import serve
from tests.replicas.compose import COMPOSE_FILE, load_compose

REPO = COMPOSE_FILE.parent


def test_the_compose_file_is_valid_compose() -> None:
    compose = PyCompose.from_yaml(yaml.safe_dump(load_compose()))
    assert compose.service_names() == ["balancer", "fabric1", "fabric2", "fabric3", "neo4j", "redis", "s3"]


def test_the_validation_rejects_a_broken_file() -> None:
    broken = load_compose()
    broken["services"]["redis"]["healthcheck"]["retries"] = "many"
    with pytest.raises(Exception):  # noqa: B017  (the bindings raise their own error type)
        PyCompose.from_yaml(yaml.safe_dump(broken))


def test_every_service_has_a_health_check_and_waits_for_what_it_needs() -> None:
    services = load_compose()["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, f"{name} depends on an unknown service {needed}"
            assert condition == {"condition": "service_healthy"}
    for replica in ("fabric1", "fabric2", "fabric3"):
        assert set(services[replica]["depends_on"]) == {"neo4j", "redis", "s3"}
    assert set(services["balancer"]["depends_on"]) == {"fabric1", "fabric2", "fabric3"}


def test_the_replicas_settings_are_options_of_fabric_serve() -> None:
    environment = load_compose()["services"]["fabric1"]["environment"]
    envvars = {param.envvar for param in serve.params if getattr(param, "envvar", None)}
    for key in environment:
        if key.startswith("FABRIC_"):
            assert key in envvars, f"{key} is not a fabric serve setting"
    help_text = CliRunner().invoke(serve, ["--help"]).output
    for option in ("--s3-endpoint", "--s3-bucket", "--redis-url", "--blob-redirect"):
        assert option in help_text


def test_the_balancer_configuration_is_the_one_the_scripts_generate(tmp_path: Path) -> None:
    generated = subprocess.run(
        [str(REPO / "scripts" / "balancer-config"), "*:8000", "fabric1:8000", "fabric2:8000", "fabric3:8000"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    committed = (REPO / "deploy" / "haproxy.cfg").read_text()
    assert committed == generated
    assert "balance roundrobin" in committed and "cookie" not in committed and "stick" not in committed
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        committed.replace("fabric1:8000", "127.0.0.1:1")
        .replace("fabric2:8000", "127.0.0.1:2")
        .replace("fabric3:8000", "127.0.0.1:3")
    )
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, env={"PATH": "/usr/sbin:/usr/bin:/bin"}
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
