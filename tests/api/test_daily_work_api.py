"""The editors' and custodians' API: interview fields and status, narrators' anonymity, revoking a
redaction, access requests and grants. Tested through the API, as each kind of user works."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from archive.models import AccessRequest, AuditEvent, Redaction
from archive.services import consent_record

pytestmark = [pytest.mark.django_db]


def _patch(client, url: str, body: dict):
    return client.patch(url, json.dumps(body), content_type="application/json")


def _post(client, url: str, body: dict):
    return client.post(url, json.dumps(body), content_type="application/json")


def _url(interview, tail: str = "") -> str:
    return f"/api/v1/interviews/{interview.public_id}/{tail}"


def _last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-id").first()


# Interview fields ----------------------------------------------------------------------------------


def test_it_lets_the_interviewer_edit_descriptive_fields_and_renders_them(demo, client_as):
    interview = demo.interview("skype-photographer")
    response = _patch(
        client_as("fieldresearcher"),
        _url(interview),
        {"title": "Photographs of the siege", "topics": ["photography", "siege", "photography"], "mode": "phone"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Photographs of the siege"
    assert body["topics"] == ["photography", "siege"]
    assert body["mode"] == "phone"
    assert _last("interview_update").detail == {"fields": ["mode", "title", "topics"]}
    public = client_as(None).get(_url(interview)).json()
    assert public["title"] == "Photographs of the siege"


def test_it_refuses_editorial_fields_to_the_interviewer(demo, client_as):
    interview = demo.interview("skype-photographer")
    response = _patch(client_as("fieldresearcher"), _url(interview), {"access_level": "staff"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only editors and custodians change access_level."}


def test_it_answers_404_to_readers_who_may_not_edit(demo, client_as):
    interview = demo.interview("skype-activist")
    for username in ("researcher", "archivist", None):
        response = _patch(client_as(username), _url(interview), {"title": "Changed"})
        assert response.status_code == 404, username
        assert response.json() == {"detail": "Not found."}


def test_it_hides_an_interview_when_an_editor_raises_its_access_level(demo, client_as):
    interview = demo.interview("skype-photographer")
    assert client_as(None).get(_url(interview)).status_code == 200
    response = _patch(client_as("editor"), _url(interview), {"access_level": "staff", "place_general": "Homs"})
    assert response.status_code == 200
    assert response.json()["tier"] == "staff"
    assert client_as(None).get(_url(interview)).status_code == 404
    assert client_as(None).get("/api/v1/interviews/").json()["count"] == 3


def test_it_rejects_fields_that_are_not_editable(demo, client_as):
    interview = demo.interview("skype-photographer")
    response = _patch(client_as("editor"), _url(interview), {"status": "published", "title": "x"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Not editable: status."}
    response = _patch(client_as("editor"), _url(interview), {"title": "   "})
    assert response.status_code == 400


# Status ---------------------------------------------------------------------------------------------


def _back_to_review(client_as, interview) -> None:
    """The demo publishes the activist's interview (a suggestion still waits): an editor takes it back."""
    assert _post(client_as("editor"), _url(interview, "status"), {"status": "review"}).json() == {"status": "review"}
    assert client_as("researcher").get(_url(interview)).status_code == 404  # below staff, only published


