"""The editors' workbench: who may use it, selection → redaction, suggestion review, tier previews,
the redaction API, and the main flow in a real browser."""

from __future__ import annotations

import re

import pytest

from archive.gate import rendering_for
from archive.gate.editors import workbench_view
from archive.models import Redaction
from archive.services.suggestions import suggestions_generate
from tests.builders import sign_in


def _url(interview, suffix: str = "") -> str:
    return f"/interviews/{interview.public_id}/workbench/{suffix}"


def _work_text(interview, tier: str, index: int) -> tuple[str, str]:
    segment = next(s for s in workbench_view(interview=interview, tier=tier).segments if s.index == index)
    return segment.text, segment.fingerprint


@pytest.mark.parametrize("username", [None, "researcher", "fieldresearcher", "archivist", "charlie"])
def test_it_does_not_exist_for_anyone_but_editors_and_custodians(demo, client_as, outsider, username):
    interview = demo.interview("whatsapp-teacher")
    client = client_as(username)
    assert client.get(_url(interview)).status_code == 404
    for suffix in ("redact/", "decide/", "suggest/"):
        assert client.post(_url(interview, suffix), {"segment": "2", "start": "0", "end": "3"}).status_code == 404
    api = f"/api/v1/interviews/{interview.public_id}/redactions/"
    assert client.get(api).status_code == 404
    assert client.post(
        api, {"kind": "entity", "text": "x", "category": "name", "visible_from": "staff"}
    ).status_code in (403, 404)
    assert Redaction.objects.filter(source="manual", interview=interview).count() == 0
    detail = client.get(f"/interviews/{interview.public_id}/").content.decode()
    assert "workbench" not in detail


def test_it_shows_the_editor_their_tier_and_every_lower_tier_side_by_side(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    client = client_as("editor")
    assert 'data-testid="workbench-link"' in client.get(f"/interviews/{interview.public_id}/").content.decode()
    response = client.get(_url(interview))
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'<th data-tier="(\w+)">', html) == ["public", "researcher", "staff"]
    assert "ريما صالح حمدان" not in html  # the narrator's legal name is custodian-only
    assert 'data-atomic="1" title="lower tiers see: Resident B">Resident B</span>' in html
    assert 'title="lower tiers see: a street in the district">شارع قصر الورد</span>' in html
    assert "<script" not in html.replace('<script src="/static/archive/workbench.js" defer></script>', "")
    assert " style=" not in html
    custodian = client_as("custodian").get(_url(interview)).content.decode()
    assert re.findall(r'<th data-tier="(\w+)">', custodian) == ["public", "researcher", "staff", "custodian"]
    assert "ريما صالح حمدان" in custodian


