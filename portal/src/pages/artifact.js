// One artifact: details, download, ready-made snippets, aspects with their history, and access for managers.
import { enc, query, request, session } from "../api.js";
import { ago, bytes, copyButton, errorBox, field, h, replace, toast, when } from "../dom.js";
import { downloadArtifact } from "../download.js";
import { filesSection, lifecycleActions, versionsSection } from "./versions.js";

const BUILTIN_SCHEMA = /^urn:[^:]+:schema:/;

function schemaName(schema) {
  return (schema || "").replace(BUILTIN_SCHEMA, "");
}

function who(urn) {
  if (!urn) return "someone";
  return urn.replace(/^urn:[^:]+:(user|org):/, "");
}

function json(content) {
  return h("pre", { class: "json" }, JSON.stringify(content, null, 2));
}

function detailRow(label, value, extra) {
  return [h("dt", {}, label), h("dd", {}, value, extra || null)];
}

function snippets(artifact) {
  const base = location.origin;
  const auth = session.me?.auth ? ' -H "Authorization: Bearer $FABRIC_TOKEN"' : "";
  const file = artifact.name || "artifact.bin";
  const items = [
    ["curl", `curl${auth} -o '${file}' '${base}/v1/artifacts/${artifact.urn}/blob'`],
    ["fabric", `FABRIC_URL=${base} fabric download ${artifact.urn} -o '${file}'`],
    ["Python", `from fabric import Fabric\n\nfab = Fabric()  # FABRIC_URL=${base}, token from FABRIC_TOKEN\nwith fab.get_artifact("${artifact.urn}").as_local_file() as path:\n    print(path)`],
  ];
  return h(
    "section",
    { class: "card", "aria-labelledby": "snippets-title" },
    h("h2", { id: "snippets-title" }, "Use it from code"),
    items.map(([label, code]) => h("div", { class: "snippet" }, h("div", { class: "snippet-head" }, h("span", {}, label), copyButton(code, `Copy the ${label} snippet`)), h("pre", { class: "code" }, code))),
  );
}

function aspectsSection(artifact) {
  const list = h("div", { class: "aspects" });
  const toggle = h("input", { type: "checkbox", id: "history-toggle" });
  const status = h("div", {});
  const draw = (aspects) => {
    const items = aspects.filter((a) => !["grant.1"].includes(schemaName(a.schema)));
    if (!items.length) {
      replace(list, h("p", { class: "empty" }, "No aspects."));
      return;
    }
    replace(
      list,
      items.map((aspect) =>
        h(
          "article",
          { class: `aspect${aspect.valid_to ? " aspect-retracted" : ""}` },
          h(
            "header",
            { class: "aspect-head" },
            h("span", { class: "schema" }, schemaName(aspect.schema)),
            aspect.valid_to ? h("span", { class: "pill pill-abandoned" }, "retracted") : h("span", { class: "pill pill-ready" }, "current"),
            h(
              "span",
              { class: "subtle" },
              `asserted by ${who(aspect.asserter)} `,
              h("time", { datetime: aspect.valid_from, title: when(aspect.valid_from) }, ago(aspect.valid_from)),
              aspect.valid_to ? [` · retracted${aspect.retracted_by ? ` by ${who(aspect.retracted_by)}` : ""} `, h("time", { datetime: aspect.valid_to, title: when(aspect.valid_to) }, ago(aspect.valid_to))] : null,
            ),
          ),
          json(aspect.content),
        ),
      ),
    );
  };
  const load = async () => {
    status.replaceChildren();
    if (!toggle.checked) {
      draw(artifact.aspects || []);
      return;
    }
    try {
      const found = [];
      let next = `/v1/aspects${query({ entity: artifact.urn, include_retracted: "true", limit: 200 })}`;
      while (next && found.length < 1000) {
        const page = await request(next);
        found.push(...page.items);
        next = page.next;
      }
      found.sort((a, b) => (b.valid_from || "").localeCompare(a.valid_from || ""));
      draw(found);
    } catch (error) {
      replace(status, errorBox(error));
    }
  };
  toggle.addEventListener("change", load);
  load();
  return h(
    "section",
    { class: "card", "aria-labelledby": "aspects-title" },
    h("div", { class: "card-head" }, h("h2", { id: "aspects-title" }, "Aspects"), h("label", { class: "switch", for: "history-toggle" }, toggle, h("span", {}, "Show history (retracted too)"))),
    status,
    list,
  );
}

