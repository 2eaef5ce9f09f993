"""The search box's suggestion list, filled in a real headless Chromium from /api/v1/search/suggest/."""

from __future__ import annotations

import pytest

from tests.builders import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _options(page, wanted: str) -> list[str]:
    """The datalist's option values once one of them is `wanted` (polled: the page's CSP forbids eval)."""
    options: list[str] = []
    for _attempt in range(100):
        options = [el.get_attribute("value") for el in page.query_selector_all("#search-suggestions option")]
        if wanted in options:
            break
        page.wait_for_timeout(100)
    return options


def test_the_search_box_offers_words_as_written_while_typing(demo, live_server, page):
    World("search-browser").interview("Suggested", ["The Zawiyeh detainees spoke.", "زاويه المدرسة"])
    page.goto(f"{live_server.url}/search/")
    page.fill("[data-testid=search-input]", "the zawi")
    # The last word completed as written ("Zawiyeh", not "zawiyeh"), the rest of the query kept.
    assert _options(page, "the Zawiyeh") == ["the Zawiyeh"]
    page.fill("[data-testid=search-input]", "المدر")
    assert "المدرسة" in _options(page, "المدرسة")  # not the normalised "المدرسه"
