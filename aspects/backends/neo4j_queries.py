"""Every Cypher statement the Neo4j backend runs: its own DDL and lookups here, the rest from `queries`.

Each label has a uniqueness constraint on `urn`; each aspect relationship type has indexes on `urn`,
`schema` and `entity`. Times are integers: microseconds since the epoch. `every_query()` lists the
effective text of each statement; `python -m aspects.backends.neo4j_queries` prints it.
"""

from __future__ import annotations

from aspects.backends.queries import (
    ABANDON_ARTIFACT,
    ARTIFACT_BY_URN,
    ARTIFACT_COLUMNS,
    BATCH_EDGE_VALUES,
    EDGE_VALID_AT,
    EDGE_VALUES,
    NEO4J_ARTIFACT_VALUES,
    SEAL_ARTIFACT,
    SET_ARTIFACT_STATUS,
    Queries,
    statements,
)

# -- schema (constraints and indexes), run by the backend itself ----------------------------------

CREATE_URN_CONSTRAINT = "CREATE CONSTRAINT IF NOT EXISTS FOR (n:`{label}`) REQUIRE n.urn IS UNIQUE"
CREATE_ARTIFACT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS FOR (a:Artifact) ON (a.created)",
    "CREATE INDEX IF NOT EXISTS FOR (a:Artifact) ON (a.name)",
    "CREATE INDEX IF NOT EXISTS FOR (a:Artifact) ON (a.mime_type)",
    "CREATE INDEX IF NOT EXISTS FOR (a:Artifact) ON (a.status)",
    "CREATE INDEX IF NOT EXISTS FOR (a:Artifact) ON (a.sha256)",
    "CREATE INDEX IF NOT EXISTS FOR (s:Schema) ON (s.builtin)",
)
CREATE_REL_INDEXES = (
    "CREATE INDEX IF NOT EXISTS FOR ()-[e:`{rel}`]-() ON (e.urn)",
    "CREATE INDEX IF NOT EXISTS FOR ()-[e:`{rel}`]-() ON (e.schema)",
    "CREATE INDEX IF NOT EXISTS FOR ()-[e:`{rel}`]-() ON (e.entity)",
)
AWAIT_INDEXES = "CALL db.awaitIndexes(300)"

# -- finding an aspect by URN: relationship indexes are per type, so each type is asked in turn ---

LOCATE_ASPECT_IN_REL = "MATCH ()-[e:`{rel}`]->() WHERE e.urn = $urn RETURN e.entity AS entity LIMIT 1"

# -- conditional status changes: the node's write lock first, then the status read -----------------

# Under read committed, `MATCH ... WHERE a.status = 'pending' SET a.status = ...` reads the status without a lock:
# two transactions can both see `pending`, and the later write wins over a change the other committed in between
# (a lost update: the maintenance abandoning a draft just made, or an upload just completed). Setting and removing
# a dummy property takes the node's write lock until the transaction ends; the status is read after it (the
# pattern of Neo4j's manual on lost updates). LadybugDB runs one write transaction at a time and needs none of it.
LOCK_ARTIFACT = ARTIFACT_BY_URN + "SET a._lock = true REMOVE a._lock WITH a "

# -- what differs from LadybugDB in the statements the store runs ---------------------------------

