"""Synthetic audio for transcription tests (espeak-ng, sox and ffmpeg; apt-get install espeak-ng sox ffmpeg).

Files are made once per session in a temporary directory. Nothing from ../shared/audio is copied.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import unicodedata
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

SHARED_AUDIO = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"
SENTENCE = "We are recording this interview today. Thank you for speaking with us about your family and your home."
LEFT_SENTENCE = "Hello. Thank you for speaking with us today."
RIGHT_SENTENCE = "I want to tell you about my family and my home."

PARAGRAPH = [
    "We are recording this interview today.",
    "Thank you for speaking with us about your family and your home.",
    "Please tell me where you were living before the war began.",
    "We lived near the old market with my parents and my two brothers.",
    "In the winter there was no electricity and very little bread.",
    "My mother baked at night when the shelling was quiet.",
    "The school closed in the spring and the teachers left the city.",
    "We listened to the radio every evening to hear the news.",
    "My brother walked to the hospital each morning to help the doctors.",
    "After two years we decided to leave with our neighbours.",
    "The journey took four days and we slept in the fields.",
    "Today I still remember the smell of the orange trees in our garden.",
]

TOOLS = ("espeak-ng", "sox", "ffmpeg")


def require_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"Missing system packages for the audio tests: {', '.join(missing)} "
            "(apt-get install -y espeak-ng sox ffmpeg)"
        )


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def speak(path: Path, text: str, voice: str = "en-us", speed: int = 130) -> Path:
    run("espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text)
    return path


def ffmpeg(*args: str) -> None:
    run("ffmpeg", "-loglevel", "error", "-y", *args)


class AudioFiles:
    def __init__(self, root: Path) -> None:
        require_tools()
        self.root = root
        self.speech_wav = speak(root / "speech.wav", SENTENCE)

    def path(self, name: str) -> Path:
        return self.root / name

    def convert(self, name: str, *args: str, source: Path | None = None) -> Path:
        out = self.root / name
        if not out.exists():
            ffmpeg("-i", str(source or self.speech_wav), *args, str(out))
        return out

    def fmt(self, ext: str) -> Path:
        """The speech sentence in a given container."""
        if ext == "mp4":
            return self._video("speech.mp4", "libx264", "aac")
        if ext == "mov":
            return self._video("speech.mov", "libx264", "aac")
        if ext == "webm":
            return self.convert("speech.webm", "-c:a", "libopus")
        if ext == "opus":
            return self.convert("speech.opus", "-c:a", "libopus", "-b:a", "24k")
        if ext == "ogg":
            return self.convert("speech.ogg", "-c:a", "libvorbis")
        if ext == "m4a":
            return self.convert("speech.m4a", "-c:a", "aac")
        if ext == "aac":
            return self.convert("speech.aac", "-c:a", "aac")
        return self.convert(f"speech.{ext}")

    def _video(self, name: str, vcodec: str, acodec: str) -> Path:
        out = self.root / name
        if not out.exists():
            ffmpeg(
                "-f", "lavfi", "-i", "color=c=black:s=64x64:r=5", "-i", str(self.speech_wav),
                "-shortest", "-c:v", vcodec, "-c:a", acodec, str(out),
            )  # fmt: skip
        return out

    def tagged_m4a(self) -> Path:
        return self.convert(
            "tagged.m4a",
            "-metadata", "title=Secret Title", "-metadata", "artist=Real Name",
            "-metadata", "location=+34.7324+036.7137/", "-metadata", "make=Apple",
            "-metadata", "model=iPhone 12", "-movflags", "use_metadata_tags",
        )  # fmt: skip

    def empty(self) -> Path:
        out = self.root / "empty.mp3"
        out.write_bytes(b"")
        return out

    def text_as_mp3(self) -> Path:
        out = self.root / "notes.mp3"
        out.write_text("These are my typed notes from the interview, not audio at all.\n" * 40)
        return out

    def zero_length_wav(self) -> Path:
        out = self.root / "zero.wav"
        with wave.open(str(out), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
        return out

    def silence(self, seconds: int = 30) -> Path:
        out = self.root / f"silence{seconds}.wav"
        if not out.exists():
            run("sox", "-n", "-r", "16000", "-c", "1", str(out), "trim", "0", str(seconds))
        return out

    def long_speech(self, repeat: int = 4) -> Path:
        out = self.root / f"long{repeat}.wav"
        if not out.exists():
            speak(out, " ".join([SENTENCE] * repeat))
        return out

    def paragraph(self, repeat: int = 1) -> Path:
        out = self.root / ("paragraph.wav" if repeat == 1 else f"paragraph{repeat}.wav")
        if not out.exists():
            speak(out, " ".join(PARAGRAPH * repeat))
        return out

    def truncated_mp3(self) -> Path:
        full = self.convert("long.mp3", "-c:a", "libmp3lame", "-b:a", "64k", source=self.long_speech(6))
        out = self.root / "truncated.mp3"
        data = full.read_bytes()
        out.write_bytes(data[: len(data) // 2])
        return out

    def stereo_call(self) -> Path:
        """Left party speaks first, then the right party; each on its own channel only."""
        out = self.root / "call.wav"
        if not out.exists():
            left = speak(self.root / "left.wav", LEFT_SENTENCE, "en-us")
            right = speak(self.root / "right.wav", RIGHT_SENTENCE, "en-us+f2")
            run("sox", str(left), "-r", "16000", str(self.root / "left16.wav"), "pad", "0.5", "6")
            run("sox", str(right), "-r", "16000", str(self.root / "right16.wav"), "pad", "5.5", "1")
            run("sox", "-M", str(self.root / "left16.wav"), str(self.root / "right16.wav"), str(out))
        return out

    def stereo_same(self) -> Path:
        out = self.root / "dualmono.wav"
        if not out.exists():
            run("sox", str(self.speech_wav), "-r", "16000", "-c", "2", str(out))
        return out


_session: dict[str, object] = {}


def audio_files(tmp_path_factory: pytest.TempPathFactory) -> AudioFiles:
    """One AudioFiles per test session (call it from a session-scoped fixture)."""
    if "audio" not in _session:
        _session["audio"] = AudioFiles(tmp_path_factory.mktemp("audio"))
    return _session["audio"]  # type: ignore[return-value]


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower().replace("-", " "))


def words_any_script(text: str) -> list[str]:
    """Words of any script, Arabic short vowels and tatweel removed (what WER on Arabic compares)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("-", " ")
    return re.findall(r"[\w']+", re.sub("[\u064b-\u065f\u0670\u0640]", "", text))


def corpus_wer(pairs: list[tuple[str, str]], words: Callable[[str], list[str]] = words_any_script) -> float:
    """Word error rate over (reference, hypothesis) pairs: edits summed over words summed."""
    errors = total = 0
    for reference, hypothesis in pairs:
        ref, hyp = words(reference), words(hypothesis)
        previous = list(range(len(hyp) + 1))
        for i, r in enumerate(ref, 1):
            current = [i] + [0] * len(hyp)
            for j, h in enumerate(hyp, 1):
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
            previous = current
        errors += previous[-1]
        total += len(ref)
    return errors / max(1, total)


def shared_manifest() -> list[dict[str, str]]:
    """The shared clips' manifest (empty when ../shared/audio is absent)."""
    if not (SHARED_AUDIO / "MANIFEST.tsv").exists():
        return []
    with open(SHARED_AUDIO / "MANIFEST.tsv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def wer(reference: str, hypothesis: str) -> float:
    return corpus_wer([(reference, hypothesis)], words_of)
