// The portal speaks only the public HTTP API, with the bearer token the user signed in with.

const TOKEN_KEY = "datafabric.token";

export const session = {
  me: null,
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    session.me = null;
  },
};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
  }
}

// Totals of listings (`count=true` makes the server scan), kept for this page load: by the listing's path and
// filters (not its order), for a minute, and forgotten whenever this tab changes something.
const TOTAL_TTL_MS = 60_000;
const totals = new Map();
export const listingTotals = {
  get(key) {
    const hit = totals.get(key);
    return hit && performance.now() - hit.at < TOTAL_TTL_MS ? hit.total : undefined;
  },
  put(key, total) {
    totals.set(key, { total, at: performance.now() });
  },
  clear() {
    totals.clear();
  },
};

let onUnauthorized = () => {};

export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export function authHeaders() {
  const token = session.token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function request(path, { method = "GET", body, raw = false, quiet401 = false } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  if (method !== "GET") listingTotals.clear();
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { title: "The server cannot be reached", detail: String(error.message || error) });
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = {};
    }
    if (response.status === 401 && !quiet401) onUnauthorized();
    throw new ApiError(response.status, problem);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const enc = encodeURIComponent;

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}
