// Uploads with tus-js-client: resumable through network cuts (retries) and page reloads (the tus fingerprint,
// kept in localStorage, finds the upload again when the same file is chosen once more).
// A folder becomes one artifact of several files, as `fabric upload <dir>` makes it: a draft, one tus upload per
// file (metadata `artifact` and `path`), then seal. Its files resume through network cuts; after a reload the
// folder is dropped again and makes a new draft (the old one, never sealed, stays a draft its owner may delete).
import * as tus from "tus-js-client";
import { enc, request, session } from "./api.js";

const ENDPOINT = "/v1/uploads";
const PARALLEL = 3;
const RETRY_DELAYS = [0, 500, 1000, 2000, 3000, 5000, 8000, 10000, 15000, 20000];

let nextId = 1;
const listeners = new Set();

function emit() {
  for (const listener of listeners) listener();
}

class Folder {
  constructor(name, options) {
    this.id = nextId++;
    this.name = name;
    this.options = options;
    this.urn = null;
    this.entries = [];
    this.status = "creating"; // creating, uploading, sealing, done, error, cancelled
    this.error = null;
  }

  get size() {
    return this.entries.reduce((sum, e) => sum + e.size, 0);
  }

  get sent() {
    return this.entries.reduce((sum, e) => sum + (e.status === "cancelled" ? 0 : e.sent), 0);
  }
}

class Entry {
  constructor(file, options, folder = null, path = null) {
    this.id = nextId++;
    this.file = file;
    this.folder = folder;
    this.path = path;
    this.name = folder ? `${folder.name}/${path}` : file.name;
    this.size = file.size;
    this.options = options;
    this.sent = 0;
    this.status = "queued";
    this.rate = 0;
    this.urn = null;
    this.error = null;
    this.resumed = false;
    this.upload = null;
    this._last = null;
  }

  get eta() {
    return this.rate > 0 ? (this.size - this.sent) / this.rate : Infinity;
  }
}

function metadataFor(entry) {
  const meta = { filename: entry.file.name, filetype: entry.file.type || "application/octet-stream" };
  if (entry.folder) return { ...meta, artifact: entry.folder.urn, path: entry.path }; // the draft holds the rest
  if (entry.options.collection) meta.collection = entry.options.collection;
  if (entry.options.open) meta.policy = "open";
  return meta;
}

