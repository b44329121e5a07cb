/*
 * Calling the service's JSON endpoints, and showing their errors where they happened.
 *
 * Paths are relative to the page, so the service can sit behind a path prefix. A failed call
 * rejects with an ApiError whose message is the contract's `{"error": "..."}` when there is
 * one, and a sentence otherwise (unreachable service, a proxy's HTML error page).
 *
 * API key: when the service runs with SERVING_API_KEY, every call carries the key the user
 * typed (`Authorization: Bearer <key>`). The key lives in sessionStorage only (this tab,
 * gone when it closes); a 401 calls the handler set with onAuthNeeded (js/auth.js asks for it).
 */

const KEY_STORAGE = "keras-rnn.api-key";
let authNeeded = () => {};

/** The API key of this browser tab ("" when none was given). */
export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  } catch {
    return ""; // storage disabled: no key is kept
  }
}

/** Keep `key` for this tab only ("" forgets it). */
export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key cannot be kept
  }
}

/** `handler(message, hadKey)` runs on every 401 answer. */
export function onAuthNeeded(handler) {
  authNeeded = handler;
}

/** The task endpoints of docs/architecture.md ("The service's task endpoints"). */
export const ENDPOINTS = {
  next: "v1/text/next",
  generate: "v1/text/generate",
  forecast: "v1/stock/forecast",
  sample: "v1/stock/sample",
  models: "v1/models",
  card: (name) => `v1/models/${encodeURIComponent(name)}/card`,
};

/** An endpoint's answer that is not a success; `message` is the JSON `error` when given. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** A value the user typed that cannot be sent; the message names the field and the value. */
export class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = "InputError";
  }
}

/** The readable message of a failed response: the contract's `error`, else what we have. */
function errorMessage(data, response) {
  if (data && typeof data.error === "string" && data.error) return data.error;
  if (data && typeof data.detail === "string") return data.detail;
  if (data && Array.isArray(data.detail)) {
    return data.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return `The service answered ${response.status} ${response.statusText || ""}`.trim() + ".";
}

/**
 * Call a JSON endpoint. Resolves with the parsed body; rejects with ApiError (readable
 * message), or with the AbortError when `signal` aborted it.
 */
export async function api(path, { body, signal } = {}) {
  const init = { method: body === undefined ? "GET" : "POST", signal,
    headers: { Accept: "application/json" } };
  const key = apiKey();
  if (key) init.headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(`Could not reach the service (${err.message}). Is it running?`, 0);
  }
  const raw = await response.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = errorMessage(data, response);
    if (response.status === 401) authNeeded(message, Boolean(key));
    throw new ApiError(message, response.status);
  }
  if (data === null) {
    throw new ApiError(`${path} answered ${response.status} without a JSON body.`,
      response.status);
  }
  return data;
}

export function showError(el, err) {
  el.textContent = err instanceof Error ? err.message : String(err);
  el.hidden = false;
}

export function clearError(el) {
  el.textContent = "";
  el.hidden = true;
}
