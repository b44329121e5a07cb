/*
 * The stock section: the bundled series or pasted prices, POST /v1/stock/forecast, the chart,
 * and the model card's metrics against the baselines.
 */

import { describeData, renderMetrics } from "./cards.js";
import { clearChart, drawChart } from "./chart.js";
import { $, fmt } from "./dom.js";
import { api, clearError, ENDPOINTS, InputError, showError } from "./http.js";

const stock = {
  sample: null, // GET /v1/stock/sample: {name, dates, prices}
  lastDrawn: null, // what the chart shows, redrawn when its width changes
  error: $("stock-error"),
};

function draw(series) {
  drawChart($("chart"), series);
  stock.lastDrawn = series;
}

function clear(message) {
  clearChart($("chart"), message);
  stock.lastDrawn = null;
}

/** Parse pasted prices; an InputError names the first value that is not a number. */
export function parsePrices(raw) {
  const tokens = raw.split(/[\s,;]+/).filter(Boolean);
  return tokens.map((token, i) => {
    const value = Number(token);
    if (!Number.isFinite(value)) {
      throw new InputError(
        `Price ${i + 1} is "${token}", which is not a number. Paste numbers such as 101.2, 102.5.`);
    }
    return value;
  });
}

function source() {
  return document.querySelector('input[name="source"]:checked').value;
}

function currentHistory() {
  if (source() === "sample") {
    if (!stock.sample) throw new InputError("The bundled price series is not loaded yet.");
    return { prices: stock.sample.prices, dates: stock.sample.dates || null };
  }
  return { prices: parsePrices($("prices-input").value), dates: null };
}

async function forecast(event) {
  event.preventDefault();
  clearError(stock.error);
  $("forecast-summary").textContent = "";
  let history;
  try {
    history = currentHistory();
  } catch (err) {
    showError(stock.error, err);
    if (source() === "paste") $("prices-input").focus();
    return;
  }
  const button = $("forecast-button");
  button.disabled = true;
  try {
    const data = await api(ENDPOINTS.forecast, { body: { prices: history.prices, version: null } });
    draw({ history: history.prices, dates: history.dates, forecast: data.forecast });
    const last = history.prices[history.prices.length - 1];
    const next = data.forecast[0];
    const pct = last ? (100 * (next - last)) / last : NaN;
    const change = Number.isFinite(pct)
      ? ` (${pct >= 0 ? "+" : ""}${pct.toFixed(2)}% vs ${fmt(last)})` : "";
    $("forecast-summary").textContent =
      `${data.model} v${data.version}, next ${data.horizon} step${data.horizon === 1 ? "" : "s"}: `
      + `${data.forecast.map(fmt).join(", ")}${change}`;
  } catch (err) {
    showError(stock.error, err);
  } finally {
    button.disabled = false;
  }
}

async function loadSample() {
  try {
    stock.sample = await api(ENDPOINTS.sample);
    $("sample-name").textContent = stock.sample.name ? `(${stock.sample.name})` : "";
    if (source() === "sample") {
      draw({ history: stock.sample.prices, dates: stock.sample.dates, forecast: [] });
    }
  } catch (err) {
    if (source() === "sample") clear("The bundled price series is not available.");
    showError(stock.error, err);
  }
}

function onSourceChange() {
  const paste = source() === "paste";
  $("paste-area").hidden = !paste;
  clearError(stock.error);
  $("forecast-summary").textContent = "";
  if (paste) {
    clear("Paste prices above, then press Forecast.");
    $("prices-input").focus();
  } else if (stock.sample) {
    draw({ history: stock.sample.prices, dates: stock.sample.dates, forecast: [] });
  }
}

export function onStockCard(card) {
  renderMetrics($("stock-metrics"), card);
  $("stock-data").textContent = describeData(card);
}

export function initStock() {
  for (const radio of document.querySelectorAll('input[name="source"]')) {
    radio.addEventListener("change", onSourceChange);
  }
  $("forecast-form").addEventListener("submit", forecast);
  let resizeTimer = 0;
  new ResizeObserver(() => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => stock.lastDrawn && draw(stock.lastDrawn), 100);
  }).observe($("chart"));
  clear("Loading the bundled price series…");
  loadSample();
}