def test_it_refuses_publication_with_every_reason(demo, client_as):
    interview = demo.interview("skype-activist")
    _back_to_review(client_as, interview)
    response = _post(client_as("editor"), _url(interview, "status"), {"status": "published"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Publication refused.",
        "reasons": [
            "1 suggested redaction(s) wait for a decision.",
            "1 contact detail(s) found in the transcript are not redacted yet.",
        ],
    }
    interview.refresh_from_db()
    assert interview.status == "review"


def test_it_publishes_once_the_suggestions_are_decided(demo, client_as):
    interview = demo.interview("skype-activist")
    _back_to_review(client_as, interview)
    editor = client_as("editor")
    suggestions = editor.get(_url(interview, "redactions/")).json()["suggestions"]
    decided = _post(
        editor, _url(interview, "redactions/decide/"), {"ids": [s["id"] for s in suggestions], "approve": True}
    )
    assert decided.json() == {"count": 1}
    response = _post(editor, _url(interview, "status"), {"status": "published"})
    assert response.status_code == 200
    assert response.json() == {"status": "published"}
    assert _last("interview_status").detail == {"from": "review", "to": "published"}
    assert client_as("researcher").get(_url(interview)).json()["tier"] == "researcher"
    # Back to review is an editor's move too.
    assert _post(client_as("fieldresearcher"), _url(interview, "status"), {"status": "review"}).status_code == 403
    assert _post(editor, _url(interview, "status"), {"status": "review"}).json() == {"status": "review"}


def test_it_lets_the_interviewer_move_their_interview_between_draft_and_review(demo, client_as):
    interview = demo.interview("skype-activist")
    field = client_as("fieldresearcher")
    assert _post(field, _url(interview, "status"), {"status": "review"}).status_code == 403  # it is published
    _back_to_review(client_as, interview)
    assert _post(field, _url(interview, "status"), {"status": "draft"}).json() == {"status": "draft"}
    response = _post(field, _url(interview, "status"), {"status": "published"})
    assert response.status_code == 400
    assert response.json() == {"detail": "An interview in draft cannot move to published."}
    assert _post(field, _url(interview, "status"), {"status": "review"}).json() == {"status": "review"}
    response = _post(field, _url(interview, "status"), {"status": "published"})
    assert response.status_code == 403


def test_it_refuses_publication_when_consent_does_not_cover_the_access_level(demo, client_as):
    interview = demo.interview("skype-activist")
    editor = client_as("editor")
    _back_to_review(client_as, interview)
    assert _patch(editor, _url(interview), {"access_level": "public"}).status_code == 200
    response = _post(editor, _url(interview, "status"), {"status": "published"})
    assert response.status_code == 409
    assert (
        "Consent does not cover the access level: it allows the interview from researcher, the access level is public."
        in response.json()["reasons"]
    )


# Narrators ------------------------------------------------------------------------------------------


def test_it_lists_narrators_as_the_editors_tier_refers_to_them(demo, client_as):
    interview = demo.interview("skype-activist")
    response = client_as("editor").get(_url(interview, "narrators/"))
    assert response.status_code == 200
    assert response.json() == {
        "tier": "staff",
        "narrators": [
            {
                "reference": "narrator-1",
                "anonymity": "anonymous",
                "pseudonym": None,
                "descriptor": "a media activist in the district",
            }
        ],
    }
    custodian = client_as("custodian").get(_url(interview, "narrators/")).json()
    narrator = interview.narrators.get()
    assert custodian["narrators"][0]["reference"] == str(narrator.public_id)
    assert custodian["narrators"][0]["pseudonym"] == narrator.pseudonym
    assert client_as("researcher").get(_url(interview, "narrators/")).status_code == 404
    assert client_as("fieldresearcher").get(_url(interview, "narrators/")).status_code == 404


def test_it_lists_sealed_narrators_to_custodians_only(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    sealed = demo.interview("sealed-committee").narrators.get()
    interview.narrators.add(sealed)
    editor = client_as("editor").get(_url(interview, "narrators/")).json()
    assert [n["anonymity"] for n in editor["narrators"]] == ["pseudonymous"]
    custodian = client_as("custodian").get(_url(interview, "narrators/")).json()
    assert sorted(n["anonymity"] for n in custodian["narrators"]) == ["pseudonymous", "sealed"]
    url = _url(interview, f"narrators/{sealed.public_id}/")
    assert _patch(client_as("editor"), url, {"descriptor": "x"}).status_code == 404


def test_it_changes_a_narrators_descriptor_and_renders_it(demo, client_as):
    interview = demo.interview("skype-activist")
    response = _patch(client_as("editor"), _url(interview, "narrators/narrator-1/"), {"descriptor": "a resident"})
    assert response.status_code == 200
    assert response.json() == {
        "reference": "narrator-1",
        "anonymity": "anonymous",
        "pseudonym": None,
        "descriptor": "a resident",
    }
    assert _last("narrator_update").detail == {"fields": ["descriptor"]}
    body = client_as("researcher").get(_url(interview)).json()
    assert [n["display_name"] for n in body["narrators"]] == ["a resident"]


def test_it_leaves_naming_a_narrator_to_custodians(demo, client_as):
    interview = demo.interview("skype-activist")
    response = _patch(client_as("editor"), _url(interview, "narrators/narrator-1/"), {"anonymity": "named"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only custodians make a narrator named: it shows their real name."}
    narrator = interview.narrators.get()
    url = _url(interview, f"narrators/{narrator.public_id}/")
    response = _patch(client_as("custodian"), url, {"anonymity": "pseudonymous", "pseudonym": "Resident K"})
    assert response.status_code == 200
    assert response.json()["anonymity"] == "pseudonymous"
    assert _last("narrator_anonymity").detail == {"anonymity": "pseudonymous"}
    body = client_as("researcher").get(_url(interview)).json()
    assert [n["display_name"] for n in body["narrators"]] == ["Resident K"]


def test_it_withholds_a_narrator_an_editor_seals(demo, client_as):
    interview = demo.interview("skype-activist")
    editor = client_as("editor")
    response = _patch(editor, _url(interview, "narrators/narrator-1/"), {"anonymity": "sealed"})
    assert response.status_code == 200
    assert response.json() == {"reference": "withheld", "anonymity": "sealed", "pseudonym": None, "descriptor": ""}
    assert editor.get(_url(interview, "narrators/")).json()["narrators"] == []
    assert client_as("researcher").get(_url(interview)).json()["narrators"] == []


# Revoking a redaction ------------------------------------------------------------------------------


def _span(client, interview, visible_from: str = "staff") -> str:
    body = {"kind": "span", "segment": 0, "start": 0, "end": 4, "category": "other", "visible_from": visible_from}
    response = _post(client, _url(interview, "redactions/"), body)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_it_revokes_a_redaction_and_renders_the_words_again(demo, client_as):
    interview = demo.interview("skype-photographer")
    before = client_as(None).get(_url(interview)).json()["segments"][0]["text"]
    redaction_id = _span(client_as("editor"), interview)
    hidden = client_as(None).get(_url(interview)).json()["segments"][0]["text"]
    assert hidden != before
    assert client_as("researcher").delete(f"/api/v1/redactions/{redaction_id}").status_code == 404
    assert client_as("fieldresearcher").delete(f"/api/v1/redactions/{redaction_id}").status_code == 404
    response = client_as("editor").delete(f"/api/v1/redactions/{redaction_id}")
    assert response.status_code == 204
    assert Redaction.objects.get(public_id=redaction_id).status == "rejected"
    assert _last("redaction_revoke").detail == {"redaction": redaction_id, "previous": "approved", "kind": "span"}
    assert client_as(None).get(_url(interview)).json()["segments"][0]["text"] == before
    again = client_as("editor").delete(f"/api/v1/redactions/{redaction_id}")
    assert again.status_code == 400
    assert again.json() == {"detail": "This redaction is already revoked or was rejected."}


def test_it_keeps_a_custodians_redaction_from_editors(demo, client_as):
    interview = demo.interview("skype-photographer")
    redaction_id = _span(client_as("custodian"), interview, visible_from="custodian")
    assert client_as("editor").delete(f"/api/v1/redactions/{redaction_id}").status_code == 404
    assert client_as("custodian").delete(f"/api/v1/redactions/{redaction_id}").status_code == 204


# Access requests ------------------------------------------------------------------------------------


def _ask(client, body: dict):
    return _post(client, "/api/v1/access-requests/", body)


def _decide(client, request_id: str, body: dict):
    return _post(client, f"/api/v1/access-requests/{request_id}/decision", body)


def test_it_grants_a_researcher_a_higher_tier_for_one_interview(demo, client_as):
    interview = demo.interview("skype-activist")
    researcher = client_as("researcher")
    assert researcher.get(_url(interview)).json()["tier"] == "researcher"
    asked = _ask(researcher, {"interview": str(interview.public_id), "tier": "staff", "purpose": "A thesis chapter."})
    assert asked.status_code == 201
    request_id = asked.json()["id"]
    assert asked.json()["status"] == "pending"
    assert _last("access_request").detail == {"request": request_id, "tier": "staff"}
    assert _decide(client_as("editor"), request_id, {"decision": "grant"}).status_code == 404
    assert _decide(researcher, request_id, {"decision": "grant"}).status_code == 404
    ends = (timezone.localdate() + timedelta(days=30)).isoformat()
    no_terms = _decide(client_as("custodian"), request_id, {"decision": "grant", "ends_on": ends})
    assert no_terms.status_code == 400
    assert no_terms.json() == {"detail": "A grant states its terms."}
    granted = _decide(
        client_as("custodian"), request_id, {"decision": "grant", "terms": "No quotation.", "ends_on": ends}
    )
    assert granted.status_code == 200
    assert granted.json()["status"] == "granted"
    assert _last("access_grant").tier == "staff"
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
    # Only that interview.
    other = demo.interview("skype-photographer")
    assert researcher.get(_url(other)).json()["tier"] == "researcher"


def test_it_ends_a_grant_on_its_date(demo, client_as):
    interview = demo.interview("skype-activist")
    researcher = client_as("researcher")
    request_id = _ask(researcher, {"interview": str(interview.public_id), "tier": "staff", "purpose": "Study."}).json()[
        "id"
    ]
    ends = (timezone.localdate() + timedelta(days=1)).isoformat()
    _decide(client_as("custodian"), request_id, {"decision": "grant", "terms": "Terms.", "ends_on": ends})
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
    AccessRequest.objects.filter(public_id=request_id).update(ends_on=timezone.localdate() - timedelta(days=1))
    assert researcher.get(_url(interview)).json()["tier"] == "researcher"


def test_it_revokes_grants_when_consent_is_withdrawn(demo, client_as):
    interview = demo.interview("skype-activist")
    researcher = client_as("researcher")
    request_id = _ask(researcher, {"interview": str(interview.public_id), "tier": "staff", "purpose": "Study."}).json()[
        "id"
    ]
    ends = (timezone.localdate() + timedelta(days=30)).isoformat()
    _decide(client_as("custodian"), request_id, {"decision": "grant", "terms": "Terms.", "ends_on": ends})
    consent_record(
        narrator=interview.narrators.get(), interview=interview, withdrawn=True, actor=demo.user("custodian")
    )
    row = AccessRequest.objects.get(public_id=request_id)
    assert (row.status, row.revoked_reason) == ("revoked", "consent_withdrawn")
    assert _last("access_grants_revoke").detail == {"revoked": 1, "refused": 0, "reason": "consent_withdrawn"}
    assert researcher.get(_url(interview)).status_code == 404


def test_it_grants_a_collection_to_a_signed_in_stranger_and_refuses_others(demo, client_as, outsider):
    interview = demo.interview("skype-activist")
    charlie = client_as("charlie")
    assert charlie.get(_url(interview)).status_code == 404
    asked = _ask(charlie, {"collection": demo.collection.slug, "tier": "researcher", "purpose": "Research."})
    assert asked.status_code == 201
    ends = (timezone.localdate() + timedelta(days=30)).isoformat()
    response = _decide(
        client_as("custodian"), asked.json()["id"], {"decision": "grant", "terms": "Terms.", "ends_on": ends}
    )
    assert response.status_code == 200
    assert charlie.get(_url(interview)).json()["tier"] == "researcher"
    refused = _ask(charlie, {"collection": demo.collection.slug, "tier": "staff", "purpose": "More."})
    response = _decide(client_as("custodian"), refused.json()["id"], {"decision": "refuse", "terms": "Not now."})
    assert response.json()["status"] == "refused"
    assert _last("access_refuse") is not None
    listed = charlie.get("/api/v1/access-requests/").json()["results"]
    assert sorted(r["status"] for r in listed) == ["granted", "refused"]


def test_it_refuses_requests_it_cannot_take(demo, client_as):
    interview = demo.interview("skype-activist")
    researcher = client_as("researcher")
    custodian_tier = _ask(researcher, {"interview": str(interview.public_id), "tier": "custodian", "purpose": "x"})
    assert custodian_tier.status_code == 400
    same = _ask(researcher, {"interview": str(interview.public_id), "tier": "researcher", "purpose": "x"})
    assert same.json() == {"detail": "You already see this at the researcher tier."}
    hidden = demo.interview("sealed-committee")
    assert _ask(researcher, {"interview": str(hidden.public_id), "tier": "staff", "purpose": "x"}).status_code == 404
    assert (
        _ask(client_as(None), {"interview": str(interview.public_id), "tier": "staff", "purpose": "x"}).status_code
        == 404
    )


def test_it_describes_every_daily_work_endpoint_in_the_schema(demo, client_as):
    schema = client_as(None).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert "patch" in paths["/api/v1/interviews/{public_id}/"]
    assert "409" in paths["/api/v1/interviews/{public_id}/status"]["post"]["responses"]
    assert "get" in paths["/api/v1/interviews/{public_id}/narrators/"]
    assert "patch" in paths["/api/v1/interviews/{public_id}/narrators/{reference}/"]
    assert "delete" in paths["/api/v1/redactions/{redaction_id}"]
    assert "post" in paths["/api/v1/access-requests/"]
    assert "post" in paths["/api/v1/access-requests/{request_id}/decision"]
