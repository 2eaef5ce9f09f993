"""Redacted audio derived from an original recording and a Rendering's `audio_spans`.

Samples inside each span are *replaced* (never overlaid) by silence or a fixed 1 kHz tone, with
10 ms ramps outside the span so there are no clicks. The result is re-encoded as MP3 with no
metadata copied (no ID3 tags at all), decoded again and verified: every span must be exactly
silent (RMS 0.0) or, for the tone, hold nothing but the tone; the duration must equal the original's
within 10 ms. Anything else raises `AudioRedactionError` and the partial output is deleted: the
caller serves nothing (fail closed).

Everything is streamed frame by frame, so memory stays constant for hour-long recordings.

An interview's audio is made of parts (recordings laid end to end, a chat's voice notes back to back):
each part is silenced on its own timeline, after checking that every span lies inside that part as
decoded (a span past its end means the transcript's times do not refer to this media: fail closed),
and the parts are encoded one after another into one file.

Why MP3 and not Ogg/Opus: libopus' decoder leaves a decaying tail (hundreds of milliseconds of tiny
non-zero samples) after digital silence, so an Opus file can never pass the exact RMS-0 check;
libmp3lame's output decodes to exact zeros a few milliseconds inside a silent region. A guard band of
extra silence around each span absorbs the codec's smearing so that the span itself is exactly zero.
"""

from __future__ import annotations

import bisect
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48_000
RAMP_SECONDS = 0.010
# Extra silence either side of each span, so that codec smearing of neighbouring speech lands
# outside the span. (MP3 smears audibly over about 20 ms at 48 kHz, and with values near 1e-12 up to
# about 35 ms.)
GUARD_SECONDS = 0.050
DURATION_TOLERANCE_SECONDS = 0.010
# How far a span may reach past the decoded end of its part (word padding, container rounding).
SPAN_END_TOLERANCE_SECONDS = 0.25
TONE_HZ = 1000.0
TONE_LEVEL = 0.1
BIT_RATE = 64_000
CONTENT_TYPE = "audio/mpeg"
EXTENSION = "mp3"


class AudioRedactionError(Exception):
    """Redacted audio could not be produced or failed verification; nothing may be served."""


@dataclass(frozen=True)
class AudioReport:
    duration_in: float
    duration_out: float
    spans: int
    max_span_rms: float  # silence: 0.0; tone: RMS of what is left after removing the tone


def normalise_spans(spans: Sequence[Sequence[float]], duration: float | None = None) -> list[tuple[float, float]]:
    """Sorted, merged, finite spans clipped to [0, duration]. Raises on malformed input."""
    cleaned: list[tuple[float, float]] = []
    for span in spans:
        if len(span) != 2:
            raise AudioRedactionError("malformed span")
        start, end = float(span[0]), float(span[1])
        if not (math.isfinite(start) and math.isfinite(end)) or end < start:
            raise AudioRedactionError("malformed span")
        start = max(0.0, start)
        if duration is not None:
            end = min(end, duration)
        if end > start:
            cleaned.append((start, end))
    cleaned.sort()
    merged: list[list[float]] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


class _Envelope:
    """Per-sample gain (1 = original, 0 = replaced) for spans, computed chunk by chunk."""

    def __init__(self, spans: list[tuple[float, float]], rate: int, guard: float | None = None):
        guard = GUARD_SECONDS if guard is None else guard
        self.rate = rate
        ramp = RAMP_SECONDS * rate
        # Zero region in samples, with ramps outside it.
        self.zones = [((s - guard) * rate, (e + guard) * rate) for s, e in spans]
        self.starts = [z[0] - ramp for z in self.zones]
        self.ends = [z[1] + ramp for z in self.zones]
        self.ramp = ramp

    def gain(self, first: int, count: int) -> np.ndarray | None:
        """Gain for samples [first, first+count), or None when no span touches them."""
        last = first + count
        # Zones are sorted and disjoint-ish (merged before guards), so ends are sorted too.
        lo = bisect.bisect_right(self.ends, first)
        hi = bisect.bisect_left(self.starts, last)
        if lo >= hi:
            return None
        index = np.arange(first, last, dtype=np.float64)
        gain = np.ones(count, dtype=np.float64)
        for zone_start, zone_end in self.zones[lo:hi]:
            fade_out = np.clip((zone_start - index) / self.ramp, 0.0, 1.0)
            fade_in = np.clip((index - zone_end) / self.ramp, 0.0, 1.0)
            gain = np.minimum(gain, np.maximum(fade_out, fade_in))
        return gain


