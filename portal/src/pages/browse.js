// Browse and search artifacts: everything the caller may read, or what others shared with them.
import { enc, listingTotals, query, request } from "../api.js";
import { ago, bytes, errorBox, field, h, replace, when } from "../dom.js";

const VIEWS = {
  all: { title: "Artifacts", hash: "/", path: "/v1/artifacts", blurb: "Everything you may read: yours, your organisation's as admin, shared with you, or open." },
  mine: { title: "Mine", hash: "/mine", path: "/v1/artifacts", fixed: { uploader: "me" }, blurb: "The artifacts you uploaded yourself." },
  shared: { title: "Shared with me", hash: "/shared", path: "/v1/shared/artifacts", blurb: "What users of other organisations or teams granted to you or your organisation." },
};
const STATUSES = ["", "ready", "pending", "abandoned"];
// Each order the server sorts by: the API's sort and order, and the label of the choice.
const SORTS = {
  newest: { sort: "created", order: "desc", label: "Newest first" },
  oldest: { sort: "created", order: "asc", label: "Oldest first" },
  name: { sort: "name", order: "asc", label: "Name A–Z" },
  "name-desc": { sort: "name", order: "desc", label: "Name Z–A" },
  largest: { sort: "size", order: "desc", label: "Largest first" },
  smallest: { sort: "size", order: "asc", label: "Smallest first" },
};
// Column headers that sort: the first click picks the first choice, the next one flips it.
const SORTABLE = { Name: ["name", "name-desc"], Size: ["largest", "smallest"], Created: ["newest", "oldest"] };
const PAGE_SIZE = 25;

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

