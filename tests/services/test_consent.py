"""The consent ledger UI and the withdrawal cascade over every surface below custodian."""

from __future__ import annotations

import io
import json
import math
import struct
import wave
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from archive import services
from archive.gate import policy as access
from archive.models import AuditEvent, ConsentRecord, Interview, RenderedInterview, Segment
from archive.services import export_cache_dir, withdrawal
from archive.services.recordings import recording_store

pytestmark = pytest.mark.django_db

SCOPES_ALL = dict.fromkeys(
    ("archive", "research_access", "publication", "public_web", "voice_release", "processing"), "on"
)
PHRASE = "Damascus"  # in the journalist's interview, public


def _url(interview: Interview, suffix: str = "") -> str:
    return f"/interviews/{interview.public_id}/consent/{suffix}"


def _narrator_id(interview: Interview) -> str:
    return str(interview.narrators.get().public_id)


def _tone_wav(seconds: float = 2.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000))) for i in range(int(16000 * seconds))
        )
        out.writeframes(frames)
    return buffer.getvalue()


def _search_ids(tier: str, query: str = PHRASE) -> set[str]:
    out = io.StringIO()
    call_command("search", query, "--tier", tier, "--json", stdout=out)
    return {hit["interview_id"] for hit in json.loads(out.getvalue())["hits"]}


# Ledger UI ---------------------------------------------------------------------------------------


def test_it_shows_the_ledger_to_editors_only(demo, client_as):
    interview = demo.interview("facebook-journalist")
    page = client_as("editor").get(_url(interview))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="consent-version">1<' in body
    assert 'data-testid="floor">Public<' in body
    for who in (None, "researcher", "archivist"):
        assert client_as(who).get(_url(interview)).status_code == 404
    assert AuditEvent.objects.filter(action="consent_view", target_id=str(interview.public_id)).count() == 1


def test_it_amends_consent_as_a_new_version_that_drives_the_gate(demo, client_as):
    interview = demo.interview("facebook-journalist")
    editor = client_as("editor")
    form = editor.get(_url(interview, f"{_narrator_id(interview)}/"))
    assert form.status_code == 200
    # Pre-filled from the current version.
    assert '<input type="checkbox" name="publication" id="id_publication" checked>' in form.content.decode()
    data = {**SCOPES_ALL, "method": "message", "conditions": "No quotation in print."}
    del data["publication"]
    response = editor.post(_url(interview, f"{_narrator_id(interview)}/"), data)
    assert response.status_code == 302
    current = ConsentRecord.objects.filter(interview=interview).order_by("-version").first()
    assert (current.version, current.publication, current.public_web, current.conditions) == (
        2,
        False,
        True,
        "No quotation in print.",
    )
    interview.refresh_from_db()
    assert interview.floor_tier == "researcher"
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 404
    assert client_as("researcher").get(f"/interviews/{interview.public_id}/").status_code == 200
    stamp = RenderedInterview.objects.get(interview=interview, tier="researcher").consent_version
    assert stamp.endswith(":v2")
    event = AuditEvent.objects.filter(action="consent_record", target_id=str(interview.public_id)).last()
    assert event.detail["version"] == 2 and event.detail["publication"] is False
    assert "No quotation" not in json.dumps(event.detail)


def test_it_stores_a_signed_form_privately_under_an_opaque_name(demo, client_as, settings):
    interview = demo.interview("whatsapp-teacher")
    url = _url(interview, f"{_narrator_id(interview)}/")
    scan = SimpleUploadedFile("Rima Saleh Hamdan consent.pdf", b"%PDF-1.4\n% signed\n", content_type="application/pdf")
    response = client_as("editor").post(url, {**SCOPES_ALL, "method": "signed_form", "form_file": scan})
    assert response.status_code == 302
    record = ConsentRecord.objects.filter(interview=interview).order_by("-version").first()
    assert record.method == "signed_form"
    assert record.form_file.name.startswith("consent/") and record.form_file.name.endswith(".pdf")
    assert "Rima" not in record.form_file.name and "consent.pdf" not in record.form_file.name
    assert str(settings.PRIVATE_MEDIA_DIR) in default_storage.path(record.form_file.name)
    download = f"/interviews/{interview.public_id}/consent/forms/{record.pk}/"
    assert client_as("editor").get(download).status_code == 404  # custodians only
    got = client_as("custodian").get(download)
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == b"%PDF-1.4\n% signed\n"
    assert got["Content-Disposition"] == f'attachment; filename="consent-form-v{record.version}.pdf"'
    assert AuditEvent.objects.filter(action="download", target_id=str(interview.public_id)).count() == 1


