// Uploads with tus-js-client: resumable through network cuts (retries) and page reloads (the tus fingerprint,
// kept in localStorage, finds the upload again when the same file is chosen once more).
// A folder becomes one artifact of several files, as `fabric upload <dir>` makes it: a draft, one tus upload per
// file (metadata `artifact` and `path`), then seal. Its files resume through network cuts, and through a reload:
// localStorage remembers the folder (by its name and its files' paths, sizes and times) with its draft and the
// files already done; dropped again, the folder goes on in the same draft, the done files are skipped, and the
// unfinished ones resume through their tus fingerprints (which name the draft and the path, so a file of one
// folder never resumes into another, nor into a loose upload of the same name).
import * as tus from "tus-js-client";
import { enc, listingTotals, request, session } from "./api.js";

const ENDPOINT = "/v1/uploads";
const PARALLEL = 3;
const RETRY_DELAYS = [0, 500, 1000, 2000, 3000, 5000, 8000, 10000, 15000, 20000];

const FOLDERS_KEY = "datafabric.folders";

let nextId = 1;
const listeners = new Set();

// A short, stable name for a string (53-bit FNV-style hash; localStorage keys only, not a security measure).
function digest(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

// The same folder dropped again: the same user, name, and files (paths, sizes, modification times).
function folderKey(name, files) {
  const listing = files.map(({ file, path }) => `${path}\u0000${file.size}\u0000${file.lastModified}`).sort();
  return `folder-${digest([session.me?.email || "", name, ...listing].join("\u0001"))}`;
}

// Folders whose upload has not finished: key -> {urn, name, files, done: [paths], at}.
const folderMemory = {
  all() {
    try {
      return JSON.parse(localStorage.getItem(FOLDERS_KEY) || "{}");
    } catch {
      return {};
    }
  },
  save(all) {
    try {
      localStorage.setItem(FOLDERS_KEY, JSON.stringify(all));
    } catch {
      // no usable storage: the folder starts afresh after a reload, as before
    }
  },
  get(key) {
    return this.all()[key] || null;
  },
  put(key, record) {
    this.save({ ...this.all(), [key]: record });
  },
  markDone(key, path) {
    const all = this.all();
    if (all[key] && !all[key].done.includes(path)) all[key].done.push(path);
    this.save(all);
  },
  drop(key) {
    const all = this.all();
    delete all[key];
    this.save(all);
  },
};

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
    this.key = null; // its entry in `folderMemory`
    this.skipped = 0; // files already uploaded before a reload
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
    this.skipped = false; // done before a reload: not uploaded again
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

  // `files` are [{file, path}], `path` relative to the folder. One draft artifact named after the folder; the
  // same folder dropped again (after a reload) goes on in its draft while that is still a draft.
  async addFolder(name, files, options = {}) {
    const folder = new Folder(name, options);
    folder.key = folderKey(name, files);
    this.folders.unshift(folder);
    emit();
    let done = new Set();
    const remembered = folderMemory.get(folder.key);
    if (remembered) {
      try {
        const draft = await request(`/v1/artifacts/${enc(remembered.urn)}`);
        if (draft.status === "draft") {
          folder.urn = remembered.urn;
          done = new Set(remembered.done);
        }
      } catch {
        // deleted, or not ours: start afresh
      }
      if (!folder.urn) folderMemory.drop(folder.key);
    }
    if (!folder.urn) {
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
      folderMemory.put(folder.key, { urn: folder.urn, name, files: files.length, done: [], at: Date.now() });
    }
    folder.status = "uploading";
    folder.entries = files.map(({ file, path }) => new Entry(file, options, folder, path));
    for (const entry of folder.entries) {
      if (!done.has(entry.path)) continue;
      entry.status = "done";
      entry.skipped = true;
      entry.sent = entry.size;
      folder.skipped += 1;
    }
    this.entries.unshift(...folder.entries.slice().reverse());
    this.pump();
    emit();
    this.settle(folder); // every file may be done already
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
      folderMemory.drop(folder.key);
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
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // A folder's file belongs to its draft: its fingerprint names the draft and the path.
      ...(entry.folder ? { fingerprint: async (file) => ["datafabric-folder", entry.folder.urn, entry.path, file.size, file.lastModified].join(":") } : {}),
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
        listingTotals.clear(); // a new artifact: listings count again
        entry.status = "done";
        entry.sent = entry.size;
        if (entry.folder) folderMemory.markDone(entry.folder.key, entry.path);
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
      const previous = await upload.findPreviousUploads();
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
      // a folder's files are listed as their folder (`unfinishedFolders`)
      return stored.filter((s) => s.uploadUrl && s.metadata && !s.metadata.artifact && !running.has(s.metadata.filename));
    } catch {
      return [];
    }
  },

  async forget(stored) {
    await tus.defaultOptions.urlStorage.removeUpload(stored.urlStorageKey);
  },

  // Folders left unfinished (by a reload) that this tab is not uploading: [{key, urn, name, files, done}].
  unfinishedFolders() {
    const here = new Set(this.folders.map((f) => f.key));
    return Object.entries(folderMemory.all())
      .filter(([key]) => !here.has(key))
      .map(([key, record]) => ({ key, ...record }));
  },

  // Forget an unfinished folder and its files' fingerprints (its draft stays on the server, for its owner to delete).
  async forgetFolder(record) {
    folderMemory.drop(record.key);
    try {
      const stored = await tus.defaultOptions.urlStorage.findAllUploads();
      for (const s of stored) if (s.metadata?.artifact === record.urn) await this.forget(s);
    } catch {
      // no usable storage
    }
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
