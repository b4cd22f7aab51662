// The datafabric portal: an app shell, a hash router and the pages. Every call goes to the public HTTP API.
import { request, session, whenUnauthorized } from "./api.js";
import { append, h, replace } from "./dom.js";
import { artifactPage } from "./pages/artifact.js";
import { browsePage } from "./pages/browse.js";
import { lineagePage } from "./pages/lineage.js";
import { repositoriesPage, repositoryPage } from "./pages/repositories.js";
import { redeemSignInCode, signInPage } from "./pages/signin.js";
import { uploadPage } from "./pages/upload.js";
import { uploads } from "./uploads.js";

const ROUTES = [
  [/^\/$/, (ctx) => browsePage(ctx, "all")],
  [/^\/mine$/, (ctx) => browsePage(ctx, "mine")],
  [/^\/shared$/, (ctx) => browsePage(ctx, "shared")],
  [/^\/upload$/, uploadPage],
  [/^\/artifacts\/([^/]+)$/, artifactPage],
  [/^\/lineage\/([^/]+)$/, lineagePage],
  [/^\/repositories$/, repositoriesPage],
  [/^\/repositories\/([^/]+)\/([^/]+)$/, repositoryPage],
];

const NAV = [
  ["#/", "Artifacts", /^\/(artifacts\/.*)?$/],
  ["#/mine", "Mine", /^\/mine$/],
  ["#/shared", "Shared with me", /^\/shared$/],
  ["#/repositories", "Repositories", /^\/repositories/],
  ["#/upload", "Upload", /^\/upload$/],
];

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path: path.startsWith("/") ? path : `/${path}`, params: new URLSearchParams(search) };
}

export function go(path) {
  location.hash = `#${path}`;
}

function header(current) {
  const me = session.me;
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Main" },
    NAV.map(([href, label, pattern]) =>
      h("a", { href, class: "nav-link", "aria-current": pattern.test(current) ? "page" : null }, label),
    ),
  );
  const badge = uploads.activeCount() ? h("span", { class: "badge", "aria-label": "uploads running" }, String(uploads.activeCount())) : null;
  if (badge) nav.querySelector('a[href="#/upload"]').append(badge);
  const who = me
    ? h(
        "div",
        { class: "who" },
        h("span", { class: "avatar", "aria-hidden": "true" }, (me.name || me.email || "?").slice(0, 1).toUpperCase()),
        h("span", { class: "who-text" }, h("span", { class: "who-name" }, me.name), h("span", { class: "who-org" }, `${me.email} · ${me.org}`)),
        me.auth
          ? h("button", { type: "button", class: "btn btn-ghost", onClick: signOut }, "Sign out")
          : h("span", { class: "pill", title: "The server runs without authentication" }, "local mode"),
      )
    : null;
  return h(
    "header",
    { class: "topbar" },
    h("a", { href: "#/", class: "brand", "aria-label": "datafabric home" }, h("img", { src: "/portal/assets/favicon.svg", alt: "", width: 28, height: 28 }), h("span", {}, "datafabric")),
    nav,
    who,
  );
}

function signOut() {
  session.signOut();
  uploads.abortAll();
  render();
}

async function loadMe() {
  if (session.me) return session.me;
  try {
    session.me = await request("/v1/me", { quiet401: true });
  } catch (error) {
    if (error.status !== 401) throw error;
    session.signOut();
  }
  return session.me;
}

let renderCount = 0;

export async function render() {
  const app = document.getElementById("app");
  const ticket = ++renderCount;
  const { path, params } = parseHash();
  let me;
  try {
    me = await loadMe();
  } catch (error) {
    replace(app, h("main", { id: "main", class: "page narrow" }, h("h1", {}, "The server cannot be reached"), h("p", {}, error.message)));
    return;
  }
  if (ticket !== renderCount) return;
  if (!me) {
    replace(app, signInPage({ onSignedIn: () => render() }));
    document.title = "Sign in · datafabric";
    return;
  }
  const main = h("main", { id: "main", class: "page", tabindex: "-1" });
  replace(app, header(path), main);
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (!route) {
    append(main, h("h1", {}, "Not found"), h("p", {}, "This page does not exist. ", h("a", { href: "#/" }, "Browse artifacts")));
    return;
  }
  const match = path.match(route[0]);
  const args = match.slice(1).map(decodeURIComponent);
  await route[1]({ main, params, args, go, rerender: render });
}

async function start() {
  whenUnauthorized(() => {
    session.signOut();
    render();
  });
  document.querySelector(".skip")?.addEventListener("click", (event) => {
    event.preventDefault();
    document.getElementById("main")?.focus();
  });
  // `fabric login` opens /#signin=<one-time code>: exchange it, then drop it from the address bar and history.
  const code = new URLSearchParams(location.hash.replace(/^#/, "")).get("signin");
  if (code) {
    history.replaceState(null, "", `${location.pathname}#/`);
    await redeemSignInCode(code);
  }
  uploads.onChange(() => {
    const badgeHost = document.querySelector('.nav a[href="#/upload"]');
    if (!badgeHost) return;
    badgeHost.querySelector(".badge")?.remove();
    const count = uploads.activeCount();
    if (count) badgeHost.append(h("span", { class: "badge", "aria-label": "uploads running" }, String(count)));
  });
  window.addEventListener("hashchange", () => render().then(() => document.getElementById("main")?.focus({ preventScroll: true })));
  await render();
}

start();