def test_it_refuses_forms_that_are_not_scans_or_too_large(demo, client_as, settings):
    interview = demo.interview("whatsapp-teacher")
    url = _url(interview, f"{_narrator_id(interview)}/")
    fake = SimpleUploadedFile("form.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = client_as("editor").post(url, {**SCOPES_ALL, "method": "signed_form", "form_file": fake})
    assert response.status_code == 400
    assert "Upload a PDF, PNG, JPEG or TIFF scan" in response.content.decode()
    settings.RAWI_MAX_CONSENT_FORM_BYTES = 1024
    big = SimpleUploadedFile("form.pdf", b"%PDF-" + b"0" * 2048, content_type="application/pdf")
    response = client_as("editor").post(url, {**SCOPES_ALL, "method": "signed_form", "form_file": big})
    assert response.status_code == 400
    assert "larger than" in response.content.decode()
    missing = client_as("editor").post(url, {**SCOPES_ALL, "method": "signed_form"})
    assert missing.status_code == 400
    assert ConsentRecord.objects.filter(interview=interview).count() == 1


def test_it_links_verbal_consent_to_its_recording_segment_and_hash(demo, client_as):
    interview = demo.interview("facebook-journalist")
    recording = recording_store(interview=interview, fileobj=io.BytesIO(_tone_wav()), original_filename="call.wav")
    url = _url(interview, f"{_narrator_id(interview)}/")
    data = {**SCOPES_ALL, "method": "verbal_recorded", "recording": str(recording.public_id)}
    bad = client_as("editor").post(url, {**data, "verbal_start": "1.5", "verbal_end": "0.5"})
    assert bad.status_code == 400
    too_late = client_as("editor").post(url, {**data, "verbal_start": "0.5", "verbal_end": "30"})
    assert too_late.status_code == 400
    assert "after the recording does" in too_late.content.decode()
    good = client_as("editor").post(url, {**data, "verbal_start": "0.25", "verbal_end": "1.75"})
    assert good.status_code == 302
    record = ConsentRecord.objects.filter(interview=interview).order_by("-version").first()
    assert (record.verbal_segment_start, record.verbal_segment_end) == (0.25, 1.75)
    assert record.verbal_audio_sha256 == recording.sha256 and len(record.verbal_audio_sha256) == 64


def test_it_needs_a_review_date_for_an_event_embargo_and_lists_reviews(demo, client_as):
    interview = demo.interview("facebook-journalist")
    url = _url(interview, f"{_narrator_id(interview)}/")
    data = {**SCOPES_ALL, "method": "message", "embargo_event": "until the narrator leaves Syria"}
    assert client_as("editor").post(url, data).status_code == 400
    review = timezone_today_plus(3)
    assert client_as("editor").post(url, {**data, "review_on": review.isoformat()}).status_code == 302
    interview.refresh_from_db()
    # An embargo until an event keeps the interview at staff until someone reviews it.
    assert interview.floor_tier == "staff"
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 404
    page = client_as("editor").get("/consent/reviews/").content.decode()
    assert page.count('data-testid="review-row"') == 1
    assert "until the narrator leaves Syria" in page and "due</strong>" in page
    assert client_as("researcher").get("/consent/reviews/").content.decode().count('data-testid="review-row"') == 0


def timezone_today_plus(days: int) -> date:
    return timezone.localdate() + timedelta(days=days)


# Withdrawal cascade ------------------------------------------------------------------------------


@pytest.fixture
def journalist_everywhere(demo, client_as):
    """The public journalist interview present on every surface: pages, API, search, export, audio."""
    interview = demo.interview("facebook-journalist")
    recording = recording_store(interview=interview, fileobj=io.BytesIO(_tone_wav()), original_filename="voice.wav")
    # The first message becomes a voice note of that recording (its media), so the interview has audio.
    first = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).order_by("index")[0]
    Segment.objects.filter(pk=first.pk).update(recording=recording, media_offset=first.start, end=first.start + 2.0)
    services.interview_touch(interview)
    researcher = client_as("researcher")
    assert researcher.get(f"/api/v1/interviews/{interview.public_id}/export?format=txt").status_code == 200
    audio = researcher.get(f"/api/v1/interviews/{interview.public_id}/audio")
    assert audio.status_code == 200
    cached = sorted(p.name for p in export_cache_dir(interview).iterdir())
    assert any(name.endswith(".txt") for name in cached) and any(name.endswith(".mp3") for name in cached)
    assert str(interview.public_id) in _search_ids("public")
    return interview