def _decoded_chunks(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Mono float32 chunks at SAMPLE_RATE, in order, from the first audio stream."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as error:
        raise AudioRedactionError("cannot open audio") from error
    try:
        if not container.streams.audio:
            raise AudioRedactionError("no audio stream")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    yield out.to_ndarray().reshape(-1)
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1)
        except av.FFmpegError as error:
            raise AudioRedactionError("cannot decode audio") from error
    finally:
        container.close()


def probe_duration(path: str | os.PathLike[str]) -> float:
    """Duration in seconds, by decoding (container headers lie)."""
    return sum(len(chunk) for chunk in _decoded_chunks(path)) / SAMPLE_RATE


def _tone(first: int, count: int, rate: int) -> np.ndarray:
    index = np.arange(first, first + count, dtype=np.float64)
    return TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * index / rate)


def _check_inside(spans: list[tuple[float, float]], samples: int) -> None:
    """Every span must lie inside the part as decoded; then none is clipped away unverified."""
    duration = samples / SAMPLE_RATE
    for start, end in spans:
        if start >= duration or end > duration + SPAN_END_TOLERANCE_SECONDS:
            raise AudioRedactionError("a hidden interval lies outside its recording")


def _encode(parts: Sequence[tuple[object, list[tuple[float, float]]]], destination: Path, fill: str) -> list[int]:
    """Encode the parts one after another, each silenced on its own timeline; returns each part's
    decoded sample count."""
    # No ID3 tags at all (not even the encoder tag); the Xing/LAME header keeps gapless trimming exact.
    output = av.open(str(destination), "w", format="mp3", options={"id3v2_version": "0", "write_id3v1": "0"})
    counts: list[int] = []
    try:
        # LAME's quality 7 (fast): half the encoding time of its default (3), the same size, and speech
        # that sounds the same at this bit rate; every span is measured on the decoded output anyway.
        stream = output.add_stream("libmp3lame", rate=SAMPLE_RATE, options={"compression_level": "7"})
        stream.layout = "mono"
        stream.bit_rate = BIT_RATE
        position = 0
        for source, spans in parts:
            envelope = _Envelope(spans, SAMPLE_RATE)
            local = 0
            for chunk in _decoded_chunks(source):
                count = len(chunk)
                gain = envelope.gain(local, count)
                if gain is not None:
                    samples = chunk.astype(np.float64) * gain
                    if fill == "tone":
                        samples += (1.0 - gain) * _tone(local, count, SAMPLE_RATE)
                    if fill == "silence":
                        # Exact zeros where the gain is zero, whatever the input held (even NaN).
                        samples[gain == 0.0] = 0.0
                    chunk = samples.astype(np.float32)
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(chunk.reshape(1, -1)), format="flt", layout="mono"
                )
                frame.sample_rate = SAMPLE_RATE
                frame.pts = position + local
                for packet in stream.encode(frame):
                    output.mux(packet)
                local += count
            _check_inside(spans, local)
            counts.append(local)
            position += local
        for packet in stream.encode(None):
            output.mux(packet)
    finally:
        output.close()
    return counts


def _verify(path: Path, spans: list[tuple[float, float]], fill: str, expected_samples: int) -> AudioReport:
    """Decode the output and measure every span; raise unless all are clean."""
    bounds = [(math.floor(s * SAMPLE_RATE), math.ceil(e * SAMPLE_RATE)) for s, e in spans]
    energy = [0.0] * len(bounds)
    counts = [0] * len(bounds)
    # For the tone: accumulate projections onto sin/cos to remove the tone afterwards.
    sin_dot = [0.0] * len(bounds)
    cos_dot = [0.0] * len(bounds)
    ends = [b[1] for b in bounds]
    position = 0
    for chunk in _decoded_chunks(path):
        count = len(chunk)
        lo = bisect.bisect_right(ends, position)
        for index in range(lo, len(bounds)):
            start, end = bounds[index]
            if start >= position + count:
                break
            a, b = max(start, position), min(end, position + count)
            if b <= a:
                continue
            piece = chunk[a - position : b - position].astype(np.float64)
            energy[index] += float(np.dot(piece, piece))
            counts[index] += b - a
            if fill == "tone":
                phase = 2 * np.pi * TONE_HZ * np.arange(a, b, dtype=np.float64) / SAMPLE_RATE
                sin_dot[index] += float(np.dot(piece, np.sin(phase)))
                cos_dot[index] += float(np.dot(piece, np.cos(phase)))
        position += count
    duration_out = position / SAMPLE_RATE
    duration_in = expected_samples / SAMPLE_RATE
    if abs(duration_out - duration_in) > DURATION_TOLERANCE_SECONDS:
        raise AudioRedactionError("redacted audio duration differs from the original")
    worst = 0.0
    for index, (start, end) in enumerate(bounds):
        expected = min(end, position) - min(start, position)
        if counts[index] != expected:
            raise AudioRedactionError("span not covered by the redacted audio")
        if counts[index] == 0:
            continue
        if fill == "silence":
            rms = math.sqrt(energy[index] / counts[index])
            if rms != 0.0:
                raise AudioRedactionError("redacted span is not silent")
        else:
            # Energy left after removing the best-fitting tone (sin and cos are ~orthogonal over a span).
            n = counts[index]
            tone_energy = 2.0 * (sin_dot[index] ** 2 + cos_dot[index] ** 2) / n
            rms = math.sqrt(max(0.0, energy[index] - tone_energy) / n)
            if rms > TONE_LEVEL * 0.05:
                raise AudioRedactionError("redacted span holds more than the tone")
        worst = max(worst, rms)
    return AudioReport(duration_in, duration_out, len(bounds), worst)