function withoutCount(url) {
  const parsed = new URL(url, location.origin);
  parsed.searchParams.delete("count");
  return `${parsed.pathname}${parsed.search}`;
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
    uploader: params.get("by") || "",
    org: params.get("org") || "",
  };
  const sort = SORTS[params.get("sort")] ? params.get("sort") : "newest";
  const searchable = view !== "shared";
  const byUploader = view === "all"; // "Mine" is fixed to the caller; "Shared with me" names no emails

  const q = h("input", { type: "search", name: "q", value: filters.name_prefix, placeholder: "Name starts with…", autocomplete: "off" });
  const media = h("input", { type: "text", name: "media", value: filters.mime_type, placeholder: "e.g. text/csv" });
  const kind = h("input", { type: "text", name: "type", value: filters.type, placeholder: "e.g. model" });
  const label = h("input", { type: "text", name: "label", value: filters.label, placeholder: "key:value" });
  const collection = h("input", { type: "text", name: "collection", value: filters.collection, placeholder: "e.g. climate" });
  const status = h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s || "any")));
  const after = h("input", { type: "date", name: "after", value: filters.created_after.slice(0, 10) });
  const before = h("input", { type: "date", name: "before", value: filters.created_before.slice(0, 10) });
  const uploader = h("input", { type: "email", name: "by", value: filters.uploader, placeholder: "e.g. alice@acme.org", autocomplete: "off" });
  const org = h("input", { type: "text", name: "org", value: filters.org, placeholder: "e.g. acme", autocomplete: "off" });
  const sortSelect = h("select", { name: "sort" }, Object.entries(SORTS).map(([key, choice]) => h("option", { value: key, selected: key === sort }, choice.label)));

  const chosen = (overrides = {}) => ({ q: q.value.trim(), media: media.value.trim(), type: kind.value.trim(), label: label.value.trim(), collection: collection.value.trim(), status: status.value, after: after.value, before: before.value, by: uploader.value.trim(), org: org.value.trim(), sort: sortSelect.value, ...overrides });
  const form = h(
    "form",
    {
      class: "filters",
      role: "search",
      onSubmit: (event) => {
        event.preventDefault();
        go(`${spec.hash}${query(chosen())}`);
      },
    },
    searchable ? field("Name", q) : null,
    searchable ? field("Type", kind) : null,
    searchable ? field("Label", label) : null,
    searchable ? field("Media type", media) : null,
    searchable ? field("Collection", collection) : null,
    byUploader ? field("Uploaded by", uploader) : null,
    field("Organisation", org),
    searchable ? field("Status", status) : null,
    searchable ? field("Created from", after) : null,
    searchable ? field("Created before", before) : null,
    field("Sort", sortSelect),
    h("div", { class: "filters-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Search"), searchable ? h("a", { href: `#${spec.hash}`, class: "btn btn-ghost" }, "Clear") : null),
  );

  const header = (name) => {
    const choices = SORTABLE[name];
    const numeric = name === "Size";
    if (!choices) return h("th", { scope: "col" }, name);
    const active = choices.indexOf(sort);
    const nextSort = active === 0 ? choices[1] : choices[0];
    const ariaSort = active < 0 ? "none" : SORTS[sort].order === "asc" ? "ascending" : "descending";
    return h(
      "th",
      { scope: "col", class: numeric ? "num" : null, "aria-sort": ariaSort },
      h("button", { type: "button", class: "th-sort", title: `Sort: ${SORTS[nextSort].label}`, onClick: () => go(`${spec.hash}${query(chosen({ sort: nextSort }))}`) }, name, h("span", { class: "sort-mark", "aria-hidden": "true" }, active < 0 ? "↕" : SORTS[sort].order === "asc" ? "▲" : "▼")),
    );
  };

  const tbody = h("tbody", {});
  const summary = h("p", { class: "summary", "aria-live": "polite" });
  const previous = h("button", { type: "button", class: "btn btn-secondary", disabled: true }, "Previous");
  const nextButton = h("button", { type: "button", class: "btn btn-secondary", disabled: true }, "Next");
  const status_ = h("div", {});
  const table = h(
    "table",
    { class: "table" },
    h("caption", { class: "sr-only" }, spec.title),
    h("thead", {}, h("tr", {}, ["Name", "Type", "Size", "Created", "By", "Status"].map(header))),
    tbody,
  );
  replace(
    main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, spec.title), h("p", { class: "lead" }, spec.blurb)), h("a", { href: "#/upload", class: "btn btn-primary" }, "Upload")),
    form,
    status_,
    h("div", { class: "card table-card" }, table, h("nav", { class: "table-foot", "aria-label": "Pages" }, summary, h("div", { class: "actions" }, previous, nextButton))),
  );

  const order = SORTS[sort];
  const apiParams = {
    ...(spec.fixed || {}),
    ...(byUploader ? { uploader: filters.uploader } : {}),
    org: filters.org,
    ...(searchable
      ? {
          name_prefix: filters.name_prefix,
          mime_type: filters.mime_type,
          type: filters.type,
          label: filters.label.includes(":") ? filters.label : filters.label.replace("=", ":"),
          collection: collectionUrn(filters.collection),
          status: filters.status,
          created_after: filters.created_after ? `${filters.created_after.slice(0, 10)}T00:00:00Z` : "",
          created_before: filters.created_before ? `${filters.created_before.slice(0, 10)}T00:00:00Z` : "",
        }
      : {}),
    sort: order.sort,
    order: order.order,
    count: "true",
    limit: PAGE_SIZE,
  };
  // Keyset paging: the URL of each page seen so far (the server's `next` links), to go back without recounting.
  const pages = [`${spec.path}${query(apiParams)}`];
  // The total depends on the filters, not on the order: another order of the same listing reuses it.
  const totalKey = `${spec.path}${query({ ...apiParams, sort: "", order: "", count: "", limit: "" })}`;
  let index = 0;
  let total = 0;
  let next = null;

  const draw = (items) => {
    replace(tbody, items.map(row));
    if (!items.length) {
      const empty = { shared: "Nothing has been shared with you yet.", mine: "You have not uploaded anything that matches. Upload a file, or change the filters." };
      // The server matches an uploader only among the artifacts whose uploader the reader is shown.
      const byWhom = byUploader && filters.uploader ? " Uploaders are matched among your own artifacts and those you manage as your organisation's admin." : "";
      tbody.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, (empty[view] || "No artifacts match. Upload one, or change the filters.") + byWhom)));
    }
    const first = index * PAGE_SIZE;
    summary.textContent = items.length ? `${first + 1}–${first + items.length} of ${total} artifact${total === 1 ? "" : "s"}` : `0 of ${total} artifacts`;
    previous.disabled = index === 0;
    nextButton.disabled = !next;
  };

  const load = async () => {
    previous.disabled = nextButton.disabled = true;
    try {
      const known = index === 0 ? listingTotals.get(totalKey) : undefined;
      const page = await request(known === undefined ? pages[index] : withoutCount(pages[index]));
      if (page.total !== undefined) {
        total = page.total; // counted on the first page only: a count is a scan
        listingTotals.put(totalKey, total);
      } else if (known !== undefined) {
        total = known;
      }
      next = page.next;
      if (next) pages[index + 1] = withoutCount(next);
      draw(page.items);
    } catch (error) {
      replace(status_, errorBox(error));
    }
  };
  previous.addEventListener("click", () => {
    index -= 1;
    load();
  });
  nextButton.addEventListener("click", () => {
    index += 1;
    load();
  });
  await load();
}
