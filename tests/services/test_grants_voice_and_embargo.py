"""What a grant never lifts a reader over: the voice of a narrator who did not release it (the staff tier
hears the audio, so a grant counts as staff only where every narrator released their voice, and as
researcher elsewhere), and an embargo an editor set on the interview (as a consent embargo, it holds the
interview at staff). Through the API, with the researcher member and Charlie (signed in, no membership)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from archive.models import AccessRequest, Interview
from archive.services import consent_record

pytestmark = [pytest.mark.django_db]

VOICE = "a narrator did not release their voice, which the staff tier hears (grant researcher)"


def _post(client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def _url(interview: Interview) -> str:
    return f"/api/v1/interviews/{interview.public_id}/"


def _ask(client, body: dict) -> str:
    asked = _post(client, "/api/v1/access-requests/", {**body, "purpose": "A thesis chapter."})
    assert asked.status_code == 201, asked.content
    return asked.json()["id"]


def _decide(client, request_id: str):
    ends = (timezone.localdate() + timedelta(days=30)).isoformat()
    body = {"decision": "grant", "terms": "No quotation.", "ends_on": ends}
    return _post(client, f"/api/v1/access-requests/{request_id}/decision", body)


def _release_voice(demo, interview: Interview, released: bool = True) -> None:
    consent_record(
        narrator=interview.narrators.get(),
        interview=interview,
        actor=demo.user("custodian"),
        archive=True,
        research_access=True,
        publication=False,
        public_web=False,
        voice_release=released,
    )


def test_a_staff_grant_on_an_interview_whose_voice_is_not_released_is_refused_with_the_reason(demo, client_as):
    interview = demo.interview("skype-activist")  # research access, voice not released
    researcher = client_as("researcher")
    request_id = _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"})
    refused = _decide(client_as("custodian"), request_id)
    assert (refused.status_code, refused.json()["reasons"]) == (409, [VOICE])
    assert AccessRequest.objects.get(public_id=request_id).status == AccessRequest.Status.PENDING
    assert researcher.get(_url(interview)).json()["tier"] == "researcher"
    assert researcher.get(f"{_url(interview)}audio").status_code == 404


def test_a_collection_staff_grant_counts_as_researcher_where_a_voice_is_not_released(demo, client_as, outsider):
    held, released = demo.interview("skype-activist"), demo.interview("facebook-journalist")
    charlie = client_as("charlie")
    granted = _decide(client_as("custodian"), _ask(charlie, {"collection": demo.collection.slug, "tier": "staff"}))
    assert granted.status_code == 200
    shown = charlie.get(_url(held)).json()
    assert (shown["tier"], shown["audio_available"]) == ("researcher", False)
    assert charlie.get(f"{_url(held)}audio").status_code == 404
    assert charlie.get(f"{_url(held)}export", {"format": "audio"}).status_code == 404
    assert charlie.get(_url(released)).json()["tier"] == "staff"

    # The narrator releases their voice: the grant reaches staff there, audio included; and back.
    _release_voice(demo, held)
    assert charlie.get(_url(held)).json()["tier"] == "staff"
    _release_voice(demo, held, released=False)
    assert charlie.get(_url(held)).json()["tier"] == "researcher"
    assert charlie.get(f"{_url(held)}audio").status_code == 404


def _embargo(client, interview: Interview, until) -> None:
    body = json.dumps({"embargo_until": until.isoformat() if until else None})
    changed = client.patch(_url(interview), body, content_type="application/json")
    assert changed.status_code == 200, changed.content


def test_an_embargo_set_by_an_editor_holds_a_granted_reader_out(demo, client_as):
    interview = demo.interview("skype-activist")
    _release_voice(demo, interview)
    researcher, editor, custodian = client_as("researcher"), client_as("editor"), client_as("custodian")
    request_id = _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"})
    until = timezone.localdate() + timedelta(days=90)

    # No grant while the embargo is in force: refused with its date.
    _embargo(editor, interview, until)
    refused = _decide(custodian, request_id)
    assert (refused.status_code, refused.json()["reasons"]) == (409, [f"it is embargoed until {until.isoformat()}"])
    _embargo(editor, interview, None)
    assert _decide(custodian, request_id).status_code == 200
    assert researcher.get(_url(interview)).json()["tier"] == "staff"

    # Embargoed after the grant: the granted staff tier must not lift the reader over it.
    _embargo(editor, interview, until)
    assert researcher.get(_url(interview)).status_code == 404
    assert researcher.get(f"{_url(interview)}audio").status_code == 404
    hits = researcher.get("/api/v1/search/", {"q": "snipers"}).json()["hits"]
    assert str(interview.public_id) not in {hit["interview_id"] for hit in hits}
    assert client_as("archivist").get(_url(interview)).json()["tier"] == "staff"  # the archive's staff still do

    # The embargo lifted: the grant, still in force, counts again.
    _embargo(editor, interview, None)
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
