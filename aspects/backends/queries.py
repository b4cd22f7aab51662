"""The Cypher both backends run, written once; each backend's queries module supplies what differs.

`Queries` names every statement (and statement fragment) the store and the lineage walk run. A field with a
default is the same text on LadybugDB and Neo4j; a field without one differs between them and each backend
module passes its own (`aspects.backends.ladybug_queries`, `aspects.backends.neo4j_queries`), next to the
DDL only that backend runs. `every_query()` in each of those modules lists the effective text of every
statement the backend runs, and `python -m aspects.backends.ladybug_queries` (or `neo4j_queries`) prints it.

`{label}`, `{rel}`, `{src}`, `{dst}` and `{rels}` are filled only with identifiers checked against the strict
patterns in `aspects.schema_registry` (see `aspects.backends.cypher.fill`); every value travels as a
`$parameter`. Times are integers: microseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# -- fragments shared by several statements -------------------------------------------------------

ARTIFACT_COLUMNS = (
    "a.urn AS urn, a.name AS name, a.status AS status, a.uploader AS uploader, a.created AS created, "
    "a.mime_type AS mime_type, a.size AS size, a.md5 AS md5, a.sha256 AS sha256, a.location AS location, a.props AS props, "
    "a.org AS org"
)
EDGE_VALUES = (
    "urn: $urn, schema: $schema, entity: $entity, target: $target, content: $content, asserter: $asserter, "
    "valid_from: $valid_from"
)
BATCH_EDGE_VALUES = (
    "urn: r.urn, schema: r.schema, entity: r.entity, target: r.target, content: r.content, asserter: r.asserter, "
    "valid_from: r.valid_from"
)
ASPECT_COLUMNS = (
    "e.urn AS urn, e.entity AS entity, e.schema AS schema, e.target AS target, e.content AS content, "
    "e.asserter AS asserter, e.valid_from AS valid_from, e.valid_to AS valid_to, e.retracted_by AS retracted_by"
)
# The same, named apart from an artifact's columns, for statements that return both.
ASPECT_COLUMNS_BESIDE = (
    "e.urn AS aspect_urn, e.entity AS aspect_entity, e.schema AS aspect_schema, e.target AS aspect_target, "
    "e.content AS aspect_content, e.asserter AS aspect_asserter, e.valid_from AS aspect_valid_from, "
    "e.valid_to AS aspect_valid_to, e.retracted_by AS aspect_retracted_by"
)
# An artifact's (`$urn`) current aspects over the relationship types `{rels}`, both directions (an `in` link points
# at it), and the current link aspects of other entities of the schemas `$linking` that point at it (a repository's
# `version.1`); a row with null aspect columns when there are none. `$urn`, not `a.urn`, inside the OR: with the
# column there LadybugDB 0.22 plans the filter three times slower (0.8 ms against 0.3 ms at 100,000 artifacts).
CURRENT_ASPECTS_OF_A = (
    "OPTIONAL MATCH (a)-[e:{rels}]-() WHERE e.valid_to IS NULL AND (e.entity = $urn OR e.schema IN $linking)"
)
# `$at` is a time (or far in the future for "now"); `$include_retracted` includes retracted aspects; paging after ($after_from, $after_urn).
ASPECT_WINDOW = (
    "e.valid_from <= $at AND ($include_retracted OR e.valid_to IS NULL OR e.valid_to > $at) "
    "AND (e.valid_from > $after_from OR (e.valid_from = $after_from AND e.urn > $after_urn))"
)
EDGE_VALID_AT = "e.valid_from <= $at AND (e.valid_to IS NULL OR e.valid_to > $at)"
LIFECYCLE_WINDOW = "e.schema = $schema AND e.valid_from <= $at AND (e.valid_to IS NULL OR e.valid_to > $at)"
# A current grant on repository `r` to the reader, made by `$granted_by` (a compute token's mint time, else far ahead).
REPOSITORY_GRANT = (
    "EXISTS { MATCH (r)-[g:GRANTED_TO]->(w:Principal) WHERE (w.urn = $user OR w.urn = $org) AND g.valid_to IS NULL "
    "AND g.valid_from <= $granted_by }"
)
# A version's artifact is live at `$at` unless its deletion (one way, recorded as `artifact-state.1`) came by then.
VERSION_LIVE = (
    "(NOT $live OR a.status <> 'deleted' OR NOT EXISTS { MATCH (a)-[d:HAS_ASPECT]->(:Schema) WHERE "
    "d.schema = $state_schema AND d.entity = a.urn AND d.valid_from <= $at AND d.content CONTAINS $deleted })"
)

# -- access: the `$r_*` parameters come from `aspects.reader.Reader.params` ------------------------

# `a` may be read: by its creator; by an admin of its organisation (a compute token: if it existed at `$r_at`);
# by anyone while the open policy governs it; by the users and organisations it is granted to. For a compute
# token, `$r_at` is when it was minted: policies and grants count only if made by then and still current.
READABLE = (
    "(a.uploader = $r_user OR ($r_admin AND a.org = $r_org AND a.created <= $r_at) "
    "OR EXISTS { MATCH (a)-[p:GOVERNED_BY]->(o:Policy) WHERE o.urn = $r_open AND p.schema = $r_policy_schema "
    "AND p.valid_to IS NULL AND p.valid_from <= $r_at } "
    "OR EXISTS { MATCH (a)-[g:GRANTED_TO]->(w:Principal) WHERE (w.urn = $r_user OR w.urn = $r_org) "
    "AND g.schema = $r_grant_schema AND g.valid_to IS NULL AND g.valid_from <= $r_at })"
)
# `a` may be managed (grants, policy): by its creator or an admin of its organisation, never by a compute token.
MANAGEABLE = "($r_manage AND (a.uploader = $r_user OR ($r_admin AND a.org = $r_org)))"
# An aspect is visible if its entity is no artifact, or an artifact the reader may read (and manage, where
# `$r_need_manage`: grants are seen only by those who manage the artifact).
ASPECT_VISIBLE = (
    "NOT EXISTS { MATCH (a:Artifact {urn: e.entity}) WHERE NOT ("
    + READABLE
    + " AND (NOT $r_need_manage OR "
    + MANAGEABLE
    + ")) }"
)


# Status changes that depend on the status, after `ARTIFACT_BY_URN` (LadybugDB) or `neo4j_queries.LOCK_ARTIFACT`.
ARTIFACT_BY_URN = "MATCH (a:Artifact {urn: $urn}) "


def _artifact_values(null_if_empty: str) -> tuple[str, str, str]:
    """The SET items of a new (pending) artifact, of a ready one, and of the content a pending one gains when it
    becomes ready (`SET_ARTIFACTS_CONTENT`), from an UNWIND row `r`, whose absent values (`org`, `md5`) are ''
    and become null through `null_if_empty` (a format of one `{0}`): a null inside a list of maps costs LadybugDB
    a slower bind, 0.7 ms a statement instead of 0.27."""
    org, md5 = null_if_empty.format("r.org"), null_if_empty.format("r.md5")
    new = f"a.name = r.name, a.status = 'pending', a.uploader = r.uploader, a.created = r.created, a.props = r.props, a.org = {org}"
    content = (
        f"a.status = 'ready', a.mime_type = r.mime_type, a.size = r.size, a.md5 = {md5}, a.sha256 = r.sha256, "
        "a.location = r.location"
    )
    ready = content + ", a.name = r.name, a.created = r.created, a.uploader = r.uploader"
    return new, ready, content


LADYBUG_ARTIFACT_VALUES = _artifact_values("nullif({0}, '')")
NEO4J_ARTIFACT_VALUES = _artifact_values("CASE {0} WHEN '' THEN null ELSE {0} END")

ABANDON_ARTIFACT = "WHERE a.status = 'pending' SET a.status = 'abandoned' RETURN a.urn AS urn"
SET_ARTIFACT_STATUS = "WHERE a.status IN $from SET a.status = $to RETURN a.urn AS urn"
SEAL_ARTIFACT = "WHERE a.status = 'draft' SET a.status = 'ready', a.size = $size RETURN " + ARTIFACT_COLUMNS

# A page of artifacts, newest first: the page's keys are sorted and cut first, and only its rows read in full.
NEWEST_ARTIFACTS_PAGE = (
    "WITH DISTINCT a.urn AS k_urn, a.created AS k_created ORDER BY k_created DESC, k_urn DESC LIMIT $limit "
    "MATCH (a:Artifact {urn: k_urn}) RETURN " + ARTIFACT_COLUMNS + " ORDER BY created DESC, urn DESC"
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Queries:
    """Every statement the store runs, by name. Fields without a default differ between the backends."""

    # -- each backend writes its own --------------------------------------------------------------
    LIST_ALL_ARTIFACTS_MATCH: str
    LIST_ALL_ARTIFACTS_RETURN: str

    # Writing one aspect edge (LadybugDB also writes its `AspectKey` node), and many at once.
    INSERT_ASPECT_OUT: str
    INSERT_ASPECT_IN: str
    INSERT_ASPECTS_OUT: str
    INSERT_ASPECTS_IN: str
    # One lineage hop from a frontier of one label, and the walk's root (label functions differ).
    LINEAGE_OUT: str
    LINEAGE_IN: str
    LINEAGE_ROOT: str
    LINEAGE_ROOT_PLAIN: str
    # Status changes that depend on the status: Neo4j locks the node before it reads (`neo4j_queries.LOCK_ARTIFACT`).
    ABANDON_ARTIFACT: str
    SET_ARTIFACT_STATUS: str
    SEAL_ARTIFACT: str
    # Artifacts the group commit creates, after `GET_ARTIFACTS` found them missing (`$rows`, RETURN the columns):
    # pending ones, and ready ones with their `artifact.1` properties. On LadybugDB a plain CREATE (its graph is
    # written by this process alone, under the store's lock: nothing creates them between the read and the write;
    # an UNWIND of MERGE costs it a scan of every artifact); on Neo4j a MERGE (another server may).
    CREATE_NEW_ARTIFACTS: str
    CREATE_READY_ARTIFACTS: str
    SET_ARTIFACTS_READY: str
    # A pending artifact made ready whose name, creation time and uploader are already those of its `artifact.1`
    # (as an upload's are): only the properties it gains are set. Every property set costs LadybugDB an update
    # that it keeps in memory until a checkpoint, about 27 KB a column: 6 columns instead of 9 took 170 KB
    # instead of 260 per commit, and 0.6 ms instead of 0.7 to 0.85.
    SET_ARTIFACTS_CONTENT: str

    # -- the same on both -------------------------------------------------------------------------

    PING: str = "RETURN 1 AS ok"
    WIPE: str = "MATCH (n) DETACH DELETE n"  # tests and benchmarks only

    # schemas
    MERGE_SCHEMA: str = (
        "MERGE (s:Schema {urn: $urn}) ON CREATE SET s.name = $name, s.body = $body, s.builtin = $builtin, "
        "s.asserter = $asserter, s.registered = $registered"
    )
    LOAD_REGISTERED_SCHEMAS: str = (
        "MATCH (s:Schema) WHERE s.builtin = false RETURN s.body AS body ORDER BY s.registered, s.urn"
    )

    # nodes
    GET_ARTIFACT: str = "MATCH (a:Artifact {urn: $urn}) RETURN " + ARTIFACT_COLUMNS
    SET_ARTIFACT_READY: str = (
        "MATCH (a:Artifact {urn: $urn}) SET a.status = 'ready', a.name = $name, a.mime_type = $mime_type, a.size = $size, "
        "a.md5 = $md5, a.sha256 = $sha256, a.location = $location, a.created = $created, a.uploader = $uploader "
        "RETURN " + ARTIFACT_COLUMNS
    )
    PENDING_ARTIFACTS: str = (
        "MATCH (a:Artifact) WHERE a.status = 'pending' RETURN " + ARTIFACT_COLUMNS + " ORDER BY a.created, a.urn"
    )
    BLOB_REFERENCED: str = (
        "MATCH (a:Artifact) WHERE a.sha256 = $sha256 AND a.status <> 'deleted' RETURN a.urn AS urn LIMIT 1"
    )
    REFERENCED_BLOBS: str = (
        "MATCH (a:Artifact) WHERE a.sha256 IS NOT NULL AND a.status <> 'deleted' RETURN DISTINCT a.sha256 AS sha256"
    )
    NODE_EXISTS: str = "MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn"
    MERGE_NODE: str = "MERGE (n:`{label}` {urn: $urn}) ON CREATE SET n.created = $now"

    # listing artifacts: the store joins the active filters with AND
    # The members, then the listing's filters after a WITH: with two conditions on `a.status` beside the edge's in
    # one WHERE, LadybugDB scans every artifact (a 1,000-member collection at 100,000 artifacts: 7.8 ms, now 2.5).
    LIST_ARTIFACTS_IN_COLLECTION_MATCH: str = (
        "MATCH (c:Collection {urn: $collection})<-[m:IN_COLLECTION]-(a:Artifact) WHERE m.valid_to IS NULL WITH a"
    )
    # A count or listing (not a collection's) with a content filter `{key}` (a type, a label) starting from that
    # schema's node and the edges into it, the other filters after the WITH: it reads that schema's edges where
    # `FILTER_CONTENT` checks every artifact (a type 10,000 of 100,000 artifacts hold, counted: LadybugDB 9 ms
    # instead of 35, Neo4j 32 instead of 340). Counts start there on both backends; listings sorted by the graph
    # only where the store keeps the orders in memory (LadybugDB: no index to walk); Neo4j's walk down its `created`
    # index finds a page sooner (8 ms, not 41).
    LIST_ARTIFACTS_WITH_CONTENT_MATCH: str = (
        "MATCH (fs:Schema {urn: ${key}_schema})<-[fe:HAS_ASPECT]-(a:Artifact) WHERE fe.entity = a.urn "
        "AND fe.valid_to IS NULL AND fe.content = ${key} WITH DISTINCT a"
    )
    # The same filters over candidates named by URN (`aspects.artifact_order`), in the order the caller gives.
    LIST_ARTIFACTS_AMONG_MATCH: str = "UNWIND $urns AS u MATCH (a:Artifact {urn: u})"
    LIST_ARTIFACTS_AMONG_RETURN: str = "RETURN " + ARTIFACT_COLUMNS
    ARTIFACT_KEYS: str = "MATCH (a:Artifact) RETURN a.created AS created, a.urn AS urn, a.name AS name, a.size AS size"
    FILTER_NAME: str = "a.name = $name"
    FILTER_NAME_PREFIX: str = "a.name STARTS WITH $name_prefix"
    FILTER_MIME_TYPE: str = "a.mime_type = $mime_type"
    FILTER_STATUS: str = "a.status = $status"
    FILTER_CREATED_BEFORE: str = "a.created < $created_before"
    FILTER_CREATED_AFTER: str = "a.created >= $created_after"
    FILTER_SCHEMA_OUT: str = (
        "EXISTS { MATCH (a)-[s:`{rel}`]->() WHERE s.schema = $schema AND s.entity = a.urn AND s.valid_to IS NULL }"
    )
    FILTER_SCHEMA_IN: str = (
        "EXISTS { MATCH (a)<-[s:`{rel}`]-() WHERE s.schema = $schema AND s.entity = a.urn AND s.valid_to IS NULL }"
    )
    # The first conjunct repeats what the second implies, so that Neo4j seeks its `created` index to the cursor.
    FILTER_AFTER_CURSOR: str = (
        "a.created <= $cursor_created AND "
        "(a.created < $cursor_created OR (a.created = $cursor_created AND a.urn < $cursor_urn))"
    )
    FILTER_UPLOADER: str = "a.uploader = $uploader"
    FILTER_ORG: str = "a.org = $org"
    # Listings in another order (`aspects.artifact_operations.SORT_KEYS`): `{key}` is one of those fixed expressions
    # and `{cmp}`/`{direction}` one of `<`/`DESC` or `>`/`ASC`, never text from a request.
    FILTER_AFTER_SORT_CURSOR: str = "({key} {cmp} $cursor_key OR ({key} = $cursor_key AND a.urn {cmp} $cursor_urn))"
    LIST_ARTIFACTS_SORTED_RETURN: str = (
        "WITH DISTINCT a.urn AS k_urn, {key} AS k_key ORDER BY k_key {direction}, k_urn {direction} LIMIT $limit "
        "MATCH (a:Artifact {urn: k_urn}) RETURN " + ARTIFACT_COLUMNS + ", k_key AS sort_key "
        "ORDER BY sort_key {direction}, urn {direction}"
    )
    # A collection's member may have two current edges, hence DISTINCT there; a listing of all artifacts has one row
    # per artifact, and LadybugDB counts 100,000 rows in 2.7 ms where DISTINCT on the URN takes 17.
    COUNT_ARTIFACTS_RETURN: str = "RETURN count(DISTINCT a.urn) AS total"
    COUNT_ALL_ARTIFACTS_RETURN: str = "RETURN count(a) AS total"
    # The page's keys are sorted and cut first, and only its rows read in full: sorting every matching row with all
    # its columns costs LadybugDB several times more (DISTINCT: a collection member may have two current edges).
    LIST_ARTIFACTS_RETURN: str = NEWEST_ARTIFACTS_PAGE
    # A listing not confined to a collection (one row per artifact, so no DISTINCT): each backend writes its own
    # (LIST_ALL_ARTIFACTS_MATCH, LIST_ALL_ARTIFACTS_RETURN) above; Neo4j's lets its `created` index give the order.

    # aspects
    GET_ASPECT: str = "MATCH (a:`{label}` {urn: $entity})-[e:`{rel}`]-() WHERE e.urn = $urn RETURN " + ASPECT_COLUMNS
    # Directed on purpose: LadybugDB 0.22 silently drops a SET on an edge matched by an undirected pattern when
    # the node has several edges of the type.
    CLOSE_ASPECT_OUT: str = (
        "MATCH (a:`{label}` {urn: $entity})-[e:`{rel}`]->() WHERE e.urn = $urn AND e.valid_to IS NULL "
        "SET e.valid_to = $now, e.retracted_by = $retracted_by RETURN e.urn AS urn"
    )
    CLOSE_ASPECT_IN: str = (
        "MATCH (a:`{label}` {urn: $entity})<-[e:`{rel}`]-() WHERE e.urn = $urn AND e.valid_to IS NULL "
        "SET e.valid_to = $now, e.retracted_by = $retracted_by RETURN e.urn AS urn"
    )
    # Retract every current aspect of one content schema on an artifact (`artifact.1` before its replacement):
    # one directed statement, where a query for them and a close of each cost LadybugDB a scan and a sort.
    CLOSE_CURRENT_CONTENT: str = (
        "MATCH (a:Artifact {urn: $entity})-[e:`{rel}`]->() WHERE e.entity = $entity AND e.schema = $schema "
        "AND e.valid_to IS NULL SET e.valid_to = $now, e.retracted_by = $retracted_by RETURN e.urn AS urn"
    )
    # One statement over all the relationship types `{rels}`: LadybugDB charges about a millisecond per statement
    # for its DISTINCT and ORDER BY whatever the rows, and there are ten types (21 ms at 100,000 artifacts, now 2).
    QUERY_ASPECTS_OF_ENTITY: str = (
        "MATCH (a:`{label}` {urn: $entity})-[e:{rels}]-() WHERE e.entity = $entity AND ($schema = '' OR e.schema = $schema) AND "
        + ASPECT_WINDOW
        + " RETURN DISTINCT "
        + ASPECT_COLUMNS
        + " ORDER BY valid_from, urn LIMIT $limit"
    )
    # The aspects of one schema on one entity valid at `$at` (far ahead: now), unordered and unpaged (an entity
    # holds few of a schema). The schema in the edge's property map and no ORDER BY: LadybugDB reads only the
    # entity's edges then, 0.07 ms at 100,000 artifacts where the paged query takes 2.2.
    ASPECTS_OF_SCHEMA_OUT: str = (
        "MATCH (a:`{label}` {urn: $entity})-[e:`{rel}` {schema: $schema}]->() WHERE e.entity = $entity AND "
        + EDGE_VALID_AT
        + " RETURN "
        + ASPECT_COLUMNS
    )
    ASPECTS_OF_SCHEMA_IN: str = (
        "MATCH (a:`{label}` {urn: $entity})<-[e:`{rel}` {schema: $schema}]-() WHERE e.entity = $entity AND "
        + EDGE_VALID_AT
        + " RETURN "
        + ASPECT_COLUMNS
    )
    QUERY_ASPECTS: str = (
        "MATCH ()-[e:`{rel}`]->() WHERE ($schema = '' OR e.schema = $schema) AND "
        + ASPECT_WINDOW
        + " RETURN "
        + ASPECT_COLUMNS
        + " ORDER BY valid_from, urn LIMIT $limit"
    )

    # access
    FILTER_READABLE: str = READABLE
    # The reader sees who uploaded `a` (so it may filter by uploader): its own, or one it manages.
    FILTER_UPLOADER_SEEN: str = "(a.uploader = $r_user OR " + MANAGEABLE + ")"
    # Shared with the reader by someone else: a current grant to the reader's user or organisation.
    FILTER_SHARED: str = (
        "a.uploader <> $r_user AND EXISTS { MATCH (a)-[g:GRANTED_TO]->(w:Principal) WHERE (w.urn = $r_user OR w.urn = $r_org) "
        "AND g.schema = $r_grant_schema AND g.valid_to IS NULL AND g.valid_from <= $r_at }"
    )
    # An artifact and its current aspects in one round trip: one row per aspect (or one with nulls).
    GET_ARTIFACT_WITH_ASPECTS: str = (
        "MATCH (a:Artifact {urn: $urn}) "
        + CURRENT_ASPECTS_OF_A
        + " RETURN "
        + ARTIFACT_COLUMNS
        + ", "
        + ASPECT_COLUMNS_BESIDE
    )
    # An artifact and the current edges that may make it readable (`aspects.reader.Reader.may_read` decides): one
    # row per edge, or one with nulls. As a predicate (`READABLE`), LadybugDB runs a subquery per alternative.
    GET_ARTIFACT_ACCESS: str = (
        "MATCH (a:Artifact {urn: $urn}) OPTIONAL MATCH (a)-[e:GOVERNED_BY|GRANTED_TO]->() WHERE e.valid_to IS NULL "
        "RETURN " + ARTIFACT_COLUMNS + ", e.schema AS access_schema, e.target AS access_target, "
        "e.valid_from AS access_valid_from"
    )
    READABLE_AMONG: str = "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) WHERE " + READABLE + " RETURN a.urn AS urn"
    QUERY_VISIBLE_ASPECTS: str = (
        "MATCH ()-[e:`{rel}`]->() WHERE ($schema = '' OR e.schema = $schema) AND "
        + ASPECT_WINDOW
        + " AND "
        + ASPECT_VISIBLE
        + " RETURN "
        + ASPECT_COLUMNS
        + " ORDER BY valid_from, urn LIMIT $limit"
    )

    # batches (one statement for many rows; the WITH keeps each MATCH a primary-key lookup)
    CREATE_ARTIFACTS: str = (
        "UNWIND $rows AS r MERGE (a:Artifact {urn: r.urn}) ON CREATE SET a.name = r.name, a.status = 'pending', "
        "a.uploader = r.uploader, a.created = r.created, a.props = r.props, a.org = r.org"
    )
    # Creations and completions of artifacts that the group commit combines (`GroupCommit.run_combined`).
    GET_ARTIFACTS: str = "UNWIND $urns AS k MATCH (a:Artifact {urn: k}) RETURN " + ARTIFACT_COLUMNS
    CLOSE_CURRENT_CONTENTS: str = (
        "UNWIND $rows AS r MATCH (a:Artifact {urn: r.entity}) WITH a, r MATCH (a)-[e:`{rel}`]->() "
        "WHERE e.entity = r.entity AND e.schema = $schema AND e.valid_to IS NULL "
        "SET e.valid_to = r.now, e.retracted_by = r.retracted_by"
    )
    EXISTING_NODES: str = "UNWIND $urns AS u MATCH (n:`{label}` {urn: u}) RETURN n.urn AS urn"
    MERGE_NODES: str = "UNWIND $urns AS u MERGE (n:`{label}` {urn: u}) ON CREATE SET n.created = $now"

    # lifecycle (`aspects.lifecycle`): states, files, repositories, versions, aliases, stages
    # A repository's versions, newest first: `version.1` edges are never replaced, so registration time orders
    # them as their numbers do. `$needle` narrows a lookup by number (the caller checks the number it parses).
    REPOSITORY_VERSIONS: str = (
        "MATCH (r:Repository {urn: $repo})-[e:HAS_VERSION]->(a:Artifact) WHERE "
        + LIFECYCLE_WINDOW
        + " AND e.valid_from < $before AND "
        + VERSION_LIVE
        + " AND ($artifact = '' OR a.urn = $artifact) "
        "AND ($needle = '' OR e.content CONTAINS $needle) "
        "RETURN e.urn AS urn, e.content AS content, e.asserter AS asserter, e.valid_from AS valid_from, "
        "a.status AS status ORDER BY valid_from DESC LIMIT $limit"
    )
    # The same, of the versions in one stage (at `$at`).
    REPOSITORY_VERSIONS_IN_STAGE: str = REPOSITORY_VERSIONS.replace(
        "RETURN e.urn",
        "AND EXISTS { MATCH (r)-[s:IN_STAGE]->(a) WHERE s.schema = $stage_schema AND s.valid_from <= $at "
        "AND (s.valid_to IS NULL OR s.valid_to > $at) AND s.content CONTAINS $stage } RETURN e.urn",
    )
    # The notes (description, tags, content) a repository's versions were given after registration.
    VERSION_NOTES: str = (
        "MATCH (r:Repository {urn: $repo})-[e:HAS_ASPECT]->(s:Schema) WHERE e.entity = r.urn AND "
        + LIFECYCLE_WINDOW
        + " RETURN e.urn AS urn, e.content AS content ORDER BY e.valid_from"
    )
    COUNT_VERSIONS: str = (
        "MATCH (r:Repository {urn: $repo})-[e:HAS_VERSION]->(a:Artifact) WHERE e.valid_to IS NULL RETURN count(e) AS n"
    )
    VERSION_OF_ARTIFACT_IN: str = (
        "MATCH (r:Repository {urn: $repo})-[e:HAS_VERSION]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL "
        "RETURN e.urn AS urn"
    )
    REPOSITORIES_OF_ARTIFACT: str = (
        "MATCH (r:Repository)-[e:HAS_VERSION]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL "
        "RETURN r.urn AS repository, e.content AS content, e.valid_from AS valid_from"
    )
    # The repositories each of some artifacts is a version of (a row with a null repository for none).
    REPOSITORIES_OF_ARTIFACTS: str = (
        "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) OPTIONAL MATCH (a)<-[e:HAS_VERSION]-(r:Repository) "
        "WHERE e.valid_to IS NULL RETURN a.urn AS artifact, r.urn AS repository, e.valid_from AS valid_from"
    )
    # The type, label and state aspects of some artifacts as of `$at`, for listings (one round trip a page).
    LIFECYCLE_OF_ARTIFACTS: str = (
        "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) OPTIONAL MATCH (a)-[e:HAS_ASPECT]->(s:Schema) "
        "WHERE e.entity = a.urn AND e.schema IN $schemas AND e.valid_from <= $at AND (e.valid_to IS NULL OR e.valid_to > $at) "
        "RETURN a.urn AS urn, a.status AS status, e.schema AS schema, e.content AS content, e.valid_from AS valid_from"
    )
    # A node made only if its key is free: the key is unique in the graph, so this is a compare-and-set.
    # `{values}`: `, name: $c_name` for each further property (names checked by the store).
    CREATE_NODE: str = "CREATE (n:`{label}` {urn: $urn, created: $now{values}})"
    # Versions by number (`urn:<ns>:repository:<p>/<n>#<number>` claims), each with its artifact.
    VERSION_NUMBERS: str = "UNWIND $urns AS u MATCH (v:VersionNumber {urn: u}) RETURN v.urn AS urn, v.number AS number, v.artifact AS artifact"
    # The version edges of some artifacts in one repository, looked up from each artifact (its few incoming edges)
    # rather than from the repository (all its versions); a row with nulls for an artifact with none. The caller
    # keeps the repository (`entity`), schema and time it wants: a predicate on the edge here plans a scan of every
    # edge on LadybugDB 0.22, and on Neo4j a seek of the repository's every edge through the `entity` index.
    REPOSITORY_VERSIONS_AMONG: str = (
        "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) OPTIONAL MATCH (a)<-[e:HAS_VERSION]-(:Repository) "
        "RETURN e.urn AS urn, e.entity AS entity, e.schema AS schema, e.content AS content, e.asserter AS asserter, "
        "e.valid_from AS valid_from, e.valid_to AS valid_to, a.status AS status"
    )
    # The stage edges of a repository (its stage moves, not its versions); the caller keeps those current at its time.
    STAGE_EDGES: str = (
        "MATCH (r:Repository {urn: $repo})-[e:IN_STAGE]->(a:Artifact) RETURN a.urn AS artifact, e.schema AS schema, "
        "e.content AS content, e.valid_from AS valid_from, e.valid_to AS valid_to"
    )
    # Of some deleted artifacts, those whose deletion was recorded by `$at`.
    DELETED_BY: str = (
        "UNWIND $urns AS u MATCH (a:Artifact {urn: u})-[d:HAS_ASPECT]->(:Schema) WHERE d.schema = $state_schema "
        "AND d.entity = a.urn AND d.valid_from <= $at AND d.content CONTAINS $deleted RETURN DISTINCT a.urn AS urn"
    )
    # The stage edges of some versions, looked up from each artifact; the caller keeps those current at its time.
    STAGES_OF_VERSIONS: str = (
        "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) OPTIONAL MATCH (a)<-[e:IN_STAGE]-(:Repository) "
        "RETURN a.urn AS artifact, e.entity AS entity, e.schema AS schema, e.content AS content, "
        "e.valid_from AS valid_from, e.valid_to AS valid_to"
    )
    ALIASES_OF_ARTIFACT: str = (
        "MATCH (r:Repository)-[e:HAS_ALIAS]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL "
        "RETURN r.urn AS repository, e.content AS content, e.urn AS aspect"
    )
    ORDERS_USING: str = (
        "MATCH (o:`Order`)-[e:USED]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL RETURN DISTINCT o.urn AS urn"
    )
    REPOSITORY_GRANTED: str = "MATCH (r:Repository {urn: $repo}) WHERE " + REPOSITORY_GRANT + " RETURN r.urn AS urn"
    LIST_REPOSITORIES: str = (
        "MATCH (r:Repository)-[e:HAS_ASPECT]->(s:Schema) WHERE e.schema = $schema AND e.entity = r.urn "
        "AND e.valid_to IS NULL AND r.urn > $after AND ($prefix = '' OR r.urn STARTS WITH $prefix) "
        "AND ($everyone OR (e.content CONTAINS $org_needle AND e.valid_from <= $granted_by) OR "
        + REPOSITORY_GRANT
        + ") "
        "RETURN r.urn AS urn, e.content AS content, e.valid_from AS valid_from ORDER BY urn LIMIT $limit"
    )
    # Bytes the fabric holds: an artifact (not deleted) made of them, or one with a file made of them.
    HOLDS_BLOB: str = (
        "MATCH (a:Artifact) WHERE a.sha256 = $sha256 AND a.status <> 'deleted' "
        "RETURN a.urn AS urn, a.size AS size, '' AS content LIMIT 1"
    )
    HOLDS_FILE_BLOB: str = (
        "MATCH (a:Artifact)-[e:HAS_ASPECT]->(s:Schema {urn: $file_schema}) WHERE e.valid_to IS NULL "
        "AND a.status <> 'deleted' AND e.content CONTAINS $needle RETURN a.urn AS urn, -1 AS size, e.content AS content "
        "LIMIT 1"
    )
    # What adding a file to a draft reads, instead of every aspect of the draft read, sorted and parsed for each
    # file (so adding N files cost N^2). The schema goes in the edge's property map and its node is left out:
    # with the node named, or the schema in WHERE, LadybugDB scans the edges of every artifact (measured on
    # checkpointed data; the edges written since the last checkpoint it scans whatever the form).
    # The current file aspect for one path: content with `"path":<the path>` (the caller checks the parsed path).
    CURRENT_FILE_WITH: str = (
        "MATCH (a:Artifact {urn: $entity})-[e:HAS_ASPECT {schema: $file_schema}]->() WHERE e.valid_to IS NULL "
        "AND e.content CONTAINS $needle RETURN " + ASPECT_COLUMNS
    )
    COUNT_CURRENT_FILES: str = (
        "MATCH (a:Artifact {urn: $entity})-[e:HAS_ASPECT {schema: $file_schema}]->() WHERE e.valid_to IS NULL "
        "RETURN count(e) AS files"
    )
    HOLDS_BLOB_READABLE: str = (
        "MATCH (a:Artifact) WHERE a.sha256 = $sha256 AND a.status <> 'deleted' AND "
        + READABLE
        + " RETURN a.urn AS urn, a.size AS size, '' AS content LIMIT 1"
    )
    HOLDS_FILE_BLOB_READABLE: str = (
        "MATCH (a:Artifact)-[e:HAS_ASPECT]->(s:Schema {urn: $file_schema}) WHERE e.valid_to IS NULL "
        "AND a.status <> 'deleted' AND e.content CONTAINS $needle AND "
        + READABLE
        + " RETURN a.urn AS urn, -1 AS size, e.content AS content LIMIT 1"
    )
    FILE_BLOB_CONTENTS: str = (
        "MATCH (a:Artifact)-[e:HAS_ASPECT]->(s:Schema {urn: $file_schema}) WHERE e.valid_to IS NULL "
        "AND a.status <> 'deleted' RETURN e.content AS content"
    )
    # Listing filters on a content aspect: `{key}` is a parameter-name stem the store generates (f0, f1, ...).
    # "Current, with this content" as one comparison: with `s.valid_to IS NULL AND s.content = ...` as two
    # conditions, LadybugDB plans the subquery as a join over every HAS_ASPECT edge (28 ms for a chunk of 102
    # candidates at 100,000 artifacts, 0.9 ms this way); a retracted edge compares null, which is not true.
    FILTER_CONTENT: str = (
        "EXISTS { MATCH (a)-[s:HAS_ASPECT]->() WHERE s.schema = ${key}_schema AND s.entity = a.urn "
        "AND (CASE WHEN s.valid_to IS NULL THEN s.content END) = ${key} }"
    )
    FILTER_NO_OTHER_CONTENT: str = (
        "NOT EXISTS { MATCH (a)-[s:HAS_ASPECT]->() WHERE s.schema = ${key}_schema AND s.entity = a.urn "
        "AND s.valid_to IS NULL AND s.content <> ${key} }"
    )
    # Listed only when asked for by status: deleted artifacts (tombstones) and abandoned ones (an upload cancelled or
    # expired before its end: nothing was ever made).
    FILTER_LISTED: str = "a.status <> 'deleted' AND a.status <> 'abandoned'"


def statements(queries: Queries) -> dict[str, str]:
    """Name -> effective text of every statement in `queries`."""
    return asdict(queries)