export const uploads = {
  entries: [],
  folders: [],

  onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },

  activeCount() {
    return this.entries.filter((e) => e.status === "uploading" || e.status === "queued").length + this.folders.filter((f) => f.status === "creating" || f.status === "sealing").length;
  },

  // `files` are [{file, path}], `path` relative to the folder. One draft artifact named after the folder.
  async addFolder(name, files, options = {}) {
    const folder = new Folder(name, options);
    this.folders.unshift(folder);
    emit();
    try {
      const body = { name };
      if (options.collection) body.collection = options.collection;
      if (options.open) body.policy = "open";
      folder.urn = (await request("/v1/artifacts", { method: "POST", body })).urn;
    } catch (error) {
      folder.status = "error";
      folder.error = error.message;
      emit();
      return;
    }
    folder.status = "uploading";
    folder.entries = files.map(({ file, path }) => new Entry(file, options, folder, path));
    this.entries.unshift(...folder.entries.slice().reverse());
    this.pump();
    emit();
  },

  // Once no file of the folder is waiting or running: seal what arrived, or delete the draft if nothing did.
  async settle(folder) {
    if (!folder || folder.status !== "uploading") return;
    if (folder.entries.some((e) => e.status === "queued" || e.status === "uploading" || e.status === "error")) return;
    const arrived = folder.entries.some((e) => e.status === "done");
    folder.status = arrived ? "sealing" : "cancelled";
    emit();
    try {
      if (arrived) {
        await request(`/v1/artifacts/${enc(folder.urn)}/seal`, { method: "POST" });
        folder.status = "done";
      } else {
        await request(`/v1/artifacts/${enc(folder.urn)}`, { method: "DELETE" });
      }
    } catch (error) {
      folder.status = "error";
      folder.error = error.message;
    }
    emit();
  },

  add(files, options = {}) {
    for (const file of files) this.entries.unshift(new Entry(file, options));
    this.pump();
    emit();
  },

  pump() {
    const running = this.entries.filter((e) => e.status === "uploading").length;
    const waiting = this.entries.filter((e) => e.status === "queued").reverse();
    for (const entry of waiting.slice(0, Math.max(0, PARALLEL - running))) this.start(entry);
  },

  async start(entry) {
    entry.status = "uploading";
    const upload = new tus.Upload(entry.file, {
      endpoint: ENDPOINT,
      retryDelays: RETRY_DELAYS,
      metadata: metadataFor(entry),
      storeFingerprintForResuming: !entry.folder, // a folder's file belongs to its draft: never resumed into another
      removeFingerprintOnSuccess: true,
      onBeforeRequest(req) {
        if (session.token) req.setHeader("Authorization", `Bearer ${session.token}`);
      },
      onAfterResponse(req, res) {
        const urn = res.getHeader("Artifact-Urn");
        if (urn) entry.urn = urn;
      },
      onProgress(sent) {
        const now = performance.now();
        if (entry._last) {
          const seconds = (now - entry._last.time) / 1000;
          if (seconds > 0.25) {
            const instant = Math.max(0, sent - entry._last.sent) / seconds;
            entry.rate = entry.rate ? 0.7 * entry.rate + 0.3 * instant : instant;
            entry._last = { time: now, sent };
          }
        } else {
          entry._last = { time: now, sent };
        }
        entry.sent = sent;
        emit();
      },
      onSuccess() {
        entry.status = "done";
        entry.sent = entry.size;
        uploads.pump();
        uploads.settle(entry.folder);
        emit();
      },
      onError(error) {
        entry.status = "error";
        entry.error = humanError(error);
        uploads.pump();
        emit();
      },
    });
    entry.upload = upload;
    try {
      const previous = entry.folder ? [] : await upload.findPreviousUploads();
      if (previous.length) {
        upload.resumeFromPreviousUpload(previous[0]);
        entry.resumed = true;
      }
    } catch {
      // no usable storage: start afresh
    }
    upload.start();
    emit();
  },

  async cancel(entry) {
    if (entry.status === "done") return;
    entry.status = "cancelled";
    emit();
    try {
      await entry.upload?.abort(true); // terminate on the server and forget the fingerprint
    } catch {
      // the server may already have dropped it
    }
    this.pump();
    this.settle(entry.folder);
    emit();
  },

  cancelFolder(folder) {
    for (const entry of folder.entries) if (entry.status !== "done") this.cancel(entry);
  },

  retry(entry) {
    entry.status = "queued";
    entry.error = null;
    this.pump();
    emit();
  },

  abortAll() {
    for (const entry of this.entries) if (entry.status === "uploading") entry.upload?.abort(false);
    this.entries = [];
    this.folders = [];
    emit();
  },

  async unfinished() {
    try {
      const stored = await tus.defaultOptions.urlStorage.findAllUploads();
      const running = new Set(this.entries.filter((e) => e.status !== "done").map((e) => e.name));
      return stored.filter((s) => s.uploadUrl && s.metadata && !running.has(s.metadata.filename));
    } catch {
      return [];
    }
  },

  async forget(stored) {
    await tus.defaultOptions.urlStorage.removeUpload(stored.urlStorageKey);
  },
};

function humanError(error) {
  const res = error.originalResponse;
  if (res) {
    try {
      const problem = JSON.parse(res.getBody());
      return problem.detail || problem.title || `HTTP ${res.getStatus()}`;
    } catch {
      return `The server answered ${res.getStatus()}`;
    }
  }
  return "The connection failed and retries ran out; press Retry to go on from where it stopped.";
}

window.addEventListener("beforeunload", (event) => {
  if (uploads.activeCount()) {
    event.preventDefault();
  }
});
