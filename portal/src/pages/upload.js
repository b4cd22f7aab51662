// Upload by drag and drop (files or a folder) or by choosing; several at once, with progress, rate and time left.
import { enc } from "../api.js";
import { ICONS, bytes, duration, field, h, icon, replace } from "../dom.js";
import { uploads } from "../uploads.js";

// Every file under a dropped entry, with its path relative to the dropped folder.
async function filesOfEntry(entry, prefix = "") {
  if (entry.isFile) return [{ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path: `${prefix}${entry.name}` }];
  if (!entry.isDirectory) return [];
  return (await Promise.all((await readAll(entry)).map((child) => filesOfEntry(child, `${prefix}${entry.name}/`)))).flat();
}

// What was dropped: loose files, and folders (each {name, files: [{file, path}]}, paths inside the folder).
async function dropped(dataTransfer) {
  const entries = [...(dataTransfer.items || [])].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  if (!entries.some((e) => e.isDirectory)) return { files: [...dataTransfer.files], folders: [] };
  const files = [];
  const folders = [];
  for (const entry of entries) {
    if (entry.isFile) files.push((await filesOfEntry(entry))[0].file);
    else if (entry.isDirectory) {
      const inside = (await Promise.all((await readAll(entry)).map((child) => filesOfEntry(child)))).flat();
      folders.push({ name: entry.name, files: inside });
    }
  }
  return { files, folders };
}

async function readAll(directory) {
  const reader = directory.createReader();
  const children = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return children;
    children.push(...batch);
  }
}

// "Choose a folder" gives files whose webkitRelativePath starts with the folder's name.
function chosenFolders(fileList) {
  const byName = new Map();
  for (const file of fileList) {
    const [name, ...rest] = (file.webkitRelativePath || file.name).split("/");
    if (!byName.has(name)) byName.set(name, []);
    byName.get(name).push({ file, path: rest.join("/") || file.name });
  }
  return [...byName].map(([name, files]) => ({ name, files }));
}

function folderRow(folder) {
  const percent = folder.size ? Math.floor((100 * folder.sent) / folder.size) : folder.status === "done" ? 100 : 0;
  const stateText = { creating: "Starting", uploading: "Uploading", sealing: "Sealing", done: "Done", error: "Stopped", cancelled: "Cancelled" }[folder.status];
  const count = folder.entries.filter((e) => e.status !== "cancelled").length;
  const skipped = folder.skipped ? ` · ${folder.skipped} already uploaded before` : "";
  const detail = folder.status === "error" ? folder.error : `${count} file${count === 1 ? "" : "s"} · ${bytes(folder.size)} · one artifact${skipped}`;
  const actions = [];
  if (folder.status === "uploading") actions.push(h("button", { type: "button", class: "btn btn-danger-ghost", "aria-label": `Cancel folder ${folder.name}`, onClick: () => uploads.cancelFolder(folder) }, "Cancel"));
  if (folder.status === "done") actions.push(h("a", { class: "btn btn-secondary", href: `#/artifacts/${enc(folder.urn)}` }, "Open"));
  const pill = folder.status === "done" ? "ready" : folder.status === "error" || folder.status === "cancelled" ? "abandoned" : "pending";
  return h(
    "li",
    { class: `upload upload-folder upload-${folder.status}`, "data-folder": folder.name },
    h("div", { class: "upload-top" }, h("span", { class: "upload-name break" }, h("span", { class: "type" }, "folder"), " ", folder.name), h("span", { class: `pill pill-${pill}` }, stateText)),
    h("progress", { max: 100, value: percent, "aria-label": `${folder.name} progress` }, `${percent} %`),
    h("div", { class: "upload-bottom" }, h("span", { class: "subtle upload-detail" }, `${percent} % · ${detail}`), h("span", { class: "actions" }, actions)),
  );
}

function progressRow(entry) {
  const percent = entry.size ? Math.floor((100 * entry.sent) / entry.size) : entry.status === "done" ? 100 : 0;
  const stateText = {
    queued: "Waiting",
    uploading: entry.resumed ? "Resuming" : "Uploading",
    done: "Done",
    error: "Stopped",
    cancelled: "Cancelled",
  }[entry.status];
  const detail =
    entry.status === "uploading"
      ? `${bytes(entry.sent)} of ${bytes(entry.size)} · ${entry.rate ? `${bytes(entry.rate)}/s · ${duration(entry.eta)} left` : "starting…"}`
      : entry.status === "done"
        ? `${bytes(entry.size)} uploaded${entry.skipped ? " before" : entry.resumed ? ", resumed" : ""}`
        : entry.status === "error"
          ? entry.error
          : `${bytes(entry.size)}`;
  const actions = [];
  if (entry.status === "uploading" || entry.status === "queued") actions.push(h("button", { type: "button", class: "btn btn-danger-ghost", "aria-label": `Cancel ${entry.name}`, onClick: () => uploads.cancel(entry) }, "Cancel"));
  if (entry.status === "error") actions.push(h("button", { type: "button", class: "btn btn-secondary", onClick: () => uploads.retry(entry) }, "Retry"));
  if (entry.status === "done" && entry.urn && !entry.folder) actions.push(h("a", { class: "btn btn-secondary", href: `#/artifacts/${enc(entry.urn)}` }, "Open"));
  return h(
    "li",
    { class: `upload upload-${entry.status}${entry.folder ? " upload-in-folder" : ""}`, "data-upload": entry.name },
    h("div", { class: "upload-top" }, h("span", { class: "upload-name break" }, entry.name), h("span", { class: `pill pill-${entry.status === "done" ? "ready" : entry.status === "error" || entry.status === "cancelled" ? "abandoned" : "pending"}` }, stateText)),
    h("progress", { max: 100, value: percent, "aria-label": `${entry.name} progress` }, `${percent} %`),
    h("div", { class: "upload-bottom" }, h("span", { class: "subtle upload-detail" }, `${percent} % · ${detail}`), h("span", { class: "actions" }, actions)),
  );
}

