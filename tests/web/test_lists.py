"""Lists of interviews and collections: sorted (title, date recorded, date added), filtered (status, mode,
language) and paginated, built only from each interview's rendering at the reader's tier."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from archive.gate import policy, rendering_for
from archive.services import interview_update
from archive.web import listing

pytestmark = [pytest.mark.django_db]


def _titles(html: str) -> list[str]:
    return re.findall(r'<h3 class="card-title"><a href="[^"]+"><bdi dir="auto">([^<]*)</bdi>', html)


def _options(html: str, name: str) -> list[str]:
    select = html.split(f'<select name="{name}"')[1].split("</select>")[0]
    return re.findall(r'<option value="([^"]*)"', select)


def _renderings(user) -> list:
    return [rendering_for(i, tier, with_segments=False) for i, tier in policy.visible_interviews(user)]


def test_it_lists_only_what_the_tier_may_see_and_offers_only_those_values_to_filter_on(demo, client_as):
    public = client_as(None).get("/interviews/?sort=title").content.decode()
    seen = _renderings(None)
    assert _titles(public) == sorted((r.title for r in seen), key=str.casefold)
    assert _options(public, "status") == ["", "published"]
    assert set(_options(public, "mode")) == {""} | {r.mode for r in seen}
    editor = client_as("editor").get("/interviews/?sort=title").content.decode()
    assert "review" in _options(editor, "status")
    assert len(_titles(editor)) > len(_titles(public))
    # Every control has its label.
    for name in ("sort", "status", "mode", "language"):
        assert f'<label for="list-{name}">' in public and f'id="list-{name}"' in public


def test_it_filters_by_status_mode_and_language_and_ignores_unknown_values(demo, client_as):
    editor = client_as("editor")
    seen = _renderings(demo.user("editor"))
    review = _titles(editor.get("/interviews/?status=review&sort=title").content.decode())
    assert review == sorted((r.title for r in seen if r.status == "review"), key=str.casefold) and review
    mode = seen[0].mode
    by_mode = _titles(editor.get(f"/interviews/?mode={mode}&sort=title").content.decode())
    assert by_mode == sorted((r.title for r in seen if r.mode == mode), key=str.casefold)
    english = _titles(editor.get("/interviews/?language=en&sort=title").content.decode())
    assert english == sorted((r.title for r in seen if "en" in r.languages), key=str.casefold)
    assert english != sorted((r.title for r in seen), key=str.casefold)
    # A value the reader cannot choose is ignored: no error, the whole list.
    response = editor.get("/interviews/?status=sealed&mode=nonsense&sort=sideways")
    assert response.status_code == 200 and "aria-invalid" not in response.content.decode()
    assert len(_titles(response.content.decode())) == len(seen)


def test_it_sorts_by_title_and_date_added(demo, client_as):
    client = client_as("editor")
    forward = _titles(client.get("/interviews/?sort=title").content.decode())
    assert forward == sorted(forward, key=str.casefold) and len(forward) > 2
    assert _titles(client.get("/interviews/?sort=-title").content.decode()) == forward[::-1]
    newest = demo.interview("whatsapp-teacher")
    type(newest).objects.filter(pk=newest.pk).update(created_at=datetime(2031, 1, 1, tzinfo=UTC))
    title = rendering_for(newest, "staff", with_segments=False).title
    assert _titles(client.get("/interviews/?sort=-added").content.decode())[0] == title
    assert _titles(client.get("/interviews/?sort=added").content.decode())[-1] == title


def test_it_sorts_by_date_recorded_at_the_precision_the_tier_sees(demo, client_as):
    """Two public interviews recorded in the same month: the public sees only the month, so the day
    must not order them (they fall back to their titles); staff see the day."""
    first, second = sorted(
        (i for i, _tier in policy.visible_interviews(None)),
        key=lambda i: rendering_for(i, "public", with_segments=False).title.casefold(),
    )[:2]
    # The later day goes to the interview whose title comes first.
    interview_update(interview=first, recorded_on=date(1999, 12, 28))
    interview_update(interview=second, recorded_on=date(1999, 12, 2))
    titles = [rendering_for(i, "public", with_segments=False).title for i in (first, second)]
    public = _titles(client_as(None).get("/interviews/?sort=recorded").content.decode())
    assert public[:2] == titles
    public_newest_first = _titles(client_as(None).get("/interviews/?sort=-recorded").content.decode())
    assert [t for t in public_newest_first if t in titles] == titles
    staff = _titles(client_as("editor").get("/interviews/?sort=recorded").content.decode())
    assert [t for t in staff if t in titles] == titles[::-1]


def test_it_pages_a_list_and_keeps_the_sort_and_filters_in_the_page_links(demo, client_as, monkeypatch):
    client = client_as("editor")
    everything = _titles(client.get("/interviews/?sort=title").content.decode())
    monkeypatch.setattr(listing, "PAGE_SIZE", 2)
    pages, number = [], 1
    while True:
        html = client.get(f"/interviews/?sort=title&page={number}").content.decode()
        pages.append(_titles(html))
        assert f"Page {number} of {(len(everything) + 1) // 2}" in html
        if 'rel="next"' not in html:
            break
        assert f'href="?sort=title&amp;page={number + 1}" rel="next"' in html
        number += 1
    assert [t for page in pages for t in page] == everything
    assert all(len(page) <= 2 for page in pages) and len(pages) > 1
    # A page out of range shows the last page rather than an error.
    assert _titles(client.get("/interviews/?sort=title&page=999").content.decode()) == pages[-1]


def test_the_collection_page_and_the_collection_list_sort_filter_and_count_what_the_tier_sees(demo, client_as):
    slug = demo.collection.slug
    seen = _renderings(None)
    mode = seen[0].mode
    page = client_as(None).get(f"/collections/{slug}/?mode={mode}&sort=-title").content.decode()
    assert _titles(page) == sorted((r.title for r in seen if r.mode == mode), key=str.casefold, reverse=True)
    listed = client_as(None).get(f"/collections/?mode={mode}").content.decode()
    count = sum(1 for r in seen if r.mode == mode)
    assert f"{count} interview" in listed and slug in listed
    assert 'data-testid="list-controls"' in listed
    # Arabic: the controls are translated.
    arabic = client_as(None).get("/interviews/", HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert 'for="list-sort">ترتيب حسب</label>' in arabic


def test_a_filter_form_sent_with_empty_fields_leads_to_the_address_of_what_was_chosen(demo, client_as, monkeypatch):
    """A GET form sends every field, filled or not (`status=&language=`): the lists redirect to the
    address without the empty ones, and their page links never carry an empty or ignored field."""
    client = client_as("editor")
    slug = demo.collection.slug
    for path in ("/interviews/", "/collections/", f"/collections/{slug}/"):
        sent = client.get(f"{path}?sort=title&status=&mode=&language=")
        assert (sent.status_code, sent["Location"]) == (302, f"{path}?sort=title"), path
        nothing = client.get(f"{path}?sort=&status=&mode=&language=")
        assert (nothing.status_code, nothing["Location"]) == (302, path), path
        assert client.get(f"{path}?sort=title").status_code == 200
    # A collection the reader cannot see answers 404 before any redirect, as without empty fields.
    assert client_as(None).get("/collections/no-such-collection/?status=").status_code == 404
    # The page links: only the valid choices made, in the form's order.
    seen = _renderings(demo.user("editor"))
    mode = seen[0].mode
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    html = client.get(f"/interviews/?mode={mode}&status=sealed&sort=title&language=xx").content.decode()
    assert f'href="?sort=title&amp;mode={mode}&amp;page=2" rel="next"' in html
    assert "status=" not in html.split('data-testid="pagination"')[1]


def test_the_list_controls_leave_empty_fields_out_with_a_script_of_this_origin(demo, client_as):
    html = client_as(None).get("/interviews/").content.decode()
    assert "data-list-controls" in html
    assert re.search(r'<script src="/static/archive/list_controls\.js" defer></script>', html)
    script = client_as(None).get("/static/archive/list_controls.js")
    assert script.status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_filter_form_sends_only_the_filled_fields_in_a_browser(demo, live_server, page):
    """With its script, the form goes straight to the address of what was chosen (no redirect); coming
    back to the list from the history, every field can be used again."""
    mode = _renderings(None)[0].mode
    page.goto(f"{live_server.url}/interviews/")
    page.select_option("#list-sort", "title")
    page.select_option("#list-mode", mode)
    with page.expect_navigation() as navigation:
        page.click("[data-testid=list-controls] button[type=submit]")
    response = navigation.value
    assert response.request.redirected_from is None
    assert page.url == f"{live_server.url}/interviews/?sort=title&mode={mode}"
    page.go_back()
    page.wait_for_url(f"{live_server.url}/interviews/")
    assert page.eval_on_selector_all("[data-list-controls] select", "all => all.filter(s => s.disabled).length") == 0
