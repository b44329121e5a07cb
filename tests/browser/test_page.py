"""The web page at ``/``, end to end: system Chromium against a real uvicorn serving tiny models.

The models are the contract fixtures of ``tests/fixtures/savedmodels.py``, whose answers are
known exactly (``expected_text_next``, ``expected_stock_forecast``), so every number the page
shows is checked against an independent reference, not just "something appeared".
"""

from __future__ import annotations

import re

import pytest

from tests.fixtures.savedmodels import (
    MAX_GENERATE_TOKENS,
    VOCAB,
    expected_stock_forecast,
    expected_text_next,
    stock_card,
)

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

FIRST_EXAMPLE = "let's meet at "
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥"}


def fmt(value: float) -> str:
    """The page's number format (app.js `fmt`): 4 significant digits, or 2 decimals >= 1000."""
    if abs(value) >= 1000:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{float(f'{value:.4g}')!r}".removesuffix(".0")


def expect_suggestions(page, prefix: str) -> None:
    """The suggestion list shows the model's top 5 for `prefix`: tokens, percentages, bars."""
    expected = expected_text_next(prefix, 5)
    buttons = page.locator("#suggestions button.suggestion")
    expect(page.locator("#suggestions .token")).to_have_text(
        [VISIBLE.get(t, t) for t, _ in expected]
    )
    expect(page.locator("#suggestions .prob")).to_have_text(
        [f"{100 * p:.1f}%" for _, p in expected]
    )
    assert [b.get_attribute("data-token") for b in buttons.all()] == [t for t, _ in expected]
    widths = page.locator("#suggestions .bar-fill").evaluate_all(
        "els => els.map(e => parseFloat(e.style.width))"
    )
    assert widths == pytest.approx([100 * p for _, p in expected], abs=1e-3)


def test_suggestions_update_as_you_type_and_append_on_click(page, page_watch, screenshot):
    box = page.get_by_label("Text", exact=True)
    expect(box).to_have_value(FIRST_EXAMPLE)  # the curriculum's example comes first
    expect(page.locator("#text-examples button").first).to_have_text(FIRST_EXAMPLE.strip())
    expect_suggestions(page, FIRST_EXAMPLE)
    screenshot(page, "text-suggestions")

    box.fill("")
    calls_before = len(page_watch.api_calls)
    typed = "abcab"
    box.press_sequentially(typed, delay=20)
    expect_suggestions(page, typed)
    next_calls = [c for c in page_watch.api_calls[calls_before:] if c.endswith("/v1/text/next")]
    assert 1 <= len(next_calls) < len(typed), f"not debounced: {next_calls}"

    first = page.locator("#suggestions button.suggestion").first
    token = first.get_attribute("data-token")
    first.click()  # char-level model: the token is appended as is
    expect(box).to_have_value(typed + token)
    expect_suggestions(page, typed + token)
    expect(box).to_be_focused()

    # Keyboard: from the text box, Tab reaches the first suggestion and Enter appends it.
    page.keyboard.press("Tab")
    focused = page.locator("#suggestions button.suggestion").first
    expect(focused).to_be_focused()
    token2 = focused.get_attribute("data-token")
    page.keyboard.press("Enter")
    expect(box).to_have_value(typed + token + token2)
    expect_suggestions(page, typed + token + token2)


def test_word_level_suggestions_are_joined_with_spaces(new_page):
    """A word-level model's tokens are words: appending one puts spaces around it.

    The fixture model is character-level, so its real card is served with `level` set to
    "word"; the suggestions still come from the real service.
    """

    def word_card(route):
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "level": "word"})

    page = new_page(routes=[("**/v1/models/text/card", word_card)])
    expect(page.locator("#text-model")).to_contain_text("word-level")
    box = page.get_by_label("Text", exact=True)
    expect_suggestions(page, FIRST_EXAMPLE)
    page.locator("#suggestions button.suggestion").first.click()
    first = expected_text_next(FIRST_EXAMPLE, 1)[0][0]
    expect(box).to_have_value(f"{FIRST_EXAMPLE}{first} ")  # no doubled space

    box.fill("ab")
    expect_suggestions(page, "ab")
    page.locator("#suggestions button.suggestion").first.click()
    after_ab = expected_text_next("ab", 1)[0][0]
    expect(box).to_have_value(f"ab {after_ab} ")
    expect_suggestions(page, f"ab {after_ab} ")


