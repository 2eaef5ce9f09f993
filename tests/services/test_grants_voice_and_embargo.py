"""What a grant never lifts a reader over: the voice of a narrator who did not release it (the staff tier
hears it because the archive's staff hold it; a reader granted staff reads the staff text without the
audio, in the page, the API, the audio endpoint and every export), and an embargo an editor set on the
interview (as a consent embargo, it holds the interview at staff). Through the pages and the API, with
the researcher member and Charlie (signed in, no membership)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import numpy as np
import pytest
import soundfile
from django.utils import timezone

from archive.models import Interview
from archive.services import SegmentInput, consent_record, narrator_create, transcript_store
from archive.services.recordings import recorded_interview_create, recording_store

pytestmark = [pytest.mark.django_db]


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
        publication=True,
        public_web=True,
        voice_release=released,
    )


def _bag_members(client, interview: Interview) -> list[str]:
    response = client.get(f"{_url(interview)}export", {"format": "bagit"})
    assert response.status_code == 200
    data = b"".join(response.streaming_content) if response.streaming else response.content
    return zipfile.ZipFile(io.BytesIO(data)).namelist()


def _without_audio(client, interview: Interview) -> None:
    """Everything a reader receives of the interview carries no audio."""
    assert client.get(_url(interview)).json()["audio_available"] is False
    listed = {row["id"]: row for row in client.get("/api/v1/interviews/", {"limit": 100}).json()["results"]}
    assert listed[str(interview.public_id)]["audio_available"] is False
    assert client.get(f"{_url(interview)}audio").status_code == 404
    assert client.get(f"{_url(interview)}export", {"format": "audio"}).status_code == 404
    assert not [name for name in _bag_members(client, interview) if name.endswith(".mp3")]
    page = client.get(f"/interviews/{interview.public_id}/").content.decode()
    assert "<audio" not in page
    dialog = client.get(f"/interviews/{interview.public_id}/export/").content.decode()
    assert 'value="audio"' not in dialog


def _recorded(demo, tmp_path) -> Interview:
    """A recorded interview whose narrator allows research access and publication, not their voice."""
    interview = recorded_interview_create(
        collection=demo.collection,
        title="A call from the bakery",
        narrator_name="Zqxwidad Zqxhaddad",
        anonymity="pseudonymous",
        access_level="public",
        status="published",
        language="en",
        consent_scopes={"research_access": True, "publication": True, "public_web": True, "voice_release": False},
    )
    path = tmp_path / "call.wav"
    rate = 16_000
    t = np.arange(rate * 4) / rate
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate)
    with path.open("rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename="call.wav")
    segments = [SegmentInput(start=0.0, end=3.5, text="We baked bread before dawn near the river.")]
    transcript_store(interview=interview, segments=segments, source="whisper", recording=recording, language="en")
    return interview


def test_a_staff_grant_gives_the_staff_text_without_a_voice_the_narrator_did_not_release(demo, client_as, tmp_path):
    interview = _recorded(demo, tmp_path)
    researcher, archivist = client_as("researcher"), client_as("archivist")
    assert archivist.get(_url(interview)).json()["audio_available"] is True  # the staff hear it
    assert researcher.get(_url(interview)).json()["audio_available"] is False
    assert _decide(client_as("custodian"), _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"}))
    assert researcher.get(_url(interview)).json()["tier"] == "staff"
    _without_audio(researcher, interview)
    # The staff text is the staff's; only the audio is left out.
    staff_view, granted_view = archivist.get(_url(interview)).json(), researcher.get(_url(interview)).json()
    assert granted_view["segments"] == staff_view["segments"] and granted_view["place"] == staff_view["place"]
    assert archivist.get(f"{_url(interview)}audio").status_code == 200

    # The narrator releases their voice: the granted reader hears it; withdrawn again, no more.
    _release_voice(demo, interview)
    assert researcher.get(_url(interview)).json()["audio_available"] is True
    assert researcher.get(f"{_url(interview)}audio").status_code == 200
    assert [name for name in _bag_members(researcher, interview) if name.endswith(".mp3")]
    _release_voice(demo, interview, released=False)
    _without_audio(researcher, interview)


def test_a_collection_grant_gives_no_voice_that_was_not_released(demo, client_as, outsider, tmp_path):
    held = _recorded(demo, tmp_path)
    charlie = client_as("charlie")
    assert charlie.get(_url(held)).json()["tier"] == "public"
    granted = _decide(client_as("custodian"), _ask(charlie, {"collection": demo.collection.slug, "tier": "staff"}))
    assert granted.status_code == 200
    assert charlie.get(_url(held)).json()["tier"] == "staff"
    _without_audio(charlie, held)


def _embargo(client, interview: Interview, until) -> None:
    body = json.dumps({"embargo_until": until.isoformat() if until else None})
    changed = client.patch(_url(interview), body, content_type="application/json")
    assert changed.status_code == 200, changed.content


def test_an_embargo_set_by_an_editor_holds_a_granted_reader_out(demo, client_as):
    interview = demo.interview("skype-activist")
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


def test_a_narrator_without_consent_on_file_keeps_every_grant_out(demo, client_as, outsider):
    interview = demo.interview("skype-activist")  # access: researcher
    second = narrator_create(
        collection=demo.collection, legal_name="Zqxsecond Zqxneighbour", anonymity="anonymous", descriptor="a neighbour"
    )
    interview.narrators.add(second)
    researcher, charlie, custodian = client_as("researcher"), client_as("charlie"), client_as("custodian")
    refused = _decide(custodian, _ask(researcher, {"interview": str(interview.public_id), "tier": "staff"}))
    assert (refused.status_code, refused.json()["reasons"]) == (409, ["a narrator's consent is not on file"])
    assert (
        _decide(custodian, _ask(charlie, {"collection": demo.collection.slug, "tier": "researcher"})).status_code == 200
    )
    assert charlie.get(_url(interview)).status_code == 404  # the collection grant counts for nothing here

    consent_record(
        narrator=second,
        interview=interview,
        actor=demo.user("custodian"),
        archive=True,
        research_access=True,
        voice_release=False,
    )
    assert charlie.get(_url(interview)).json()["tier"] == "researcher"