function grantRow(urn, grant, reload) {
  const revoked = Boolean(grant.revoked_at);
  return h(
    "li",
    { class: `grant${revoked ? " grant-revoked" : ""}` },
    h("span", { class: "grant-kind" }, grant.email ? "user" : "org"),
    h("span", { class: "grant-who" }, grant.email || grant.org),
    h("span", { class: "subtle" }, revoked ? `revoked ${ago(grant.revoked_at)}` : `granted ${ago(grant.granted_at)}`),
    revoked
      ? null
      : h(
          "button",
          {
            type: "button",
            class: "btn btn-danger-ghost",
            "aria-label": `Revoke access for ${grant.email || grant.org}`,
            onClick: async (event) => {
              event.currentTarget.disabled = true;
              try {
                await request(`/v1/artifacts/${enc(urn)}/access/${enc(grant.id)}`, { method: "DELETE" });
                toast(`Access revoked for ${grant.email || grant.org}`);
              } catch (error) {
                toast(error.message, "error");
              }
              reload();
            },
          },
          "Revoke",
        ),
  );
}

function accessSection(artifact) {
  const urn = artifact.urn;
  const list = h("ul", { class: "grants" });
  const status = h("div", { "aria-live": "polite" });
  const kind = h("select", { name: "grantee-kind" }, h("option", { value: "email" }, "User (email)"), h("option", { value: "org" }, "Organisation"));
  const who_ = h("input", { type: "text", name: "grantee", required: true, placeholder: "carol@partner.org", autocomplete: "off" });
  kind.addEventListener("change", () => (who_.placeholder = kind.value === "email" ? "carol@partner.org" : "partner"));
  const section = h("section", { class: "card", "aria-labelledby": "access-title" }, h("h2", { id: "access-title" }, "Access"));
  const reload = async () => {
    try {
      const grants = await request(`/v1/artifacts/${enc(urn)}/access?include_revoked=true`);
      replace(list, grants.items.length ? grants.items.map((grant) => grantRow(urn, grant, reload)) : h("li", { class: "empty" }, "Only you and your organisation's admins can read this artifact."));
    } catch (error) {
      if (error.status === 403) {
        replace(section, h("h2", { id: "access-title" }, "Access"), h("p", { class: "subtle" }, "Only the artifact's creator and admins of its organisation manage who may read it."));
        return;
      }
      replace(status, errorBox(error));
    }
  };
  const form = h(
    "form",
    {
      class: "inline-form",
      onSubmit: async (event) => {
        event.preventDefault();
        status.replaceChildren();
        const value = who_.value.trim();
        if (!value) return;
        try {
          await request(`/v1/artifacts/${enc(urn)}/access`, { method: "POST", body: { [kind.value]: value } });
          toast(`Shared with ${value}`);
          who_.value = "";
        } catch (error) {
          replace(status, errorBox(error));
        }
        reload();
      },
    },
    field("Share with", kind),
    field(kind.value === "email" ? "Email or organisation id" : "Organisation", who_),
    h("button", { type: "submit", class: "btn btn-primary" }, "Grant access"),
  );
  section.append(form, status, list);
  reload();
  return section;
}

function collectionSection(artifact) {
  const current = (artifact.aspects || []).filter((a) => schemaName(a.schema) === "collection-member.1" && !a.valid_to);
  const input = h("input", { type: "text", name: "collection", placeholder: "e.g. climate", autocomplete: "off" });
  const status = h("div", {});
  return h(
    "section",
    { class: "card", "aria-labelledby": "collections-title" },
    h("h2", { id: "collections-title" }, "Collections"),
    h("p", {}, current.length ? current.map((a) => h("span", { class: "tag" }, String(a.content.collection).replace(/^urn:[^:]+:collection:/, ""))) : h("span", { class: "subtle" }, "In no collection.")),
    h(
      "form",
      {
        class: "inline-form",
        onSubmit: async (event) => {
          event.preventDefault();
          const value = input.value.trim();
          if (!value) return;
          const collection = value.startsWith("urn:") ? value : `urn:fabric:collection:${value}`;
          try {
            await request("/v1/aspects", { method: "POST", body: { entity: artifact.urn, schema: "collection-member.1", content: { collection } } });
            toast(`Added to ${value}`);
            window.dispatchEvent(new HashChangeEvent("hashchange"));
          } catch (error) {
            replace(status, errorBox(error));
          }
        },
      },
      field("Add to collection", input),
      h("button", { type: "submit", class: "btn btn-secondary" }, "Add"),
    ),
    status,
  );
}

