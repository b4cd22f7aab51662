// The lineage picture: upstream and downstream of an artifact or order, laid out by dagre in cytoscape.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import svg from "cytoscape-svg";
import { enc, query, request } from "../api.js";
import { ago, errorBox, field, h, replace, shortUrn, toast } from "../dom.js";

cytoscape.use(dagre);
cytoscape.use(svg);

const FLOW_REVERSED = new Set(["WAS_GENERATED_BY", "USED"]); // stored effect -> cause; drawn as data flows

function label(node) {
  if (node.redacted) return "hidden from you";
  if (node.kind === "artifact") return node.name || shortUrn(node.urn);
  if (node.kind === "order") return node.service ? `order · ${node.service}` : `order ${node.urn.split(":").pop().slice(0, 8)}`;
  return node.name || shortUrn(node.urn);
}

function toElements(graph, root) {
  const nodes = graph.nodes.map((node) => ({
    data: { id: node.urn, label: label(node), kind: node.redacted ? "redacted" : node.kind, node },
    classes: [node.redacted ? "redacted" : node.kind, node.urn === root ? "root" : ""].join(" "),
  }));
  const ids = new Set(graph.nodes.map((n) => n.urn));
  const edges = graph.edges
    .filter((edge) => ids.has(edge.from) && ids.has(edge.to))
    .map((edge) => {
      const [source, target] = FLOW_REVERSED.has(edge.rel) ? [edge.to, edge.from] : [edge.from, edge.to];
      return { data: { id: `${edge.aspect || ""}:${edge.from}->${edge.to}`, source, target, rel: edge.rel === "USED" ? "used by" : edge.rel === "WAS_GENERATED_BY" ? "produced" : edge.rel.toLowerCase() } };
    });
  return [...nodes, ...edges];
}

const STYLE = [
  { selector: "node", style: { label: "data(label)", "font-family": "Inter, system-ui, sans-serif", "font-size": 12, color: "#1c2433", "text-valign": "bottom", "text-margin-y": 6, "text-wrap": "ellipsis", "text-max-width": 150, width: 34, height: 34, "border-width": 2, "min-zoomed-font-size": 5 } },
  { selector: "node.artifact", style: { shape: "round-rectangle", "background-color": "#e8efff", "border-color": "#1f4fd1" } },
  { selector: "node.order", style: { shape: "diamond", "background-color": "#fff4e0", "border-color": "#c27a00", width: 30, height: 30 } },
  { selector: "node.redacted", style: { shape: "round-rectangle", "background-color": "#eef0f3", "border-color": "#8a94a6", "border-style": "dashed", color: "#6b7486", "font-style": "italic" } },
  { selector: "node.root", style: { "border-width": 4, "background-color": "#1f4fd1", "border-color": "#0f2f8f", color: "#0f2f8f", "font-weight": "bold" } },
  { selector: "node:selected", style: { "overlay-color": "#1f4fd1", "overlay-opacity": 0.15, "overlay-padding": 6 } },
  { selector: "edge", style: { width: 1.6, "line-color": "#9aa6bd", "target-arrow-color": "#9aa6bd", "target-arrow-shape": "triangle", "curve-style": "bezier", label: "data(rel)", "font-size": 9, color: "#6b7486", "text-background-color": "#fff", "text-background-opacity": 0.85, "text-background-padding": 2 } },
];

// Labels count in the layout's node sizes, so no label ever covers another node or label.
function layoutOptions(count) {
  const narrow = window.innerWidth < 700;
  return { name: "dagre", rankDir: narrow ? "TB" : "LR", nodeSep: count > 80 ? 10 : 28, rankSep: count > 80 ? 60 : 90, edgeSep: 8, nodeDimensionsIncludeLabels: true, animate: false, fit: true, padding: 24 };
}

// Below this zoom labels are too small to read: a large graph opens at it, beside its root, and "Fit all" shows
// the whole picture.
const READABLE_ZOOM = 0.7;

