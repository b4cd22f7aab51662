"""Every Cypher statement the LadybugDB backend runs: its own DDL and lookups here, the rest from `queries`.

LadybugDB (like Kùzu) indexes only primary keys, so an `AspectKey` node per aspect maps an aspect URN to its
relationship type and entity, and aspect lookups go entity node (primary key) -> adjacent edges. Times are
INT64 microseconds since the epoch. `every_query()` lists the effective text of each statement;
`python -m aspects.backends.ladybug_queries` prints it.
"""

from __future__ import annotations

from aspects.backends.queries import (
    ABANDON_ARTIFACT,
    ARTIFACT_BY_URN,
    ARTIFACT_COLUMNS,
    BATCH_EDGE_VALUES,
    EDGE_VALID_AT,
    EDGE_VALUES,
    LADYBUG_ARTIFACT_VALUES,
    NEWEST_ARTIFACTS_PAGE,
    SEAL_ARTIFACT,
    SET_ARTIFACT_STATUS,
    Queries,
    statements,
)

# -- schema (DDL), run by the backend itself ------------------------------------------------------

CREATE_ARTIFACT_TABLE = (
    "CREATE NODE TABLE IF NOT EXISTS Artifact(urn STRING PRIMARY KEY, name STRING, mime_type STRING, size INT64, "
    "md5 STRING, sha256 STRING, location STRING, status STRING, created INT64, uploader STRING, props STRING, org STRING)"
)
# Graphs made before artifacts recorded their organisation gain the column.
ADD_ARTIFACT_ORG = "ALTER TABLE Artifact ADD IF NOT EXISTS org STRING"
CREATE_SCHEMA_TABLE = (
    "CREATE NODE TABLE IF NOT EXISTS Schema(urn STRING PRIMARY KEY, name STRING, body STRING, builtin BOOLEAN, "
    "asserter STRING, registered INT64)"
)
CREATE_ASPECT_KEY_TABLE = (
    "CREATE NODE TABLE IF NOT EXISTS AspectKey(urn STRING PRIMARY KEY, rel STRING, label STRING, entity STRING)"
)
CREATE_LABEL_TABLE = "CREATE NODE TABLE IF NOT EXISTS `{label}`(urn STRING PRIMARY KEY, created INT64)"
# A label with more columns (`{columns}`: `, name TYPE` pairs checked by the backend); graphs made before gain them.
CREATE_NODE_TABLE = "CREATE NODE TABLE IF NOT EXISTS `{label}`(urn STRING PRIMARY KEY, created INT64{columns})"
ADD_NODE_COLUMN = "ALTER TABLE `{label}` ADD IF NOT EXISTS {column}"
ASPECT_EDGE_PROPERTIES = (
    "urn STRING, schema STRING, entity STRING, target STRING, content STRING, asserter STRING, "
    "valid_from INT64, valid_to INT64, retracted_by STRING"
)
CREATE_REL_TABLE = "CREATE REL TABLE IF NOT EXISTS `{rel}`(FROM `{src}` TO `{dst}`, " + ASPECT_EDGE_PROPERTIES + ")"
ADD_REL_CONNECTION = "ALTER TABLE `{rel}` ADD IF NOT EXISTS FROM `{src}` TO `{dst}`"
SHOW_TABLES = "CALL show_tables() RETURN name, type"
SHOW_CONNECTIONS = "CALL show_connection('{rel}') RETURN *"

# -- finding an aspect by URN: through its key node -----------------------------------------------

LOCATE_ASPECT = "MATCH (k:AspectKey {urn: $urn}) RETURN k.rel AS rel, k.label AS label, k.entity AS entity"

# -- what differs from Neo4j in the statements the store runs -------------------------------------

