"""Plain-text and data formats: TXT, WebVTT, SRT, CSV, JSON."""

from __future__ import annotations

import codecs
import csv
import json
from datetime import timedelta
from typing import BinaryIO

import srt

from ..gate import Rendering, SegmentRendering
from .common import cue_times, line_mark, metadata, narrator_names, sent_label, spoken_segments, timecode


def _text_writer(out: BinaryIO):
    return codecs.getwriter("utf-8")(out)


def write_txt(rendering: Rendering, out: BinaryIO) -> None:
    """[hh:mm:ss] Speaker: text, one line per segment, after a short header; a chat message or email
    starts with when it was sent instead ([2016-03-13 21:47:00], or [2016-03] below staff)."""
    writer = _text_writer(out)
    writer.write(f"{rendering.title}\n")
    header = [
        ("Collection", rendering.collection_title),
        ("Recorded", rendering.recorded_on),
        ("Place", rendering.place),
        ("Narrators", ", ".join(narrator_names(rendering))),
        ("Interviewer", rendering.interviewer),
        ("Audience", rendering.tier),
    ]
    for label, value in header:
        if value:
            writer.write(f"{label}: {value}\n")
    writer.write("\n")
    for segment in rendering.segments:
        speaker = f"{segment.speaker}: " if segment.speaker else ""
        text = " ".join(segment.text.split())
        writer.write(f"[{line_mark(segment)}] {speaker}{text}\n")


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dated(segment: SegmentRendering, text: str) -> str:
    """A chat message's or email's cue text starts with when it was sent, as players show cue text and
    SRT has nowhere else to carry it; the cue times stay times on the timeline."""
    sent = sent_label(segment)
    return f"[{sent}] {text}" if sent else text


def write_vtt(rendering: Rendering, out: BinaryIO) -> None:
    """WebVTT with voice tags carrying the tier's speaker labels; a message's date starts its cue text
    (inside the voice span, which players and parsers expect first). No NOTE blocks, no file names."""
    writer = _text_writer(out)
    writer.write("WEBVTT\n\n")
    for number, segment in enumerate(spoken_segments(rendering), start=1):
        start, end = cue_times(segment)
        text = _vtt_escape(_dated(segment, " ".join(segment.text.split())))
        if segment.speaker:
            # A voice annotation ends at ">": keep it plain.
            voice = _vtt_escape(segment.speaker).replace("&gt;", "")
            text = f"<v {voice}>{text}</v>"
        writer.write(f"{number}\n{timecode(start)} --> {timecode(end)}\n{text}\n\n")


def write_srt(rendering: Rendering, out: BinaryIO) -> None:
    subtitles = []
    for number, segment in enumerate(spoken_segments(rendering), start=1):
        start, end = cue_times(segment)
        text = " ".join(segment.text.split())
        if segment.speaker:
            text = f"{segment.speaker}: {text}"
        text = _dated(segment, text)
        subtitles.append(srt.Subtitle(number, timedelta(seconds=start), timedelta(seconds=end), text))
    out.write(srt.compose(subtitles, reindex=False).encode("utf-8"))


_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    # Spreadsheet formula injection: a cell that starts like a formula is quoted.
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def write_csv(rendering: Rendering, out: BinaryIO) -> None:
    """timecode, end, speaker, text, sent_at (UTF-8 with BOM so spreadsheets read Arabic correctly);
    sent_at is when a chat message or email was sent, at the tier's precision, empty for speech."""
    out.write(codecs.BOM_UTF8)
    writer = csv.writer(_text_writer(out), lineterminator="\r\n")
    writer.writerow(["timecode", "end", "speaker", "text", "sent_at"])
    for segment in rendering.segments:
        writer.writerow(
            [
                timecode(segment.start),
                timecode(segment.end),
                _cell(segment.speaker),
                _cell(" ".join(segment.text.split())),
                segment.sent_at,
            ]
        )


def write_json(rendering: Rendering, out: BinaryIO) -> None:
    """Interview metadata, then segments with their words."""
    document = {
        "format": "rawi-transcript",
        "version": 1,
        "interview": metadata(rendering),
        "segments": [
            {
                "index": segment.index,
                "start": segment.start,
                "end": segment.end,
                "speaker": segment.speaker,
                "language": segment.language,
                "text": segment.text,
                # A chat message's or email's sending time at the tier's precision; "" for speech.
                "sent_at": segment.sent_at,
                "words": [
                    {"text": word.text.strip(), "start": word.start, "end": word.end, "probability": word.probability}
                    for word in segment.words
                ],
            }
            for segment in rendering.segments
        ],
    }
    writer = _text_writer(out)
    for chunk in json.JSONEncoder(ensure_ascii=False, indent=1).iterencode(document):
        writer.write(chunk)
    writer.write("\n")
