// Downloads need the bearer header, so they go through fetch; progress is shown while the bytes arrive.
import { authHeaders, enc } from "./api.js";
import { bytes, toast } from "./dom.js";

export function downloadArtifact(artifact, button) {
  return download(`/v1/artifacts/${enc(artifact.urn)}/blob`, artifact.name || artifact.urn.split(":").pop(), button, artifact.size, artifact.mime_type);
}

export async function download(url, filename, button, size = 0, mimeType = "application/octet-stream") {
  const label = button.textContent;
  button.disabled = true;
  try {
    const response = await fetch(url, { headers: authHeaders() });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.detail || `HTTP ${response.status}`);
    }
    const total = Number(response.headers.get("Content-Length")) || size || 0;
    const reader = response.body.getReader();
    const parts = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      received += value.length;
      button.textContent = total ? `Downloading ${Math.floor((100 * received) / total)} %` : `Downloading ${bytes(received)}`;
    }
    const objectUrl = URL.createObjectURL(new Blob(parts, { type: mimeType || "application/octet-stream" }));
    const link = document.createElement("a");
    link.href = objectUrl;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(objectUrl), 60_000);
    toast(`Downloaded ${filename} (${bytes(received)})`);
  } catch (error) {
    toast(`Download failed: ${error.message}`, "error");
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}
