"""The web page against a service that needs an API key (``SERVING_API_KEY``).

The page asks for the key when the service answers 401, keeps it in ``sessionStorage`` only
(never ``localStorage``, never a URL), sends it as ``Authorization: Bearer`` on every call,
asks again when it is wrong, and forgets it on request. Also here: a failed version's error
in the Models panel names no server path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.conftest import Service, launch_service
from tests.browser.test_page import expect_suggestions

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = pytest.mark.browser

KEY = "browser-s3cret"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The same service as the other browser tests, with an API key."""
    with launch_service(tmp_path_factory.mktemp("web-key"), SERVING_API_KEY=KEY) as service:
        yield service


def _enter_key(page, key: str) -> None:
    form = page.locator("#key-form")
    expect(form).to_be_visible()
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()


def test_the_page_asks_for_the_key_and_then_works(page, service, screenshot):
    form = page.locator("#key-form")
    expect(form).to_be_visible()
    expect(page.locator("#key-message")).to_contain_text("needs an API key")
    expect(page.get_by_label("API key")).to_be_focused()
    expect(page.locator("#models-error")).to_contain_text("needs an API key")
    screenshot(page, "api-key-asked")

    with page.expect_request("**/v1/models") as request:
        _enter_key(page, KEY)
    assert request.value.headers.get("authorization") == f"Bearer {KEY}"
    expect(form).to_be_hidden()
    expect(page.locator("#models-error")).to_be_hidden()
    expect(page.locator('#models-table tr[data-model="stock"][data-version="1"]')).to_be_visible()
    # Every panel loaded again with the key, without the user doing anything more.
    expect(page.locator("#text-error")).to_be_hidden()
    expect(page.locator("#stock-error")).to_be_hidden()
    expect(page.locator("#suggestions button.suggestion")).to_have_count(5)
    page.get_by_label("Text", exact=True).fill("ab")
    expect_suggestions(page, "ab")

    stored = page.evaluate(
        "() => [sessionStorage.getItem('keras-rnn.api-key'), localStorage.length, location.href]"
    )
    assert stored[0] == KEY and stored[1] == 0 and KEY not in stored[2]
    screenshot(page, "api-key-accepted")


def test_a_wrong_key_is_asked_again_and_the_key_can_be_forgotten(page):
    _enter_key(page, "wrong")
    expect(page.locator("#key-form")).to_be_visible()
    expect(page.locator("#key-message")).to_have_text(
        re.compile(r"The API key is not valid\..*Enter the key again\.")
    )
    _enter_key(page, KEY)
    expect(page.locator("#key-form")).to_be_hidden()
    forget = page.get_by_role("button", name="Forget API key")
    expect(forget).to_be_visible()
    forget.click()
    expect(page.locator("#key-form")).to_be_visible()  # the reload is refused: asked again
    assert page.evaluate("() => sessionStorage.getItem('keras-rnn.api-key')") is None


def test_the_key_lives_in_one_browser_session_only(new_page):
    first = new_page()
    _enter_key(first, KEY)
    expect(first.locator("#key-form")).to_be_hidden()
    second = new_page()  # a new browser context: a new session, no key
    expect(second.locator("#key-form")).to_be_visible()


def test_failed_version_error_shows_no_server_path(page, service):
    _enter_key(page, KEY)
    error_row = page.locator('#models-table tr[data-error-for="stock/2"]')
    expect(error_row).to_contain_text("stock/2/saved_model.pb")
    text = error_row.inner_text()
    assert str(service.model_dir) not in text and "/tmp/" not in text, text