# The edges hang off an OPTIONAL MATCH on purpose. Written as one pattern, `(a {urn: u})-[e]->(b)` after
# an UNWIND, LadybugDB 0.22 plans a hash join whose build side scans every edge of the types (~50 ms a hop
# at 100k artifacts, growing with the graph); splitting it with `WITH a, u MATCH` is planned the same way.
# The OPTIONAL MATCH is planned from the looked-up frontier nodes (a semi-mask on `a`), so a hop costs what
# its frontier's adjacency lists cost. A frontier node without a matching edge yields one row with a null
# neighbour, which the walk skips.
QUERIES = Queries(
    # A listing of all artifacts is the collection listing's shape: LadybugDB sorts in memory either way.
    LIST_ALL_ARTIFACTS_MATCH="MATCH (a:Artifact)",
    LIST_ALL_ARTIFACTS_RETURN=NEWEST_ARTIFACTS_PAGE,
    ABANDON_ARTIFACT=ARTIFACT_BY_URN + ABANDON_ARTIFACT,
    SET_ARTIFACT_STATUS=ARTIFACT_BY_URN + SET_ARTIFACT_STATUS,
    SEAL_ARTIFACT=ARTIFACT_BY_URN + SEAL_ARTIFACT,
    # Properties inline: a CREATE followed by a SET costs LadybugDB an update of the row it has just written.
    # Absent values are '' in the rows (`queries._artifact_values`).
    CREATE_NEW_ARTIFACTS=(
        "UNWIND $rows AS r CREATE (a:Artifact {urn: r.urn, name: r.name, status: 'pending', uploader: r.uploader, "
        "created: r.created, props: r.props, org: nullif(r.org, '')}) RETURN " + ARTIFACT_COLUMNS
    ),
    CREATE_READY_ARTIFACTS=(
        "UNWIND $rows AS r CREATE (a:Artifact {urn: r.urn, status: 'ready', name: r.name, mime_type: r.mime_type, "
        "size: r.size, md5: nullif(r.md5, ''), sha256: r.sha256, location: r.location, created: r.created, "
        "uploader: r.uploader, props: r.props, org: nullif(r.org, '')}) RETURN " + ARTIFACT_COLUMNS
    ),
    SET_ARTIFACTS_READY=(
        "UNWIND $rows AS r MATCH (a:Artifact {urn: r.urn}) SET "
        + LADYBUG_ARTIFACT_VALUES[1]
        + " RETURN "
        + ARTIFACT_COLUMNS
    ),
    SET_ARTIFACTS_CONTENT=(
        "UNWIND $rows AS r MATCH (a:Artifact {urn: r.urn}) SET "
        + LADYBUG_ARTIFACT_VALUES[2]
        + " RETURN "
        + ARTIFACT_COLUMNS
    ),
    INSERT_ASPECT_OUT=(
        "MATCH (a:`{src}` {urn: $entity}), (b:`{dst}` {urn: $target}) "
        "CREATE (a)-[e:`{rel}` {" + EDGE_VALUES + "}]->(b), "
        "(k:AspectKey {urn: $urn, rel: $rel, label: $label, entity: $entity}) RETURN e.urn AS urn"
    ),
    INSERT_ASPECT_IN=(
        "MATCH (a:`{src}` {urn: $entity}), (b:`{dst}` {urn: $target}) "
        "CREATE (b)-[e:`{rel}` {" + EDGE_VALUES + "}]->(a), "
        "(k:AspectKey {urn: $urn, rel: $rel, label: $label, entity: $entity}) RETURN e.urn AS urn"
    ),
    INSERT_ASPECTS_OUT=(
        "UNWIND $rows AS r MATCH (a:`{src}` {urn: r.entity}) WITH a, r MATCH (b:`{dst}` {urn: r.target}) "
        "CREATE (a)-[e:`{rel}` {"
        + BATCH_EDGE_VALUES
        + "}]->(b), (k:AspectKey {urn: r.urn, rel: $rel, label: $label, entity: r.entity})"
    ),
    INSERT_ASPECTS_IN=(
        "UNWIND $rows AS r MATCH (a:`{src}` {urn: r.entity}) WITH a, r MATCH (b:`{dst}` {urn: r.target}) "
        "CREATE (b)-[e:`{rel}` {"
        + BATCH_EDGE_VALUES
        + "}]->(a), (k:AspectKey {urn: r.urn, rel: $rel, label: $label, entity: r.entity})"
    ),
    LINEAGE_OUT=(
        "UNWIND $frontier AS u MATCH (a:`{label}` {urn: u}) OPTIONAL MATCH (a)-[e:{rels}]->(b) WHERE "
        + EDGE_VALID_AT
        + " RETURN a.urn AS src, b.urn AS dst, label(b) AS label, label(e) AS rel, e.urn AS aspect, b.name AS name, b.status AS status"
    ),
    LINEAGE_IN=(
        "UNWIND $frontier AS u MATCH (a:`{label}` {urn: u}) OPTIONAL MATCH (a)<-[e:{rels}]-(b) WHERE "
        + EDGE_VALID_AT
        + " RETURN b.urn AS src, a.urn AS dst, label(b) AS label, label(e) AS rel, e.urn AS aspect, b.name AS name, b.status AS status"
    ),
    LINEAGE_ROOT=(
        "MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn, label(n) AS label, n.name AS name, n.status AS status"
    ),
    LINEAGE_ROOT_PLAIN="MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn, label(n) AS label",
)

OWN: dict[str, str] = {
    "CREATE_ARTIFACT_TABLE": CREATE_ARTIFACT_TABLE,
    "ADD_ARTIFACT_ORG": ADD_ARTIFACT_ORG,
    "CREATE_SCHEMA_TABLE": CREATE_SCHEMA_TABLE,
    "CREATE_ASPECT_KEY_TABLE": CREATE_ASPECT_KEY_TABLE,
    "CREATE_LABEL_TABLE": CREATE_LABEL_TABLE,
    "CREATE_NODE_TABLE": CREATE_NODE_TABLE,
    "ADD_NODE_COLUMN": ADD_NODE_COLUMN,
    "CREATE_REL_TABLE": CREATE_REL_TABLE,
    "ADD_REL_CONNECTION": ADD_REL_CONNECTION,
    "SHOW_TABLES": SHOW_TABLES,
    "SHOW_CONNECTIONS": SHOW_CONNECTIONS,
    "LOCATE_ASPECT": LOCATE_ASPECT,
}


def every_query() -> dict[str, str]:
    """Name -> text of every statement this backend runs: its own, then the store's (shared or overridden)."""
    return {**OWN, **statements(QUERIES)}


if __name__ == "__main__":
    for name, text in every_query().items():
        print(f"{name}:\n    {text}\n")
