"""Nothing spoken is translated or lost: each chunk of speech is transcribed in the language it was
spoken in (never translated unless asked), every language heard is listed on the interview, and a
stereo recording whose channels carry different speech at the same time is transcribed per channel.

Speech is synthesised with espeak-ng (English and German voices); the engine runs for real (base for
languages, tiny.en for channels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import media, services, transcription
from archive.models import Segment, TranscriptionJob
from archive.services import recordings as recordings_service
from archive.services.recordings import recorded_interview_create, recording_store, transcription_job_create
from archive.tasks import transcribe_recording
from tests.transcription_audio import require_tools, run, speak, wer, words_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ENGLISH = (
    "We are recording this interview today. Thank you for speaking with us about your family and your home. "
    "Please tell me where you were living before the war began. We lived near the old market with my parents "
    "and my two brothers. In the winter there was no electricity and very little bread."
)
GERMAN = (
    "Meine Mutter hat in der Nacht Brot gebacken, wenn es draussen ruhig war. Die Schule wurde im Frühling "
    "geschlossen und die Lehrer haben die Stadt verlassen. Wir haben jeden Abend Radio gehört, um die "
    "Nachrichten zu erfahren. Mein Bruder ist jeden Morgen zum Krankenhaus gegangen, um den Ärzten zu helfen."
)
# Words of the German half as German and as English: the first must be heard, the second never.
GERMAN_WORDS = {"meine", "mutter", "schule", "stadt", "verlassen", "abend", "jeden", "krankenhaus", "helfen"}
TRANSLATED_WORDS = {"mother", "school", "teachers", "city", "evening", "news", "hospital", "doctors", "help"}
ENGLISH_WORDS = {"recording", "interview", "family", "market", "brothers", "winter", "electricity", "bread"}

LEFT = (
    "We are recording this interview today. Please tell me where you were living before the war began. "
    "In the winter there was no electricity and very little bread."
)
RIGHT = (
    "My mother baked at night when the shelling was quiet. The school closed in the spring and the teachers "
    "left the city. We listened to the radio every evening."
)


class Recordings:
    """The synthetic recordings of this module, made once."""

    def __init__(self, root: Path) -> None:
        require_tools()
        self.root = root

    def _made(self, name: str) -> Path | None:
        out = self.root / name
        return out if out.exists() else None

    def english_then_german(self) -> Path:
        """About 21 s of English, a second of silence, then about 22 s of German."""
        if out := self._made("english_german.wav"):
            return out
        english = speak(self.root / "english.wav", ENGLISH, "en-us")
        german = speak(self.root / "german.wav", GERMAN, "de")
        run("sox", str(english), "-r", "16000", str(self.root / "english16.wav"))
        run("sox", str(german), "-r", "16000", str(self.root / "german16.wav"), "pad", "1", "0")
        out = self.root / "english_german.wav"
        run("sox", str(self.root / "english16.wav"), str(self.root / "german16.wav"), str(out))
        return out

    def german_start(self) -> float:
        self.english_then_german()
        return media.probe(self.root / "english16.wav").duration or 0.0

    def stereo_overlap(self) -> Path:
        """Two people talking at the same time, one per channel, equally loud, for about 11 s."""
        if out := self._made("overlap.wav"):
            return out
        left = speak(self.root / "left.wav", LEFT, "en-us", speed=150)
        right = speak(self.root / "right.wav", RIGHT, "en-us+f3", speed=150)
        run("sox", str(left), "-r", "16000", str(self.root / "left16.wav"), "pad", "0.3", "0.5")
        run("sox", str(right), "-r", "16000", str(self.root / "right16.wav"), "pad", "0.3", "0.5")
        out = self.root / "overlap.wav"
        run("sox", "-M", str(self.root / "left16.wav"), str(self.root / "right16.wav"), str(out))
        return out

    def stereo_spaced_pair(self) -> Path:
        """One voice heard by two microphones a metre apart: the right side 4 ms later and quieter."""
        if out := self._made("spaced.wav"):
            return out
        self.stereo_overlap()
        run("sox", str(self.root / "left16.wav"), str(self.root / "late.wav"), "pad", "0.004", "0", "vol", "0.7")
        out = self.root / "spaced.wav"
        run("sox", "-M", str(self.root / "left16.wav"), str(self.root / "late.wav"), str(out), "trim", "0", "10")
        return out

    def stereo_hiss_side(self) -> Path:
        """Speech on the left; steady hiss and nothing else on the right."""
        if out := self._made("hiss_side.wav"):
            return out
        self.stereo_overlap()
        seconds = str(media.probe(self.root / "left16.wav").duration)
        run("sox", "-n", "-r", "16000", "-c", "1", str(self.root / "hiss.wav"), "synth", seconds, "whitenoise",
            "vol", "0.01")  # fmt: skip
        out = self.root / "hiss_side.wav"
        run("sox", "-M", str(self.root / "left16.wav"), str(self.root / "hiss.wav"), str(out))
        return out


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Recordings:
    return Recordings(tmp_path_factory.mktemp("languages"))


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def base(models_dir: Path) -> transcription.ModelSpec:
    return transcription.resolve_model("base", models_dir=models_dir)


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> transcription.ModelSpec:
    return transcription.resolve_model("tiny.en", models_dir=models_dir)


def halves(result: transcription.Transcription, german_start: float) -> tuple[list[str], list[str]]:
    english = [w for s in result.segments if s.end <= german_start for w in words_of(s.text)]
    german = [w for s in result.segments if s.start >= german_start for w in words_of(s.text)]
    return english, german


# --------------------------------------------------------------------------------------------
# Languages


def test_it_never_translates_unless_asked():
    assert transcription.TranscribeOptions().task == "transcribe"
    assert transcription.TranscribeOptions().whisper_kwargs()["task"] == "transcribe"
    form = {"language": "ar", "multilingual": True, "per_channel": None}
    assert transcription.TranscribeOptions.from_dict(form).whisper_kwargs()["task"] == "transcribe"
    assert transcription.TranscribeOptions(task="translate").whisper_kwargs()["task"] == "translate"
    with pytest.raises(ValueError, match="task must be one of transcribe, translate"):
        transcription.TranscribeOptions(task="summarise")


@pytest.mark.parametrize(
    ("options", "mode", "detect_each_chunk"),
    [
        ({}, "per_chunk", True),
        ({"multilingual": True}, "per_chunk", True),
        ({"language": "ar", "multilingual": True}, "per_chunk", True),
        ({"language": "ar"}, "declared", False),
    ],
)
def test_it_detects_the_language_of_each_chunk_unless_one_is_declared(options, mode, detect_each_chunk):
    chosen = transcription.TranscribeOptions.from_dict(options)
    assert chosen.language_mode == mode
    assert chosen.as_dict()["language_mode"] == mode
    kwargs = chosen.whisper_kwargs()
    assert kwargs["multilingual"] is detect_each_chunk
    assert kwargs["condition_on_previous_text"] is not detect_each_chunk


class FakeDetector:
    """Stands in for the CTranslate2 model: answers detect_language with fixed candidates."""

    def __init__(self, answers: list[list[tuple[str, float]]]) -> None:
        self.answers = answers

    def detect_language(self, encoder_output: object) -> list[list[tuple[str, float]]]:
        return [list(item) for item in self.answers]


def test_it_trusts_a_confident_detection_and_falls_back_where_unsure():
    sure_german = [("<|de|>", 0.91), ("<|en|>", 0.05)]
    unsure = [("<|nl|>", 0.41), ("<|de|>", 0.38), ("<|en|>", 0.1)]
    tracker = transcription._LanguageTracker(FakeDetector([sure_german, unsure]), declared="en")
    chosen = tracker.detect_language(None)
    assert tracker.batch == ["de", "en"]  # the declared language decides only the unsure chunk
    assert [item[0][0] for item in chosen] == ["<|de|>", "<|en|>"]
    # Without a declared language, an unsure chunk takes the language heard most so far.
    tracker = transcription._LanguageTracker(FakeDetector([sure_german, sure_german, unsure]))
    tracker.detect_language(None)
    assert tracker.batch == ["de", "de", "de"]
    # With nothing heard yet, the detector's best guess stands.
    tracker = transcription._LanguageTracker(FakeDetector([unsure]))
    tracker.detect_language(None)
    assert tracker.batch == ["nl"]


def test_it_keeps_the_german_half_in_german_by_default(recordings, base):
    path = recordings.english_then_german()
    german_start = recordings.german_start()
    result = transcription.transcribe(path, model_spec=base)
    english, german = halves(result, german_start)
    assert len(GERMAN_WORDS & set(german)) >= 6, german
    assert TRANSLATED_WORDS & set(german) == set(), german
    assert len(ENGLISH_WORDS & set(english)) >= 6, english
    assert {s.language for s in result.segments if s.end <= german_start} == {"en"}
    assert {s.language for s in result.segments if s.start >= german_start} == {"de"}
    assert sorted(result.languages) == ["de", "en"]
    assert result.provenance.options["task"] == "transcribe"
    assert result.provenance.options["language_mode"] == "per_chunk"
    assert sorted(result.provenance.options["languages"]) == ["de", "en"]


def test_it_follows_a_switch_away_from_a_declared_language_when_speakers_switch(recordings, base):
    options = transcription.TranscribeOptions(language="en", multilingual=True)
    result = transcription.transcribe(recordings.english_then_german(), model_spec=base, options=options)
    _english, german = halves(result, recordings.german_start())
    assert len(GERMAN_WORDS & set(german)) >= 6, german
    assert TRANSLATED_WORDS & set(german) == set(), german
    assert sorted(result.languages) == ["de", "en"]


@pytest.fixture
def no_broker(monkeypatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(recordings_service, "_enqueue", ids.append)
    return ids


def _interview_with_recording(path: Path, *, language: str | None, per_channel: bool | None = None):
    collection = services.collection_get_or_create(slug="languages")
    interview = recorded_interview_create(
        collection=collection,
        title="Two languages",
        narrator_name="Test Narrator",
        anonymity="anonymous",
        access_level="staff",
        language=language,
    )
    with open(path, "rb") as handle:
        recording = recording_store(interview=interview, fileobj=handle, original_filename=path.name)
    job = transcription_job_create(
        recording=recording, options={"language": None, "multilingual": False, "per_channel": per_channel}
    )
    return interview, job


@pytest.mark.django_db(transaction=True)
def test_it_lists_every_language_heard_after_those_an_editor_listed(recordings, models_dir, settings, no_broker):
    settings.RAWI_WHISPER_MODEL = "base"
    settings.MODELS_DIR = models_dir
    interview, job = _interview_with_recording(recordings.english_then_german(), language="ar")
    assert interview.languages == ["ar"]

    assert transcribe_recording(job.pk) == "done"

    interview.refresh_from_db()
    assert interview.languages[0] == "ar"
    assert sorted(interview.languages[1:]) == ["de", "en"]
    transcript = interview.transcripts.get(is_current=True)
    german_start = recordings.german_start()
    rows = list(Segment.objects.filter(transcript=transcript).order_by("index"))
    assert {r.language for r in rows if r.end <= german_start} == {"en"}
    assert {r.language for r in rows if r.start >= german_start} == {"de"}
    assert transcript.options["language_mode"] == "per_chunk"
    assert transcript.options["task"] == "transcribe"
    assert transcript.options["channels"]["path"] == "mono"

    # Transcribed again: nothing is listed twice, and the editor's language stays.
    again = transcription_job_create(recording=job.recording, options={**job.options, "retranscribe": True})
    assert transcribe_recording(again.pk) == "done"
    interview.refresh_from_db()
    assert interview.languages[0] == "ar"
    assert sorted(interview.languages) == ["ar", "de", "en"]


# --------------------------------------------------------------------------------------------
# Channels


def test_it_splits_channels_with_different_speech_at_the_same_time(recordings):
    analysis = media.analyse_channels(recordings.stereo_overlap())
    # Both talk at once at the same loudness: no side leads, which the call heuristic used to need.
    assert analysis.dominant_share < 0.5
    assert analysis.correlation is not None and abs(analysis.correlation) < 0.1
    assert analysis.envelope_correlation is not None and analysis.envelope_correlation < 0.5
    assert (analysis.separate_parties, analysis.reason) == (True, "the channels carry different speech")


@pytest.mark.parametrize(
    ("maker", "reason"),
    [
        ("stereo_spaced_pair", "both channels carry the same speech"),
        ("stereo_hiss_side", "one channel carries no speech of its own"),
    ],
)
def test_it_keeps_one_voice_heard_on_both_sides_together(recordings, maker, reason):
    analysis = media.analyse_channels(getattr(recordings, maker)())
    assert (analysis.separate_parties, analysis.reason) == (False, reason)


def test_it_transcribes_overlapping_speech_on_each_channel(recordings, tiny):
    result = transcription.transcribe(recordings.stereo_overlap(), model_spec=tiny)
    assert result.per_channel is True
    channels = result.provenance.options["channels"]
    assert (channels["path"], channels["separate"], channels["reason"]) == (
        "per_channel",
        True,
        "the channels carry different speech",
    )
    left = " ".join(s.text for s in result.segments if s.channel == 0)
    right = " ".join(s.text for s in result.segments if s.channel == 1)
    assert wer(LEFT, left) <= 0.25, left
    assert wer(RIGHT, right) <= 0.25, right
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)


def test_it_says_when_the_channels_were_mixed(recordings, tiny):
    result = transcription.transcribe(recordings.stereo_spaced_pair(), model_spec=tiny)
    channels = result.provenance.options["channels"]
    assert result.per_channel is False
    assert (channels["path"], channels["reason"]) == ("downmix", "both channels carry the same speech")
    assert {s.channel for s in result.segments} == {None}


@pytest.mark.django_db(transaction=True)
def test_it_records_the_per_channel_path_on_the_transcript(recordings, models_dir, settings, no_broker):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    settings.MODELS_DIR = models_dir
    interview, job = _interview_with_recording(recordings.stereo_overlap(), language=None)

    assert transcribe_recording(job.pk) == "done"

    transcript = interview.transcripts.get(is_current=True)
    assert transcript.options["per_channel"] is True
    assert transcript.options["channels"]["path"] == "per_channel"
    rows = list(Segment.objects.filter(transcript=transcript).order_by("index"))
    assert {r.raw_speaker for r in rows} == {"Speaker 1", "Speaker 2"}
    right = " ".join(r.raw_text for r in rows if r.channel == 1)
    assert wer(RIGHT, right) <= 0.25, right
    assert TranscriptionJob.objects.get(pk=job.pk).state == "done"
    interview.refresh_from_db()
    assert interview.languages == ["en"]
