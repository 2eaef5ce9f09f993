"""A chat's voice notes transcribed together (archive.transcription.transcribe_notes): several notes
share one decoding window, and every word must still come back to the note it was spoken in, at its
time on that note's own timeline (the gate silences audio per recording: a word of note 3 placed in
note 2 would be silenced in the wrong file). Real Whisper (tiny.en) on espeak-ng speech; the
accuracy comparison with one-by-one decoding (base) runs on ../shared/audio, read in place, and is
skipped where it is absent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from faster_whisper import BatchedInferencePipeline

from archive import media, services, transcription
from archive.importers.base import ParsedAttachment, ParsedImport, ParsedSegment
from archive.models import Segment, TranscriptionJob
from archive.services import recordings as recordings_service
from archive.services.imports import VOICE_PENDING, import_parsed
from archive.services.recordings import recorded_interview_create
from archive.tasks import transcribe_recording
from tests.transcription_audio import SHARED_AUDIO, corpus_wer, ffmpeg, require_tools, run, shared_manifest, speak

# Each note's words appear in no other note, so where a word lands says which note it came from.
NOTES = [
    (0.0, "The orchard behind our house had seven old fig trees."),
    (3.0, "My grandmother kept chickens and a grey donkey."),  # starts after three seconds of silence
    (0.0, "Soldiers closed the bridge at dawn on Tuesday."),
    (1.5, "We carried blankets, bread and a radio across the river."),
]
KEYWORDS = [
    {"orchard", "fig", "trees"},
    {"grandmother", "chickens", "donkey"},
    {"soldiers", "bridge", "tuesday"},
    {"blankets", "bread", "radio", "river"},
]
MESSAGE_TIMES = [60.0, 75.0, 130.0, 200.0]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The four notes as Opus voice notes (leading silence where NOTES says), 16 kHz mono."""
    require_tools()
    root = tmp_path_factory.mktemp("notes")
    out = []
    for number, (lead, text) in enumerate(NOTES):
        spoken = speak(root / f"spoken{number}.wav", text)
        padded = root / f"padded{number}.wav"
        run("sox", str(spoken), "-r", "16000", "-c", "1", str(padded), "pad", str(lead), "0.5")
        note = root / f"PTT-{number}.ogg"
        ffmpeg("-i", str(padded), "-c:a", "libopus", "-b:a", "24k", str(note))
        out.append(note)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> transcription.ModelSpec:
    return transcription.resolve_model("tiny.en", models_dir=tmp_path_factory.mktemp("models"))


def test_each_note_gets_its_own_words_at_its_own_times(notes, tiny, tmp_path):
    damaged = tmp_path / "damaged.ogg"
    damaged.write_bytes(b"OggS" + b"\x00" * 200)
    sources = [*notes[:2], damaged, *notes[2:]]

    results = transcription.transcribe_notes(sources, model_spec=tiny)

    assert isinstance(results[2], media.MediaError)  # refused alone; the others are transcribed
    transcribed = [results[0], results[1], results[3], results[4]]
    for number, (result, (lead, _text)) in enumerate(zip(transcribed, NOTES, strict=True)):
        assert isinstance(result, transcription.Transcription)
        heard = words(result.text)
        assert len(heard & KEYWORDS[number]) >= 2, (number, result.text)
        for other, keywords in enumerate(KEYWORDS):
            if other != number:
                assert not heard & keywords, (number, other, result.text)
        duration = media.probe(notes[number]).duration
        for segment in result.segments:
            assert 0.0 <= segment.start <= segment.end <= duration + 0.05
            assert segment.language == "en"
            for word in segment.words:
                assert word.s is not None and word.e is not None
                assert lead - 0.6 <= word.s <= word.e <= duration + 0.05, (number, word)
        # The note's first word is placed after its leading silence, on the note's own timeline.
        first = result.segments[0].words[0]
        assert first.s >= lead - 0.6
        assert result.provenance.options["voice_notes_batched"] == len(sources)


def test_notes_share_windows(notes, tiny, monkeypatch):
    """The point of it: fewer decoding windows than notes."""
    windows: list[int] = []
    original = BatchedInferencePipeline.transcribe

    def counting(self, audio, **kwargs):
        windows.append(len(kwargs["clip_timestamps"]))
        return original(self, audio, **kwargs)

    monkeypatch.setattr(BatchedInferencePipeline, "transcribe", counting)
    transcription.transcribe_notes(notes, model_spec=tiny)
    assert sum(windows) < len(notes)


def _chat(notes: list[Path]) -> ParsedImport:
    segments = [ParsedSegment(10.0, 10.0, "Interviewer", "interviewer", "Can you tell me about the village?")]
    attachments = []
    for number, (path, at) in enumerate(zip(notes, MESSAGE_TIMES[: len(notes)], strict=True)):
        name = path.name
        attachments.append(ParsedAttachment(name, path.read_bytes(), "audio/ogg", "audio"))
        segments.append(ParsedSegment(at, at, "Abu Khaled", "narrator", "", kind="voice", attachment=name))
        if number == 1:
            segments.append(ParsedSegment(100.0, 100.0, "Interviewer", "interviewer", "And then?"))
    return ParsedImport(source="whatsapp", segments=segments, attachments=attachments)


