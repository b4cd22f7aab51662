"""Every Cypher statement the Neo4j backend runs, in one place.

`{label}`, `{rel}`, `{src}`, `{dst}` and `{rels}` are filled only with identifiers checked against the strict
patterns in `aspects.schema_registry` (see `aspects.backends.cypher.fill`); every value travels as a `$parameter`.
Times are integers: microseconds since the epoch. Each label has a uniqueness constraint on `urn`; each
aspect relationship type has indexes on `urn`, `schema` and `entity`.
"""

# -- schema (constraints and indexes) -------------------------------------------------------------

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
PING = "RETURN 1 AS ok"

# -- schemas --------------------------------------------------------------------------------------

MERGE_SCHEMA = (
    "MERGE (s:Schema {urn: $urn}) ON CREATE SET s.name = $name, s.body = $body, s.builtin = $builtin, "
    "s.asserter = $asserter, s.registered = $registered"
)
LOAD_REGISTERED_SCHEMAS = "MATCH (s:Schema) WHERE s.builtin = false RETURN s.body AS body ORDER BY s.registered, s.urn"

# -- nodes ----------------------------------------------------------------------------------------

ARTIFACT_COLUMNS = (
    "a.urn AS urn, a.name AS name, a.status AS status, a.uploader AS uploader, a.created AS created, "
    "a.mime_type AS mime_type, a.size AS size, a.md5 AS md5, a.sha256 AS sha256, a.location AS location, a.props AS props, "
    "a.org AS org"
)
CREATE_ARTIFACT = (
    "MERGE (a:Artifact {urn: $urn}) ON CREATE SET a.name = $name, a.status = 'pending', a.uploader = $uploader, "
    "a.created = $created, a.props = $props, a.org = $org RETURN " + ARTIFACT_COLUMNS
)
GET_ARTIFACT = "MATCH (a:Artifact {urn: $urn}) RETURN " + ARTIFACT_COLUMNS
SET_ARTIFACT_READY = (
    "MATCH (a:Artifact {urn: $urn}) SET a.status = 'ready', a.name = $name, a.mime_type = $mime_type, a.size = $size, "
    "a.md5 = $md5, a.sha256 = $sha256, a.location = $location, a.created = $created, a.uploader = $uploader "
    "RETURN " + ARTIFACT_COLUMNS
)
PENDING_ARTIFACTS = (
    "MATCH (a:Artifact) WHERE a.status = 'pending' RETURN " + ARTIFACT_COLUMNS + " ORDER BY a.created, a.urn"
)
ABANDON_ARTIFACT = (
    "MATCH (a:Artifact {urn: $urn}) WHERE a.status = 'pending' SET a.status = 'abandoned' RETURN a.urn AS urn"
)
BLOB_REFERENCED = "MATCH (a:Artifact) WHERE a.sha256 = $sha256 AND a.status <> 'deleted' RETURN a.urn AS urn LIMIT 1"
REFERENCED_BLOBS = (
    "MATCH (a:Artifact) WHERE a.sha256 IS NOT NULL AND a.status <> 'deleted' RETURN DISTINCT a.sha256 AS sha256"
)
NODE_EXISTS = "MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn"
MERGE_NODE = "MERGE (n:`{label}` {urn: $urn}) ON CREATE SET n.created = $now"

# -- listing artifacts: the store joins the active filters with AND -------------------------------

LIST_ARTIFACTS_MATCH = "MATCH (a:Artifact)"
LIST_ARTIFACTS_IN_COLLECTION_MATCH = (
    "MATCH (a:Artifact)-[m:IN_COLLECTION]->(c:Collection {urn: $collection}) WHERE m.valid_to IS NULL"
)
FILTER_NAME = "a.name = $name"
FILTER_NAME_PREFIX = "a.name STARTS WITH $name_prefix"
FILTER_MIME_TYPE = "a.mime_type = $mime_type"
FILTER_STATUS = "a.status = $status"
FILTER_CREATED_BEFORE = "a.created < $created_before"
FILTER_CREATED_AFTER = "a.created >= $created_after"
FILTER_SCHEMA_OUT = (
    "EXISTS { MATCH (a)-[s:`{rel}`]->() WHERE s.schema = $schema AND s.entity = a.urn AND s.valid_to IS NULL }"
)
FILTER_SCHEMA_IN = (
    "EXISTS { MATCH (a)<-[s:`{rel}`]-() WHERE s.schema = $schema AND s.entity = a.urn AND s.valid_to IS NULL }"
)
FILTER_AFTER_CURSOR = "(a.created < $cursor_created OR (a.created = $cursor_created AND a.urn < $cursor_urn))"
LIST_ARTIFACTS_RETURN = "RETURN DISTINCT " + ARTIFACT_COLUMNS + " ORDER BY created DESC, urn DESC LIMIT $limit"