QUERIES = Queries(
    ABANDON_ARTIFACT=LOCK_ARTIFACT + ABANDON_ARTIFACT,
    SET_ARTIFACT_STATUS=LOCK_ARTIFACT + SET_ARTIFACT_STATUS,
    SEAL_ARTIFACT=LOCK_ARTIFACT + SEAL_ARTIFACT,
    CREATE_NEW_ARTIFACTS=(
        "UNWIND $rows AS r MERGE (a:Artifact {urn: r.urn}) ON CREATE SET "
        + NEO4J_ARTIFACT_VALUES[0]
        + " RETURN "
        + ARTIFACT_COLUMNS
    ),
    CREATE_READY_ARTIFACTS=(
        "UNWIND $rows AS r MERGE (a:Artifact {urn: r.urn}) ON CREATE SET a.props = r.props, "
        "a.org = CASE r.org WHEN '' THEN null ELSE r.org END SET "
        + NEO4J_ARTIFACT_VALUES[1]
        + " RETURN "
        + ARTIFACT_COLUMNS
    ),
    SET_ARTIFACTS_READY=(
        "UNWIND $rows AS r MATCH (a:Artifact {urn: r.urn}) SET "
        + NEO4J_ARTIFACT_VALUES[1]
        + " RETURN "
        + ARTIFACT_COLUMNS
    ),
    SET_ARTIFACTS_CONTENT=(
        "UNWIND $rows AS r MATCH (a:Artifact {urn: r.urn}) SET "
        + NEO4J_ARTIFACT_VALUES[2]
        + " RETURN "
        + ARTIFACT_COLUMNS
    ),
    INSERT_ASPECT_OUT=(
        "MATCH (a:`{src}` {urn: $entity}), (b:`{dst}` {urn: $target}) "
        "CREATE (a)-[e:`{rel}` {" + EDGE_VALUES + "}]->(b) "
        "RETURN e.urn AS urn"
    ),
    INSERT_ASPECT_IN=(
        "MATCH (a:`{src}` {urn: $entity}), (b:`{dst}` {urn: $target}) "
        "CREATE (b)-[e:`{rel}` {" + EDGE_VALUES + "}]->(a) "
        "RETURN e.urn AS urn"
    ),
    INSERT_ASPECTS_OUT=(
        "UNWIND $rows AS r MATCH (a:`{src}` {urn: r.entity}) WITH a, r MATCH (b:`{dst}` {urn: r.target}) "
        "CREATE (a)-[e:`{rel}` {" + BATCH_EDGE_VALUES + "}]->(b)"
    ),
    INSERT_ASPECTS_IN=(
        "UNWIND $rows AS r MATCH (a:`{src}` {urn: r.entity}) WITH a, r MATCH (b:`{dst}` {urn: r.target}) "
        "CREATE (b)-[e:`{rel}` {" + BATCH_EDGE_VALUES + "}]->(a)"
    ),
    LINEAGE_OUT=(
        "UNWIND $frontier AS u MATCH (a:`{label}` {urn: u})-[e:{rels}]->(b) WHERE "
        + EDGE_VALID_AT
        + " RETURN a.urn AS src, b.urn AS dst, labels(b)[0] AS label, type(e) AS rel, e.urn AS aspect, b.name AS name, b.status AS status"
    ),
    LINEAGE_IN=(
        "UNWIND $frontier AS u MATCH (a:`{label}` {urn: u})<-[e:{rels}]-(b) WHERE "
        + EDGE_VALID_AT
        + " RETURN b.urn AS src, a.urn AS dst, labels(b)[0] AS label, type(e) AS rel, e.urn AS aspect, b.name AS name, b.status AS status"
    ),
    LINEAGE_ROOT=(
        "MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn, labels(n)[0] AS label, n.name AS name, n.status AS status"
    ),
    LINEAGE_ROOT_PLAIN="MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn, labels(n)[0] AS label",
    # Newest first by the `created` index: the predicate on `a.created` lets the planner scan the index backwards
    # (every artifact has `created`), the filters are checked on the way, and LIMIT stops the scan; ties in
    # `created` are ordered by URN in a partial sort (PartialTop), never a sort of every artifact.
    LIST_ALL_ARTIFACTS_MATCH="MATCH (a:Artifact) WHERE a.created IS NOT NULL",
    LIST_ALL_ARTIFACTS_RETURN="RETURN " + ARTIFACT_COLUMNS + " ORDER BY a.created DESC, a.urn DESC LIMIT $limit",
)

OWN: dict[str, str | tuple[str, ...]] = {
    "CREATE_URN_CONSTRAINT": CREATE_URN_CONSTRAINT,
    "CREATE_ARTIFACT_INDEXES": CREATE_ARTIFACT_INDEXES,
    "CREATE_REL_INDEXES": CREATE_REL_INDEXES,
    "AWAIT_INDEXES": AWAIT_INDEXES,
    "LOCATE_ASPECT_IN_REL": LOCATE_ASPECT_IN_REL,
}


def every_query() -> dict[str, str | tuple[str, ...]]:
    """Name -> text of every statement this backend runs: its own, then the store's (shared or overridden)."""
    return {**OWN, **statements(QUERIES)}


if __name__ == "__main__":
    for name, text in every_query().items():
        print(f"{name}:\n    {text}\n")
