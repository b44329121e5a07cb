/*
 * keras-rnn predictors: the web page's entry point.
 *
 * Plain browser JavaScript modules: no framework, no build step, no network beyond the service
 * that served this page. The page calls only the service's public JSON endpoints
 * (docs/architecture.md, "The service's task endpoints"); every error they return is shown
 * where it happened. Modules, one job each:
 *   js/http.js    calling endpoints; errors as readable messages
 *   js/dom.js     element helpers, number formatting
 *   js/cards.js   model cards: badges, metrics against baselines
 *   js/text.js    suggestions as you type, append, generate
 *   js/chart.js   the SVG price chart
 *   js/stock.js   bundled or pasted prices, forecast
 *   js/models.js  the models panel
 *   js/auth.js    the API key form (only when the service asks for a key)
 */

import { initAuth } from "./js/auth.js";
import { loadCard } from "./js/cards.js";
import { $ } from "./js/dom.js";
import { refreshModels } from "./js/models.js";
import { initStock, onStockCard } from "./js/stock.js";
import { initText, onTextCard } from "./js/text.js";

/** Cards first (they say which version serves), then the versions table. */
async function refreshAll() {
  await Promise.all([
    loadCard("text", $("text-model"), onTextCard),
    loadCard("stock", $("stock-model"), onStockCard),
  ]);
  await refreshModels(refreshAll);
}

// A key was entered or forgotten: start over, so every panel loads with (or without) it.
initAuth(() => window.location.reload());
initText();
initStock();
$("models-refresh").addEventListener("click", refreshAll);
refreshAll();
