"""Accuracy suite on ../shared/audio (skipped when absent): English WER with tiny.en and base,
Arabic language detection with base, English then German speech kept in both languages, a stereo
recording of one voice kept together. References come from shared/audio/MANIFEST.tsv."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive import media, transcription
from tests.transcription_audio import SHARED_AUDIO, shared_manifest, words_of
from tests.transcription_audio import corpus_wer as shared_corpus_wer

pytestmark = pytest.mark.skipif(not (SHARED_AUDIO / "MANIFEST.tsv").exists(), reason="../shared/audio is absent")


ENGLISH = [row for row in shared_manifest() if row["language"] == "en" and row["reference"]]
ARABIC = [row for row in shared_manifest() if row["language"] == "ar"]


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    return shared_corpus_wer(pairs, words_of)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.mark.parametrize(("model", "limit"), [("tiny.en", 0.05), ("base", 0.03)])
def test_it_transcribes_english_within_the_wer_budget(models_dir, model, limit):
    spec = transcription.resolve_model(model, models_dir=models_dir)
    pairs = []
    for row in ENGLISH:
        result = transcription.transcribe(SHARED_AUDIO / row["file"], model_spec=spec)
        assert result.language == "en"
        pairs.append((row["reference"], result.text))
    assert len(pairs) == 7
    assert corpus_wer(pairs) <= limit


def test_it_detects_the_habibi_clips_as_arabic_with_base(models_dir):
    spec = transcription.resolve_model("base", models_dir=models_dir)
    detected = {
        row["file"]: transcription.transcribe(SHARED_AUDIO / row["file"], model_spec=spec).language for row in ARABIC
    }
    assert detected == {"habibi_Najdi.wav": "ar", "habibi_Hijazi.wav": "ar", "habibi_UAE.wav": "ar"}


def test_it_keeps_the_german_half_of_the_multilingual_clip_in_german(models_dir):
    """A licence read in English, then in German (real speech): by default the German is transcribed,
    not translated, and both languages are heard."""
    spec = transcription.resolve_model("base", models_dir=models_dir)
    result = transcription.transcribe(SHARED_AUDIO / "fw_multilingual.mp3", model_spec=spec)
    assert sorted(result.languages) == ["de", "en"]
    english = words_of(" ".join(s.text for s in result.segments if s.language == "en"))
    german = words_of(" ".join(s.text for s in result.segments if s.language == "de"))
    assert {"permission", "software", "copy", "conditions"} <= set(english)
    assert {"software", "der", "die", "und", "recht", "verkaufen"} <= set(german)
    assert {"right", "sell", "license"} & set(german) == set()


def test_it_keeps_the_two_identical_channels_of_the_jfk_clip_together():
    analysis = media.analyse_channels(SHARED_AUDIO / "fw_jfk.flac")
    assert (analysis.channels, analysis.separate_parties) == (2, False)
    assert analysis.reason == "both channels carry the same signal"
