"""The Neo4j test server is a real Neo4j: Bolt without auth, durable writes, enforced constraints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import ConstraintError

from tests.fixtures_neo4j import Neo4jServer, Neo4jServerError

LABEL = "Neo4jServerProbe"  # kept apart from the labels the aspect store uses on the shared server


@pytest.fixture
def driver(neo4j_url: str) -> Iterator[Driver]:
    with GraphDatabase.driver(neo4j_url, auth=None) as drv:
        drv.verify_connectivity()
        yield drv


def test_server_is_neo4j_5_26_community(driver: Driver) -> None:
    records, _, _ = driver.execute_query("CALL dbms.components() YIELD name, versions, edition")
    assert [(r["name"], r["versions"][0][:4], r["edition"]) for r in records] == [("Neo4j Kernel", "5.26", "community")]


def test_writes_and_reads_a_node(driver: Driver) -> None:
    urn = f"urn:fabric:artifact:{uuid.uuid4()}"
    driver.execute_query(
        f"CREATE (:{LABEL} {{urn: $urn, name: $name, size: $size}})",
        urn=urn,
        name="report.csv",
        size=1234,
    )
    records, _, _ = driver.execute_query(
        f"MATCH (n:{LABEL} {{urn: $urn}}) RETURN n.name AS name, n.size AS size", urn=urn
    )
    assert [(r["name"], r["size"]) for r in records] == [("report.csv", 1234)]


def test_uniqueness_constraint_refuses_a_duplicate(driver: Driver) -> None:
    driver.execute_query(
        f"CREATE CONSTRAINT neo4j_server_probe_urn IF NOT EXISTS FOR (n:{LABEL}) REQUIRE n.urn IS UNIQUE"
    )
    urn = f"urn:fabric:artifact:{uuid.uuid4()}"
    driver.execute_query(f"CREATE (:{LABEL} {{urn: $urn}})", urn=urn)

    with pytest.raises(ConstraintError):
        driver.execute_query(f"CREATE (:{LABEL} {{urn: $urn}})", urn=urn)

    records, _, _ = driver.execute_query(f"MATCH (n:{LABEL} {{urn: $urn}}) RETURN count(n) AS c", urn=urn)
    assert records[0]["c"] == 1


def test_a_server_that_cannot_start_raises_with_its_output(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "occupied"
    not_a_directory.write_text("a file where the data dir should go")
    server = Neo4jServer(not_a_directory, startup_timeout=240)

    with pytest.raises(Neo4jServerError) as failure:
        server.start()

    message = str(failure.value)
    assert "before it was ready" in message
    assert "occupied" in message  # the tail of the server's own output is carried along
    with pytest.raises(RuntimeError):
        _ = server.url
