/*
 * The API key form: shown when the service answers 401 (SERVING_API_KEY is set), hidden
 * otherwise. The key is kept in sessionStorage only (js/http.js), so it is forgotten when
 * the tab closes and never written to disk by the page or put in a URL.
 */

import { $ } from "./dom.js";
import { apiKey, onAuthNeeded, setApiKey } from "./http.js";

/** Show the form with the service's message; focus it the first time it appears. */
function ask(message, hadKey) {
  const form = $("key-form");
  $("key-message").textContent = hadKey
    ? `${message} Enter the key again.` : message;
  if (form.hidden) {
    form.hidden = false;
    $("api-key").focus();
  }
}

/** Wire the form; `onKey()` runs after a key is entered or forgotten (reload what failed). */
export function initAuth(onKey) {
  onAuthNeeded(ask);
  const form = $("key-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("api-key");
    const key = input.value.trim();
    if (!key) {
      $("key-message").textContent = "Type the API key first.";
      input.focus();
      return;
    }
    setApiKey(key);
    input.value = "";
    form.hidden = true;
    $("key-forget").hidden = false;
    onKey();
  });
  $("key-forget").addEventListener("click", () => {
    setApiKey("");
    $("key-forget").hidden = true;
    onKey();
  });
  $("key-forget").hidden = !apiKey();
}
