"""Media probing and decoding with PyAV (which ships its own FFmpeg). No ORM, no Django.

- ``probe(source)``: container, codec, duration, channels, sample rate, from the headers only.
- ``inspect(source)``: ``probe`` plus a full decode that counts samples, so a truncated or corrupt
  file is detected (decoded duration vs container duration) before anything is transcribed.
- ``iter_windows(source, ...)``: streams 16 kHz float32 audio in bounded windows (memory stays
  constant however long the recording), cutting each window at its quietest point near the end.
- ``analyse_channels(source)``: decides whether the two channels of a stereo file carry different
  speech (a call recorder, two microphones on two people): then each is transcribed on its own, since
  a downmix loses whichever party is quieter whenever both speak at once.
- ``container_metadata(source)``: tags, GPS and device fields, for the quarantine (never served).

``source`` is a filesystem path or a seekable binary file object (e.g. a Django storage ``File``).
Errors are ``MediaError`` whose message is safe to show to a user: it never contains the file name.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import av
import numpy as np

SAMPLE_RATE = 16_000
# A decode that stops this much short of the container's duration is a truncated file.
TRUNCATION_TOLERANCE_SECONDS = 1.0
TRUNCATION_TOLERANCE_SHARE = 0.02

Source = str | os.PathLike | IO[bytes]


class MediaError(Exception):
    """Bad input: the file cannot be transcribed. ``reason`` is human-readable and safe to show."""

    def __init__(self, reason: str, *, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class MediaInfo:
    container: str
    codec: str
    duration: float | None  # from the container headers; None when the container does not say
    channels: int
    sample_rate: int
    has_video: bool
    size_bytes: int
    decoded_duration: float | None = None  # set by inspect(), from a full decode

    def as_dict(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "codec": self.codec,
            "duration": self.duration,
            "channels": self.channels,
            "sample_rate": self.sample_rate,
            "has_video": self.has_video,
            "size_bytes": self.size_bytes,
            "decoded_duration": self.decoded_duration,
        }


@dataclass(frozen=True)
class ChannelAnalysis:
    channels: int
    correlation: float | None  # Pearson correlation of the two channels' samples
    energy_db: tuple[float, ...]  # mean energy per channel (dBFS)
    dominant_share: float  # share of active frames where one channel is ≥ 10 dB louder
    separate_parties: bool  # the verdict: transcribe each channel on its own
    # Correlation of the two channels' loudness (dB per 100 ms) over active frames: the same speech
    # reaching both sides, even with a delay that decorrelates the samples, rises and falls together.
    envelope_correlation: float | None = None
    speaking_share: tuple[float, ...] = ()  # per channel: share of active frames with speech of its own
    reason: str = ""  # why the channels are (not) transcribed apart; safe to show and to store

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(float(value), 3)

        return {
            "channels": self.channels,
            "correlation": rounded(self.correlation),
            "envelope_correlation": rounded(self.envelope_correlation),
            "energy_db": [rounded(v) for v in self.energy_db],
            "dominant_share": rounded(self.dominant_share),
            "speaking_share": [rounded(v) for v in self.speaking_share],
            "separate": self.separate_parties,
            "reason": self.reason,
        }


@dataclass
class AudioWindow:
    offset: float  # seconds from the start of the recording
    samples: np.ndarray  # float32, shape (n,) for mono or (channels, n) when split
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.samples.shape[-1] / SAMPLE_RATE


# --------------------------------------------------------------------------------------------
# Opening


def _size_of(source: Source) -> int:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).stat().st_size
    position = source.tell()
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(position)
    return size


@contextlib.contextmanager
def _open(source: Source) -> Iterator[Any]:
    try:
        size = _size_of(source)
    except FileNotFoundError:
        raise MediaError("The file does not exist.", code="missing") from None
    if size == 0:
        raise MediaError("The file is empty (0 bytes).", code="empty")
    if not isinstance(source, (str, os.PathLike)):
        source.seek(0)
    try:
        container = av.open(source if not isinstance(source, os.PathLike) else str(source), mode="r")
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        raise MediaError(
            "The file is not a recognisable audio or video file (it may be a renamed document or damaged).",
            code="not_media",
        ) from exc
    except av.error.FFmpegError as exc:
        raise MediaError(
            "The file could not be opened as audio or video; it may be incomplete or damaged.",
            code="not_media",
        ) from exc
    try:
        yield container
    finally:
        container.close()


def _audio_stream(container: Any) -> Any:
    if not container.streams.audio:
        raise MediaError("The file has no audio track.", code="no_audio")
    return container.streams.audio[0]


def _container_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        value = float(stream.duration * stream.time_base)
        if value > 0:
            return value
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def _stream_channels(stream: Any) -> int:
    try:
        return int(stream.layout.nb_channels)
    except AttributeError:
        return int(stream.channels)


def probe(source: Source) -> MediaInfo:
    """Container, codec, duration, channels and sample rate from the headers (no full decode)."""
    size = _size_of(source) if not isinstance(source, (str, os.PathLike)) or Path(source).exists() else 0
    with _open(source) as container:
        stream = _audio_stream(container)
        return MediaInfo(
            container=container.format.name.split(",")[0],
            codec=stream.codec_context.name,
            duration=_container_duration(container, stream),
            channels=_stream_channels(stream),
            sample_rate=int(stream.sample_rate or 0),
            has_video=bool(container.streams.video),
            size_bytes=size,
        )


def inspect(source: Source) -> MediaInfo:
    """``probe`` plus a full decode: raises MediaError for zero-length, undecodable or truncated audio."""
    info = probe(source)
    decoded_samples = 0
    error: Exception | None = None
    with _open(source) as container:
        stream = _audio_stream(container)
        rate = stream.sample_rate or info.sample_rate
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                decoded_samples += frame.samples
        except av.error.FFmpegError as exc:
            error = exc
    decoded = decoded_samples / rate if rate else 0.0
    if decoded_samples == 0:
        if error is not None:
            raise MediaError(
                "The audio track could not be decoded; the file is damaged.",
                code="undecodable",
            )
        raise MediaError("The recording contains no audio (zero length).", code="zero_length")
    expected = info.duration
    if expected is not None:
        shortfall = expected - decoded
        if shortfall > max(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_SHARE * expected):
            raise MediaError(
                f"The file is truncated: only {decoded:.1f} s of the {expected:.1f} s the container "
                "declares could be decoded. Upload the complete file again.",
                code="truncated",
            )
    if error is not None and expected is None:
        raise MediaError(
            f"The file is damaged: decoding stopped after {decoded:.1f} s.",
            code="truncated",
        )
    return MediaInfo(**{**info.as_dict(), "decoded_duration": decoded})


# --------------------------------------------------------------------------------------------
# Decoding in bounded windows


def _decoded_chunks(source: Source, *, split_channels: bool, start: float = 0.0) -> Iterator[np.ndarray]:
    """Yield float32 arrays at 16 kHz: shape (1, n) mono, or (channels, n) when ``split_channels``."""
    with _open(source) as container:
        stream = _audio_stream(container)
        stream.thread_type = "AUTO"
        layout = "stereo" if split_channels else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    yield out.to_ndarray()
        except av.error.FFmpegError:
            # inspect() has already judged the file; a damaged tail ends the stream here.
            pass
        for out in resampler.resample(None):
            yield out.to_ndarray()


def _quietest_cut(buffer: np.ndarray, lo: int, hi: int) -> int:
    """Index in [lo, hi) at the centre of the quietest 100 ms frame (energy summed over channels)."""
    frame = SAMPLE_RATE // 10
    region = buffer[:, lo:hi]
    n_frames = region.shape[1] // frame
    if n_frames < 2:
        return hi
    energy = np.square(region[:, : n_frames * frame]).reshape(region.shape[0], n_frames, frame).sum(axis=(0, 2))
    return lo + int(np.argmin(energy)) * frame + frame // 2


def iter_windows(
    source: Source,
    *,
    window_seconds: float = 600.0,
    search_seconds: float = 20.0,
    split_channels: bool = False,
) -> Iterator[AudioWindow]:
    """Stream the recording as windows of at most ``window_seconds``, cut at a quiet point.

    Memory is bounded by one window plus one decoder frame, whatever the recording's length.
    Mono windows hold shape (n,); split windows hold (2, n).
    """
    window = int(window_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), window // 2)
    channels = 2 if split_channels else 1
    pending: list[np.ndarray] = []
    pending_len = 0
    consumed = 0

    def emit(buffer: np.ndarray, cut: int) -> AudioWindow:
        samples = np.ascontiguousarray(buffer[:, :cut], dtype=np.float32)
        return AudioWindow(
            offset=consumed / SAMPLE_RATE,
            samples=samples if split_channels else samples[0],
        )

    for chunk in _decoded_chunks(source, split_channels=split_channels):
        pending.append(chunk)
        pending_len += chunk.shape[1]
        if pending_len < window:
            continue
        buffer = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
        while buffer.shape[1] >= window:
            cut = _quietest_cut(buffer, window - search, window)
            yield emit(buffer, cut)
            consumed += cut
            buffer = buffer[:, cut:]
        pending = [buffer.copy()]
        pending_len = buffer.shape[1]
    if pending_len:
        buffer = np.concatenate(pending, axis=1) if len(pending) > 1 else pending[0]
        yield emit(buffer.reshape(channels, -1), buffer.shape[1])


def decode_audio(source: Source, *, split_channels: bool = False) -> np.ndarray:
    """The whole recording at 16 kHz float32 (for short files and tests; use iter_windows otherwise)."""
    parts = [w.samples for w in iter_windows(source, window_seconds=3600.0, split_channels=split_channels)]
    if not parts:
        return np.zeros((2, 0) if split_channels else (0,), dtype=np.float32)
    return np.concatenate(parts, axis=-1)


# --------------------------------------------------------------------------------------------
# Channel analysis for call recordings


# Channels whose samples correlate this much hold one signal (dual mono, a coincident stereo pair).
SAME_SIGNAL_CORRELATION = 0.5
# Channels whose loudness rises and falls together this much hold the same speech (a spaced pair of
# microphones in one room: the delay decorrelates the samples, not the envelope).
SAME_SPEECH_ENVELOPE_CORRELATION = 0.7
# A channel speaks for itself when it is active in this share of the frames where either side is.
MIN_SPEAKING_SHARE = 0.05
MIN_SPEAKING_FRAMES = 10  # one second


def _active_frames(db: np.ndarray) -> np.ndarray:
    """Frames clearly above a channel's own floor: within 30 dB of its loud frames, 15 dB over its
    quiet ones (steady hiss has no such range) and above -50 dBFS."""
    threshold = max(-50.0, float(np.percentile(db, 95)) - 30.0, float(np.percentile(db, 10)) + 15.0)
    return db > threshold


def analyse_channels(source: Source, *, max_seconds: float = 600.0) -> ChannelAnalysis:
    """Decide whether the two channels of a stereo file carry different speech.

    Looks at up to ``max_seconds`` of audio in 100 ms frames. The channels are transcribed apart when
    each carries speech of its own and they are not the same signal: neither the samples nor the
    loudness envelopes correlate. Who is louder when does not matter: two parties talking at the same
    time, each on their own channel, are split as well as a call where they take turns. A mono file,
    the same signal on both sides, the same room heard by two microphones, or a silent side, is not.
    """
    info = probe(source)
    if info.channels < 2:
        return ChannelAnalysis(info.channels, None, (), 0.0, False, reason="mono")
    if info.channels > 2:
        return ChannelAnalysis(info.channels, None, (), 0.0, False, reason="more than two channels")
    frame = SAMPLE_RATE // 10
    limit = int(max_seconds * SAMPLE_RATE)
    energies: list[np.ndarray] = []
    sums = np.zeros(5)  # Σl, Σr, Σl², Σr², Σlr over all samples, for the correlation
    count = 0
    carry = np.zeros((2, 0))
    for chunk in _decoded_chunks(source, split_channels=True):
        chunk = chunk[:, : max(0, limit - count)].astype(np.float64)
        if chunk.shape[1] == 0:
            break
        left, right = chunk[0], chunk[1]
        sums += [
            left.sum(),
            right.sum(),
            (left * left).sum(),
            (right * right).sum(),
            (left * right).sum(),
        ]
        count += chunk.shape[1]
        carry = np.concatenate([carry, chunk], axis=1)
        n = carry.shape[1] // frame
        if n:
            energies.append(np.square(carry[:, : n * frame]).reshape(2, n, frame).mean(axis=2))
            carry = carry[:, n * frame :]
    if count == 0 or not energies:
        return ChannelAnalysis(info.channels, None, (), 0.0, False, reason="no audio")
    mean_l, mean_r = sums[0] / count, sums[1] / count
    var_l = sums[2] / count - mean_l**2
    var_r = sums[3] / count - mean_r**2
    cov = sums[4] / count - mean_l * mean_r
    correlation = float(cov / np.sqrt(var_l * var_r)) if var_l > 1e-12 and var_r > 1e-12 else 0.0
    energy = np.concatenate(energies, axis=1)
    db = 10 * np.log10(energy + 1e-12)
    mean_db = tuple(float(10 * np.log10(energy[c].mean() + 1e-12)) for c in range(2))
    loudest = db.max(axis=0)
    active = loudest > max(-50.0, float(np.percentile(loudest, 95)) - 30.0)
    if not active.any():
        return ChannelAnalysis(info.channels, correlation, mean_db, 0.0, False, reason="no speech")
    difference = np.abs(db[0] - db[1])[active]
    dominant_share = float((difference >= 10.0).mean())
    own = [_active_frames(db[c]) & active for c in range(2)]
    speaking = tuple(float(o.sum() / active.sum()) for o in own)
    envelope = None
    if active.sum() >= 2 and db[0][active].std() > 1e-6 and db[1][active].std() > 1e-6:
        envelope = float(np.corrcoef(db[0][active], db[1][active])[0, 1])

    def verdict(separate: bool, reason: str) -> ChannelAnalysis:
        return ChannelAnalysis(
            info.channels, correlation, mean_db, dominant_share, separate, envelope, speaking, reason
        )

    if min(int(o.sum()) for o in own) < MIN_SPEAKING_FRAMES or min(speaking) < MIN_SPEAKING_SHARE:
        return verdict(False, "one channel carries no speech of its own")
    if correlation >= SAME_SIGNAL_CORRELATION:
        return verdict(False, "both channels carry the same signal")
    if envelope is not None and envelope >= SAME_SPEECH_ENVELOPE_CORRELATION:
        return verdict(False, "both channels carry the same speech")
    return verdict(True, "the channels carry different speech")


# --------------------------------------------------------------------------------------------
# Container metadata (quarantined: may identify the narrator or where they are)

_GPS_KEYS = ("location", "gps", "iso6709", "xyz", "coordinates")
_DEVICE_KEYS = (
    "make",
    "model",
    "device",
    "encoder",
    "software",
    "handler_name",
    "vendor",
    "com.android.version",
)


def container_metadata(source: Source) -> dict[str, Any]:
    """Every tag in the container and its streams, with GPS and device fields picked out."""
    with _open(source) as container:
        tags = {str(k): str(v) for k, v in (container.metadata or {}).items()}
        streams = []
        for stream in container.streams:
            streams.append(
                {
                    "index": stream.index,
                    "type": stream.type,
                    "codec": stream.codec_context.name if stream.codec_context else "",
                    "tags": {str(k): str(v) for k, v in (stream.metadata or {}).items()},
                }
            )
        format_name = container.format.name
    all_tags = dict(tags)
    for stream in streams:
        for key, value in stream["tags"].items():
            all_tags.setdefault(key, value)
    gps = {k: v for k, v in all_tags.items() if any(part in k.lower() for part in _GPS_KEYS)}
    device = {k: v for k, v in all_tags.items() if any(part in k.lower() for part in _DEVICE_KEYS)}
    return {
        "format": format_name,
        "tags": tags,
        "streams": streams,
        "gps": gps,
        "device": device,
    }


ProgressCallback = Callable[[float], None]
