"""The daily work's pages: editing an interview's fields, status and narrators, revoking redactions."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from knox.models import AuthToken

from archive.gate import rendering_for
from archive.models import AuditEvent, Interview, InterviewPlan, Membership, NarratorKey, Recording, Segment
from archive.services import redact_phrase

pytestmark = [pytest.mark.django_db]


def _page(interview) -> str:
    return f"/manage/interviews/{interview.public_id}/"


def _form(demo_interview, **changes) -> dict:
    """The edit form as the page fills it for an editor, with `changes` made."""
    rendering = rendering_for(demo_interview, "staff", with_segments=False)
    data = {
        "title": rendering.title,
        "summary": rendering.summary,
        "recorded_on": rendering.recorded_on,
        "mode": rendering.mode,
        "place": rendering.place,
        "place_general": demo_interview.place_general,
        "topics": "\n".join(rendering.topics),
        "languages": " ".join(rendering.languages),
        "interviewer_label": rendering.interviewer,
        "access_level": demo_interview.access_level,
        "embargo_until": "",
    }
    data.update(changes)
    return data


def test_it_shows_the_edit_page_to_editors_and_the_interviewer_only(demo, client_as):
    interview = demo.interview("skype-activist")
    editor = client_as("editor").get(_page(interview))
    assert editor.status_code == 200
    html = editor.content.decode()
    assert "A media activist on escalation after each round of talks" in html
    assert 'data-testid="narrator-row"' in html
    assert "narrator-1" in html
    field = client_as("fieldresearcher").get(_page(interview)).content.decode()
    assert 'name="access_level"' in field and "disabled" in field.split('name="access_level"')[1].split(">")[0]
    assert 'data-testid="narrator-row"' not in field
    for username in ("researcher", "archivist", None):
        response = client_as(username).get(_page(interview))
        assert response.status_code in (404, 302), username


def test_it_saves_only_the_fields_the_editor_changed(demo, client_as):
    interview = demo.interview("skype-photographer")
    redact_phrase(phrase="siege economy", category="other", visible_from="custodian", interview=interview)
    page = client_as("editor").get(_page(interview)).content.decode()
    assert "siege economy" not in page
    response = client_as("editor").post(_page(interview), _form(interview, summary="A new summary."))
    assert response.status_code == 302
    interview.refresh_from_db()
    assert rendering_for(interview, "custodian", with_segments=False).title == "A photographer on the siege economy"
    assert rendering_for(interview, "public", with_segments=False).summary == "A new summary."


def test_it_changes_status_and_lists_the_reasons_publication_is_refused(demo, client_as):
    interview = demo.interview("skype-activist")
    editor = client_as("editor")
    assert editor.post(f"{_page(interview)}status/", {"status": "review"}).status_code == 302  # the demo published it
    response = editor.post(f"{_page(interview)}status/", {"status": "published"}, follow=True)
    html = response.content.decode()
    assert "Publication refused:" in html
    assert "1 suggested redaction(s) wait for a decision." in html
    response = editor.post(f"{_page(interview)}status/", {"status": "draft"})
    assert response.status_code == 302
    assert Interview.objects.get(pk=interview.pk).status == "draft"


def test_it_saves_a_narrators_descriptor(demo, client_as):
    interview = demo.interview("skype-activist")
    response = client_as("editor").post(
        f"{_page(interview)}narrators/narrator-1/", {"anonymity": "anonymous", "pseudonym": "", "descriptor": "a nurse"}
    )
    assert response.status_code == 302
    body = client_as("researcher").get(f"/api/v1/interviews/{interview.public_id}/").json()
    assert [n["display_name"] for n in body["narrators"]] == ["a nurse"]
    assert (
        client_as("fieldresearcher")
        .post(f"{_page(interview)}narrators/narrator-1/", {"anonymity": "anonymous", "descriptor": "x"})
        .status_code
        == 404
    )


# Planned interviews, deleting, dashboard, users ---------------------------------------------------------


def test_it_plans_an_interview_with_sealed_notes(demo, client_as):
    field = client_as("fieldresearcher")
    response = field.post(
        f"/manage/collections/{demo.collection.slug}/plan/",
        {
            "title": "Second call with the nurse",
            "narrator": "Canary Nurse Name",
            "anonymity": "anonymous",
            "agreed_channel": "whatsapp_voice",
            "consent_script": "Read the consent script.",
            "questions": "Where were you in May?",
            "notes": "Through the cousin Canary Cousin, +963 900 000 111",
        },
    )
    assert response.status_code == 302
    interview = Interview.objects.get(title="Second call with the nurse")
    assert interview.status == "planned"
    plan = InterviewPlan.objects.get(interview=interview)
    assert "Canary Cousin" not in plan.payload_ciphertext
    page = field.get(f"/manage/interviews/{interview.public_id}/plan/").content.decode()
    assert "Canary Cousin" in page
    assert client_as("researcher").get(f"/manage/interviews/{interview.public_id}/plan/").status_code == 404
    assert client_as(None).get(f"/api/v1/interviews/{interview.public_id}/").status_code == 404
    assert client_as("researcher").get(f"/api/v1/interviews/{interview.public_id}/").status_code == 404
    assert client_as("editor").get(f"/api/v1/interviews/{interview.public_id}/").status_code == 200
    held = field.post(f"/manage/interviews/{interview.public_id}/status/", {"status": "draft"})
    assert held.status_code == 302
    assert Interview.objects.get(pk=interview.pk).status == "draft"


def test_it_lets_a_custodian_delete_an_interview_leaving_a_tombstone(demo, client_as):
    interview = demo.interview("voxpop")
    narrator = interview.narrators.get()
    assert (
        client_as("editor").post(f"/manage/interviews/{interview.public_id}/delete/", {"confirm": "DELETE"}).status_code
        == 404
    )
    assert client_as("fieldresearcher").get(f"/manage/interviews/{interview.public_id}/delete/").status_code == 404
    custodian = client_as("custodian")
    assert custodian.post(f"/manage/interviews/{interview.public_id}/delete/", {"confirm": "nope"}).status_code == 400
    response = custodian.post(
        f"/manage/interviews/{interview.public_id}/delete/", {"confirm": "DELETE", "reason": "test item"}
    )
    assert response.status_code == 302
    interview.refresh_from_db()
    assert (interview.status, interview.title, interview.summary) == ("deleted", "Deleted interview", "")
    assert not Segment.objects.filter(transcript__interview=interview).exists()
    assert not Recording.objects.filter(interview=interview).exists()
    assert NarratorKey.objects.get(narrator=narrator).wrapped_key == ""
    event = AuditEvent.objects.filter(action="interview_purged").latest("id")
    assert event.detail["tombstone"] is True and event.detail["narrator_keys_destroyed"] == 1
    assert client_as(None).get(f"/api/v1/interviews/{interview.public_id}/").status_code == 404
    assert client_as("editor").get(f"/api/v1/interviews/{interview.public_id}/").status_code == 404


def test_it_lets_the_interviewer_archive_a_failed_item(demo, client_as):
    interview = demo.interview("skype-activist")
    field = client_as("fieldresearcher")
    # A published interview goes back to review (an editor's move) before it can be set aside.
    status_url = f"/manage/interviews/{interview.public_id}/status/"
    field.post(status_url, {"status": "archived"})
    assert Interview.objects.get(pk=interview.pk).status == "published"
    assert client_as("editor").post(status_url, {"status": "review"}).status_code == 302
    assert field.post(f"/manage/interviews/{interview.public_id}/status/", {"status": "archived"}).status_code == 302
    assert Interview.objects.get(pk=interview.pk).status == "archived"
    assert client_as("researcher").get(f"/api/v1/interviews/{interview.public_id}/").status_code == 404
    assert client_as("editor").get(f"/api/v1/interviews/{interview.public_id}/").status_code == 200


def test_it_shows_the_work_in_progress(demo, client_as):
    response = client_as("editor").get("/manage/")
    assert response.status_code == 200
    html = response.content.decode()
    section = html.split('data-testid="wip-suggestions"')[1].split("</section>")[0]
    assert "A media activist on escalation after each round of talks" in section
    assert 'data-testid="wip-review"' in html
    assert "/manage/users/" not in html
    assert "/manage/users/" in client_as("custodian").get("/manage/").content.decode()


def test_it_lets_a_custodian_invite_assign_and_deactivate(demo, client_as):
    custodian = client_as("custodian")
    assert client_as("editor").get("/manage/users/").status_code == 404
    response = custodian.post(
        "/manage/users/",
        {"username": "newreader", "email": "", "collection": demo.collection.slug, "role": "researcher"},
    )
    assert response.status_code == 200
    assert "/manage/set-password/" in response.content.decode()
    reader = User.objects.get(username="newreader")
    assert not reader.has_usable_password()
    assert Membership.objects.filter(user=reader, role="researcher").exists()
    custodian.post(
        "/manage/users/newreader/", {"action": "add_role", "collection": demo.collection.slug, "role": "editor"}
    )
    assert Membership.objects.filter(user=reader, role="editor").exists()
    AuthToken.objects.create(user=reader)
    signed_in = client_as("newreader")
    assert signed_in.get("/manage/").status_code == 200
    custodian.post("/manage/users/newreader/", {"action": "deactivate"})
    reader.refresh_from_db()
    assert reader.is_active is False
    assert not AuthToken.objects.filter(user=reader).exists()
    assert signed_in.get("/manage/").status_code == 302
    assert custodian.post("/manage/users/custodian/", {"action": "deactivate"}).status_code == 404


def test_it_gives_every_label_of_the_edit_page_its_own_input(demo, client_as):
    """Each narrator's form has ids of its own: every label's `for` names exactly one element, and no
    id is used twice (the narrator forms used to share theirs with each other and the interview form)."""
    interview = demo.interview("skype-activist")
    html = client_as("editor").get(_page(interview)).content.decode()
    assert html.count('data-testid="narrator-row"') >= 1
    ids = re.findall(r'\sid="([^"]+)"', html)
    targets = re.findall(r'<label[^>]*\sfor="([^"]+)"', html)
    assert [i for i in set(ids) if ids.count(i) > 1] == []
    assert [t for t in targets if t not in ids] == []
    assert {"id_narrator1_anonymity", "id_narrator1_pseudonym", "id_narrator1_descriptor"} <= set(targets)
