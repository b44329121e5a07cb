/*
 * The text section: next-token suggestions as you type (POST /v1/text/next), click or Enter to
 * append one, and generation with a temperature (POST /v1/text/generate).
 */

import { cards, describeData, renderMetrics } from "./cards.js";
import { $, el } from "./dom.js";
import { api, clearError, ENDPOINTS, InputError, showError } from "./http.js";

const FIRST_EXAMPLE = "let's meet at "; // the curriculum's example (docs: curriculum.md, 7)
const SUGGESTION_COUNT = 5;
const DEBOUNCE_MS = 250; // wait for a pause in typing before asking

const text = {
  input: $("text-input"),
  list: $("suggestions"),
  error: $("text-error"),
  timer: 0,
  controller: null,
  seq: 0,
};

/** What the user sees for a token: whitespace made visible (char-level models). */
function visibleToken(token) {
  if (token === "") return "∅";
  if (token === " ") return "␣";
  if (token === "\n") return "↵";
  if (token === "\t") return "⇥";
  return token;
}

function isWordLevel(token) {
  const level = cards.text && cards.text.level;
  if (level) return level === "word";
  return [...token].length > 1;
}

/** Append a suggested token: words get a space before (if needed) and after. */
function appendToken(token) {
  let value = text.input.value;
  if (isWordLevel(token)) {
    if (value && !/\s$/.test(value)) value += " ";
    value += `${token} `;
  } else {
    value += token;
  }
  text.input.value = value;
  text.input.focus();
  text.input.setSelectionRange(value.length, value.length);
  requestSuggestions();
}

function renderSuggestions(suggestions) {
  text.list.replaceChildren();
  if (!suggestions.length) {
    text.list.append(el("li", { class: "empty", text: "No suggestions." }));
    return;
  }
  for (const { token, probability } of suggestions) {
    const pct = `${(100 * probability).toFixed(1)}%`;
    const fill = el("span", { class: "bar-fill" });
    fill.style.width = `${Math.max(0, Math.min(1, probability)) * 100}%`;
    const button = el("button", {
      type: "button",
      class: "suggestion",
      "data-token": token,
      "aria-label": `Append "${token}", probability ${pct}`,
    },
    el("span", { class: "token", text: visibleToken(token) }),
    el("span", { class: "bar", "aria-hidden": "true" }, fill),
    el("span", { class: "prob", text: pct }));
    button.addEventListener("click", () => appendToken(token));
    text.list.append(el("li", {}, button));
  }
}

/** Ask for the next tokens now; answers to older requests are dropped. */
async function requestSuggestions() {
  clearTimeout(text.timer);
  if (text.controller) text.controller.abort();
  const controller = new AbortController();
  text.controller = controller;
  const seq = ++text.seq;
  text.list.setAttribute("aria-busy", "true");
  try {
    const data = await api(ENDPOINTS.next, {
      body: { text: text.input.value, k: SUGGESTION_COUNT },
      signal: controller.signal,
    });
    if (seq !== text.seq) return;
    clearError(text.error);
    renderSuggestions(data.suggestions || []);
  } catch (err) {
    if (err.name === "AbortError" || seq !== text.seq) return;
    text.list.replaceChildren();
    showError(text.error, err);
  } finally {
    if (seq === text.seq) text.list.setAttribute("aria-busy", "false");
  }
}

function scheduleSuggestions() {
  clearTimeout(text.timer);
  text.timer = setTimeout(requestSuggestions, DEBOUNCE_MS);
}

function renderExamples(card) {
  const box = $("text-examples");
  const list = box.querySelector("ul");
  const fromCard = (card.examples || [])
    .map((e) => (typeof e === "string" ? e : e && (e.text || e.prefix)))
    .filter((e) => typeof e === "string" && e);
  const examples = [FIRST_EXAMPLE, ...fromCard.filter((e) => e.trim() !== FIRST_EXAMPLE.trim())];
  list.replaceChildren();
  for (const example of examples.slice(0, 6)) {
    const b = el("button", { type: "button", class: "example", text: example.trim() || "(empty)" });
    b.addEventListener("click", () => {
      text.input.value = example;
      text.input.focus();
      requestSuggestions();
    });
    list.append(el("li", {}, b));
  }
  box.hidden = false;
}

export function onTextCard(card) {
  if (card.level === "char") {
    $("text-heading").textContent = "Next character";
    $("nav-text").textContent = "Next character";
  }
  renderExamples(card);
  renderMetrics($("text-metrics"), card);
  $("text-data").textContent = describeData(card);
  const max = Number(card.max_generate_tokens);
  if (Number.isInteger(max) && max > 0) {
    const input = $("max-tokens");
    input.max = String(max);
    if (Number(input.value) > max) input.value = String(max);
  }
}

/** The generate form's values, checked; an InputError names the field and the value. */
function generateRequest() {
  const maxInput = $("max-tokens");
  const max = Number(maxInput.max) || 200;
  const raw = maxInput.value.trim();
  const n = Number(raw);
  if (!raw || !Number.isInteger(n) || n < 1 || n > max) {
    throw new InputError(
      `Tokens to generate must be a whole number from 1 to ${max}; got "${raw}".`);
  }
  return {
    text: text.input.value,
    max_tokens: n,
    temperature: Number($("temperature").value),
    top_k: 0,
    seed: null,
  };
}

async function generate(event) {
  event.preventDefault();
  const error = $("generate-error");
  const button = $("generate-button");
  clearError(error);
  let body;
  try {
    body = generateRequest();
  } catch (err) {
    showError(error, err);
    $("max-tokens").focus();
    return;
  }
  button.disabled = true;
  button.textContent = "Generating…";
  try {
    const data = await api(ENDPOINTS.generate, { body });
    $("generated-prefix").textContent = data.text;
    $("generated-continuation").textContent = data.continuation;
    $("generated").hidden = false;
  } catch (err) {
    showError(error, err);
  } finally {
    button.disabled = false;
    button.textContent = "Generate";
  }
}

export function initText() {
  text.input.addEventListener("input", scheduleSuggestions);
  $("temperature").addEventListener("input", (e) => {
    $("temperature-value").textContent = Number(e.target.value).toFixed(1);
  });
  $("generate-form").addEventListener("submit", generate);
  $("use-generated").addEventListener("click", () => {
    text.input.value = $("generated-prefix").textContent
      + $("generated-continuation").textContent;
    text.input.focus();
    requestSuggestions();
  });
  requestSuggestions();
}