def test_generate_uses_the_temperature_slider(page, screenshot):
    slider = page.get_by_label("Temperature")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    expect(page.locator("#temperature-value")).to_have_text("0.5")
    tokens = page.get_by_label("Tokens to generate")
    expect(tokens).to_have_attribute("max", str(MAX_GENERATE_TOKENS))  # from the model card
    tokens.fill("12")

    with page.expect_request("**/v1/text/generate") as request:
        page.get_by_role("button", name="Generate").click()
    body = request.value.post_data_json
    assert body["temperature"] == pytest.approx(0.5)
    assert body["max_tokens"] == 12
    assert body["text"] == FIRST_EXAMPLE

    expect(page.locator("#generated")).to_be_visible()
    expect(page.locator("#generated-prefix")).to_have_text(FIRST_EXAMPLE)
    continuation = page.locator("#generated-continuation").text_content()
    assert len(continuation) == 12 and set(continuation) <= set(VOCAB), continuation
    screenshot(page.locator("#text"), "text-generated")

    page.get_by_role("button", name="Use this text").click()
    expect(page.get_by_label("Text", exact=True)).to_have_value(FIRST_EXAMPLE + continuation)

    tokens.fill("0")  # bad input: named with its value, no request sent
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("#generate-error")).to_be_visible()
    expect(page.locator("#generate-error")).to_contain_text("Tokens to generate")
    expect(page.locator("#generate-error")).to_contain_text('got "0"')


def _chart_path_points(page, selector: str) -> list[tuple[float, float]]:
    d = page.locator(selector).get_attribute("d")
    return [(float(x), float(y)) for x, y in re.findall(r"[ML]([-\d.]+),([-\d.]+)", d)]


def test_forecast_of_the_bundled_series_draws_history_and_forecast(page, screenshot):
    sample = stock_card()["sample"]
    chart = page.locator("#chart")
    expect(page.locator("#sample-name")).to_have_text(f"({sample['name']})")
    expect(chart).to_have_attribute("data-state", "history")
    expect(chart).to_have_attribute("data-points", str(len(sample["prices"])))
    expect(page.locator("#stock-model")).to_contain_text("stock v1")
    metrics = page.locator("#stock-metrics")
    expect(metrics.locator("thead th")).to_have_text(
        ["Metric", "stock v1", "persistence", "model ÷ persistence"]
    )
    expect(metrics.locator("tbody th")).to_have_text(["mae"])

    page.get_by_role("button", name="Forecast").click()
    expect(chart).to_have_attribute("data-state", "forecast")
    expect(chart.locator("path.line-forecast")).to_have_count(1)
    expect(chart.locator("circle.point-forecast")).to_have_count(1)  # horizon 1
    forecast = float(expected_stock_forecast(sample["prices"])[0])
    expect(page.locator("#forecast-summary")).to_contain_text(
        f"stock v1, next 1 step: {fmt(forecast)}"
    )

    history = _chart_path_points(page, "#chart path.line-history")
    assert len(history) == len(sample["prices"])
    # The forecast (last price * 1.01) is drawn to the right of and above the last price.
    last_x, last_y = history[-1]
    cx = float(chart.locator("circle.point-forecast").get_attribute("cx"))
    cy = float(chart.locator("circle.point-forecast").get_attribute("cy"))
    assert cx > last_x and cy < last_y
    # The history is drawn to scale: the highest price is the highest point (smallest y).
    top = min(range(len(history)), key=lambda i: history[i][1])
    assert sample["prices"][top] == max(sample["prices"])
    screenshot(page, "stock-forecast", full_page=True)


def test_pasted_prices_a_non_numeric_value_is_named_then_the_fix_is_forecast(
    page, page_watch, screenshot
):
    page.get_by_label("Paste prices").check()
    prices = page.get_by_label(re.compile("^Prices, oldest first"))
    expect(prices).to_be_focused()
    prices.fill("100, abc, 102")
    page.get_by_role("button", name="Forecast").click()
    error = page.locator("#stock-error")
    expect(error).to_be_visible()
    expect(error).to_have_text(re.compile(r'Price 2 is "abc", which is not a number'))
    assert not any("/v1/stock/forecast" in c for c in page_watch.api_calls)
    chart = page.locator("#chart")
    expect(chart).to_have_attribute("data-state", "empty")
    screenshot(page.locator("#stock"), "stock-error")

    prices.fill("100, 101\n102.5")
    page.get_by_role("button", name="Forecast").click()
    expect(chart).to_have_attribute("data-state", "forecast")
    expect(chart).to_have_attribute("data-points", "3")
    expected = float(expected_stock_forecast([100, 101, 102.5])[0])
    expect(page.locator("#forecast-summary")).to_contain_text(fmt(expected))
    expect(error).to_be_hidden()


