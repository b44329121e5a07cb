/*
 * The price chart: an SVG line of recent prices and a dashed forecast after them, drawn from
 * scratch (no charting library, nothing to download) at the width the page gives it.
 */

import { el, fmt, svg } from "./dom.js";

export const HISTORY_SHOWN = 120; // points of history drawn before the forecast

/** Ticks at 1, 2 or 5 times a power of ten, about `count` of them over [lo, hi]. */
function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const ratio = raw / power; // in [1, 10): round to the nearest of 1, 2, 5, 10 (geometrically)
  const step = power * (ratio >= 7.07 ? 10 : ratio >= 3.16 ? 5 : ratio >= 1.41 ? 2 : 1);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

/**
 * Draw into `box` the last `shownCount` prices of `history` and the `forecast` after them.
 *
 * x: one slot per time step (history then forecast); y: price, padded 5% each way. The
 * forecast line starts at the last observed price so that the step into the future is seen.
 * `dates` (same length as `history`, or null) label the x axis; without them the steps are
 * counted back from the last price (t0). The box gets `data-state` ("history" or "forecast"),
 * `data-points` (history points drawn) and an aria-label that says what the chart shows.
 */
export function drawChart(box, { history, dates, forecast }, shownCount = HISTORY_SHOWN) {
  const shown = history.slice(-shownCount);
  const shownDates = dates ? dates.slice(-shownCount) : null;
  const future = forecast || [];
  const width = Math.max(280, Math.round(box.clientWidth || 640));
  const height = Math.round(Math.min(340, Math.max(200, width * 0.5)));
  const m = { left: 60, right: 16, top: 14, bottom: 30 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;

  const values = [...shown, ...future];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.05;
  lo -= pad; hi += pad;
  const n = shown.length + future.length;
  const x = (i) => m.left + (n > 1 ? (i * w) / (n - 1) : w / 2);
  const y = (v) => m.top + h - ((v - lo) / (hi - lo)) * h;
  const path = (points) => points
    .map(([i, v], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");

  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`,
    "aria-hidden": "true", focusable: "false" });
  const grid = svg("g", { class: "grid" });
  for (const t of niceTicks(lo, hi, 4)) {
    grid.append(svg("line", { x1: m.left, x2: width - m.right, y1: y(t), y2: y(t) }));
    const label = svg("text", { x: m.left - 6, y: y(t), "text-anchor": "end",
      "dominant-baseline": "middle" });
    label.textContent = fmt(t);
    grid.append(label);
  }
  root.append(grid);

  const axis = svg("g", { class: "axis" });
  const xLabel = (i, s, anchor) => {
    const t = svg("text", { x: x(i), y: height - 8, "text-anchor": anchor });
    t.textContent = s;
    axis.append(t);
  };
  // Dates when the series has them, else step numbers counted back from the last price.
  const nameOf = (i) => (shownDates ? shownDates[i] : `t${i - shown.length + 1}`);
  xLabel(0, nameOf(0), "start");
  if (shown.length > 1) xLabel(shown.length - 1, nameOf(shown.length - 1), "end");
  if (future.length) {
    axis.append(svg("line", { class: "now", x1: x(shown.length - 1), x2: x(shown.length - 1),
      y1: m.top, y2: m.top + h }));
  }
  root.append(axis);

  root.append(svg("path", { class: "line-history", d: path(shown.map((v, i) => [i, v])) }));
  if (future.length) {
    const last = shown.length - 1;
    const points = [[last, shown[last]], ...future.map((v, k) => [last + 1 + k, v])];
    root.append(svg("path", { class: "line-forecast", d: path(points) }));
    for (const [i, v] of points.slice(1)) {
      root.append(svg("circle", { class: "point-forecast", cx: x(i), cy: y(v), r: 4 }));
    }
    // The last forecast value, written beside its point (inside the plot, left of it).
    const [li, lv] = points[points.length - 1];
    const above = y(lv) > m.top + 18;
    const label = svg("text", { class: "forecast-label", x: x(li) - 8,
      y: above ? y(lv) - 8 : y(lv) + 16, "text-anchor": "end" });
    label.textContent = `${fmt(lv)} (+${future.length})`;
    root.append(label);
  }
  box.replaceChildren(root);
  box.dataset.state = future.length ? "forecast" : "history";
  box.dataset.points = String(shown.length);
  const first = shownDates ? ` from ${shownDates[0]} to ${shownDates[shownDates.length - 1]}` : "";
  const of = shown.length < history.length ? `the last ${shown.length} of ${history.length}` : String(shown.length);
  box.setAttribute("aria-label", `Chart of ${of} prices${first}, last ${fmt(shown[shown.length - 1])}`
    + (future.length ? `, and a forecast of ${future.map(fmt).join(", ")}.` : "."));
}

/** An empty chart that says what to do, until there are prices to draw. */
export function clearChart(box, message) {
  box.replaceChildren(el("p", { class: "chart-empty", text: message }));
  box.dataset.state = "empty";
  box.dataset.points = "0";
  box.setAttribute("aria-label", message);
}
