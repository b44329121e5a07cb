/* Model cards (GET /v1/models/{name}/card): who the model is and how good, against baselines. */

import { el, fmt } from "./dom.js";
import { api, ENDPOINTS } from "./http.js";

/** name -> the serving version's model_card.json, as last loaded. */
export const cards = {};

// Metrics where a bigger number is better; for the rest (errors, cross-entropy) smaller is.
const HIGHER_IS_BETTER = /accuracy|r2|hit/i;

/** The split a metrics entry reports on: "test" first, else "validation", else the entry. */
function splitOf(entry) {
  if (!entry || typeof entry !== "object") return [null, {}];
  for (const split of ["test", "validation"]) {
    if (entry[split] && typeof entry[split] === "object") return [split, entry[split]];
  }
  return [null, entry];
}

/** The model's metrics and each baseline's ({column: {metric: number}}), rows and split. */
function metricColumns(card) {
  const numeric = (obj) => Object.fromEntries(Object.entries(obj || {})
    .filter(([, v]) => typeof v === "number" && Number.isFinite(v)));
  const [split, own] = splitOf(card.metrics);
  const columns = { model: numeric(own) };
  // One row per metric the model reports, including those whose value is null (a NaN
  // written as JSON): the row still shows the baselines, with "–" for the model.
  const rows = Object.entries(own).filter(([, v]) => typeof v === "number" || v === null)
    .map(([k]) => k);
  const baselines = card.baselines || {};
  const names = Object.keys(baselines).sort((a, b) =>
    (a === "persistence" ? -1 : b === "persistence" ? 1 : 0));
  for (const name of names) columns[name] = numeric(splitOf(baselines[name])[1]);
  return { split, columns, rows };
}

/**
 * Fill `table` with one row per metric of the model: the model's value, each baseline's,
 * and model ÷ persistence when there is a persistence baseline (< 1 beats it on errors).
 */
export function renderMetrics(table, card) {
  table.replaceChildren();
  const { split, columns, rows: metrics } = metricColumns(card);
  if (metrics.length === 0) {
    table.append(el("tbody", {}, el("tr", {}, el("td", { text: "The model card has no metrics." }))));
    return;
  }
  const unit = card.metrics && typeof card.metrics.unit === "string" ? `, ${card.metrics.unit}` : "";
  table.append(el("caption", { text: `${split ? `${split} split` : "metrics"}${unit}` }));
  const names = Object.keys(columns);
  const ratio = "persistence" in columns;
  const head = el("tr", {}, el("th", { scope: "col", text: "Metric" }));
  for (const n of names) {
    head.append(el("th", { scope: "col", class: "num",
      text: n === "model" ? `${card.name} v${card.version}` : n }));
  }
  if (ratio) head.append(el("th", { scope: "col", class: "num", text: "model ÷ persistence" }));
  const body = el("tbody");
  for (const m of metrics) {
    const row = el("tr", {}, el("th", { scope: "row", text: m }));
    for (const n of names) {
      const v = columns[n][m];
      row.append(el("td", { class: n === "model" ? "num model-col" : "num",
        text: v === undefined ? "–" : fmt(v) }));
    }
    if (ratio) {
      const p = columns.persistence[m];
      const r = p && m in columns.model ? columns.model[m] / p : undefined;
      const better = r !== undefined && (HIGHER_IS_BETTER.test(m) ? r > 1 : r < 1);
      row.append(el("td", { class: r === undefined ? "num" : better ? "num better" : "num worse",
        text: r === undefined ? "–" : `${r.toFixed(3)}×` }));
    }
    body.append(row);
  }
  table.append(el("thead", {}, head), body);
}

export function describeData(card) {
  const d = card.data || {};
  const text = (x) => typeof x === "string" && x;
  const parts = [d.name !== d.source && d.name, d.source, d.range, d.description].filter(text);
  const test = d.splits && text(d.splits.test) ? `; test period ${d.splits.test}` : "";
  return parts.length ? `Data: ${parts.join(", ")}${test}.` : "";
}

function describeModel(card) {
  const m = card.model || {};
  const parts = [`${card.name} v${card.version}`];
  if (card.level) parts.push(`${card.level}-level`);
  if (card.horizon !== undefined) parts.push(`horizon ${card.horizon}`);
  if (m.cell) parts.push(`${String(m.cell).toUpperCase()}${m.units ? ` ${m.units} units` : ""}`);
  return parts.join(" · ");
}

/** GET a model's card into `cards`, describe it in `badge`, then hand it to `onCard`. */
export async function loadCard(name, badge, onCard) {
  try {
    const card = await api(ENDPOINTS.card(name));
    cards[name] = card;
    badge.textContent = describeModel(card);
    badge.classList.remove("unavailable");
    onCard(card);
  } catch (err) {
    badge.textContent = `${name} model unavailable: ${err.message}`;
    badge.classList.add("unavailable");
  }
}