export async function artifactPage({ main, args, rerender }) {
  const [urn] = args;
  let artifact;
  try {
    artifact = await request(`/v1/artifacts/${enc(urn)}`);
  } catch (error) {
    document.title = "Not found · datafabric";
    replace(
      main,
      h("h1", {}, error.status === 404 ? "Artifact not found" : "This artifact cannot be shown"),
      h("p", { class: "lead" }, error.status === 404 ? "It does not exist, or you may not read it." : error.message),
      h("a", { href: "#/", class: "btn btn-secondary" }, "Back to artifacts"),
    );
    return;
  }
  document.title = `${artifact.name || urn} · datafabric`;
  const download = h("button", { type: "button", class: "btn btn-primary", disabled: artifact.status !== "ready", onClick: (event) => downloadArtifact(artifact, event.currentTarget) }, "Download");
  const creator = artifact.creator ? `${artifact.creator.name || "?"} (${artifact.creator.org || "?"})` : who(artifact.uploader);
  const details = h(
    "dl",
    { class: "details" },
    detailRow("URN", h("code", { class: "mono break" }, artifact.urn), copyButton(artifact.urn, "Copy the URN")),
    detailRow("Size", `${bytes(artifact.size)}${artifact.size ? ` (${artifact.size.toLocaleString()} bytes)` : ""}`),
    detailRow("Media type", artifact.mime_type || "—"),
    detailRow("Type", artifact.type || "file"),
    Object.keys(artifact.labels || {}).length ? detailRow("Labels", Object.entries(artifact.labels).map(([k, v]) => h("span", { class: "tag" }, `${k}:${v}`))) : null,
    (artifact.versions || []).length ? detailRow("Reference", h("code", { class: "mono" }, `fabric://${artifact.versions[0].repository}:${artifact.versions[0].number}`), copyButton(`fabric://${artifact.versions[0].repository}:${artifact.versions[0].number}`, "Copy the fabric:// reference")) : null,
    detailRow("Created", h("time", { datetime: artifact.created }, when(artifact.created)), h("span", { class: "subtle" }, ` · ${ago(artifact.created)}`)),
    detailRow("Created by", creator),
    detailRow("Organisation", who(artifact.org) || (artifact.creator && artifact.creator.org) || "—"),
    detailRow("SHA-256", h("code", { class: "mono break" }, artifact.sha256 || "—")),
    artifact.md5 ? detailRow("MD5", h("code", { class: "mono break" }, artifact.md5)) : null,
  );
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Artifacts"), h("span", { "aria-hidden": "true" }, " / "), h("span", { "aria-current": "page" }, artifact.name || "artifact")),
    h(
      "div",
      { class: "page-head" },
      h("div", {}, h("h1", { class: "break" }, artifact.name || artifact.urn), h("p", { class: "lead" }, h("span", { class: `pill pill-${artifact.state || artifact.status}` }, artifact.state || artifact.status), " ", bytes(artifact.size), " · ", artifact.mime_type || "unknown type")),
      h("div", { class: "actions" }, download, h("a", { class: "btn btn-secondary", href: `#/lineage/${enc(artifact.urn)}` }, "Lineage")),
    ),
    h("div", { class: "grid" }, h("section", { class: "card", "aria-labelledby": "details-title" }, h("h2", { id: "details-title" }, "Details"), details), snippets(artifact)),
    h("div", { class: "grid" }, filesSection(artifact), versionsSection(artifact, rerender)),
    aspectsSection(artifact),
    h("div", { class: "grid" }, accessSection(artifact), collectionSection(artifact)),
    lifecycleActions(artifact, rerender),
  );
}
