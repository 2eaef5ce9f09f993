"""Existing transcripts: WebVTT, SRT, plain text with [hh:mm:ss] marks, DOCX and OHMS XML.

Cue times are checked: a cue that ends before it starts, a cue that starts before the previous one,
or a time beyond 100 hours is refused with the cue's number. Speaker labels come from WebVTT voice
tags (`<v Name>`) or a leading short "Name:"; they are kept raw (Segment.raw_speaker).
"""

from __future__ import annotations

import io
import re

import docx

from .base import (
    ImportRefused,
    ParsedImport,
    ParsedSegment,
    QuarantineBuilder,
    check_segment_count,
    decode_text,
    estimated_duration,
    strip_marks,
)
from .safezip import SafeZip, ZipLimits
from .sensitive import find_emails, find_phones
from .xmlsafe import check_xml, looks_like_xml, parse_xml

MAX_SECONDS = 100 * 3600
_TIMING = re.compile(
    r"^\s*(?P<start>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})\s*-->\s*(?P<end>(?:\d+:)?\d{1,2}:\d{2}[.,]\d{1,3})(?:\s+.*)?$"
)
_VOICE = re.compile(r"<v(?:\.[^\s>]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>|<\d{1,2}:\d{2}[^>]{0,20}>")
_SPEAKER = re.compile(r"^\s*[-–]?\s*(?P<label>[^\s:：][^:：\n]{0,38}?)\s*[:：]\s+(?P<text>\S.*)$", re.DOTALL)
_BRACKET_TIME = re.compile(r"^\s*[\[(](?P<time>(?:\d{1,3}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?)[\])]\s*(?P<rest>.*)$")
_LABEL_WORDS = 4


def _seconds(value: str, where: str) -> float:
    parts = value.replace(",", ".").split(":")
    try:
        numbers = [float(p) for p in parts]
    except ValueError as exc:
        raise ImportRefused(f"{where}: “{value[:20]}” is not a time.", code="timestamps") from exc
    seconds = 0.0
    for number in numbers:
        seconds = seconds * 60 + number
    if len(numbers) >= 2 and (numbers[-1] >= 60 or (numbers[-2] >= 60 and len(numbers) == 3)):
        raise ImportRefused(f"{where}: “{value[:20]}” has minutes or seconds above 59.", code="timestamps")
    if seconds > MAX_SECONDS:
        raise ImportRefused(f"{where}: the time {value[:20]} is beyond 100 hours.", code="timestamps")
    return round(seconds, 3)


def _split_speaker(text: str) -> tuple[str, str]:
    match = _SPEAKER.match(text)
    if not match:
        return "", text
    label = match.group("label").strip()
    if len(label.split()) > _LABEL_WORDS or label.lower().startswith(("http", "note", "www")) or label[:1].isdigit():
        return "", text
    return label, match.group("text").strip()


def _roles(labels: list[str], interviewer=None, narrator=None) -> dict[str, str]:
    def fold(value):
        if not value:
            return set()
        return {v.strip().casefold() for v in ([value] if isinstance(value, str) else value)}

    interviewers, narrators = fold(interviewer), fold(narrator)
    roles: dict[str, str] = {}
    for label in dict.fromkeys(labels):
        if not label:
            continue
        folded = label.casefold()
        if folded in interviewers or (
            not interviewers and re.match(r"^(?:interviewer|q|question|المحاور|س)\b", folded)
        ):
            roles[label] = "interviewer"
        elif folded in narrators or (
            not narrators and re.match(r"^(?:narrator|interviewee|a|answer|الراوي|ج)\b", folded)
        ):
            roles[label] = "narrator"
        else:
            roles[label] = "other"
    return roles


def _finish(
    source: str, rows: list[tuple[float, float, str, str]], *, timed: bool = True, options: dict
) -> ParsedImport:
    if not rows:
        raise ImportRefused(f"The {source.upper()} transcript contains no text.", code="empty")
    check_segment_count(len(rows), "transcript")
    roles = _roles([row[2] for row in rows], options.get("interviewer"), options.get("narrator"))
    quarantine = QuarantineBuilder()
    segments = []
    for start, end, speaker, text in rows:
        for span in find_phones(text):
            quarantine.add("phone_numbers", span.value)
        for span in find_emails(text):
            quarantine.add("email_addresses", span.value)
        if speaker and roles.get(speaker) != "interviewer":
            quarantine.add("contact_names", speaker)
        segments.append(
            ParsedSegment(start=start, end=end, speaker=speaker, role=roles.get(speaker, "other"), text=text)
        )
    result = ParsedImport(source=source, segments=segments, timed=timed)
    result.quarantine = quarantine.build()
    return result


def _check_order(rows: list[tuple[float, float, str, str]], label: str) -> None:
    previous = 0.0
    for number, (start, end, _speaker, _text) in enumerate(rows, 1):
        if end < start:
            raise ImportRefused(f"{label} {number} ends before it starts.", code="timestamps")
        if start < previous:
            raise ImportRefused(f"{label} {number} starts before the {label.lower()} before it.", code="timestamps")
        previous = start


