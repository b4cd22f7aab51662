// Repositories: the list the caller may read, and one repository's versions, aliases and stages.
import { enc, query, request } from "../api.js";
import { ago, copyButton, errorBox, h, replace, when } from "../dom.js";

function who(urn) {
  return (urn || "").replace(/^urn:[^:]+:(user|org):/, "");
}

export async function repositoriesPage({ main }) {
  document.title = "Repositories · datafabric";
  const tbody = h("tbody", {});
  const more = h("button", { type: "button", class: "btn btn-secondary", hidden: true }, "Load more");
  const summary = h("p", { class: "summary" });
  const status = h("div", {});
  replace(
    main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Repositories"), h("p", { class: "lead" }, "Numbered versions of artifacts, with aliases such as prod and stages from testing to production."))),
    status,
    h(
      "div",
      { class: "card table-card" },
      h("table", { class: "table" }, h("caption", { class: "sr-only" }, "Repositories"), h("thead", {}, h("tr", {}, ["Repository", "Organisation", "Created"].map((l) => h("th", { scope: "col" }, l)))), tbody),
      h("div", { class: "table-foot" }, summary, more),
    ),
  );
  const items = [];
  let next = `/v1/repositories${query({ limit: 50 })}`;
  const load = async () => {
    try {
      const page = await request(next);
      items.push(...page.items);
      next = page.next;
      replace(
        tbody,
        items.length
          ? items.map((repo) =>
              h(
                "tr",
                {},
                h("td", { class: "cell-name", "data-label": "Repository" }, h("a", { class: "artifact-link", href: `#/repositories/${enc(repo.project)}/${enc(repo.name)}` }, `${repo.project}/${repo.name}`)),
                h("td", { "data-label": "Organisation" }, who(repo.org)),
                h("td", { "data-label": "Created" }, h("time", { datetime: repo.created, title: when(repo.created) }, ago(repo.created))),
              ),
            )
          : h("tr", {}, h("td", { colspan: 3, class: "empty" }, "No repositories yet. Register an artifact as a version from its page.")),
      );
      summary.textContent = `${items.length} repositor${items.length === 1 ? "y" : "ies"}`;
      more.hidden = !next;
    } catch (error) {
      replace(status, errorBox(error));
    }
  };
  more.addEventListener("click", load);
  await load();
}

export async function repositoryPage({ main, args }) {
  const [project, name] = args;
  document.title = `${project}/${name} · datafabric`;
  let repo;
  try {
    repo = await request(`/v1/repositories/${enc(project)}/${enc(name)}`);
  } catch (error) {
    replace(main, h("h1", {}, error.status === 404 ? "Repository not found" : "This repository cannot be shown"), h("p", { class: "lead" }, error.status === 404 ? "It does not exist, or you may not read it." : error.message), h("a", { href: "#/repositories", class: "btn btn-secondary" }, "All repositories"));
    return;
  }
  const aliasesOf = {};
  for (const [alias, target] of Object.entries(repo.aliases || {})) (aliasesOf[target.version] ||= []).push(alias);
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/repositories" }, "Repositories"), h("span", { "aria-hidden": "true" }, " / "), h("span", { "aria-current": "page" }, `${project}/${name}`)),
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, `${project}/${name}`), h("p", { class: "lead" }, `${who(repo.org)} · created by ${who(repo.creator)} ${ago(repo.created)}`))),
    h(
      "div",
      { class: "card table-card" },
      h(
        "table",
        { class: "table" },
        h("caption", { class: "sr-only" }, "Versions"),
        h("thead", {}, h("tr", {}, ["Version", "Stage", "Aliases", "Description", "Registered"].map((l) => h("th", { scope: "col" }, l)))),
        h(
          "tbody",
          {},
          repo.versions.items.map((v) =>
            h(
              "tr",
              {},
              h("td", { class: "cell-name", "data-label": "Version" }, h("a", { class: "artifact-link", href: `#/artifacts/${enc(v.artifact)}` }, `v${v.number}`), h("span", { class: "mono subtle" }, v.reference, copyButton(v.reference, `Copy ${v.reference}`))),
              h("td", { "data-label": "Stage" }, v.stage ? h("span", { class: `pill pill-stage pill-${v.stage}` }, v.stage) : "—"),
              h("td", { "data-label": "Aliases" }, (aliasesOf[v.number] || []).map((a) => h("span", { class: "tag" }, a))),
              h("td", { "data-label": "Description" }, v.description || ""),
              h("td", { "data-label": "Registered" }, h("time", { datetime: v.registered, title: when(v.registered) }, ago(v.registered))),
            ),
          ),
        ),
      ),
    ),
  );
}
