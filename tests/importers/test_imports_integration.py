"""Acceptance tests of the import service: real parsers, real services, real Whisper (tiny.en) on
voice notes synthesised with espeak-ng and encoded to Opus with ffmpeg."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from archive.gate import render
from archive.importers import ImportRefused
from archive.models import (
    Attachment,
    Interview,
    QuarantinedMetadata,
    Recording,
    Redaction,
    Segment,
    TranscriptionJob,
)
from archive.services import imports, quarantine_read
from archive.services.imports import import_file
from tests.builders import BROTHER_PHONE, FIXTURES, NARRATOR_PHONE, mbox_message, whatsapp_export_with_voice_notes

HOSTILE = FIXTURES / "hostile"
MANIFEST = [line.split("\t") for line in (HOSTILE / "MANIFEST.tsv").read_text().splitlines()[1:]]


@pytest.mark.django_db
def test_it_imports_a_whatsapp_export_with_voice_notes_and_hides_phone_numbers(tmp_path, settings, demo):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    data = whatsapp_export_with_voice_notes(tmp_path)
    [outcome] = import_file(
        data=data,
        filename="WhatsApp Chat with Abu Khaled.zip",
        collection_slug="imports-test",
        title="Chat with a resident",
        narrator_name="Abu Khaled",
        access="public",
        language="en",
        # The narrator writes from a bare phone number: the chat names them only through the interviewer.
        interviewer="Sara Rawi",
    )
    interview = outcome.interview
    assert Interview.objects.filter(collection__slug="imports-test").count() == 1
    assert interview.mode == Interview.Mode.MESSAGING
    assert Recording.objects.filter(interview=interview).count() == 2
    assert Attachment.objects.filter(interview=interview).count() == 1
    assert list(TranscriptionJob.objects.filter(recording__interview=interview).values_list("state", flat=True)) == [
        "done",
        "done",
    ]
    custodian = render(interview, "custodian")
    texts = [s.text for s in custodian.segments]
    assert texts[0] == "Thank you for agreeing to talk. How is the neighbourhood?"
    assert texts[1] == f"The siege continues. If I disappear call my brother on {BROTHER_PHONE}"
    voice_one = " ".join(s.text for s in custodian.segments if 300 <= s.start < 540).lower()
    voice_two = " ".join(s.text for s in custodian.segments if 660 <= s.start < 720).lower()
    assert "ran out in december" in voice_one
    assert "bakery" in voice_two
    assert [s.start for s in custodian.segments] == sorted(s.start for s in custodian.segments)
    assert texts[-1] == "[image attached]"
    assert outcome.voice_segments >= 2
    public = render(interview, "public")
    public_blob = "\n".join([public.title, *(f"{s.speaker}: {s.text}" for s in public.segments)])
    for secret in (NARRATOR_PHONE, BROTHER_PHONE, "933 222 111", "944 123 456", "Abu Khaled", "Sara Rawi"):
        assert secret not in public_blob
    assert public.segments[1].text == "The siege continues. If I disappear call my brother on [contact withheld]" or (
        BROTHER_PHONE not in public.segments[1].text
    )
    assert Redaction.objects.filter(interview=interview, status="approved", category="contact").count() == 1
    row = QuarantinedMetadata.objects.get(interview=interview, source="import-whatsapp")
    payload = quarantine_read(row=row, actor=None)
    assert payload["phone_numbers"] == ["+963933222111", "+963944123456"]
    assert payload["contact_names"] == ["Sara Rawi"]
    assert payload["original_filename"] == "WhatsApp Chat with Abu Khaled.zip"


@pytest.mark.django_db
def test_it_imports_an_mbox_thread_of_three_emails_without_quoted_repeats(demo):
    mbox = "\n".join(
        [
            mbox_message(
                "Abu Khaled <ak@example.net>",
                "Wed, 4 Jan 2017 09:00:00 +0200",
                "The truce held two weeks.\n\nOn Tue, 3 Jan 2017, Sara <s@example.org> wrote:\n> What happened in December?",
            ),
            mbox_message("Sara <s@example.org>", "Tue, 3 Jan 2017 10:00:00 +0000", "What happened in December?"),
            mbox_message(
                "Abu Khaled <ak@example.net>",
                "Thu, 5 Jan 2017 09:00:00 +0200",
                "Then the shelling began again.\n\nOn Wed, 4 Jan 2017, Abu Khaled wrote:\n> The truce held two weeks.\n"
                "> On Tue, 3 Jan 2017, Sara wrote:\n>> What happened in December?",
            ),
        ]
    ).encode()
    [outcome] = import_file(
        data=mbox,
        filename="thread.mbox",
        collection_slug="imports-test",
        title="Email thread",
        narrator_name="Abu Khaled",
        access="staff",
    )
    rendering = render(outcome.interview, "custodian")
    assert [s.text for s in rendering.segments] == [
        "What happened in December?",
        "The truce held two weeks.",
        "Then the shelling began again.",
    ]
    assert outcome.interview.mode == Interview.Mode.EMAIL
    payload = quarantine_read(
        row=QuarantinedMetadata.objects.get(interview=outcome.interview, source="import-email"), actor=None
    )
    assert payload["ip_addresses"] == ["185.12.1.9"]
    assert payload["devices"] == ["Android Mail"]


def _stored_files() -> set[str]:
    found: set[str] = set()
    for folder in ("originals", "attachments"):
        try:
            found.update(f"{folder}/{name}" for name in default_storage.listdir(folder)[1])
        except FileNotFoundError:
            continue
    return found


@pytest.mark.django_db
def test_each_hostile_file_is_refused_and_leaves_nothing_behind(demo):
    interviews, recordings, attachments = (
        Interview.objects.count(),
        Recording.objects.count(),
        Attachment.objects.count(),
    )
    files_before = _stored_files()
    refused = 0
    for name, code in MANIFEST:
        with pytest.raises(ImportRefused) as caught:
            import_file(
                data=(HOSTILE / name).read_bytes(),
                filename=name,
                collection_slug="hostile",
                title="Hostile",
                narrator_name="Nobody",
                voice_notes="queue",
            )
        assert caught.value.code == code, name
        refused += 1
    assert refused == len(MANIFEST) >= 50
    assert (Interview.objects.count(), Recording.objects.count(), Attachment.objects.count()) == (
        interviews,
        recordings,
        attachments,
    )
    assert not Interview.objects.filter(collection__slug="hostile").exists()
    assert _stored_files() == files_before


@pytest.mark.django_db
def test_a_failure_after_files_were_stored_rolls_back_and_deletes_them(demo, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("quarantine store failed")

    monkeypatch.setattr(imports, "quarantine_store", explode)
    chat = b"31/12/2020, 21:41 - A: one\n31/12/2020, 21:42 - B: IMG-1.jpg (file attached)\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("_chat.txt", chat)
        archive.writestr("IMG-1.jpg", b"\xff\xd8\xff\xe0")
    before = _stored_files()
    with pytest.raises(RuntimeError):
        import_file(data=buffer.getvalue(), filename="c.zip", collection_slug="rollback", title="T", narrator_name="B")
    assert not Interview.objects.filter(collection__slug="rollback").exists()
    assert _stored_files() == before


CHAT = b"31/12/2020, 21:41 - Sara: Hello?\n31/12/2020, 21:45 - +963 944 123 456: Call me on 0933 222 111\n"


def _roles(interview: Interview) -> list[tuple[str, str]]:
    return list(
        Segment.objects.filter(transcript__interview=interview)
        .order_by("index")
        .values_list("raw_speaker", "speaker_role")
    )


@pytest.mark.django_db
def test_it_imports_through_the_api_and_refuses_hostile_uploads(client_as, demo):
    url = f"/api/v1/collections/{demo.collection.slug}/imports/"
    client = client_as("fieldresearcher")
    response = client.post(
        url, {"file": SimpleUploadedFile("chat.txt", CHAT), "title": "API chat", "narrator": "N", "interviewer": "Sara"}
    )
    assert response.status_code == 201
    [public_id] = response.json()["interviews"]
    interview = Interview.objects.get(public_id=public_id)
    assert [s.text for s in render(interview, "custodian").segments] == ["Hello?", "Call me on 0933 222 111"]
    assert _roles(interview) == [("Sara", "interviewer"), ("+963 944 123 456", "narrator")]
    hostile = (HOSTILE / "path_traversal.zip").read_bytes()
    response = client.post(url, {"file": SimpleUploadedFile("x.zip", hostile), "title": "Bad"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "The archive contains a member whose path climbs out of the archive (`..`).",
        "code": "zip_path",
    }
    response = client_as("researcher").post(url, {"file": SimpleUploadedFile("chat.txt", CHAT), "title": "No"})
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_api_refuses_a_chat_whose_narrator_it_cannot_tell_listing_the_senders(client_as, demo):
    """Neither sender is named (the narrator's real name is not a chat label): no guess, nothing made."""
    url = f"/api/v1/collections/{demo.collection.slug}/imports/"
    client = client_as("fieldresearcher")
    before = Interview.objects.count(), _stored_files()
    response = client.post(url, {"file": SimpleUploadedFile("chat.txt", CHAT), "title": "Who?", "narrator": "N"})
    assert (response.status_code, response.json()) == (
        400,
        {
            "error": "No sender of the conversation has the narrator's name as given. "
            "The senders are: Sara, +963 944 123 456.",
            "code": "narrator_unknown",
            "senders": ["Sara", "+963 944 123 456"],
        },
    )
    response = client.post(url, {"file": SimpleUploadedFile("chat.txt", CHAT), "title": "Who?"})
    assert response.status_code == 400
    assert response.json()["senders"] == ["Sara", "+963 944 123 456"]
    assert (Interview.objects.count(), _stored_files()) == before
    # An email thread with two writers and no label is refused the same way.
    thread = "\n".join(
        [
            mbox_message("Abu Khaled <ak@example.net>", "Wed, 4 Jan 2017 09:00:00 +0200", "The truce held."),
            mbox_message("Sara <s@example.org>", "Tue, 3 Jan 2017 10:00:00 +0000", "What happened?"),
        ]
    ).encode()
    response = client.post(url, {"file": SimpleUploadedFile("t.mbox", thread), "title": "Mail"})
    assert (response.status_code, response.json()["code"]) == (400, "narrator_unknown")
    assert sorted(response.json()["senders"]) == ["Abu Khaled", "Sara"]
    # Chosen by its label, the narrator is that sender.
    response = client.post(
        url,
        {"file": SimpleUploadedFile("chat.txt", CHAT), "title": "Who?", "narrator_label": "+963 944 123 456"},
    )
    assert response.status_code == 201
    [public_id] = response.json()["interviews"]
    assert _roles(Interview.objects.get(public_id=public_id)) == [
        ("Sara", "interviewer"),
        ("+963 944 123 456", "narrator"),
    ]


@pytest.mark.django_db
def test_it_imports_through_the_upload_form(client_as, demo):
    client = client_as("fieldresearcher")
    url = f"/collections/{demo.collection.slug}/import/"
    assert client.get(url).status_code == 200
    response = client.post(
        url, {"file": SimpleUploadedFile("e.txt", b""), "title": "Empty", "anonymity": "anonymous", "access": "staff"}
    )
    assert response.status_code == 200
    response = client.post(
        url,
        {
            "file": SimpleUploadedFile("e.txt", b"\x00\x01binary"),
            "title": "Junk",
            "anonymity": "anonymous",
            "access": "staff",
        },
    )
    assert "not text" in response.content.decode() or "binary" in response.content.decode()
    response = client.post(
        url,
        {
            "file": SimpleUploadedFile("chat.txt", CHAT),
            "title": "Form chat",
            "anonymity": "anonymous",
            "access": "staff",
            "interviewer": "Sara",
        },
    )
    assert response.status_code == 302
    assert Interview.objects.filter(title="Form chat").count() == 1


@pytest.mark.django_db
def test_the_upload_form_asks_who_the_narrator_is_and_imports_with_the_choice(client_as, demo):
    client = client_as("fieldresearcher")
    url = f"/collections/{demo.collection.slug}/import/"
    group = CHAT + b"31/12/2020, 21:50 - Umm Ali: He is my neighbour\n"
    fields = {"title": "Group chat", "narrator": "Abu Khaled", "anonymity": "anonymous", "access": "staff"}
    before = Interview.objects.count(), _stored_files()
    response = client.post(url, {**fields, "file": SimpleUploadedFile("chat.txt", group)})
    assert response.status_code == 200
    assert (Interview.objects.count(), _stored_files()) == before  # nothing made, nothing kept
    page = response.content.decode()
    assert "No sender of the conversation has the narrator&#x27;s name as given." in page
    form = response.context["form"]
    assert [value for value, _ in form.fields["narrator_label"].choices] == ["", "Sara", "+963 944 123 456", "Umm Ali"]
    assert [value for value, _ in form.fields["interviewer"].choices] == ["", "Sara", "+963 944 123 456", "Umm Ali"]
    assert form.fields["narrator_label"].required
    assert list(form.fields)[:3] == ["narrator_label", "interviewer", "file"]
    assert form.initial["title"] == "Group chat" and form.initial["narrator"] == "Abu Khaled"
    assert page.count('type="hidden" name="senders"') == 3
    senders = ["Sara", "+963 944 123 456", "Umm Ali"]
    # The same sender as both is refused by the form; a choice outside the senders too.
    response = client.post(
        url,
        {
            **fields,
            "senders": senders,
            "narrator_label": "Sara",
            "interviewer": "Sara",
            "file": SimpleUploadedFile("chat.txt", group),
        },
    )
    assert response.status_code == 200 and "cannot be the same sender" in response.content.decode()
    response = client.post(
        url,
        {**fields, "senders": senders, "narrator_label": "Nobody", "file": SimpleUploadedFile("chat.txt", group)},
    )
    assert response.status_code == 200 and response.context["form"].errors["narrator_label"]
    # Without the file again, the page still offers the choice.
    response = client.post(url, {**fields, "senders": senders, "narrator_label": "+963 944 123 456"})
    assert response.status_code == 200
    assert [v for v, _ in response.context["form"].fields["narrator_label"].choices][1:] == senders
    assert Interview.objects.count() == before[0]
    response = client.post(
        url,
        {
            **fields,
            "senders": senders,
            "narrator_label": "+963 944 123 456",
            "interviewer": "Sara",
            "file": SimpleUploadedFile("chat.txt", group),
        },
    )
    assert response.status_code == 302
    interview = Interview.objects.get(title="Group chat")
    assert _roles(interview) == [("Sara", "interviewer"), ("+963 944 123 456", "narrator"), ("Umm Ali", "other")]
    assert interview.narrators.count() == 1
    # The person importing made it and keeps seeing it.
    assert client.get(response["Location"]).status_code == 200
