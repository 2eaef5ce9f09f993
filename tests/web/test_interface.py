"""The interface in a real headless Chromium, for each role: every main page passes axe-core (no serious
or critical WCAG 2.2 A/AA violation), works at 390 px wide without sideways scrolling, and is
photographed at desktop and phone sizes. Then the Arabic interface, the keyboard paths (player time
links, find in transcript, the workbench's selection), deep links to a moment and the design rules
that hold everywhere (labels for codes, human timecodes, no external requests).

Screenshots go to $RAWI_ARTEFACTS/interface (default: test-artifacts/interface at the project root)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.builders import ROOT, TESTS, published_whatsapp_chat, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JS_DIR = TESTS / "js"
AXE = JS_DIR / "node_modules" / "axe-core" / "axe.min.js"
PASSWORDS = {
    "custodian": "rawi-demo-custodian",
    "editor": "rawi-demo-editor",
    "archivist": "rawi-demo-archivist",
    "fieldresearcher": "rawi-demo-field",
    "researcher": "rawi-demo-researcher",
}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core from the npm registry, pinned by tests/js/package-lock.json; installed on first use."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed once to install axe-core into tests/js (apt-get install npm)")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=600)
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def artefacts() -> Path:
    base = Path(os.environ.get("RAWI_ARTEFACTS") or ROOT / "test-artifacts")
    folder = base / "interface"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def axe_violations(page, axe_source: str) -> list[str]:
    # Evaluated through the DevTools protocol, so the page's strict CSP stays as it is.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    result = page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }",
        AXE_TAGS,
    )
    return [f"{v['id']} ({v['impact']}): {v['nodes']}" for v in result if v["impact"] in ("serious", "critical")]


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def check_page(page, url: str, name: str, axe_source: str, artefacts: Path, role: str) -> list[str]:
    problems = []
    page.set_viewport_size(DESKTOP)
    response = page.goto(url)
    if response is None or response.status != 200:
        return [f"{name}: status {response.status if response else 'none'}"]
    problems += [f"{name}: {v}" for v in axe_violations(page, axe_source)]
    page.screenshot(path=str(artefacts / role / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(50)
    overflow = sideways_overflow(page)
    if overflow > 0:
        wide = page.evaluate(
            "() => Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right >"
            " document.documentElement.clientWidth + 1).slice(0, 5).map(e => e.tagName + '.' + e.className)"
        )
        problems.append(f"{name}: {overflow}px sideways at 390px ({wide})")
    problems += [f"{name} @390: {v}" for v in axe_violations(page, axe_source)]
    page.screenshot(path=str(artefacts / role / f"{name}-390.png"), full_page=True)
    body = page.inner_text("body")
    for raw in ("whatsapp_voice", "video_call", "social_media", "vox_pop", "in_person"):
        if raw in body:
            problems.append(f"{name}: shows the raw code {raw}")
    if re.search(r"\[\d+(\.\d+)?s\]", body):
        problems.append(f"{name}: shows a timecode in seconds")
    return problems


def role_pages(demo, role: str | None) -> dict[str, str]:
    slug = demo.collection.slug
    public = demo.interview("whatsapp-teacher").public_id
    review = demo.interview("skype-activist").public_id
    pages = {
        "home": "/",
        "collections": "/collections/",
        "collection": f"/collections/{slug}/",
        "interviews": "/interviews/",
        "interview": f"/interviews/{public}/",
        "search": "/search/?q=bread",
        "export": f"/interviews/{public}/export/",
    }
    if role is None:
        pages["sign-in"] = "/login/"
        pages["not-found"] = "/interviews/00000000-0000-4000-8000-000000000000/"
    if role in ("researcher", "archivist", "editor", "custodian"):
        pages["interview-review"] = f"/interviews/{review}/"
    if role in ("researcher", "custodian"):
        pages["second-factor"] = "/account/second-factor/"
    if role == "fieldresearcher":
        pages["upload"] = f"/collections/{slug}/upload/"
        pages["import"] = f"/collections/{slug}/import/"
    if role in ("editor", "custodian"):
        pages["workbench"] = f"/interviews/{public}/workbench/"
        pages["transcript-edit"] = f"/interviews/{public}/transcript/"
        pages["consent"] = f"/interviews/{public}/consent/"
        pages["consent-reviews"] = "/consent/reviews/"
    if role == "editor":
        narrator = demo.interview("whatsapp-teacher").narrators.first()
        pages["consent-form"] = f"/interviews/{public}/consent/{narrator.public_id}/"
    if role in ("editor", "custodian", "fieldresearcher"):
        pages["manage"] = "/manage/"
    if role in ("editor", "custodian"):
        # The edit page with its narrator forms, one per narrator: every label names its own input.
        pages["manage-interview"] = f"/manage/interviews/{public}/"
    if role in ("researcher", "custodian"):
        pages["access-requests"] = "/manage/access-requests/"
    if role == "custodian":
        pages["users"] = "/manage/users/"
        pages["audit"] = "/audit/"
        pages["alerts"] = "/audit/alerts/"
    return pages


@pytest.mark.parametrize("role", [None, "researcher", "fieldresearcher", "archivist", "editor", "custodian"])
def test_it_serves_every_main_page_of_each_role_accessible_and_usable_at_phone_width(
    role, demo, live_server, page, axe_source, artefacts
):
    name = role or "public"
    (artefacts / name).mkdir(exist_ok=True)
    if role:
        sign_in(page, live_server.url, role, PASSWORDS[role])
    problems = []
    for page_name, path in role_pages(demo, role).items():
        if page_name == "not-found":
            page.set_viewport_size(DESKTOP)
            response = page.goto(live_server.url + path)
            assert response.status == 404
            problems += [f"not-found: {v}" for v in axe_violations(page, axe_source)]
            continue
        problems += check_page(page, live_server.url + path, page_name, axe_source, artefacts, name)
    assert problems == []


def test_it_speaks_arabic_right_to_left_when_switched_and_keeps_the_choice(
    demo, live_server, page, axe_source, artefacts
):
    interview = demo.interview("whatsapp-teacher")
    (artefacts / "arabic").mkdir(exist_ok=True)
    page.goto(f"{live_server.url}/interviews/{interview.public_id}/")
    assert page.get_attribute("html", "lang") == "en" and page.get_attribute("html", "dir") == "ltr"
    assert page.inner_text("dl.meta").count("WhatsApp voice") == 1
    page.click("[data-testid=language-switch] button[value=ar]")
    page.wait_for_selector("html[lang=ar]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.url.endswith(f"/interviews/{interview.public_id}/")
    nav = page.inner_text(".site-nav")
    assert "المقابلات" in nav and "المجموعات" in nav and "Interviews" not in nav
    meta = page.inner_text("dl.meta")
    assert "رسائل واتساب الصوتية" in meta and "العربيّة" in meta  # mode and language labels
    assert page.inner_text("[data-testid=tier]") == "عام"
    problems = check_page(page, page.url, "interview", axe_source, artefacts, "arabic")
    # The choice is kept (cookie): the next page is Arabic too, and so are dates.
    problems += check_page(page, f"{live_server.url}/interviews/", "interviews", axe_source, artefacts, "arabic")
    assert page.get_attribute("html", "lang") == "ar"
    assert problems == []
    page.click("[data-testid=language-switch] button[value=en]")
    page.wait_for_selector("html[lang=en]")


def test_it_orders_landmarks_and_offers_a_skip_link_first(demo, live_server, page):
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className, document.activeElement.getAttribute('href')]")
    assert focused == ["skip-link", "#main"]
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    landmarks = page.evaluate(
        "() => ['header.site-header', 'nav.site-nav', 'main#main', 'footer.site-footer']"
        ".map(s => document.querySelectorAll(s).length)"
    )
    assert landmarks == [1, 1, 1, 1]
    icon = page.get_attribute("link[rel=icon]", "href")
    assert icon.endswith("archive/favicon.svg") and page.request.get(live_server.url + icon).status == 200


def test_it_finds_within_a_transcript_and_links_to_a_moment(demo, live_server, page):
    interview = demo.interview("skype-photographer")
    url = f"{live_server.url}/interviews/{interview.public_id}/"
    page.goto(url)
    times = page.locator(".segment .time").all_inner_texts()
    assert times and all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in times)
    second = page.locator(".segment").nth(1)
    start = int(float(second.get_attribute("data-start")))
    assert second.locator(".time").get_attribute("href") == f"?t={start}#seg-{second.get_attribute('data-index')}"
    word = page.locator(".segment .text").nth(1).inner_text().split()[0].strip(".,:;")
    page.fill("#transcript-find", word)
    page.wait_for_selector(".segment mark.hit-current")
    status = page.inner_text("[data-find-status]")
    total = page.locator(".segment mark").count()
    assert status == f"1 of {total}"
    page.focus("#transcript-find")
    page.keyboard.press("Enter")
    assert page.inner_text("[data-find-status]") == (f"2 of {total}" if total > 1 else "1 of 1")
    page.fill("#transcript-find", "zzzz-not-there")
    expect(page.locator("[data-find-status]")).to_have_text(
        "No matches"
    )  # polled: the search waits for typing to pause
    assert page.locator(".segment mark").count() == 0
    # A deep link to a moment marks the segment that holds it.
    page.goto(f"{url}?t={start}")
    assert page.locator(".segment.linked").get_attribute("data-index") == second.get_attribute("data-index")
    citation = page.inner_text("[data-testid=citation]")
    assert f"/interviews/{interview.public_id}/" in citation and "Rights:" in citation


def test_it_lets_an_editor_select_and_redact_with_the_keyboard_only(demo, live_server, page):
    interview = demo.interview("whatsapp-teacher")
    sign_in(page, live_server.url, "editor", PASSWORDS["editor"])
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/interviews/{interview.public_id}/workbench/")
    # The panels stack at phone width: the suggestions sit below the redaction form.
    redact_box = page.locator("#redact-panel").bounding_box()
    suggestions_box = page.locator("#suggestions").bounding_box()
    assert suggestions_box["y"] >= redact_box["y"] + redact_box["height"] - 1
    assert sideways_overflow(page) == 0
    work = page.locator(".wb-work").first
    work.focus()
    assert work.get_attribute("contenteditable") == "true"
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")  # the first segment is Arabic: arrows would run right to left
    selected = page.evaluate("() => window.getSelection().toString()")
    assert len(selected) >= 1
    page.keyboard.press("r")
    assert page.evaluate("() => document.activeElement.id") == "redact-category"
    assert page.inner_text("#redact-selected").strip() != ""
    assert not page.locator("#redact-submit").is_disabled()
    # Typing in the working text changes nothing.
    before = work.inner_text()
    work.focus()
    page.keyboard.type("xyz")
    assert work.inner_text() == before


def test_a_chat_transcript_shows_message_dates_accessibly_at_both_sizes_and_the_lists_filter_by_keyboard(
    demo, live_server, page, axe_source, artefacts
):
    interview = published_whatsapp_chat(demo)
    (artefacts / "chat").mkdir(exist_ok=True)
    sign_in(page, live_server.url, "editor", PASSWORDS["editor"])
    problems = check_page(
        page, f"{live_server.url}/interviews/{interview.public_id}/", "chat", axe_source, artefacts, "chat"
    )
    assert page.locator("[data-testid=sent-at]").all_inner_texts()[-1] == "March 13, 2016, 21:47"
    # The list's filter form works from the keyboard alone: choose a mode, Tab to "Show", press Enter.
    problems += check_page(page, f"{live_server.url}/interviews/", "interviews", axe_source, artefacts, "chat")
    page.set_viewport_size(DESKTOP)
    page.focus("#list-mode")
    page.select_option("#list-mode", "messaging")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "Show"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"mode=messaging"))
    assert page.locator("[data-testid=interview-card]").count() >= 1
    assert set(page.locator("[data-testid=interview-card] .mode").all_inner_texts()) == {"Messaging (text)"}
    assert problems == []


def test_the_scripts_speak_arabic_with_the_page_and_the_csp_stays_strict(demo, live_server, page):
    sign_in(page, live_server.url, "fieldresearcher", PASSWORDS["fieldresearcher"])
    page.goto(f"{live_server.url}/collections/{demo.collection.slug}/upload/")
    assert page.evaluate("() => window.gettext('Uploading…')") == "Uploading…"
    page.click("[data-testid=language-switch] button[value=ar]")
    # The catalogue is a deferred script: the Arabic page's <html> exists before it has run.
    page.wait_for_function("() => document.documentElement.lang === 'ar' && typeof window.gettext === 'function'")
    assert page.evaluate("() => window.gettext('Uploading…')") == "جارٍ الرفع…"
    assert page.evaluate("() => window.gettext('Uploaded; transcription queued.')") == (
        "اكتمل الرفع؛ التفريغ في قائمة الانتظار."
    )
    response = page.goto(f"{live_server.url}/collections/{demo.collection.slug}/upload/")
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    page.click("[data-testid=language-switch] button[value=en]")
    page.wait_for_selector("html[lang=en]")