function save(dataUrlOrBlob, filename) {
  const url = typeof dataUrlOrBlob === "string" ? dataUrlOrBlob : URL.createObjectURL(dataUrlOrBlob);
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

export async function lineagePage({ main, params, args, go }) {
  const [root] = args;
  const direction = ["upstream", "downstream", "both"].includes(params.get("direction")) ? params.get("direction") : "both";
  const depth = Math.min(50, Math.max(1, Number(params.get("depth")) || 3));
  const at = params.get("at") || "";
  document.title = "Lineage · datafabric";

  const dirSelect = h("select", { name: "direction" }, ["both", "upstream", "downstream"].map((d) => h("option", { value: d, selected: d === direction }, d)));
  const depthInput = h("input", { type: "number", name: "depth", min: 1, max: 50, value: String(depth) });
  const atInput = h("input", { type: "datetime-local", name: "at", value: at ? at.slice(0, 16) : "" });
  const controls = h(
    "form",
    {
      class: "filters",
      onSubmit: (event) => {
        event.preventDefault();
        const when = atInput.value ? new Date(atInput.value).toISOString() : "";
        go(`/lineage/${enc(root)}${query({ direction: dirSelect.value, depth: depthInput.value, at: when })}`);
      },
    },
    field("Direction", dirSelect),
    field("Depth", depthInput),
    field("As of", atInput, "Leave empty for now"),
    h("div", { class: "filters-actions" }, h("button", { type: "submit", class: "btn btn-primary" }, "Show")),
  );
  const canvas = h("div", { class: "graph", role: "img", "aria-label": "Lineage graph; the list beside it holds the same nodes" });
  const nodeList = h("ul", { class: "node-list", "aria-label": "Nodes" });
  const panel = h("div", { class: "node-panel", "aria-live": "polite" }, h("p", { class: "subtle" }, "Select a node to see it, open it or expand it."));
  const status = h("div", {});
  const summary = h("p", { class: "summary" });
  const fitAll = h("button", { type: "button", class: "btn btn-ghost", hidden: true }, "Fit all");
  const exportSvg = h("button", { type: "button", class: "btn btn-secondary" }, "Export SVG");
  const exportPng = h("button", { type: "button", class: "btn btn-secondary" }, "Export PNG");
  replace(
    main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Artifacts"), h("span", { "aria-hidden": "true" }, " / "), root.includes(":artifact:") ? h("a", { href: `#/artifacts/${enc(root)}` }, shortUrn(root)) : h("span", {}, shortUrn(root)), h("span", { "aria-hidden": "true" }, " / "), h("span", { "aria-current": "page" }, "Lineage")),
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Lineage"), summary), h("div", { class: "actions" }, fitAll, exportSvg, exportPng)),
    controls,
    status,
    h("div", { class: "lineage" }, h("div", { class: "card graph-card" }, canvas, h("div", { class: "legend", "aria-hidden": "true" }, h("span", { class: "lg lg-artifact" }, "artifact"), h("span", { class: "lg lg-order" }, "order"), h("span", { class: "lg lg-redacted" }, "hidden from you"))), h("aside", { class: "card side" }, panel, h("h2", { class: "h3" }, "Nodes"), nodeList)),
  );

  let graph;
  try {
    graph = await request(`/v1/lineage/${enc(root)}${query({ direction, depth, at })}`);
  } catch (error) {
    replace(status, errorBox(error.status === 404 ? { title: "Not found.", message: "It does not exist, or you may not read it." } : error));
    return;
  }
  const known = new Map(graph.nodes.map((n) => [n.urn, n]));
  const cy = cytoscape({ container: canvas, elements: toElements(graph, root), style: STYLE, layout: layoutOptions(graph.nodes.length), minZoom: 0.02, maxZoom: 3 });
  canvas.cy = cy; // the browser tests (and a curious person's console) read the laid-out graph here

  const dense = () => {
    // Past a few dozen nodes the edge labels only clutter the picture; the node list and panel still tell all.
    cy.style().selector("edge").style({ label: known.size > 40 ? "" : "data(rel)" }).update();
  };
  dense();
  const describe = () => {
    const hidden = [...known.values()].filter((n) => n.redacted).length;
    summary.textContent = `${known.size} node${known.size === 1 ? "" : "s"}, ${cy.edges().length} edge${cy.edges().length === 1 ? "" : "s"}${hidden ? `, ${hidden} hidden from you` : ""}${graph.truncated ? " (truncated: increase the depth or expand nodes)" : ""}${at ? ` as of ${new Date(at).toLocaleString()}` : ""}`;
  };

  const expand = async (urn) => {
    try {
      const more = await request(`/v1/lineage/${enc(urn)}${query({ direction: "both", depth: 1, at })}`);
      const fresh = more.nodes.filter((n) => !known.has(n.urn));
      fresh.forEach((n) => known.set(n.urn, n));
      const elements = toElements({ nodes: [...known.values()], edges: more.edges }, root).filter((el) => cy.getElementById(el.data.id).empty());
      cy.add(elements);
      dense();
      cy.layout(layoutOptions(known.size)).run();
      drawList();
      describe();
      toast(fresh.length ? `${fresh.length} more node${fresh.length === 1 ? "" : "s"}` : "Nothing more around this node");
    } catch (error) {
      toast(error.message, "error");
    }
  };

  const select = (urn) => {
    const node = known.get(urn);
    cy.elements().unselect();
    cy.getElementById(urn).select();
    const open = node.kind === "artifact" && !node.redacted ? h("a", { class: "btn btn-secondary", href: `#/artifacts/${enc(urn)}` }, "Open artifact") : null;
    replace(
      panel,
      h("h2", { class: "h3" }, node.redacted ? "Hidden from you" : label(node)),
      h("p", {}, h("span", { class: "pill" }, node.kind), node.status ? [" ", h("span", { class: `pill pill-${node.status}` }, node.status)] : null),
      node.redacted ? h("p", { class: "subtle" }, "Something is here, but you may not read it: its name and details are withheld.") : h("p", {}, h("code", { class: "mono break" }, urn)),
      node.created ? h("p", { class: "subtle" }, `created ${ago(node.created)}`) : null,
      h("div", { class: "actions" }, open, node.redacted ? null : h("button", { type: "button", class: "btn btn-secondary", onClick: () => expand(urn) }, "Expand"), node.redacted || urn === root ? null : h("a", { class: "btn btn-ghost", href: `#/lineage/${enc(urn)}${query({ direction, depth, at })}` }, "Center here")),
    );
  };

  const drawList = () => {
    replace(
      nodeList,
      [...known.values()].map((node) =>
        h("li", {}, h("button", { type: "button", class: `node-item node-${node.redacted ? "redacted" : node.kind}${node.urn === root ? " node-root" : ""}`, onClick: () => select(node.urn) }, h("span", { class: "dot", "aria-hidden": "true" }), label(node))),
      ),
    );
  };

  // After each layout (fitted): never blown up past 1.25, never shrunk past reading; then the root leads the view.
  const settle = () => {
    if (cy.zoom() > 1.25) {
      cy.zoom(1.25);
      cy.center();
    }
    const large = cy.zoom() < READABLE_ZOOM;
    fitAll.hidden = !large;
    if (!large) return;
    const start = cy.getElementById(root).nonempty() ? cy.getElementById(root) : cy.nodes().first();
    const at = start.position();
    const across = layoutOptions(known.size).rankDir === "LR";
    cy.zoom(READABLE_ZOOM);
    cy.pan({ x: (across ? cy.width() / 6 : cy.width() / 2) - at.x * READABLE_ZOOM, y: (across ? cy.height() / 2 : cy.height() / 6) - at.y * READABLE_ZOOM });
  };
  fitAll.addEventListener("click", () => cy.fit(undefined, 24));
  cy.on("layoutstop", settle);
  settle();
  cy.on("tap", "node", (event) => select(event.target.id()));
  cy.on("dbltap", "node", (event) => {
    const node = known.get(event.target.id());
    if (!node.redacted) expand(node.urn);
  });
  exportPng.addEventListener("click", () => save(cy.png({ full: true, scale: 2, bg: "#ffffff" }), "lineage.png"));
  exportSvg.addEventListener("click", () => save(new Blob([cy.svg({ full: true, bg: "#ffffff" })], { type: "image/svg+xml" }), "lineage.svg"));
  window.addEventListener("resize", () => cy.resize(), { once: true });
  drawList();
  describe();
  if (known.has(root)) select(root);
}
