// An artifact's files, its versions in repositories (aliases, stage and its history), and its lifecycle actions.
import { enc, request } from "../api.js";
import { ago, bytes, copyButton, errorBox, field, h, replace, toast, when } from "../dom.js";
import { download } from "../download.js";

const STAGES = ["none", "testing", "staging", "production", "archived"];

function who(urn) {
  return (urn || "").replace(/^urn:[^:]+:(user|org):/, "") || "someone";
}

function repoPath(repository) {
  const [project, name] = repository.split("/");
  return `/v1/repositories/${enc(project)}/${enc(name)}`;
}

export function filesSection(artifact) {
  const body = h("div", {}, h("p", { class: "subtle" }, "Loading files…"));
  const section = h(
    "section",
    { class: "card", "aria-labelledby": "files-title" },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "files-title" }, "Files"),
      h(
        "div",
        { class: "actions" },
        ["tar", "zip"].map((format) =>
          h(
            "button",
            {
              type: "button",
              class: "btn btn-secondary",
              disabled: artifact.status !== "ready",
              onClick: (event) => download(artifact.urn, { format }, event.currentTarget),
            },
            `All as ${format}`,
          ),
        ),
      ),
    ),
    body,
  );
  request(`/v1/artifacts/${enc(artifact.urn)}/files`)
    .then((manifest) => {
      if (!manifest.items.length) {
        replace(body, h("p", { class: "empty" }, "No files yet."));
        return;
      }
      replace(
        body,
        h(
          "ul",
          { class: "files" },
          manifest.items.map((file) =>
            h(
              "li",
              { class: "file" },
              h("span", { class: "file-path break" }, file.path),
              h("span", { class: "subtle" }, `${bytes(file.size)} · ${file.mime_type || "?"}`),
              h(
                "button",
                {
                  type: "button",
                  class: "btn btn-secondary",
                  "aria-label": `Download ${file.path}`,
                  onClick: (event) => download(artifact.urn, { path: file.path }, event.currentTarget),
                },
                "Download",
              ),
            ),
          ),
        ),
      );
    })
    .catch((error) => replace(body, errorBox(error)));
  return section;
}

function stageHistory(repository, number) {
  const list = h("ol", { class: "history" }, h("li", { class: "subtle" }, "Loading…"));
  request(`${repoPath(repository)}/versions/${number}/stages`)
    .then((history) =>
      replace(
        list,
        history.items.length
          ? history.items.map((item) =>
              h(
                "li",
                {},
                h("span", { class: `pill pill-stage pill-${item.stage}` }, item.stage),
                " ",
                h("span", { class: "subtle" }, `by ${who(item.by)} `, h("time", { datetime: item.from, title: when(item.from) }, ago(item.from)), item.to ? ` · until ${when(item.to)}` : " · current"),
                item.reason || item.message ? h("div", { class: "history-note" }, [item.reason, item.message].filter(Boolean).join(": ")) : null,
              ),
            )
          : h("li", { class: "subtle" }, "No stage set yet."),
      ),
    )
    .catch((error) => replace(list, h("li", {}, error.message)));
  return list;
}

