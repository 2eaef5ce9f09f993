"""Voice notes transcribed in place (imports queue them) and re-transcription that keeps editors'
corrections. Real Whisper (tiny.en) in this process; the broker boundary (`_enqueue`) only records
which job ids would be sent, and the Celery task body is then called with those ids."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from archive import services
from archive.gate import render
from archive.models import Segment, Transcript, TranscriptionJob
from archive.services import recordings as recordings_service
from archive.services.imports import VOICE_PENDING, import_file
from archive.services.recordings import recorded_interview_create, recording_store, transcription_job_create
from archive.tasks import transcribe_recording
from tests.builders import BROTHER_PHONE, whatsapp_export_with_voice_notes
from tests.transcription_audio import AudioFiles, audio_files


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    return audio_files(tmp_path_factory)


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """Job ids handed to the broker, in order (the broker itself is not part of these tests)."""
    ids: list[int] = []
    monkeypatch.setattr(recordings_service, "_enqueue", ids.append)
    return ids


@pytest.mark.django_db(transaction=True)
def test_it_inserts_queued_voice_notes_in_place_keeping_corrections_and_span_redactions(tmp_path, settings, sent):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    [outcome] = import_file(
        data=whatsapp_export_with_voice_notes(tmp_path),
        filename="chat.zip",
        collection_slug="inplace",
        title="Chat with voice notes",
        narrator_name="Abu Khaled",
        access="public",
        language="en",
        voice_notes="queue",
        narrator_label="+963 944 123 456",  # the sender the import page would have had chosen
    )
    interview = outcome.interview
    jobs = list(TranscriptionJob.objects.filter(recording__interview=interview).order_by("pk"))
    assert [j.state for j in jobs] == ["queued", "queued"]
    # One message for the chat: the first note's run transcribes every note of the chat together.
    assert sent == [jobs[0].pk]
    assert [j.options["in_place"] for j in jobs] == [True, True]
    transcript = interview.transcripts.get(is_current=True)
    before = list(transcript.segments.order_by("index"))
    assert [s.raw_text for s in before].count(VOICE_PENDING) == 2
    # Before the notes land: an editor corrects the first message and redacts words of the second.
    editor = User.objects.create_user(username="ed", password="ed-password-123")
    services.segment_edit(segment=before[0], text="Thank you for agreeing to talk. How is the district?", actor=editor)
    services.redaction_add_phrase_span(
        interview=interview, phrase="siege continues", category="other", visible_from="custodian"
    )

    assert [transcribe_recording(pk) for pk in sent] == ["done"]
    assert [j.state for j in TranscriptionJob.objects.filter(pk__in=[j.pk for j in jobs]).order_by("pk")] == [
        "done",
        "done",
    ]

    assert list(Transcript.objects.filter(interview=interview).values_list("pk", "version")) == [(transcript.pk, 1)]
    segments = list(Segment.objects.filter(transcript=transcript).order_by("index"))
    assert [s.index for s in segments] == list(range(len(segments)))
    assert [s.start for s in segments] == sorted(s.start for s in segments)
    assert VOICE_PENDING not in [s.raw_text for s in segments]
    assert len(segments) >= len(before)  # each placeholder gave way to at least one segment of its note
    custodian = render(interview, "custodian")
    texts = [s.text for s in custodian.segments]
    assert texts[0] == "Thank you for agreeing to talk. How is the district?"
    assert texts[1] == f"The siege continues. If I disappear call my brother on {BROTHER_PHONE}"
    assert "ran out in december" in " ".join(s.text for s in custodian.segments if 300 <= s.start < 540).lower()
    assert "bakery" in " ".join(s.text for s in custodian.segments if 660 <= s.start < 720).lower()
    # The note's segments keep the placeholder's speaker (the narrator), shown by anonymity at public tier.
    public = render(interview, "public")
    # (Below staff a message has no place on the chat's timeline: the note's segments are found by index.)
    in_note = {s.index for s in custodian.segments if 300 <= s.start < 540}
    note_speakers = {s.speaker for s in public.segments if s.index in in_note}
    assert note_speakers == {public.segments[1].speaker}
    assert public.segments[1].text == "The [detail withheld]. If I disappear call my brother on [contact withheld]"
    assert public.segments[0].text == "Thank you for agreeing to talk. How is the district?"
    assert all("siege continues" not in s.text for s in public.segments)
    notes = Transcript.objects.get(pk=transcript.pk).options["in_place_notes"]
    assert [(n["offset"], n["model"]) for n in notes] == [(300.0, "tiny.en"), (660.0, "tiny.en")]
    # Running a job again (a redelivered message) changes nothing: it has ended.
    assert transcribe_recording(sent[0]) == "skipped"
    assert Segment.objects.filter(transcript=transcript).count() == len(segments)


@pytest.mark.django_db(transaction=True)
def test_it_keeps_editor_corrections_when_a_recording_is_transcribed_again(settings, audio, sent):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    collection = services.collection_get_or_create(slug="retranscribe")
    interview = recorded_interview_create(
        collection=collection, title="Again", narrator_name="Someone", anonymity="anonymous", access_level="staff",
        language="en",
    )  # fmt: skip
    with open(audio.paragraph(), "rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename="p.wav")
    first = transcription_job_create(recording=recording, options={"language": "en"})
    assert transcribe_recording(first.pk) == "done"
    v1 = list(Segment.objects.filter(transcript__interview=interview, transcript__version=1).order_by("index"))
    assert len(v1) >= 2
    editor = User.objects.create_user(username="ed", password="ed-password-123")
    corrected = "We are recording this interview today, corrected by the editor."
    services.segment_edit(segment=v1[0], text=corrected, actor=editor)

    second = transcription_job_create(recording=recording, options={"language": "en"})
    assert transcribe_recording(second.pk) == "done"

    transcripts = list(interview.transcripts.order_by("version").values_list("version", "is_current"))
    assert transcripts == [(1, False), (2, True)]
    v2 = list(Segment.objects.filter(transcript__interview=interview, transcript__version=2).order_by("index"))
    assert len(v2) == len(v1)
    assert (v2[0].raw_text, v2[0].edited, v2[0].edited_by_id) == (corrected, True, editor.pk)
    assert [s.raw_text for s in v2[1:]] == [s.raw_text for s in v1[1:]]
    assert [s.edited for s in v2[1:]] == [False] * (len(v2) - 1)
    assert render(interview, "staff").segments[0].text == corrected
    # The corrected segment of version 1 is kept as it was, too.
    assert Segment.objects.get(pk=v1[0].pk).raw_text == corrected
