/* The models panel: every version the service knows, its state, and whether it is ready. */

import { cards } from "./cards.js";
import { $, el } from "./dom.js";
import { api, clearError, ENDPOINTS, showError } from "./http.js";

const MODELS_POLL_MS = 3000; // while some version is still loading
const models = { timer: 0 };
const SETTLED = new Set(["AVAILABLE", "FAILED", "END", "UNAVAILABLE"]);

/** One row per version (newest first), its load error on a row of its own; true if pending. */
function renderModels(data) {
  const body = $("models-table").querySelector("tbody");
  body.replaceChildren();
  const list = data.models || [];
  if (!list.length) {
    body.append(el("tr", {}, el("td", { colspan: "4", text: "No models are loaded." })));
  }
  let pending = false;
  for (const model of list) {
    const versions = [...(model.versions || [])].sort((a, b) => b.version - a.version);
    for (const v of versions) {
      if (!SETTLED.has(v.state)) pending = true;
      const serving = cards[model.name] && cards[model.name].version === v.version;
      const versionCell = el("td", { class: "num", text: String(v.version) });
      if (serving) versionCell.append(" ", el("span", { class: "tag", text: "serving" }));
      const row = el("tr", { "data-model": model.name, "data-version": String(v.version),
        class: v.ready ? "ready" : "not-ready" },
      el("th", { scope: "row", text: model.name }),
      versionCell, el("td", { text: v.state }),
      el("td", { class: "ready-cell", text: v.ready ? "✓ ready" : "✗ not ready" }));
      body.append(row);
      if (v.error) {
        // Full width under its version: load errors are long (paths, protobuf messages).
        body.append(el("tr", { class: "error-row", "data-error-for": `${model.name}/${v.version}` },
          el("td", { colspan: "4", class: "version-error", text: v.error })));
      }
    }
  }
  return pending;
}

/**
 * GET /v1/models into the table. While a version is still loading, `again` (which reloads the
 * cards too, since the serving version may change) is scheduled in MODELS_POLL_MS.
 */
export async function refreshModels(again) {
  clearTimeout(models.timer);
  const error = $("models-error");
  try {
    const data = await api(ENDPOINTS.models);
    clearError(error);
    if (renderModels(data)) models.timer = setTimeout(again, MODELS_POLL_MS);
  } catch (err) {
    showError(error, err);
  }
}
