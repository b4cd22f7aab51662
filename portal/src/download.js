// Downloads stream straight to disk: the portal asks the API (with its token) for a short-lived link to one
// artifact's blob, file or archive, and lets the browser follow it. The server answers with an attachment, so
// the browser saves the bytes as they arrive; the page never holds the file.
import { enc, request } from "./api.js";
import { toast } from "./dom.js";

export function downloadArtifact(artifact, button) {
  return download(artifact.urn, {}, button);
}

// `target` is {} (the blob), {path} (one file) or {format: "tar" | "zip"} (every file).
export async function download(urn, target, button) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = "Preparing…";
  try {
    const link = await request(`/v1/artifacts/${enc(urn)}/download-links`, { method: "POST", body: target });
    const anchor = document.createElement("a");
    anchor.href = link.url;
    anchor.download = ""; // the server's Content-Disposition names the file
    anchor.rel = "noreferrer";
    anchor.hidden = true;
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    toast("Download started: your browser saves the file as it arrives");
  } catch (error) {
    toast(`Download failed: ${error.message}`, "error");
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}
