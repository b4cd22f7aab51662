// Browse and search artifacts: everything the caller may read, or what others shared with them.
import { enc, query, request } from "../api.js";
import { ago, bytes, errorBox, field, h, replace, when } from "../dom.js";

const VIEWS = {
  all: { title: "Artifacts", path: "/v1/artifacts", blurb: "Everything you may read: yours, your organisation's as admin, shared with you, or open." },
  shared: { title: "Shared with me", path: "/v1/shared/artifacts", blurb: "What users of other organisations or teams granted to you or your organisation." },
};
const STATUSES = ["", "ready", "pending", "abandoned"];
const SORTS = { newest: "Newest first", oldest: "Oldest first", name: "Name A–Z" };

function collectionUrn(value) {
  return value && !value.startsWith("urn:") ? `urn:fabric:collection:${value}` : value;
}

function kindOf(artifact) {
  if (artifact.type && artifact.type !== "file") return artifact.type;
  const mime = artifact.mime_type || "";
  const label = mime.split("/")[1] || mime || "file";
  return label.replace(/^x-/, "").replace(/^vnd\./, "").slice(0, 14);
}

function creatorOf(artifact) {
  if (artifact.creator) return [artifact.creator.name, artifact.creator.org].filter(Boolean).join(" · ");
  const uploader = artifact.uploader || "";
  return uploader.replace(/^urn:[^:]+:user:/, "");
}

function statusPill(status) {
  return h("span", { class: `pill pill-${status}` }, status);
}

function row(artifact) {
  const href = `#/artifacts/${enc(artifact.urn)}`;
  return h(
    "tr",
    {},
    h("td", { class: "cell-name", "data-label": "Name" }, h("a", { href, class: "artifact-link" }, artifact.name || artifact.urn), h("span", { class: "mono subtle" }, artifact.urn.split(":").pop().slice(0, 8))),
    h("td", { "data-label": "Type" }, h("span", { class: "type" }, kindOf(artifact))),
    h("td", { "data-label": "Size", class: "num" }, bytes(artifact.size)),
    h("td", { "data-label": "Created" }, h("time", { datetime: artifact.created, title: when(artifact.created) }, ago(artifact.created))),
    h("td", { "data-label": "By" }, creatorOf(artifact)),
    h("td", { "data-label": "Status" }, statusPill(artifact.status)),
  );
}

export async function browsePage({ main, params, go }, view) {
  const spec = VIEWS[view];
  document.title = `${spec.title} · datafabric`;
  const filters = {
    name_prefix: params.get("q") || "",
    mime_type: params.get("media") || "",
    type: params.get("type") || "",
    label: params.get("label") || "",
    collection: params.get("collection") || "",
    status: params.get("status") || "",
    created_after: params.get("after") || "",
    created_before: params.get("before") || "",
  };
  const sort = SORTS[params.get("sort")] ? params.get("sort") : "newest";
  const searchable = view === "all";

  const q = h("input", { type: "search", name: "q", value: filters.name_prefix, placeholder: "Name starts with…", autocomplete: "off" });
  const media = h("input", { type: "text", name: "media", value: filters.mime_type, placeholder: "e.g. text/csv" });
  const kind = h("input", { type: "text", name: "type", value: filters.type, placeholder: "e.g. model" });
  const label = h("input", { type: "text", name: "label", value: filters.label, placeholder: "key:value" });
  const collection = h("input", { type: "text", name: "collection", value: filters.collection, placeholder: "e.g. climate" });
  const status = h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any")));
  const after = h("input", { type: "date", name: "after", value: filters.created_after.slice(0, 10) });
  const before = h("input", { type: "date", name: "before", value: filters.created_before.slice(0, 10) });
  const sortSelect = h("select", { name: "sort" }, Object.entries(SORTS).map(([key, label]) => h("option", { value: key, selected: key === sort }, label)));

  const form = h(
    "form",
    {
      class: "filters",
      role: "search",
      onSubmit: (event) => {
        event.preventDefault();
        const next = { q: q.value.trim(), media: media.value.trim(), type: kind.value.trim(), label: label.value.trim(), collection: collection.value.trim(), status: status.value, after: after.value, before: before.value, sort: sortSelect.value };
        go(`${view === "all" ? "/" : "/shared"}${query(next)}`);
      },
    },
    searchable ? field("Name", q) : null,
    searchable ? field("Type", kind) : null,
    searchable ? field("Label", label) : null,
    searchable ? field("Media type", media) : null,
    searchable ? field("Collection", collection) : null,
    searchable ? field("Status", status) : null,
    searchable ? field("Created from", after) : null,
    searchable ? field("Created before", before) : null,
    field("Sort", sortSelect),
    h("div", { class: "filters-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Search"), searchable ? h("a", { href: "#/", class: "btn btn-ghost" }, "Clear") : null),
  );

  const tbody = h("tbody", {});
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "btn btn-secondary", hidden: true }, "Load more");
  const status_ = h("div", {});
  const table = h(
    "table",
    { class: "table" },
    h("caption", { class: "sr-only" }, spec.title),
    h("thead", {}, h("tr", {}, ["Name", "Type", "Size", "Created", "By", "Status"].map((label) => h("th", { scope: "col", class: label === "Size" ? "num" : null }, label)))),
    tbody,
  );
  replace(
    main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, spec.title), h("p", { class: "lead" }, spec.blurb)), h("a", { href: "#/upload", class: "btn btn-primary" }, "Upload")),
    form,
    status_,
    h("div", { class: "card table-card" }, table, h("div", { class: "table-foot" }, summary, more)),
  );

  const items = [];
  const apiParams = searchable
    ? {
        name_prefix: filters.name_prefix,
        mime_type: filters.mime_type,
        type: filters.type,
        label: filters.label.includes(":") ? filters.label : filters.label.replace("=", ":"),
        collection: collectionUrn(filters.collection),
        status: filters.status,
        created_after: filters.created_after ? `${filters.created_after.slice(0, 10)}T00:00:00Z` : "",
        created_before: filters.created_before ? `${filters.created_before.slice(0, 10)}T00:00:00Z` : "",
        limit: 50,
      }
    : { limit: 50 };
  let next = `${spec.path}${query(apiParams)}`;

  const draw = () => {
    const sorted = [...items];
    if (sort === "oldest") sorted.reverse();
    if (sort === "name") sorted.sort((a, b) => (a.name || "").localeCompare(b.name || ""));
    replace(tbody, sorted.map(row));
    if (!items.length) {
      tbody.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, view === "shared" ? "Nothing has been shared with you yet." : "No artifacts match. Upload one, or change the filters.")));
    }
    summary.textContent = `${items.length} artifact${items.length === 1 ? "" : "s"}${next ? " shown, more available" : ""}`;
    more.hidden = !next;
  };

  const load = async () => {
    more.disabled = true;
    try {
      const page = await request(next);
      items.push(...page.items);
      next = page.next;
      draw();
    } catch (error) {
      replace(status_, errorBox(error));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  await load();
}