def test_errors_from_the_endpoints_are_shown_as_their_message(page, service):
    # Too short: an empty series. The page shows exactly the service's JSON `error`.
    status, body = service.post("/v1/stock/forecast", {"prices": [], "version": None})
    assert 400 <= status < 500 and body["error"], (status, body)
    page.get_by_label("Paste prices").check()
    page.get_by_label(re.compile("^Prices, oldest first")).fill("  ")
    with page.expect_response("**/v1/stock/forecast") as response:
        page.get_by_role("button", name="Forecast").click()
    assert response.value.status == status
    expect(page.locator("#stock-error")).to_have_text(body["error"])

    # A prefix over the service's text limit: the suggestions area says why.
    too_long = "a" * 10_001
    status, body = service.post("/v1/text/next", {"text": too_long, "k": 5})
    assert 400 <= status < 500 and body["error"], (status, body)
    page.get_by_label("Text", exact=True).fill(too_long)
    expect(page.locator("#text-error")).to_have_text(body["error"])
    expect(page.locator("#suggestions button")).to_have_count(0)
    page.get_by_label("Text", exact=True).fill("ab")  # and it recovers
    expect(page.locator("#text-error")).to_be_hidden()
    expect_suggestions(page, "ab")


def test_an_unreachable_service_or_a_proxy_error_is_explained(new_page):
    """Failures that carry no JSON `error` still read as sentences, never as a blank page."""
    page = new_page(
        routes=[
            ("**/v1/stock/sample", lambda route: route.abort("connectionrefused")),
            (
                "**/v1/models",
                lambda route: route.fulfill(status=502, body="<html>Bad Gateway</html>"),
            ),
        ]
    )
    expect(page.locator("#stock-error")).to_have_text(re.compile(r"^Could not reach the service"))
    expect(page.locator("#chart")).to_have_attribute("data-state", "empty")
    expect(page.locator("#chart")).to_contain_text("not available")
    expect(page.locator("#models-error")).to_have_text(re.compile(r"^The service answered 502\b"))
    expect_suggestions(page, FIRST_EXAMPLE)  # the rest of the page still works


def test_models_panel_lists_versions_and_readiness(page, service):
    status, body = service.get("/v1/models")
    assert status == 200
    expected = [
        (m["name"], v["version"], v["state"], v["ready"], v["error"])
        for m in body["models"]
        for v in sorted(m["versions"], key=lambda v: -v["version"])
    ]
    assert ("stock", 2, "FAILED", False) in [e[:4] for e in expected], body
    expect(page.locator("#models-table tbody tr[data-version]")).to_have_count(len(expected))
    for name, version, state, ready, error in expected:
        row = page.locator(f'#models-table tr[data-model="{name}"][data-version="{version}"]')
        expect(row.locator("td").nth(1)).to_have_text(state)
        expect(row.locator(".ready-cell")).to_have_text("✓ ready" if ready else "✗ not ready")
        error_row = page.locator(f'#models-table tr[data-error-for="{name}/{version}"]')
        if error:
            expect(error_row).to_have_text(error)
        else:
            expect(error_row).to_have_count(0)
    # The version each task endpoint serves (from its model card) is tagged.
    expect(
        page.locator('#models-table tr[data-model="stock"][data-version="1"] .tag')
    ).to_have_text("serving")
    with page.expect_response("**/v1/models") as refreshed:
        page.get_by_role("button", name="Refresh").click()
    assert refreshed.value.ok
    expect(page.locator("#models-table tbody tr[data-version]")).to_have_count(len(expected))


def test_readable_on_a_phone(new_page, screenshot):
    page = new_page({"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    expect_suggestions(page, FIRST_EXAMPLE)
    expect(page.locator("#chart")).to_have_attribute("data-state", "history")
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = page.locator("#chart svg").bounding_box()
    assert box is not None and box["width"] <= 360
    # Touch targets: the suggestion buttons are at least 40 px tall.
    heights = page.locator("#suggestions button").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert min(heights) >= 40
    screenshot(page, "phone", full_page=True)