export async function uploadPage({ main }) {
  document.title = "Upload · datafabric";
  const collection = h("input", { type: "text", name: "collection", placeholder: "optional, e.g. climate", autocomplete: "off" });
  const open = h("input", { type: "checkbox", name: "open", id: "upload-open" });
  const filesInput = h("input", { type: "file", multiple: true, class: "sr-only", id: "file-input" });
  const folderInput = h("input", { type: "file", multiple: true, webkitdirectory: true, class: "sr-only", id: "folder-input" });
  const options = () => ({ collection: collection.value.trim(), open: open.checked });
  const start = (files, folders = []) => {
    if (files.length) uploads.add(files, options());
    for (const folder of folders) if (folder.files.length) uploads.addFolder(folder.name, folder.files, options());
  };
  filesInput.addEventListener("change", () => {
    start([...filesInput.files]);
    filesInput.value = "";
  });
  folderInput.addEventListener("change", () => {
    start([], chosenFolders([...folderInput.files]));
    folderInput.value = "";
  });
  const zone = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("div", { class: "dropzone-icon", "aria-hidden": "true" }, icon(ICONS.upload, 44)),
    h("p", { class: "dropzone-title" }, "Drop files or a folder here"),
    h("p", { class: "subtle" }, "Each file becomes an artifact; a folder becomes one artifact of all its files. Uploads resume where they stopped after a network cut, and after a reload when you choose the same file or folder again."),
    h("div", { class: "actions center" }, h("label", { for: "file-input", class: "btn btn-primary", tabindex: "0", role: "button" }, "Choose files"), h("label", { for: "folder-input", class: "btn btn-secondary", tabindex: "0", role: "button" }, "Choose a folder")),
    filesInput,
    folderInput,
  );
  for (const label of zone.querySelectorAll("label[role=button]")) {
    label.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        document.getElementById(label.getAttribute("for")).click();
      }
    });
  }
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", async (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    const { files, folders } = await dropped(event.dataTransfer);
    start(files, folders);
  });

  const list = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const unfinished = h("div", {});
  const draw = () => {
    const loose = uploads.entries.filter((e) => !e.folder);
    replace(list, uploads.folders.map((folder) => [folderRow(folder), h("li", { class: "upload-files" }, h("ul", { class: "uploads", "aria-label": `Files of ${folder.name}` }, folder.entries.map(progressRow)))]), loose.map(progressRow));
    if (!uploads.entries.length && !uploads.folders.length) list.append(h("li", { class: "empty" }, "Nothing uploaded in this tab yet."));
  };
  const drawUnfinished = async () => {
    const stored = await uploads.unfinished();
    const folders = uploads.unfinishedFolders();
    if (!stored.length && !folders.length) {
      unfinished.replaceChildren();
      return;
    }
    const forget = async () => {
      for (const s of stored) await uploads.forget(s);
      for (const f of folders) await uploads.forgetFolder(f);
      drawUnfinished();
    };
    replace(
      unfinished,
      h(
        "div",
        { class: "alert alert-info", role: "status" },
        h("strong", {}, "Unfinished uploads. "),
        stored.length ? ["Choose or drop the same file again and it goes on from where it stopped: ", stored.map((s, index) => [index ? ", " : "", h("span", { class: "mono" }, s.metadata.filename), h("span", { class: "subtle" }, ` (${bytes(s.size)})`)]), ". "] : null,
        folders.length ? ["Drop the same folder again and it goes on, skipping the files already uploaded: ", folders.map((f, index) => [index ? ", " : "", h("span", { class: "mono" }, `${f.name}/`), h("span", { class: "subtle" }, ` (${f.done.length} of ${f.files} files done)`)]), ". "] : null,
        h("button", { type: "button", class: "btn btn-link", onClick: forget }, "Forget them"),
      ),
    );
  };
  replace(
    main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Upload"), h("p", { class: "lead" }, "Every file becomes an artifact with its own URN, checksum and provenance."))),
    unfinished,
    h(
      "div",
      { class: "grid grid-upload" },
      h("section", { class: "card", "aria-label": "Choose what to upload" }, zone),
      h("section", { class: "card", "aria-labelledby": "options-title" }, h("h2", { id: "options-title" }, "Options"), field("Collection", collection, "The new artifacts join this collection."), h("label", { class: "switch", for: "upload-open" }, open, h("span", {}, "Anyone with a token may read them (open policy)"))),
    ),
    h("section", { class: "card", "aria-labelledby": "uploads-title" }, h("h2", { id: "uploads-title" }, "Uploads"), list),
  );
  draw();
  drawUnfinished();
  let scheduled = false;
  let statuses = "";
  const off = uploads.onChange(() => {
    if (!document.body.contains(list)) {
      off();
      return;
    }
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      draw();
      const now = uploads.entries.map((e) => e.status).join();
      if (now !== statuses) {
        statuses = now;
        drawUnfinished();
      }
    });
  });
}