def parse_vtt(data: bytes, **options) -> ParsedImport:
    text = decode_text(data, what="WebVTT file", encoding=options.get("encoding"))
    lines = text.split("\n")
    if not lines[0].startswith("WEBVTT"):
        raise ImportRefused("This is not a WebVTT file: the first line must be “WEBVTT”.", code="format")
    rows: list[tuple[float, float, str, str]] = []
    blocks = re.split(r"\n[ \t]*\n", text)
    for block in blocks[1:]:
        block_lines = [line for line in block.split("\n") if line.strip()]
        if not block_lines or block_lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        if "-->" not in block_lines[0]:
            block_lines = block_lines[1:]  # cue identifier
        if not block_lines:
            continue
        timing = _TIMING.match(block_lines[0])
        where = f"Cue {len(rows) + 1}"
        if not timing:
            raise ImportRefused(f"{where} of the WebVTT file has no valid “start --> end” timing line.", code="format")
        start, end = _seconds(timing["start"], where), _seconds(timing["end"], where)
        payload = "\n".join(block_lines[1:])
        voice = _VOICE.search(payload)
        speaker = strip_marks(voice.group(1)).strip() if voice else ""
        body = strip_marks(_TAG.sub("", payload)).strip()
        body = body.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
        if not speaker:
            speaker, body = _split_speaker(body)
        if body:
            rows.append((start, end, speaker, body))
    _check_order(rows, "Cue")
    return _finish("vtt", rows, options=options)


def parse_srt(data: bytes, **options) -> ParsedImport:
    text = decode_text(data, what="SRT file", encoding=options.get("encoding"))
    rows: list[tuple[float, float, str, str]] = []
    blocks = [b for b in re.split(r"\n[ \t]*\n", text.strip()) if b.strip()]
    for number, block in enumerate(blocks, 1):
        block_lines = [line for line in block.split("\n") if line.strip()]
        if block_lines and block_lines[0].strip().isdigit():
            block_lines = block_lines[1:]
        where = f"Subtitle {number}"
        timing = _TIMING.match(block_lines[0]) if block_lines else None
        if not timing:
            raise ImportRefused(f"{where} of the SRT file has no valid “start --> end” timing line.", code="format")
        start, end = _seconds(timing["start"], where), _seconds(timing["end"], where)
        body = strip_marks(_TAG.sub("", "\n".join(block_lines[1:]))).strip()
        speaker, body = _split_speaker(body)
        if body:
            rows.append((start, end, speaker, body))
    _check_order(rows, "Subtitle")
    return _finish("srt", rows, options=options)


def parse_lines(lines: list[str], source: str, options: dict) -> ParsedImport:
    """Plain text or DOCX paragraphs: `[hh:mm:ss] Speaker: text` lines, continuation lines appended.
    Without any time marks, `Speaker: text` paragraphs are accepted untimed."""
    entries: list[tuple[float | None, str, list[str]]] = []
    timed = any(_BRACKET_TIME.match(line) for line in lines)
    for number, raw in enumerate(lines, 1):
        line = strip_marks(raw).rstrip()
        if not line.strip():
            continue
        stamp = _BRACKET_TIME.match(line) if timed else None
        if stamp:
            seconds = _seconds(stamp["time"], f"Line {number}")
            speaker, body = _split_speaker(stamp["rest"])
            entries.append((seconds, speaker, [body] if body else []))
            continue
        speaker, body = _split_speaker(line)
        if speaker and not timed:
            entries.append((None, speaker, [body]))
        elif entries:
            entries[-1][2].append(line.strip())
        elif timed:
            continue  # a title line above the first time mark
        else:
            entries.append((None, "", [line.strip()]))
    if not timed and not any(speaker for _, speaker, _ in entries):
        raise ImportRefused(
            "The transcript has neither time marks like “[00:01:05]” nor speaker labels like “Name: text”.",
            code="format",
        )
    rows: list[tuple[float, float, str, str]] = []
    previous = 0.0
    for index, (seconds, speaker, parts) in enumerate(entries):
        body = "\n".join(parts).strip()
        if not body:
            continue
        if timed:
            assert seconds is not None
            if seconds < previous:
                raise ImportRefused(f"Time mark {index + 1} goes back in time.", code="timestamps")
            previous = seconds
            following = next((e[0] for e in entries[index + 1 :] if e[0] is not None), None)
            end = following if following is not None and following >= seconds else seconds + estimated_duration(body)
            rows.append((seconds, end, speaker, body))
        else:
            rows.append((0.0, 0.0, speaker, body))
    return _finish(source, rows, timed=timed, options=options)


def parse_txt(data: bytes, **options) -> ParsedImport:
    text = decode_text(data, what="text transcript", encoding=options.get("encoding"))
    return parse_lines(text.split("\n"), "txt", options)


XML_DTD_REFUSED = "The XML file declares a DTD or entities, which is not allowed (entity expansion attacks)."
DOCX_DTD_REFUSED = "The Word document declares a DTD or XML entities, which is not allowed."
DOCX_DAMAGED = "The Word document is damaged and cannot be read."
_DOCX_LIMITS = ZipLimits(max_members=2_000, max_total_bytes=256 * 1024**2, max_member_bytes=128 * 1024**2)