function versionCard(artifact, ref, rerender) {
  const card = h("div", { class: "version" }, h("p", { class: "subtle" }, `Loading ${ref.repository}…`));
  request(repoPath(ref.repository))
    .then((repo) => {
      const mine = repo.versions.items.find((v) => v.number === ref.number) || { number: ref.number };
      const aliases = Object.entries(repo.aliases || {});
      const ownAliases = aliases.filter(([, target]) => target.version === ref.number).map(([alias]) => alias);
      const reference = `fabric://${ref.repository}:${ref.number}`;
      const stage = h("select", { name: "stage" }, STAGES.map((s) => h("option", { value: s, selected: s === (mine.stage || "none") }, s)));
      const reason = h("input", { type: "text", name: "reason", placeholder: "e.g. passed review", autocomplete: "off" });
      const message = h("input", { type: "text", name: "message", placeholder: "optional", autocomplete: "off" });
      const alias = h("input", { type: "text", name: "alias", placeholder: "e.g. prod", autocomplete: "off" });
      const status = h("div", { "aria-live": "polite" });
      const act = async (what, call) => {
        status.replaceChildren();
        try {
          await call();
          toast(what);
          rerender();
        } catch (error) {
          replace(status, errorBox(error));
        }
      };
      replace(
        card,
        h(
          "div",
          { class: "version-head" },
          h("a", { class: "version-title", href: `#/repositories/${ref.repository}` }, `${ref.repository}`, h("span", { class: "version-number" }, ` v${ref.number}`)),
          mine.stage ? h("span", { class: `pill pill-stage pill-${mine.stage}` }, mine.stage) : h("span", { class: "pill" }, "no stage"),
          ownAliases.map((a) => h("span", { class: "tag" }, a)),
        ),
        h("p", {}, h("code", { class: "mono" }, reference), copyButton(reference, "Copy the fabric:// reference")),
        mine.description ? h("p", {}, mine.description) : null,
        h("p", { class: "subtle" }, `registered by ${who(mine.registered_by)} `, mine.registered ? h("time", { datetime: mine.registered, title: when(mine.registered) }, ago(mine.registered)) : null),
        aliases.length ? h("p", { class: "subtle" }, "Aliases in this repository: ", aliases.map(([a, t], i) => [i ? ", " : "", h("strong", {}, a), ` → v${t.version}`])) : null,
        h("h3", { class: "h3" }, "Stage history"),
        stageHistory(ref.repository, ref.number),
        h(
          "details",
          { class: "manage" },
          h("summary", {}, "Change stage or aliases"),
          h(
            "form",
            {
              class: "inline-form",
              onSubmit: (event) => {
                event.preventDefault();
                act(`Stage set to ${stage.value}`, () => request(`${repoPath(ref.repository)}/versions/${ref.number}/stage`, { method: "POST", body: { stage: stage.value, reason: reason.value.trim(), message: message.value.trim() } }));
              },
            },
            field("Stage", stage),
            field("Reason", reason),
            field("Message", message),
            h("button", { type: "submit", class: "btn btn-primary" }, "Set stage"),
          ),
          h(
            "form",
            {
              class: "inline-form",
              onSubmit: (event) => {
                event.preventDefault();
                const name = alias.value.trim();
                if (name) act(`Alias ${name} now points at v${ref.number}`, () => request(`${repoPath(ref.repository)}/aliases/${enc(name)}`, { method: "PUT", body: { version: ref.number } }));
              },
            },
            field("Point an alias here", alias),
            h("button", { type: "submit", class: "btn btn-secondary" }, "Move alias"),
          ),
          status,
        ),
      );
    })
    .catch((error) =>
      replace(
        card,
        error.status === 404
          ? h("p", {}, h("strong", {}, `${ref.repository} v${ref.number}`), h("span", { class: "subtle" }, " · the repository itself is not shared with you"))
          : errorBox(error),
      ),
    );
  return card;
}

