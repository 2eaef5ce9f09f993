"""Access grants and the narrators' consent: a grant lets a reader from outside the archive's staff in,
which is research access, so it counts only where every narrator's current consent allows research
access (and archiving, with no consent embargo in force). It reveals nothing else: not the interview,
its search hits or its exports. A custodian cannot grant an interview whose consent does not allow it:
409 with the reasons. Tested through the API and the pages, with Alice the custodian, the researcher
member and Charlie (signed in, no membership)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from archive.models import AccessRequest, Interview
from archive.services import consent_record

pytestmark = [pytest.mark.django_db]

# A word spoken only in the "skype-activist" interview.
WORD = "snipers"
ALLOWED = {"archive": True, "research_access": True, "publication": False, "public_web": False, "voice_release": False}
NO_RESEARCH = "a narrator did not consent to research access"


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


def _consent(demo, interview: Interview, **changes) -> None:
    """A new consent version for the interview's narrator: ALLOWED with `changes`."""
    consent_record(
        narrator=interview.narrators.get(), interview=interview, actor=demo.user("custodian"), **{**ALLOWED, **changes}
    )


def _hits(client) -> set[str]:
    return {hit["interview_id"] for hit in client.get("/api/v1/search/", {"q": WORD}).json()["hits"]}


def _listed(client) -> set[str]:
    return {row["id"] for row in client.get("/api/v1/interviews/", {"limit": 100}).json()["results"]}


def _export(client, interview: Interview) -> int:
    return client.get(f"{_url(interview)}export", {"format": "txt"}).status_code


def test_a_researcher_grant_does_not_reveal_an_interview_whose_narrator_refused_research_access(
    demo, client_as, outsider
):
    interview, other = demo.interview("skype-activist"), demo.interview("skype-photographer")
    charlie = client_as("charlie")
    assert charlie.get(_url(interview)).status_code == 404
    granted = _decide(client_as("custodian"), _ask(charlie, {"collection": demo.collection.slug, "tier": "researcher"}))
    assert granted.status_code == 200
    public_id = str(interview.public_id)
    assert charlie.get(_url(interview)).json()["tier"] == "researcher"
    assert _hits(charlie) == {public_id}
    assert public_id in _listed(charlie)
    assert _export(charlie, interview) == 200

    _consent(demo, interview, research_access=False)
    assert charlie.get(_url(interview)).status_code == 404
    assert _hits(charlie) == set()
    assert public_id not in _listed(charlie)
    assert _export(charlie, interview) == 404
    # The grant still counts for the collection's other interviews.
    assert charlie.get(_url(other)).json()["tier"] == "researcher"


@pytest.mark.parametrize(
    "narrowed",
    [
        {"research_access": False},
        {"embargo_until": timezone.localdate() + timedelta(days=365)},
        {"embargo_event": "Until the negotiations end."},
    ],
    ids=["no-research-access", "embargo-date", "embargo-event"],
)
def test_a_staff_grant_counts_for_nothing_while_consent_keeps_readers_out(demo, client_as, narrowed):
    interview = demo.interview("skype-activist")
    researcher = client_as("researcher")
    assert _decide(client_as("custodian"), _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"}))
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
    assert _hits(researcher) == {str(interview.public_id)}

    # The consent now holds the interview at staff; the granted staff tier must not lift the reader over it.
    _consent(demo, interview, **narrowed)
    assert researcher.get(_url(interview)).status_code == 404
    assert _hits(researcher) == set()
    assert _export(researcher, interview) == 404
    assert client_as("archivist").get(_url(interview)).json()["tier"] == "staff"  # the archive's staff still do

    # Consent given again: the grant, still in force, counts again.
    _consent(demo, interview)
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
    assert _hits(researcher) == {str(interview.public_id)}


def test_it_refuses_to_grant_what_the_consent_does_not_allow_with_the_reasons(demo, client_as):
    interview = demo.interview("skype-activist")
    researcher = client_as("researcher")
    request_id = _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"})
    _consent(demo, interview, research_access=False, embargo_until=timezone.localdate() + timedelta(days=10))
    until = (timezone.localdate() + timedelta(days=10)).isoformat()
    refused = _decide(client_as("custodian"), request_id)
    reasons = [NO_RESEARCH, f"a narrator's consent embargoes it until {until}"]
    assert (refused.status_code, refused.json()) == (
        409,
        {
            "detail": f"This interview cannot be granted: {'; '.join(reasons)}.",
            "reasons": reasons,
        },
    )
    assert AccessRequest.objects.get(public_id=request_id).status == AccessRequest.Status.PENDING


def test_the_decision_page_says_why_the_grant_is_refused(demo, client_as):
    interview = demo.interview("skype-activist")
    request_id = _ask(client_as("researcher"), {"interview": str(interview.public_id), "tier": "staff"})
    _consent(demo, interview, research_access=False)
    custodian = client_as("custodian")
    ends = (timezone.localdate() + timedelta(days=30)).isoformat()
    form = {f"{request_id}-decision": "grant", f"{request_id}-terms": "Terms.", f"{request_id}-ends_on": ends}
    page = custodian.post(f"/manage/access-requests/{request_id}/decision/", form, follow=True)
    assert page.status_code == 200
    assert f"This interview cannot be granted: {NO_RESEARCH}." in page.content.decode()
    assert AccessRequest.objects.get(public_id=request_id).status == AccessRequest.Status.PENDING


def test_it_still_grants_an_interview_whose_narrator_refused_only_publication(demo, client_as):
    """No consent to publication (or the public web) keeps the public out, not a reader let in."""
    interview = demo.interview("skype-activist")  # research access, no publication, no public web
    researcher = client_as("researcher")
    granted = _decide(
        client_as("custodian"), _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"})
    )
    assert (granted.status_code, granted.json()["status"]) == (200, "granted")
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