# -- aspects --------------------------------------------------------------------------------------

EDGE_VALUES = (
    "urn: $urn, schema: $schema, entity: $entity, target: $target, content: $content, asserter: $asserter, "
    "valid_from: $valid_from"
)
INSERT_ASPECT_OUT = (
    "MATCH (a:`{src}` {urn: $entity}), (b:`{dst}` {urn: $target}) "
    "CREATE (a)-[e:`{rel}` {" + EDGE_VALUES + "}]->(b) "
    "RETURN e.urn AS urn"
)
INSERT_ASPECT_IN = (
    "MATCH (a:`{src}` {urn: $entity}), (b:`{dst}` {urn: $target}) "
    "CREATE (b)-[e:`{rel}` {" + EDGE_VALUES + "}]->(a) "
    "RETURN e.urn AS urn"
)
# Relationship indexes are per type, so an aspect is looked for in each type in turn.
LOCATE_ASPECT_IN_REL = "MATCH ()-[e:`{rel}`]->() WHERE e.urn = $urn RETURN e.entity AS entity LIMIT 1"
ASPECT_COLUMNS = (
    "e.urn AS urn, e.entity AS entity, e.schema AS schema, e.target AS target, e.content AS content, "
    "e.asserter AS asserter, e.valid_from AS valid_from, e.valid_to AS valid_to, e.retracted_by AS retracted_by"
)
GET_ASPECT = "MATCH (a:`{label}` {urn: $entity})-[e:`{rel}`]-() WHERE e.urn = $urn RETURN " + ASPECT_COLUMNS
# Directed on purpose: LadybugDB 0.22 silently drops a SET on an edge matched by an undirected pattern when
# the node has several edges of the type.
CLOSE_ASPECT_OUT = (
    "MATCH (a:`{label}` {urn: $entity})-[e:`{rel}`]->() WHERE e.urn = $urn AND e.valid_to IS NULL "
    "SET e.valid_to = $now, e.retracted_by = $retracted_by RETURN e.urn AS urn"
)
CLOSE_ASPECT_IN = (
    "MATCH (a:`{label}` {urn: $entity})<-[e:`{rel}`]-() WHERE e.urn = $urn AND e.valid_to IS NULL "
    "SET e.valid_to = $now, e.retracted_by = $retracted_by RETURN e.urn AS urn"
)
# `$at` is a time (or far in the future for "now"); `$include_retracted` includes retracted aspects; paging after ($after_from, $after_urn).
ASPECT_WINDOW = (
    "e.valid_from <= $at AND ($include_retracted OR e.valid_to IS NULL OR e.valid_to > $at) "
    "AND (e.valid_from > $after_from OR (e.valid_from = $after_from AND e.urn > $after_urn))"
)
QUERY_ASPECTS_OF_ENTITY = (
    "MATCH (a:`{label}` {urn: $entity})-[e:`{rel}`]-() WHERE e.entity = $entity AND ($schema = '' OR e.schema = $schema) AND "
    + ASPECT_WINDOW
    + " RETURN DISTINCT "
    + ASPECT_COLUMNS
    + " ORDER BY valid_from, urn LIMIT $limit"
)
QUERY_ASPECTS = (
    "MATCH ()-[e:`{rel}`]->() WHERE ($schema = '' OR e.schema = $schema) AND "
    + ASPECT_WINDOW
    + " RETURN "
    + ASPECT_COLUMNS
    + " ORDER BY valid_from, urn LIMIT $limit"
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
FILTER_READABLE = READABLE
# Shared with the reader by someone else: a current grant to the reader's user or organisation.
FILTER_SHARED = (
    "a.uploader <> $r_user AND EXISTS { MATCH (a)-[g:GRANTED_TO]->(w:Principal) WHERE (w.urn = $r_user OR w.urn = $r_org) "
    "AND g.schema = $r_grant_schema AND g.valid_to IS NULL AND g.valid_from <= $r_at }"
)
GET_READABLE_ARTIFACT = "MATCH (a:Artifact {urn: $urn}) WHERE " + READABLE + " RETURN " + ARTIFACT_COLUMNS
READABLE_AMONG = "UNWIND $urns AS u MATCH (a:Artifact {urn: u}) WHERE " + READABLE + " RETURN a.urn AS urn"
# An aspect is visible if its entity is no artifact, or an artifact the reader may read (and manage, where
# `$r_need_manage`: grants are seen only by those who manage the artifact).
ASPECT_VISIBLE = (
    "NOT EXISTS { MATCH (a:Artifact {urn: e.entity}) WHERE NOT ("
    + READABLE
    + " AND (NOT $r_need_manage OR "
    + MANAGEABLE
    + ")) }"
)
QUERY_VISIBLE_ASPECTS = (
    "MATCH ()-[e:`{rel}`]->() WHERE ($schema = '' OR e.schema = $schema) AND "
    + ASPECT_WINDOW
    + " AND "
    + ASPECT_VISIBLE
    + " RETURN "
    + ASPECT_COLUMNS
    + " ORDER BY valid_from, urn LIMIT $limit"
)

# -- batches (one statement for many rows; the WITH keeps each MATCH a primary-key lookup) ---------

CREATE_ARTIFACTS = (
    "UNWIND $rows AS r MERGE (a:Artifact {urn: r.urn}) ON CREATE SET a.name = r.name, a.status = 'pending', "
    "a.uploader = r.uploader, a.created = r.created, a.props = r.props, a.org = r.org"
)
EXISTING_NODES = "UNWIND $urns AS u MATCH (n:`{label}` {urn: u}) RETURN n.urn AS urn"
MERGE_NODES = "UNWIND $urns AS u MERGE (n:`{label}` {urn: u}) ON CREATE SET n.created = $now"
BATCH_EDGE_VALUES = (
    "urn: r.urn, schema: r.schema, entity: r.entity, target: r.target, content: r.content, asserter: r.asserter, "
    "valid_from: r.valid_from"
)
INSERT_ASPECTS_OUT = (
    "UNWIND $rows AS r MATCH (a:`{src}` {urn: r.entity}) WITH a, r MATCH (b:`{dst}` {urn: r.target}) "
    "CREATE (a)-[e:`{rel}` {" + BATCH_EDGE_VALUES + "}]->(b)"
)
INSERT_ASPECTS_IN = (
    "UNWIND $rows AS r MATCH (a:`{src}` {urn: r.entity}) WITH a, r MATCH (b:`{dst}` {urn: r.target}) "
    "CREATE (b)-[e:`{rel}` {" + BATCH_EDGE_VALUES + "}]->(a)"
)

# -- lineage: one query per hop and frontier label ------------------------------------------------

LINEAGE_EDGE_WINDOW = "e.valid_from <= $at AND (e.valid_to IS NULL OR e.valid_to > $at)"
LINEAGE_OUT = (
    "UNWIND $frontier AS u MATCH (a:`{label}` {urn: u})-[e:{rels}]->(b) WHERE "
    + LINEAGE_EDGE_WINDOW
    + " RETURN a.urn AS src, b.urn AS dst, labels(b)[0] AS label, type(e) AS rel, e.urn AS aspect, b.name AS name, b.status AS status"
)
LINEAGE_IN = (
    "UNWIND $frontier AS u MATCH (a:`{label}` {urn: u})<-[e:{rels}]-(b) WHERE "
    + LINEAGE_EDGE_WINDOW
    + " RETURN b.urn AS src, a.urn AS dst, labels(b)[0] AS label, type(e) AS rel, e.urn AS aspect, b.name AS name, b.status AS status"
)
LINEAGE_ROOT = (
    "MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn, labels(n)[0] AS label, n.name AS name, n.status AS status"
)
LINEAGE_ROOT_PLAIN = "MATCH (n:`{label}` {urn: $urn}) RETURN n.urn AS urn, labels(n)[0] AS label"

VERSION_NUMBER = """toInteger(split(split(last(split(e.content, '"number":')), ',')[0], '}')[0])"""

# -- lifecycle (`aspects.lifecycle`): states, files, repositories, versions, aliases, stages ---------

SET_ARTIFACT_STATUS = "MATCH (a:Artifact {urn: $urn}) WHERE a.status IN $from SET a.status = $to RETURN a.urn AS urn"
SEAL_ARTIFACT = (
    "MATCH (a:Artifact {urn: $urn}) WHERE a.status = 'draft' SET a.status = 'ready', a.size = $size RETURN a.urn AS urn"
)
LIFECYCLE_WINDOW = "e.schema = $schema AND e.valid_from <= $at AND (e.valid_to IS NULL OR e.valid_to > $at)"
# A version's number sits in its canonical JSON content: the last `"number":` (keys are sorted, and quotes inside
# string values are escaped, so only the user `content` object, which sorts before it, can hold another).
REPOSITORY_VERSIONS = (
    "MATCH (r:Repository {urn: $repo})-[e:HAS_VERSION]->(a:Artifact) WHERE "
    + LIFECYCLE_WINDOW
    + " AND (NOT $live OR a.status <> 'deleted') AND ($artifact = '' OR a.urn = $artifact) "
    "WITH r, e, a, " + VERSION_NUMBER + " AS number WHERE number < $before AND ($number = 0 OR number = $number) "
    "AND ($stage = '' OR EXISTS { MATCH (r)-[s:IN_STAGE]->(a) WHERE s.schema = $stage_schema AND s.valid_from <= $at "
    "AND (s.valid_to IS NULL OR s.valid_to > $at) AND s.content CONTAINS $stage }) "
    "RETURN e.urn AS urn, e.content AS content, e.asserter AS asserter, e.valid_from AS valid_from, a.status AS status, "
    "number ORDER BY number DESC LIMIT $limit"
)
COUNT_VERSIONS = (
    "MATCH (r:Repository {urn: $repo})-[e:HAS_VERSION]->(a:Artifact) WHERE e.valid_to IS NULL RETURN count(e) AS n"
)
VERSION_OF_ARTIFACT_IN = (
    "MATCH (r:Repository {urn: $repo})-[e:HAS_VERSION]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL "
    "RETURN e.urn AS urn"
)
REPOSITORIES_OF_ARTIFACT = (
    "MATCH (r:Repository)-[e:HAS_VERSION]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL "
    "RETURN r.urn AS repository, e.content AS content"
)
STAGES_OF_VERSIONS = (
    "MATCH (r:Repository {urn: $repo})-[e:IN_STAGE]->(a:Artifact) WHERE "
    + LIFECYCLE_WINDOW
    + " AND a.urn IN $urns RETURN a.urn AS artifact, e.content AS content"
)
ALIASES_OF_ARTIFACT = (
    "MATCH (r:Repository)-[e:HAS_ALIAS]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL "
    "RETURN r.urn AS repository, e.content AS content, e.urn AS aspect"
)
ORDERS_USING = (
    "MATCH (o:`Order`)-[e:USED]->(a:Artifact {urn: $urn}) WHERE e.valid_to IS NULL RETURN DISTINCT o.urn AS urn"
)
REPOSITORY_GRANT = (
    "EXISTS { MATCH (r)-[g:GRANTED_TO]->(w:Principal) WHERE (w.urn = $user OR w.urn = $org) AND g.valid_to IS NULL }"
)
REPOSITORY_GRANTED = "MATCH (r:Repository {urn: $repo}) WHERE " + REPOSITORY_GRANT + " RETURN r.urn AS urn"
LIST_REPOSITORIES = (
    "MATCH (r:Repository)-[e:HAS_ASPECT]->(s:Schema) WHERE e.schema = $schema AND e.entity = r.urn "
    "AND e.valid_to IS NULL AND r.urn > $after AND ($prefix = '' OR r.urn STARTS WITH $prefix) "
    "AND ($everyone OR e.content CONTAINS $org_needle OR " + REPOSITORY_GRANT + ") "
    "RETURN r.urn AS urn, e.content AS content, e.valid_from AS valid_from ORDER BY urn LIMIT $limit"
)
# Bytes the fabric holds: an artifact (not deleted) made of them, or one with a file made of them.
HOLDS_BLOB = "MATCH (a:Artifact) WHERE a.sha256 = $sha256 AND a.status <> 'deleted' RETURN a.urn AS urn LIMIT 1"
HOLDS_FILE_BLOB = (
    "MATCH (a:Artifact)-[e:HAS_ASPECT]->(s:Schema {urn: $file_schema}) WHERE e.valid_to IS NULL "
    "AND a.status <> 'deleted' AND e.content CONTAINS $needle RETURN a.urn AS urn LIMIT 1"
)
HOLDS_BLOB_READABLE = (
    "MATCH (a:Artifact) WHERE a.sha256 = $sha256 AND a.status <> 'deleted' AND "
    + READABLE
    + " RETURN a.urn AS urn LIMIT 1"
)
HOLDS_FILE_BLOB_READABLE = (
    "MATCH (a:Artifact)-[e:HAS_ASPECT]->(s:Schema {urn: $file_schema}) WHERE e.valid_to IS NULL "
    "AND a.status <> 'deleted' AND e.content CONTAINS $needle AND " + READABLE + " RETURN a.urn AS urn LIMIT 1"
)
FILE_BLOB_CONTENTS = (
    "MATCH (a:Artifact)-[e:HAS_ASPECT]->(s:Schema {urn: $file_schema}) WHERE e.valid_to IS NULL "
    "AND a.status <> 'deleted' RETURN e.content AS content"
)
# Listing filters on a content aspect: `{key}` is a parameter-name stem the store generates (f0, f1, ...).
FILTER_CONTENT = (
    "EXISTS { MATCH (a)-[s:HAS_ASPECT]->() WHERE s.schema = ${key}_schema AND s.entity = a.urn "
    "AND s.valid_to IS NULL AND s.content = ${key} }"
)
FILTER_NO_OTHER_CONTENT = (
    "NOT EXISTS { MATCH (a)-[s:HAS_ASPECT]->() WHERE s.schema = ${key}_schema AND s.entity = a.urn "
    "AND s.valid_to IS NULL AND s.content <> ${key} }"
)
FILTER_NOT_DELETED = "a.status <> 'deleted'"

# -- tests and benchmarks -------------------------------------------------------------------------

WIPE = "MATCH (n) DETACH DELETE n"