def redact_parts_to_path(
    parts: Sequence[tuple[str | os.PathLike[str], Sequence[Sequence[float]]]],
    destination: str | os.PathLike[str],
    *,
    fill: str = "silence",
) -> AudioReport:
    """Write the parts (source, spans on that source's timeline), redacted and in order, as one
    verified MP3 at `destination` (atomically) and return the measurements.

    On any failure nothing is left at `destination` and `AudioRedactionError` is raised.
    """
    if fill not in ("silence", "tone"):
        raise ValueError("fill must be 'silence' or 'tone'")
    if not parts:
        raise AudioRedactionError("no audio to serve")
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(suffix=".mp3.part", dir=destination.parent)
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        cleaned = [(source, normalise_spans(spans)) for source, spans in parts]
        counts = _encode(cleaned, temporary, fill)
        samples = sum(counts)
        if samples == 0:
            raise AudioRedactionError("no audio decoded")
        # Every part's spans on the joined file's timeline, clipped to their part (checked inside it).
        joined: list[tuple[float, float]] = []
        offset = 0
        for (_source, spans), count in zip(cleaned, counts, strict=True):
            base, length = offset / SAMPLE_RATE, count / SAMPLE_RATE
            joined += [(base + start, base + min(end, length)) for start, end in spans]
            offset += count
        report = _verify(temporary, normalise_spans(joined), fill, samples)
        os.replace(temporary, destination)
        return report
    except AudioRedactionError:
        raise
    except Exception as error:  # fail closed on anything unexpected, without echoing paths
        raise AudioRedactionError("audio redaction failed") from error
    finally:
        temporary.unlink(missing_ok=True)


def redact_to_path(
    source: str | os.PathLike[str],
    spans: Sequence[Sequence[float]],
    destination: str | os.PathLike[str],
    *,
    fill: str = "silence",
) -> AudioReport:
    """One recording redacted: see redact_parts_to_path."""
    return redact_parts_to_path([(source, spans)], destination, fill=fill)


def redact_rendering_audio(
    rendering, sources: Mapping[str, str | os.PathLike[str]], destination: str | os.PathLike[str], **kwargs
):
    """The tier's audio for one Rendering: its parts in order, each silenced on its own timeline.
    `sources`: recording public id → original file. Refuses when the tier may not hear the voice or a
    part's original is missing."""
    if not rendering.audio_allowed or not rendering.audio_parts:
        raise AudioRedactionError("audio not available at this tier")
    missing = [part.recording_id for part in rendering.audio_parts if part.recording_id not in sources]
    if missing:
        raise AudioRedactionError("a recording of this audio is not available")
    parts = [(sources[part.recording_id], part.spans) for part in rendering.audio_parts]
    return redact_parts_to_path(parts, destination, **kwargs)


def redact_part_audio(rendering, recording_id: str, source: str | os.PathLike[str], destination, **kwargs):
    """One recording of the tier's audio (a bag holds one file per recording)."""
    part = next((p for p in rendering.audio_parts if p.recording_id == recording_id), None)
    if not rendering.audio_allowed or part is None:
        raise AudioRedactionError("audio not available at this tier")
    return redact_parts_to_path([(source, part.spans)], destination, **kwargs)
