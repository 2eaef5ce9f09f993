"""The engine boundary (archive/transcription.py) and media probing (archive/media.py): no database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from archive import media, transcription
from archive.media import MediaError
from tests.transcription_audio import SENTENCE, AudioFiles, audio_files, wer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    return audio_files(tmp_path_factory)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def tiny(models_dir: Path) -> transcription.ModelSpec:
    return transcription.resolve_model("tiny.en", models_dir=models_dir)


@pytest.mark.parametrize(
    ("ext", "container", "codec"),
    [
        ("wav", "wav", "pcm_s16le"),
        ("flac", "flac", "flac"),
        ("mp3", "mp3", "mp3float"),
        ("m4a", "mov", "aac"),
        ("aac", "aac", "aac"),
        ("ogg", "ogg", "vorbis"),
        ("opus", "ogg", "opus"),
        ("webm", "matroska", "opus"),
        ("mp4", "mov", "aac"),
        ("mov", "mov", "aac"),
    ],
)
def test_it_probes_and_decodes_every_supported_format(audio, ext, container, codec):
    path = audio.fmt(ext)
    info = media.inspect(path)
    assert (info.container, info.codec, info.channels) == (container, codec, 1)
    assert info.has_video is (ext in {"mp4", "mov"})
    assert info.decoded_duration == pytest.approx(media.probe(audio.speech_wav).duration, abs=0.2)
    samples = media.decode_audio(path)
    assert samples.dtype == np.float32
    assert samples.shape[0] / media.SAMPLE_RATE == pytest.approx(info.decoded_duration, abs=0.2)


@pytest.mark.parametrize(
    ("maker", "code", "reason"),
    [
        ("empty", "empty", "The file is empty (0 bytes)."),
        (
            "text_as_mp3",
            "not_media",
            "The file is not a recognisable audio or video file (it may be a renamed document or damaged).",
        ),
        ("zero_length_wav", "zero_length", "The recording contains no audio (zero length)."),
    ],
)
def test_it_rejects_bad_input_with_a_clear_reason(audio, maker, code, reason):
    with pytest.raises(MediaError) as caught:
        media.inspect(getattr(audio, maker)())
    assert (caught.value.code, caught.value.reason) == (code, reason)


def test_it_detects_a_truncated_mp3(audio):
    with pytest.raises(MediaError) as caught:
        media.inspect(audio.truncated_mp3())
    assert caught.value.code == "truncated"
    assert caught.value.reason.startswith("The file is truncated: only ")
    assert "Upload the complete file again." in caught.value.reason


def test_it_accepts_file_objects(audio):
    with open(audio.fmt("flac"), "rb") as handle:
        info = media.inspect(handle)
    assert info.container == "flac"


def test_it_extracts_container_metadata_for_the_quarantine(audio):
    meta = media.container_metadata(audio.tagged_m4a())
    assert meta["tags"]["title"] == "Secret Title"
    assert meta["tags"]["artist"] == "Real Name"
    assert meta["gps"]["location"] == "+34.7324+036.7137/"
    assert meta["device"]["make"] == "Apple"
    assert meta["device"]["model"] == "iPhone 12"
    json.dumps(meta)  # serialisable for crypto.seal_json


def test_it_cuts_windows_at_quiet_points_and_loses_no_samples(audio):
    path = audio.long_speech(4)
    whole = media.decode_audio(path)
    windows = list(media.iter_windows(path, window_seconds=4.0, search_seconds=1.5))
    assert len(windows) >= 3
    assert all(w.duration <= 4.0 for w in windows)
    assert np.array_equal(np.concatenate([w.samples for w in windows]), whole)
    offsets = [w.offset for w in windows]
    assert offsets == sorted(offsets) and offsets[0] == 0.0


def test_it_detects_call_recordings_with_one_party_per_channel(audio):
    call = media.analyse_channels(audio.stereo_call())
    assert call.separate_parties is True
    assert call.correlation < 0.5
    same = media.analyse_channels(audio.stereo_same())
    assert same.separate_parties is False
    assert same.correlation > 0.99
    mono = media.analyse_channels(audio.speech_wav)
    assert (mono.channels, mono.separate_parties) == (1, False)


def test_it_verifies_the_tiny_model_checksum(tiny):
    assert tiny.sha256 == transcription.TINY_EN_MODEL_SHA256
    assert (tiny.name, tiny.multilingual) == ("tiny.en", False)


def test_it_joins_the_base_model_once_and_verifies_it(models_dir):
    spec = transcription.resolve_model("base", models_dir=models_dir)
    assert spec.path == models_dir / "whisper-base"
    assert spec.sha256 == transcription.BASE_MODEL_SHA256
    assert transcription.sha256_file(spec.path / "model.bin") == transcription.BASE_MODEL_SHA256
    mtime = (spec.path / "model.bin").stat().st_mtime_ns
    again = transcription.resolve_model("base", models_dir=models_dir)
    assert (again.path / "model.bin").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in spec.path.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]


def test_it_refuses_a_damaged_model(tmp_path, models_dir):
    bad = tmp_path / "whisper-base"
    bad.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (bad / name).write_bytes((models_dir / "whisper-base" / name).read_bytes()) if (
            models_dir / "whisper-base" / name
        ).exists() else (bad / name).write_text("{}")
    (bad / "model.bin").write_bytes(b"not a model")
    with pytest.raises(transcription.ModelError, match="fails its checksum"):
        transcription.resolve_model("base", models_dir=tmp_path)


def test_it_transcribes_speech_with_word_timestamps_and_provenance(audio, tiny):
    seen: list[float] = []
    result = transcription.transcribe(audio.speech_wav, model_spec=tiny, progress=seen.append)
    assert wer(SENTENCE, result.text) <= 0.2
    assert result.language == "en"
    assert seen[-1] == 1.0 and seen == sorted(seen)
    words = [w for s in result.segments for w in s.words]
    assert [w.w.strip(".,").lower() for w in words][-3:] == ["and", "your", "home"]
    assert all(w.s is not None and w.e is not None and w.s <= w.e for w in words)
    assert all(isinstance(w.s, float) for w in words)
    assert result.provenance.engine == "faster-whisper"
    assert result.provenance.model_name == "tiny.en"
    assert result.provenance.model_sha256 == transcription.TINY_EN_MODEL_SHA256
    assert result.provenance.options["vad"] is True
    assert result.provenance.options["word_timestamps"] is True
    assert result.provenance.options["compute_type"] == "int8"
    json.dumps(result.as_dict())


def test_it_gives_an_empty_transcript_for_silence_not_you(audio, tiny):
    result = transcription.transcribe(audio.silence(30), model_spec=tiny)
    assert result.segments == []
    assert result.text == ""
    assert result.duration == 30.0


def test_it_offsets_timestamps_across_windows(audio, tiny):
    # Twelve different sentences: repeated text would make Whisper fall back to sampling at a higher
    # temperature on some windows, and the two transcripts would differ by chance.
    path = audio.paragraph()
    whole = transcription.transcribe(path, model_spec=tiny)
    windowed = transcription.transcribe(
        path, model_spec=tiny, options=transcription.TranscribeOptions(window_seconds=30)
    )
    assert whole.duration > 30
    assert wer(whole.text, windowed.text) <= 0.1
    assert windowed.segments[-1].end == pytest.approx(whole.segments[-1].end, abs=1.5)


def test_it_transcribes_each_channel_of_a_call_and_merges_in_time_order(audio, tiny):
    result = transcription.transcribe(audio.stereo_call(), model_spec=tiny)
    assert result.per_channel is True
    assert {s.channel for s in result.segments} == {0, 1}
    assert [s.start for s in result.segments] == sorted(s.start for s in result.segments)
    left = " ".join(s.text for s in result.segments if s.channel == 0)
    right = " ".join(s.text for s in result.segments if s.channel == 1)
    assert "speaking" in left.lower() and "speaking" not in right.lower()
    assert "family" in right.lower() and "family" not in left.lower()
    assert result.segments[0].channel == 0


def test_it_raises_media_error_before_transcribing_bad_input(audio, tiny):
    with pytest.raises(MediaError) as caught:
        transcription.transcribe(audio.truncated_mp3(), model_spec=tiny)
    assert caught.value.code == "truncated"