def _surfaces(client, interview: Interview) -> dict[str, object]:
    pid = str(interview.public_id)
    api_list = client.get("/api/v1/interviews/?limit=200").json()["results"]
    return {
        "page": client.get(f"/interviews/{pid}/").status_code,
        "list": pid in client.get("/interviews/").content.decode(),
        "collection": pid in client.get(f"/collections/{interview.collection.slug}/").content.decode(),
        "api": client.get(f"/api/v1/interviews/{pid}/").status_code,
        "api_list": pid in {row["id"] for row in api_list},
        "export": client.get(f"/api/v1/interviews/{pid}/export?format=txt").status_code,
        "audio": client.get(f"/api/v1/interviews/{pid}/audio").status_code,
    }


GONE = {"page": 404, "list": False, "collection": False, "api": 404, "api_list": False, "export": 404, "audio": 404}


def test_it_removes_a_withdrawn_interview_from_every_surface_below_custodian(journalist_everywhere, client_as):
    interview = journalist_everywhere
    cache = export_cache_dir(interview)
    response = client_as("editor").post(_url(interview, f"{_narrator_id(interview)}/withdraw/"), {"confirm": "yes"})
    assert response.status_code == 302 and response["Location"] == "/interviews/"

    for who in (None, "researcher", "editor", "archivist"):
        assert _surfaces(client_as(who), interview) == GONE, who
    for tier in ("public", "researcher", "staff"):
        assert str(interview.public_id) not in _search_ids(tier)
    assert not cache.exists()
    assert list(RenderedInterview.objects.filter(interview=interview).values_list("tier", flat=True)) == ["custodian"]
    # Tombstone and audit trail.
    interview.refresh_from_db()
    assert interview.status == "sealed" and interview.withdrawn_at is not None
    events = AuditEvent.objects.filter(target_id=str(interview.public_id)).exclude(action="access_denied")
    assert list(events.values_list("action", flat=True))[-2:] == ["consent_withdraw", "interview_withdrawn"]
    # Those who used to see it and asked again were denied, and it was recorded.
    denied = AuditEvent.objects.filter(target_id=str(interview.public_id), action="access_denied")
    assert sorted(set(denied.values_list("actor_label", flat=True))) == ["archivist", "editor", "researcher"]
    # Custodians still see it, sealed.
    custodian = _surfaces(client_as("custodian"), interview)
    assert custodian["page"] == 200 and custodian["api"] == 200


def test_it_withdraws_in_one_transaction(journalist_everywhere, monkeypatch):
    """If the last step of the cascade fails, nothing of it happened: seal, purge and ledger roll back."""
    interview = journalist_everywhere

    def broken_audit(**kwargs):
        if kwargs.get("action") == "interview_withdrawn":
            raise RuntimeError("audit store unavailable")
        return real_audit(**kwargs)

    real_audit = withdrawal.audit_log
    monkeypatch.setattr(withdrawal, "audit_log", broken_audit)
    narrator = interview.narrators.get()
    with pytest.raises(RuntimeError):
        services.consent_record(narrator=narrator, interview=interview, withdrawn=True)
    interview.refresh_from_db()
    assert interview.withdrawn_at is None and interview.floor_tier == "public"
    assert ConsentRecord.objects.filter(interview=interview).count() == 1
    assert RenderedInterview.objects.filter(interview=interview, tier="public").exists()
    assert str(interview.public_id) in _search_ids("public")