def parse_docx(data: bytes, **options) -> ParsedImport:
    # A DOCX is a zip: check it like any uploaded archive before python-docx opens it.
    archive = SafeZip(data, limits=_DOCX_LIMITS)
    if archive.get("word/document.xml") is None:
        raise ImportRefused("This is not a Word document (.docx): it has no word/document.xml.", code="format")
    # Every XML part python-docx might parse is read first by a parser that refuses DTDs and entities.
    for member in archive.members:
        data_of_member = archive.read(member)
        if member.suffix in (".xml", ".rels") or looks_like_xml(data_of_member):
            check_xml(data_of_member, refused=DOCX_DTD_REFUSED, damaged=DOCX_DAMAGED)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise ImportRefused(DOCX_DAMAGED, code="format") from exc
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells = [cell.text.strip() for cell in row.cells]
            paragraphs.append(" ".join(c for c in cells if c))
    if not any(p.strip() for p in paragraphs):
        raise ImportRefused("The Word document contains no text.", code="empty")
    return parse_lines(paragraphs, "docx", options)


def parse_ohms(data: bytes, **options) -> ParsedImport:  # noqa: C901 (one branch per OHMS element)
    """OHMS XML (Oral History Metadata Synchronizer): <transcript> text with a <sync> string
    "interval:|line(word)|…" giving the line reached at each interval (in minutes); without a
    transcript, the <index> points (time, title, synopsis) become the segments."""
    text = decode_text(data, what="OHMS XML file", encoding=options.get("encoding"))
    root = parse_xml(text, what="XML file", refused=XML_DTD_REFUSED)
    record = root.find(".//record") if root.tag != "record" else root
    if record is None:
        raise ImportRefused("This is not an OHMS XML file: it has no <record> element.", code="format")
    quarantine = QuarantineBuilder()
    for tag in ("interviewee", "interviewer"):
        for element in record.iter(tag):
            quarantine.add("contact_names", (element.text or "").strip())
    transcript = (record.findtext("transcript") or "").strip()
    rows: list[tuple[float, float, str, str]] = []
    if transcript:
        lines = transcript.replace("\r\n", "\n").split("\n")
        sync = (record.findtext("sync") or "").strip()
        anchors: list[tuple[int, float]] = [(0, 0.0)]
        if sync:
            interval_text, _, points = sync.partition(":|")
            try:
                interval = float(interval_text) * 60
            except ValueError as exc:
                raise ImportRefused("The OHMS <sync> element is malformed.", code="timestamps") from exc
            for position, point in enumerate(p for p in points.split("|") if p.strip()):
                match = re.match(r"^\s*(\d+)\s*\(\s*\d+\s*\)\s*$", point)
                if not match:
                    raise ImportRefused(f"Sync point {position + 1} of the OHMS file is malformed.", code="timestamps")
                line_number = int(match.group(1))
                if line_number < anchors[-1][0] or line_number > len(lines):
                    raise ImportRefused(
                        f"Sync point {position + 1} of the OHMS file points outside the transcript or backwards.",
                        code="timestamps",
                    )
                anchors.append((line_number, (position + 1) * interval))
        for index, (line_number, seconds) in enumerate(anchors):
            following = anchors[index + 1] if index + 1 < len(anchors) else (len(lines), None)
            chunk = [l for l in lines[line_number : following[0]] if l.strip()]  # noqa: E741
            current_speaker = ""
            for line in chunk:
                speaker, body = _split_speaker(strip_marks(line).strip())
                if speaker or not rows or rows[-1][0] != seconds:
                    current_speaker = speaker or current_speaker
                    rows.append((seconds, following[1] if following[1] is not None else seconds, current_speaker, body))
                else:
                    start, end, label, previous = rows[-1]
                    rows[-1] = (start, end, label, f"{previous}\n{body}")
        if not sync:
            rows = [(0.0, 0.0, s, t) for _, _, s, t in rows]
    else:
        for number, point in enumerate(record.iter("point"), 1):
            try:
                seconds = float((point.findtext("time") or "").strip())
            except ValueError as exc:
                raise ImportRefused(
                    f"Index point {number} of the OHMS file has no valid time.", code="timestamps"
                ) from exc
            body = "\n".join(
                t for t in ((point.findtext("title") or "").strip(), (point.findtext("synopsis") or "").strip()) if t
            )
            if body:
                rows.append((seconds, seconds, "", body))
        for index in range(len(rows) - 1):
            rows[index] = (rows[index][0], rows[index + 1][0], rows[index][2], rows[index][3])
    rows = [row for row in rows if row[3].strip()]
    _check_order(rows, "Sync point")
    result = _finish("ohms", rows, timed=bool(record.findtext("sync")) or not transcript, options=options)
    merged = QuarantineBuilder()
    for key, values in {**result.quarantine}.items():
        merged.extend(key, values)
    for key, values in quarantine.build().items():
        merged.extend(key, values)
    result.quarantine = merged.build()
    result.title_hint = (record.findtext("title") or "").strip()
    return result
