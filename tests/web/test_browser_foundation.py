"""Sign-in and reading an interview in a real headless Chromium."""

from __future__ import annotations

import pytest

from tests.builders import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_signs_in_and_reads_an_interview_at_the_users_tier(demo, live_server, page):
    interview = demo.interview("skype-activist")  # researcher-level
    page.goto(f"{live_server.url}/interviews/")
    assert "A media activist on escalation" not in page.content()
    sign_in(page, live_server.url, "researcher", "rawi-demo-researcher")
    page.goto(f"{live_server.url}/interviews/")
    page.click("text=A media activist on escalation")
    page.wait_for_selector("[data-testid=transcript]")
    assert page.inner_text("[data-testid=tier]") == "Researcher"
    transcript = page.inner_text("[data-testid=transcript]")
    assert "00:00:00" in transcript and "[00:00:00]" not in transcript
    assert "a media activist in the district:" in transcript
    assert "Nizar" not in page.content()
    assert "+963 933 765 432" not in page.content()
    assert page.url.endswith(f"/interviews/{interview.public_id}/")


def test_it_lays_out_arabic_right_to_left(demo, live_server, page):
    interview = demo.interview("whatsapp-teacher")
    page.goto(f"{live_server.url}/interviews/{interview.public_id}/")
    first = page.locator(".segment .text").nth(1)
    assert first.get_attribute("dir") == "rtl"
    assert first.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert "نحن نعلّم الأطفال في الأقبية" in first.inner_text()
    # No request leaves the machine: every resource is served by the archive itself.
    external = []
    page.on(
        "request", lambda request: external.append(request.url) if not request.url.startswith(live_server.url) else None
    )
    page.reload()
    assert external == []