export function versionsSection(artifact, rerender) {
  const repository = h("input", { type: "text", name: "repository", placeholder: "project/name, e.g. ml/survey", autocomplete: "off", required: true });
  const aliases = h("input", { type: "text", name: "aliases", placeholder: "e.g. prod, latest-good", autocomplete: "off" });
  const description = h("input", { type: "text", name: "description", placeholder: "optional", autocomplete: "off" });
  const status = h("div", { "aria-live": "polite" });
  const versions = artifact.versions || [];
  return h(
    "section",
    { class: "card", "aria-labelledby": "versions-title" },
    h("h2", { id: "versions-title" }, "Versions"),
    versions.length ? versions.map((ref) => versionCard(artifact, ref, rerender)) : h("p", { class: "subtle" }, "Not a version in any repository you may read."),
    h(
      "details",
      { class: "manage", open: versions.length ? null : true },
      h("summary", {}, "Register as a version"),
      h(
        "form",
        {
          class: "inline-form",
          onSubmit: async (event) => {
            event.preventDefault();
            status.replaceChildren();
            const [project, name, extra] = repository.value.trim().split("/");
            if (!project || !name || extra !== undefined) {
              replace(status, errorBox({ title: "Give the repository as project/name.", message: "" }));
              return;
            }
            const body = { artifact: artifact.urn, description: description.value.trim(), aliases: aliases.value.split(",").map((a) => a.trim()).filter(Boolean) };
            try {
              const version = await request(`/v1/repositories/${enc(project)}/${enc(name)}/versions`, { method: "POST", body });
              toast(`Registered as ${version.reference}`);
              rerender();
            } catch (error) {
              replace(status, errorBox(error));
            }
          },
        },
        field("Repository", repository),
        field("Aliases", aliases),
        field("Description", description),
        h("button", { type: "submit", class: "btn btn-primary" }, "Register"),
      ),
      status,
    ),
  );
}

export function lifecycleActions(artifact, rerender) {
  const reason = h("input", { type: "text", name: "lifecycle-reason", placeholder: "why (kept in the history)", autocomplete: "off" });
  const status = h("div", { "aria-live": "polite" });
  const run = async (action, method, confirmText) => {
    if (confirmText && !window.confirm(confirmText)) return;
    status.replaceChildren();
    try {
      await request(`/v1/artifacts/${enc(artifact.urn)}${action ? `/${action}` : ""}`, { method, body: { reason: reason.value.trim() || undefined } });
      toast(action === "lock" ? "Locked: its bytes and files can no longer change" : "Deleted");
      rerender();
    } catch (error) {
      replace(status, errorBox(error));
    }
  };
  const locked = artifact.state === "locked" || artifact.locked;
  const type = h("input", { type: "text", name: "type", value: artifact.type || "file", autocomplete: "off" });
  const labels = h("input", {
    type: "text",
    name: "labels",
    value: Object.entries(artifact.labels || {}).map(([k, v]) => `${k}:${v}`).join(", "),
    placeholder: "e.g. site:mawson, season:2026",
    autocomplete: "off",
  });
  const describe = h(
    "form",
    {
      class: "inline-form",
      onSubmit: async (event) => {
        event.preventDefault();
        status.replaceChildren();
        const parsed = {};
        for (const pair of labels.value.split(",").map((p) => p.trim()).filter(Boolean)) {
          const at = pair.search(/[:=]/);
          if (at < 1) {
            replace(status, errorBox({ title: `Write each label as key:value (not ${JSON.stringify(pair)}).`, message: "" }));
            return;
          }
          parsed[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
        }
        try {
          await request(`/v1/artifacts/${enc(artifact.urn)}`, { method: "PATCH", body: { type: type.value.trim(), labels: parsed } });
          toast("Type and labels saved");
          rerender();
        } catch (error) {
          replace(status, errorBox(error));
        }
      },
    },
    field("Type", type),
    field("Labels", labels),
    h("button", { type: "submit", class: "btn btn-secondary", disabled: locked }, "Save"),
  );
  return h(
    "section",
    { class: "card", "aria-labelledby": "lifecycle-title" },
    h("h2", { id: "lifecycle-title" }, "Lifecycle"),
    h("p", {}, "State: ", h("span", { class: `pill pill-${artifact.state || artifact.status}` }, artifact.state || artifact.status), locked ? " · locked" : null),
    describe,
    h(
      "div",
      { class: "inline-form" },
      field("Reason", reason),
      h("button", { type: "button", class: "btn btn-secondary", disabled: locked, onClick: () => run("lock", "POST") }, locked ? "Locked" : "Lock"),
      h("button", { type: "button", class: "btn btn-danger", onClick: () => run("", "DELETE", `Delete ${artifact.name}? Its history stays, its bytes go.`) }, "Delete"),
    ),
    status,
  );
}
