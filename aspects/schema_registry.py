"""The schema registry: built-in JSON Schemas shipped in `schemas/`, plus those users register at run time.

A schema that makes a graph edge says so with an `x-fabric-link` keyword:
`{"property": "order", "rel": "WAS_GENERATED_BY", "label": "Order", "direction": "out", "lineage": true}`
names the content property holding the target URN, the relationship type, the target node label, the
direction (`out`: entity -> target, `in`: target -> entity) and whether lineage walks follow the edge.
Labels and relationship types end up inside Cypher text, so they must match strict identifier patterns.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from jsonschema_specifications import REGISTRY as METASCHEMAS
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from aspects.errors import Conflict, InvalidUrn, NotFound, ValidationFailed
from aspects.formats import FORMAT_CHECKER
from aspects.urns import parse_urn

LABEL_RE = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}$")
REL_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,62}$")
SCHEMA_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}\.[1-9][0-9]{0,5}$")
CONTENT_REL = "HAS_ASPECT"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# JSON nested deeper than this (schemas and aspect content) is refused: deep nesting only exhausts the stack.
MAX_JSON_DEPTH = 64
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef")
ENTITY_LABELS = ("Artifact", "Order", "Collection", "Policy", "Repository")
RESERVED_LABELS = frozenset({"Schema", "AspectKey"})
LINK_KEYS = frozenset({"property", "rel", "label", "direction", "lineage"})
BUILTIN_IDS = (
    "artifact.1",
    "artifact-produced-by-order.1",
    "artifact-used-by-order.1",
    "collection-member.1",
    "policy.1",
    "grant.1",
    "artifact-type.1",
    "artifact-label.1",
    "artifact-state.1",
    "artifact-file.1",
    "repository.1",
    "version.1",
    "version-notes.1",
    "alias.1",
    "stage.1",
    "order-owner.1",
)
# Link targets of these labels are named by URNs of other kinds (a grant names a user or an organisation).
LABEL_KINDS = {"Principal": ("user", "org")}
# Relationship types the access predicate trusts: user schemas may not make edges of these types.
RESERVED_RELS = frozenset({"GRANTED_TO"})


def check_label(label: Any) -> str:
    if not isinstance(label, str) or not LABEL_RE.match(label) or label in RESERVED_LABELS:
        raise ValidationFailed(
            f"label {str(label)[:80]!r} must match {LABEL_RE.pattern} and not be reserved", "$.x-fabric-link.label"
        )
    return label


def check_rel(rel: Any) -> str:
    if not isinstance(rel, str) or not REL_RE.match(rel) or rel == CONTENT_REL:
        raise ValidationFailed(
            f"relationship type {str(rel)[:80]!r} must match {REL_RE.pattern} and not be {CONTENT_REL}",
            "$.x-fabric-link.rel",
        )
    return rel


def kind_of_label(label: str) -> str:
    """The URN kind naming nodes of `label`: `Order` -> `order`, `TrainingRun` -> `trainingrun`."""
    return label.lower()


def kinds_of_label(label: str) -> tuple[str, ...]:
    """Every URN kind a link target of `label` may have: `Principal` -> `user`, `org`."""
    return LABEL_KINDS.get(label, (kind_of_label(label),))


@dataclass(frozen=True, slots=True)
class LinkSpec:
    property: str
    rel: str
    label: str
    direction: str  # "out": (entity)-[rel]->(target); "in": (target)-[rel]->(entity)
    lineage: bool


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    name: str  # `<name>.<version>`, the part after `urn:<ns>:schema:`
    body: dict[str, Any]
    link: LinkSpec | None
    builtin: bool
    validator: Draft202012Validator

    @property
    def rel(self) -> str:
        return self.link.rel if self.link else CONTENT_REL

    @property
    def direction(self) -> str:
        return self.link.direction if self.link else "out"


def parse_link(body: dict[str, Any]) -> LinkSpec | None:
    raw = body.get("x-fabric-link")
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or not {"property", "rel", "label", "direction"} <= raw.keys()
        or not raw.keys() <= LINK_KEYS
    ):
        raise ValidationFailed(
            "x-fabric-link needs property, rel, label, direction and optionally lineage", "$.x-fabric-link"
        )
    prop = raw["property"]
    declared = body.get("properties")
    properties: dict[str, Any] = declared if isinstance(declared, dict) else {}
    if not isinstance(prop, str) or prop not in properties or prop not in (body.get("required") or []):
        raise ValidationFailed(
            "x-fabric-link.property must name a required property of the schema", "$.x-fabric-link.property"
        )
    if raw["direction"] not in ("out", "in"):
        raise ValidationFailed("x-fabric-link.direction must be 'out' or 'in'", "$.x-fabric-link.direction")
    if not isinstance(raw.get("lineage", False), bool):
        raise ValidationFailed("x-fabric-link.lineage must be true or false", "$.x-fabric-link.lineage")
    return LinkSpec(prop, check_rel(raw["rel"]), check_label(raw["label"]), raw["direction"], raw.get("lineage", False))


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` nests arrays and objects deeper than `limit` (iterative: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def check_depth(value: Any, what: str) -> None:
    if json_depth_exceeds(value):
        raise ValidationFailed(f"{what} nests deeper than {MAX_JSON_DEPTH} levels", "$")


def references(body: Any, path: str = "$") -> list[tuple[str, str]]:
    """(reference, where) of every `$ref` and `$dynamicRef` in a schema document."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(body, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key in REFERENCE_KEYWORDS and isinstance(child, str):
                    found.append((child, f"{where}['{key}']"))
                else:
                    stack.append((child, f"{where}['{key}']"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return found


def make_entry(body: Any, *, builtin: bool, registry: Registry[Any] | None = None) -> SchemaEntry:
    """Check a schema document and compile it; ValidationFailed says what is wrong and where.

    `registry` is where the validator looks up references to other schemas; nothing is ever fetched.
    """
    if not isinstance(body, dict):
        raise ValidationFailed("a schema must be a JSON object", "$")
    check_depth(body, "the schema")
    schema_id = body.get("$id")
    try:
        urn = parse_urn(schema_id, "schema")
    except InvalidUrn:
        raise ValidationFailed("$id must be urn:<namespace>:schema:<name>.<version>", "$['$id']") from None
    if not SCHEMA_NAME_RE.match(urn.id):
        raise ValidationFailed(f"schema name {urn.id!r} must match {SCHEMA_NAME_RE.pattern}", "$['$id']")
    declared = body.get("$schema", DRAFT_2020_12)
    if not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12:
        raise ValidationFailed(f"$schema must be {DRAFT_2020_12!r}: only Draft 2020-12 is supported", "$['$schema']")
    try:
        Draft202012Validator.check_schema(body)
    except SchemaError as exc:
        raise ValidationFailed(f"not a valid JSON Schema: {exc.message}", exc.json_path) from None
    link = parse_link(body)
    if link is not None and link.rel in RESERVED_RELS and not builtin:
        raise ValidationFailed(f"relationship type {link.rel} is reserved for built-in schemas", "$.x-fabric-link.rel")
    validator = Draft202012Validator(
        body,
        format_checker=FORMAT_CHECKER,
        registry=registry if registry is not None else Registry(retrieve=_refuse),  # type: ignore[call-arg]
    )
    return SchemaEntry(urn.id, body, link, builtin, validator)


def _refuse(uri: str) -> Resource[Any]:
    """The retrieval of a registry without schemas: a metaschema or nothing, never the network."""
    resource: Resource[Any] = METASCHEMAS[uri.rstrip("#")]  # NoSuchResource for anything else
    return resource


def builtin_schema_folder() -> Traversable:
    """The built-in schemas: package data of `aspects.builtin_schemas` once installed, `schemas/` in a checkout."""
    try:
        return resources.files("aspects.builtin_schemas")
    except ModuleNotFoundError:  # the checkout itself is on sys.path ahead of the installed mapping
        return Path(__file__).resolve().parent.parent / "schemas"


def load_builtins() -> list[SchemaEntry]:
    folder = builtin_schema_folder()
    return [make_entry(orjson.loads((folder / f"{name}.json").read_bytes()), builtin=True) for name in BUILTIN_IDS]


class SchemaRegistry:
    """Schemas by name, in memory; the store persists registered ones in the graph and reloads them."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._entries: dict[str, SchemaEntry] = {entry.name: entry for entry in load_builtins()}
        # References resolve only from this registry (and the JSON Schema metaschemas); nothing is fetched.
        self.references: Registry[Any] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]

    def _retrieve(self, uri: str) -> Resource[Any]:
        """A schema of this registry by its URN (any namespace), else a metaschema; never the network."""
        base = uri.split("#", 1)[0]
        try:
            entry = self._entries.get(self.name_of(base))
        except InvalidUrn:
            entry = None
        if entry is None:
            return _refuse(base)
        return Resource.from_contents(self.document(entry), default_specification=DRAFT202012)

    def compile(self, body: Any, *, builtin: bool = False) -> SchemaEntry:
        """`make_entry` with references looked up in this registry."""
        return make_entry(body, builtin=builtin, registry=self.references)

    def check_references(self, entry: SchemaEntry) -> None:
        """Every `$ref` and `$dynamicRef` of a new schema resolves now, from the registry or the schema itself."""
        schema_id = self.full_id(entry.name)
        resolver = self.references.with_resource(
            schema_id, Resource.from_contents(self.document(entry), default_specification=DRAFT202012)
        ).resolver(base_uri=schema_id)
        for ref, where in references(entry.body):
            try:
                resolver.lookup(ref)
            except (Unresolvable, NoSuchResource, ValueError, TypeError, KeyError, LookupError):
                raise ValidationFailed(
                    f"reference {ref[:200]!r} does not resolve: a schema may refer only to its own definitions and "
                    "to schemas registered before it (nothing is fetched)",
                    where,
                ) from None

    def full_id(self, name: str) -> str:
        return f"urn:{self.namespace}:schema:{name}"

    def name_of(self, schema_id: Any) -> str:
        """`artifact.1` from `urn:<any ns>:schema:artifact.1` or from `artifact.1` itself."""
        if isinstance(schema_id, str) and SCHEMA_NAME_RE.match(schema_id):
            return schema_id
        return parse_urn(schema_id, "schema").id

    def get(self, schema_id: Any) -> SchemaEntry:
        name = self.name_of(schema_id)
        entry = self._entries.get(name)
        if entry is None:
            raise NotFound(f"no schema {schema_id!r}")
        return entry

    def document(self, entry: SchemaEntry) -> dict[str, Any]:
        body = copy.deepcopy(entry.body)
        body["$id"] = self.full_id(entry.name)
        return body

    def prepare(self, body: Any) -> SchemaEntry | None:
        """The entry to add for a new schema; None if the very same schema is registered; Conflict if another is."""
        entry = self.compile(body)
        self.check_references(entry)
        existing = self._entries.get(entry.name)
        if existing is not None:
            same = orjson.dumps(self.document(existing), option=orjson.OPT_SORT_KEYS) == orjson.dumps(
                self.document(entry), option=orjson.OPT_SORT_KEYS
            )
            if same:
                return None
            raise Conflict(f"schema {entry.name} is already registered with other content; register a new version")
        return entry

    def add(self, entry: SchemaEntry) -> None:
        self._entries[entry.name] = entry

    def entries(self) -> list[SchemaEntry]:
        return sorted(self._entries.values(), key=lambda entry: (not entry.builtin, entry.name))

    def validate(self, entry: SchemaEntry, content: Any) -> None:
        check_depth(content, "the content")
        error = best_match(entry.validator.iter_errors(content))
        if error is not None:
            raise ValidationFailed(f"{self.full_id(entry.name)}: {error.message}", error.json_path)

    # -- what the graph needs to know -------------------------------------------------------------

    def labels(self) -> list[str]:
        seen = dict.fromkeys(ENTITY_LABELS)
        for entry in self._entries.values():
            if entry.link is not None:
                seen.setdefault(entry.link.label)
        return list(seen)

    def label_of_kind(self, kind: str) -> str | None:
        for label in self.labels():
            if kind_of_label(label) == kind.replace("-", ""):
                return label
        return None

    def rels(self) -> list[str]:
        seen = dict.fromkeys([CONTENT_REL])
        for entry in self._entries.values():
            if entry.link is not None:
                seen.setdefault(entry.link.rel)
        return list(seen)

    def lineage_rels(self) -> list[str]:
        return sorted(
            {entry.link.rel for entry in self._entries.values() if entry.link is not None and entry.link.lineage}
        )