def test_it_rerenders_on_restored_consent_while_purged_exports_stay_purged(journalist_everywhere, client_as):
    interview = journalist_everywhere
    narrator = interview.narrators.get()
    services.consent_record(narrator=narrator, interview=interview, withdrawn=True, **dict.fromkeys(SCOPES_ALL, True))
    assert not export_cache_dir(interview).exists()
    # The editor cannot see a sealed interview any more; a custodian restores consent through the UI.
    assert client_as("editor").get(_url(interview)).status_code == 404
    restored = client_as("custodian").post(
        _url(interview, f"{narrator.public_id}/"), {**SCOPES_ALL, "method": "message"}
    )
    assert restored.status_code == 302
    interview.refresh_from_db()
    # Restored consent sends it back to review: it is not public again until an editor publishes it.
    assert interview.withdrawn_at is None and interview.status == "review" and interview.floor_tier == "staff"
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 404
    published = client_as("editor").post(
        f"/api/v1/interviews/{interview.public_id}/status", {"status": "published"}, content_type="application/json"
    )
    assert published.status_code == 200, published.content
    interview.refresh_from_db()
    assert interview.floor_tier == "public"
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 200
    assert str(interview.public_id) in _search_ids("public")
    assert ConsentRecord.objects.filter(interview=interview).order_by("-version").first().version == 3
    # Nothing was rebuilt in the export cache by restoring: the purged files stay gone.
    assert not export_cache_dir(interview).exists()


def test_it_withdraws_when_archive_consent_is_unticked(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    data = {**SCOPES_ALL, "method": "message"}
    del data["archive"]
    assert client_as("editor").post(_url(interview, f"{_narrator_id(interview)}/"), data).status_code == 302
    interview.refresh_from_db()
    assert interview.status == "sealed" and access.required_tier(interview) == "custodian"


def test_it_needs_confirmation_to_withdraw(demo, client_as):
    interview = demo.interview("whatsapp-teacher")
    response = client_as("editor").post(_url(interview, f"{_narrator_id(interview)}/withdraw/"), {})
    assert response.status_code == 302
    interview.refresh_from_db()
    assert interview.withdrawn_at is None
    assert (
        client_as("researcher")
        .post(_url(interview, f"{_narrator_id(interview)}/withdraw/"), {"confirm": "yes"})
        .status_code
        == 404
    )


def test_it_hides_names_in_consent_free_text_below_their_tier_and_keeps_them_on_amend(demo, client_as):
    """Conditions and embargo events are free text about the narrator: the ledger, the reviews list and
    the amend form show them through the gate's redactor at the editor's tier; an amendment that leaves
    them as shown keeps the original text."""
    interview = demo.interview("whatsapp-teacher")  # narrator pseudonymous: legal name custodian-only
    narrator = interview.narrators.get()
    services.consent_record(
        narrator=narrator,
        interview=interview,
        actor=demo_user("custodian"),
        conditions="Quote nothing until Rima Saleh Hamdan has left the city.",
        embargo_event="Rima Saleh Hamdan is safe abroad",
        review_on=timezone.localdate() + timedelta(days=3),
        **dict.fromkeys(("archive", "research_access", "publication", "public_web", "voice_release"), True),
        processing=True,
    )
    for url in (_url(interview), _url(interview, f"{_narrator_id(interview)}/"), "/consent/reviews/"):
        page = client_as("editor").get(url)
        assert page.status_code == 200, url
        assert "Rima" not in page.content.decode(), url
        assert "Hamdan" not in page.content.decode(), url
    ledger = client_as("editor").get(_url(interview)).content.decode()
    assert "Quote nothing until Resident B has left the city." in ledger
    assert "Rima Saleh Hamdan" in client_as("custodian").get(_url(interview)).content.decode()
    # Amend one scope, leaving the free text as shown: the stored text keeps the name.
    form = client_as("editor").get(_url(interview, f"{_narrator_id(interview)}/")).context["form"]
    data = {key: value for key, value in form.initial.items() if value not in (None, False)}
    data = {k: ("on" if v is True else v) for k, v in data.items()}
    data["review_on"] = data["review_on"].isoformat()
    del data["voice_release"]
    assert client_as("editor").post(_url(interview, f"{_narrator_id(interview)}/"), data).status_code == 302
    current = ConsentRecord.objects.filter(interview=interview).order_by("-version").first()
    assert current.voice_release is False
    assert current.conditions == "Quote nothing until Rima Saleh Hamdan has left the city."
    assert current.embargo_event == "Rima Saleh Hamdan is safe abroad"


def demo_user(username: str):
    return get_user_model().objects.get(username=username)