def _check_provenance(interview, notes: list[Path]) -> None:
    recordings = list(interview.recordings.filter(is_voice_note=True).order_by("timeline_offset"))
    assert [r.timeline_offset for r in recordings] == MESSAGE_TIMES
    rows = list(Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).order_by("index"))
    assert VOICE_PENDING not in [r.raw_text for r in rows]
    for number, recording in enumerate(recordings):
        mine = [r for r in rows if r.recording_id == recording.pk]
        assert mine, number
        heard = words(" ".join(r.raw_text for r in mine))
        assert len(heard & KEYWORDS[number]) >= 2, (number, heard)
        duration = media.probe(notes[number]).duration
        lead = NOTES[number][0]
        for row in mine:
            assert row.media_offset == MESSAGE_TIMES[number]
            # Times on the chat's timeline; minus media_offset, times on the note's own recording.
            assert 0.0 <= row.start - row.media_offset <= row.end - row.media_offset <= duration + 0.05
            for word in row.raw_words:
                assert lead - 0.6 <= word["s"] - row.media_offset <= duration + 0.05
    for row in rows:
        for number, keywords in enumerate(KEYWORDS):
            if words(row.raw_text) & keywords:
                assert row.recording_id == recordings[number].pk, (number, row.raw_text)


def _interview(slug: str):
    return recorded_interview_create(
        collection=services.collection_get_or_create(slug=slug),
        title="Voice notes",
        narrator_name="Abu Khaled",
        anonymity="anonymous",
        access_level="staff",
        language="en",
    )


@pytest.mark.django_db(transaction=True)
def test_a_queued_chat_is_transcribed_in_one_run_each_segment_on_its_own_recording(notes, settings, monkeypatch):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    sent: list[int] = []
    monkeypatch.setattr(recordings_service, "_enqueue", sent.append)
    interview = _interview("notes-queued")
    outcome = import_parsed(
        interview=interview, parsed=_chat(notes), language="en", voice_notes="queue", original_filename="chat.zip"
    )
    jobs = list(TranscriptionJob.objects.filter(recording__interview=interview).order_by("pk"))
    assert len(jobs) == len(notes) and sent == [jobs[0].pk]

    assert transcribe_recording(sent[0]) == "done"

    assert [j.state for j in TranscriptionJob.objects.filter(pk__in=[j.pk for j in jobs])] == ["done"] * len(notes)
    assert len(outcome.recordings) == len(notes)
    _check_provenance(interview, notes)
    # A redelivered message of any of them changes nothing.
    assert transcribe_recording(jobs[2].pk) == "skipped"


@pytest.mark.django_db(transaction=True)
def test_a_chat_imported_now_keeps_each_segment_on_its_own_recording(notes, settings):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    interview = _interview("notes-now")
    import_parsed(
        interview=interview, parsed=_chat(notes), language="en", voice_notes="now", original_filename="chat.zip"
    )
    _check_provenance(interview, notes)


@pytest.mark.django_db(transaction=True)
def test_a_note_that_is_bad_input_fails_alone(notes, settings, monkeypatch, tmp_path):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    monkeypatch.setattr(recordings_service, "_enqueue", lambda _pk: None)
    parsed = _chat(notes[:2])
    parsed.attachments[1] = ParsedAttachment(parsed.attachments[1].name, b"OggS" + b"\x01" * 300, "audio/ogg", "audio")
    interview = _interview("notes-bad")
    import_parsed(interview=interview, parsed=parsed, language="en", voice_notes="queue")
    first, second = TranscriptionJob.objects.filter(recording__interview=interview).order_by("pk")
    assert transcribe_recording(first.pk) == "done"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("done", "failed")
    assert second.reason


# Accuracy against one-by-one decoding, on the shared clips ----------------------------------------


def _manifest() -> list[dict[str, str]]:
    return [row for row in shared_manifest() if row["reference"]]


@pytest.mark.skipif(not _manifest(), reason="../shared/audio is absent")
def test_together_is_as_accurate_as_one_by_one_on_the_shared_clips(tmp_path):
    rows = _manifest()
    clips = [SHARED_AUDIO / row["file"] for row in rows]  # read in place
    spec = transcription.resolve_model("base", models_dir=tmp_path / "models")
    together = transcription.transcribe_notes(clips, model_spec=spec)
    alone = [transcription.transcribe(clip, model_spec=spec) for clip in clips]
    references = [row["reference"] for row in rows]
    batched = corpus_wer([(ref, r.text) for ref, r in zip(references, together, strict=True)])
    single = corpus_wer([(ref, r.text) for ref, r in zip(references, alone, strict=True)])
    assert batched <= single + 0.01, (batched, single)
    # Each clip keeps its own language (Arabic and English notes of one chat are not decoded alike).
    assert [r.language for r in together] == [row["language"] for row in rows]
    for result, clip in zip(together, clips, strict=True):
        duration = media.probe(clip).duration
        assert all(0.0 <= s.start <= s.end <= duration + 0.05 for s in result.segments)