def test_it_redacts_a_selection_made_in_the_editors_rendering(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    text, fingerprint = _work_text(interview, "staff", 2)
    assert text == "أنا Resident B، وأعمل في مدرسة قرب شارع قصر الورد منذ عشر سنوات."
    start = text.index("مدرسة")
    response = client_as("editor").post(
        _url(interview, "redact/"),
        {
            "segment": "2",
            "start": start,
            "end": start + len("مدرسة "),
            "fingerprint": fingerprint,
            "category": "place",
            "visible_from": "researcher",
            "replacement": "a school",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == _url(interview) + "#seg-2"
    redaction = Redaction.objects.get(interview=interview, source="manual")
    assert (redaction.kind, redaction.status, redaction.visible_from, redaction.replacement) == (
        "span",
        "approved",
        "researcher",
        "a school",
    )
    assert redaction.end_char - redaction.start_char == len("مدرسة")  # trailing space dropped
    public = rendering_for(interview, "public").segments[2].text
    assert public == "أنا Resident B، وأعمل في a school قرب a street in the district منذ عشر سنوات."
    assert "في مدرسة قرب" in rendering_for(interview, "researcher").segments[2].text


def test_it_takes_withheld_text_whole_when_a_selection_touches_it(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    text, fingerprint = _work_text(interview, "staff", 2)
    start = text.index("Resident B") + 4  # inside the withheld name
    end = text.index("وأعمل") + len("وأعمل")
    client_as("editor").post(
        _url(interview, "redact/"),
        {
            "segment": "2",
            "start": start,
            "end": end,
            "fingerprint": fingerprint,
            "category": "name",
            "visible_from": "custodian",
        },
    )
    assert (
        rendering_for(interview, "staff").segments[2].text
        == "أنا [اسم محجوب] في مدرسة قرب شارع قصر الورد منذ عشر سنوات."  # an Arabic segment's label
    )
    assert rendering_for(interview, "custodian").segments[2].text.startswith("أنا ريما صالح حمدان، وأعمل في")


def test_it_refuses_a_stale_selection_and_one_outside_the_text(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    client = client_as("editor")
    base = {"segment": "2", "category": "name", "visible_from": "staff"}
    response = client.post(
        _url(interview, "redact/"), {**base, "start": 0, "end": 3, "fingerprint": "0" * 16}, follow=True
    )
    assert "The transcript changed since the page was loaded" in response.content.decode()
    response = client.post(_url(interview, "redact/"), {**base, "start": 0, "end": 500}, follow=True)
    assert "The selection lies outside the segment text." in response.content.decode()
    response = client.post(
        _url(interview, "redact/"), {**base, "start": 0, "end": 3, "visible_from": "public"}, follow=True
    )
    assert "Choose the tier" in response.content.decode()
    assert not Redaction.objects.filter(interview=interview, source="manual").exists()


def test_it_redacts_selected_words_everywhere_as_an_entity(demo, client_as):
    journalist = demo.interview("facebook-journalist")
    text, fingerprint = _work_text(journalist, "staff", 2)
    start = text.index("Damascus")
    client_as("editor").post(
        _url(journalist, "redact/"),
        {
            "segment": "2",
            "start": start,
            "end": start + len("Damascus"),
            "fingerprint": fingerprint,
            "category": "place",
            "visible_from": "staff",
            "everywhere": "on",
        },
    )
    redaction = Redaction.objects.get(kind="entity", interview=journalist)
    assert (redaction.status, redaction.category) == ("approved", "place")
    assert "earlier deals in the [place withheld] suburbs" in rendering_for(journalist, "public").text


def test_it_reviews_suggestions_in_bulk(demo, client_as):
    journalist = demo.interview("facebook-journalist")
    client = client_as("editor")
    client.post(_url(journalist, "suggest/"))
    html = client.get(_url(journalist)).content.decode()
    ids = re.findall(r'<li class="wb-suggestion" tabindex="0" data-id="([0-9a-f-]+)"', html)
    assert len(ids) == 2
    assert re.findall(r'<bdi dir="auto" class="wb-sugg-text">([^<]*)</bdi>', html) == ["Waer", "al-Waer"]
    response = client.post(_url(journalist, "decide/"), {"ids": [ids[0]], "action": "reject"}, follow=True)
    assert "Rejected 1 suggestion." in response.content.decode()
    client.post(_url(journalist, "decide/"), {"ids": ids, "action": "accept", "visible_from": "researcher"})
    statuses = sorted(
        Redaction.objects.filter(interview=journalist, source="gazetteer").values_list("status", "visible_from")
    )
    assert statuses == [("approved", "researcher"), ("rejected", "staff")]
    public = rendering_for(journalist, "public").text
    assert "detainees from Waer?" in public
    assert "wants a district of Homs to accept" in public
    assert "wants al-Waer to accept" in rendering_for(journalist, "researcher").text


# API ---------------------------------------------------------------------------------------------


def test_it_offers_the_same_through_the_api(demo, client_as):
    teacher = demo.interview("whatsapp-teacher")
    client = client_as("editor")
    api = f"/api/v1/interviews/{teacher.public_id}/redactions/"
    assert client.post(f"{api}suggest/").json() == {"count": 1}
    listing = client.get(api).json()
    assert listing["tier"] == "staff"
    assert [(s["segment"], s["source"], s["text"]) for s in listing["suggestions"]] == [(3, "gazetteer", "الْوَعْر")]
    assert {r["kind"] for r in listing["redactions"]} == {"span"}
    text = rendering_for(teacher, "staff").segments[1].text
    start = text.index("الأقبية")
    created = client.post(
        api,
        {
            "kind": "span",
            "segment": 1,
            "start": start,
            "end": start + len("الأقبية"),
            "category": "place",
            "visible_from": "staff",
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    assert created.json()["status"] == "approved"
    assert "في [مكان محجوب]." in rendering_for(teacher, "public").segments[1].text
    decided = client.post(
        f"{api}decide/", {"ids": [listing["suggestions"][0]["id"]], "approve": True}, content_type="application/json"
    )
    assert decided.json() == {"count": 1}
    assert "الْوَعْر" not in rendering_for(teacher, "public").text
    bad = client.post(
        api,
        {"kind": "span", "segment": 1, "start": 0, "end": 999, "category": "name", "visible_from": "staff"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert bad.json() == {"detail": "The selection lies outside the segment text."}


def test_it_lists_no_hidden_text_in_the_api(demo, client_as):
    activist = demo.interview("skype-activist")
    listing = client_as("editor").get(f"/api/v1/interviews/{activist.public_id}/redactions/").json()
    body = str(listing)
    assert "+963 933 765 432" not in body  # the seed's suggestion is visible only as its rendering
    assert [s["text"] for s in listing["suggestions"]] == ["+963 933 765 432"] or listing["suggestions"][0][
        "text"
    ] != ""


# Browser -----------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_redacts_a_selection_and_accepts_a_suggestion_by_keyboard_in_a_browser(demo, live_server, page):
    journalist = demo.interview("facebook-journalist")
    suggestions_generate(interview=journalist)
    sign_in(page, live_server.url, "editor", "rawi-demo-editor")
    page.goto(f"{live_server.url}/interviews/{journalist.public_id}/")
    page.click("[data-testid=workbench-link]")
    page.wait_for_selector("[data-testid=wb-table]")
    page.wait_for_load_state()  # workbench.js is deferred: its keys work once the page has loaded
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Select "Damascus suburbs" in the working text of segment 2, as a user dragging the mouse would.
    page.evaluate(
        """() => {
          const work = document.querySelector('.wb-work[data-segment="2"]');
          const node = work.querySelector('.pc').firstChild;
          const start = node.data.indexOf('Damascus suburbs');
          const range = document.createRange();
          range.setStart(node, start); range.setEnd(node, start + 'Damascus suburbs'.length);
          const selection = window.getSelection(); selection.removeAllRanges(); selection.addRange(range);
        }"""
    )
    page.locator(".wb-work[data-segment='2']").dispatch_event("mouseup")
    page.keyboard.press("r")
    assert page.inner_text("[data-testid=redact-selected]") == "Damascus suburbs"
    assert page.evaluate("document.activeElement.id") == "redact-category"
    page.select_option("#redact-category", "place")
    page.select_option("#redact-visible-from", "researcher")
    page.fill("#redact-replacement", "near the capital")
    with page.expect_navigation():
        page.click("#redact-submit")
    page.wait_for_load_state()
    assert "Redacted in this segment, hidden below researcher." in page.inner_text(".messages")
    public_cell = page.inner_text("#seg-2 td[data-tier=public]")
    assert "The earlier deals in the near the capital were signed" in public_cell
    assert "Damascus suburbs" in page.inner_text("#seg-2 td[data-tier=researcher]")
    # Suggestions: arrow down to the first, accept it with "a".
    assert page.locator("[data-testid=suggestion]").count() == 2
    page.locator("body").focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.testid") == "suggestion"
    assert page.locator(".pc-focus").count() == 1
    with page.expect_navigation():
        page.keyboard.press("a")
    page.wait_for_load_state()
    assert "Accepted 1 suggestion." in page.inner_text(".messages")
    assert page.locator("[data-testid=suggestion]").count() == 1
    assert "detainees from a district of Homs?" in page.inner_text("#seg-0 td[data-tier=public]")
    page.keyboard.press("ArrowDown")
    with page.expect_navigation():
        page.keyboard.press("x")
    page.wait_for_selector("[data-testid=no-suggestions]")
    assert errors == []
