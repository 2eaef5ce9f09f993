"""OHMS XML (Nunn Center's Oral History Metadata Synchronizer) and TEI P5 (spoken transcription)."""

from __future__ import annotations

import datetime
import hashlib
import re
from typing import BinaryIO

from lxml import etree

from ..gate import Rendering
from .common import GAP_LABELS, clock, consent_basis, line_mark, narrator_names, split_gaps, spoken_segments

OHMS_NS = "https://www.weareavp.com/nunncenter/ohms"
OHMS_VERSION = "6.0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
TEI_NS = "http://www.tei-c.org/ns/1.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# ISO 639-2 codes for the OHMS <language> element.
_ISO639_2 = {"ar": "ara", "en": "eng", "fr": "fre", "de": "ger", "tr": "tur", "ku": "kur"}


# Characters XML 1.0 cannot carry at all (C0 controls other than tab and newlines, lone surrogates,
# U+FFFE/U+FFFF). Imported chats and e-mails can carry them, and lxml would refuse the whole document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _sub(parent, tag: str, text: str | None = None, **attributes: str):
    element = etree.SubElement(parent, tag, {name: _xml_text(value) for name, value in attributes.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _duration(rendering: Rendering) -> float:
    if rendering.duration_seconds:
        return float(rendering.duration_seconds)
    return max((s.end for s in rendering.segments), default=0.0)


def _ohms_date(rendering: Rendering) -> str:
    value = rendering.recorded_on
    if len(value) == 7:  # public tier shows the month only
        return value + "-01"
    return value


def ohms_record_id(interview_id: str) -> int:
    """The integer `record/@id` that ohms.xsd requires (an xs:int), derived from the public id so it
    is the same at every tier and in every export, and reveals nothing the public id does not (a
    database key would tell how many interviews the archive holds). 31 bits can collide between
    two interviews, rarely; the public id in `cms_record_id` and `accession` is the identifier to key on."""
    digest = hashlib.sha256(interview_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % (2**31 - 1) + 1


def write_ohms(rendering: Rendering, out: BinaryIO) -> None:
    """OHMS XML 6.0: ROOT/record with title, accession, duration, interviewee, index points, transcript,
    its elements in the order of the schema's sequence. `record/@dt` is the date the record was written,
    as in OHMS's own exports; the interview's date is in `date`. A chat message's or email's date (at
    the tier's precision) replaces the timecode in its index point's title and its transcript line;
    each point's `time` stays a time on the timeline, the integer the schema wants."""
    ns = f"{{{OHMS_NS}}}"
    root = etree.Element(f"{ns}ROOT", nsmap={None: OHMS_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OHMS_NS} {OHMS_NS}/ohms.xsd")
    written_on = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
    record = etree.SubElement(
        root, f"{ns}record", {"id": str(ohms_record_id(rendering.interview_id)), "dt": written_on}
    )

    def sub(parent, tag, text=None, **attributes):
        return _sub(parent, f"{ns}{tag}", text, **attributes)

    sub(record, "version", OHMS_VERSION)
    sub(record, "date", value=_ohms_date(rendering), format="yyyy-mm-dd")
    sub(record, "date_nonpreferred_format", rendering.recorded_on)
    sub(record, "cms_record_id", rendering.interview_id)
    sub(record, "title", rendering.title)
    sub(record, "accession", rendering.interview_id)
    sub(record, "duration", clock(_duration(rendering)))
    sub(record, "collection_id", rendering.collection_slug)
    sub(record, "collection_name", rendering.collection_title)
    sub(record, "series_id", "")
    sub(record, "series_name", "")
    sub(record, "repository", "Rawi")
    sub(record, "funding", "")
    sub(record, "repository_url", "")
    for topic in rendering.topics:
        sub(record, "subject", topic)
    for name in narrator_names(rendering):
        sub(record, "interviewee", name)
    sub(record, "interviewer", rendering.interviewer)
    sub(record, "file_name", "")
    sub(record, "sync", "")
    sub(record, "sync_alt", "")
    sub(record, "transcript_alt_lang", "")
    sub(record, "translate", "0")
    sub(record, "media_id", "")
    sub(record, "media_url", "")
    sub(record, "kembed", "")
    sub(
        record, "language", _ISO639_2.get(rendering.languages[0], rendering.languages[0]) if rendering.languages else ""
    )
    sub(record, "user_notes", f"Audience: {rendering.tier}; policy {rendering.policy_version}")
    index = sub(record, "index")
    for segment in spoken_segments(rendering):
        point = sub(index, "point")
        sub(point, "time", str(int(segment.start)))
        sub(point, "title", f"{segment.speaker or 'Segment'} [{line_mark(segment)}]")
        sub(point, "partial_transcript", " ".join(segment.text.split()))
        sub(point, "synopsis", "")
        sub(point, "keywords", "")
        sub(point, "subjects", "")
    sub(record, "type", "interview")
    sub(record, "description", rendering.summary)
    transcript_lines = []
    for segment in rendering.segments:
        speaker = f"{segment.speaker}: " if segment.speaker else ""
        transcript_lines.append(f"[{line_mark(segment)}] {speaker}{' '.join(segment.text.split())}")
    sub(record, "transcript", "\n".join(transcript_lines))
    sub(record, "transcript_alt", "")
    sub(record, "rights", "")
    sub(record, "usage", "")
    sub(record, "userestrict", "0")
    sub(record, "xmllocation", "")
    sub(record, "xmlfilename", "")
    sub(record, "collection_link", "")
    sub(record, "series_link", "")
    etree.ElementTree(root).write(out, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _label_description(label: str) -> str:
    return label.strip("[]")


def write_tei(rendering: Rendering, out: BinaryIO) -> None:  # noqa: C901 (the TEI header and body written in one pass)
    """TEI P5 transcription of speech: a timeline, <u who start end>, redactions as <gap reason="redacted"/>.
    A chat message or email opens with <date type="sent" when="…"/> (TEI P5 2.7 gives <u> no date
    attribute): when it was sent, at the tier's precision ("2016-03-13T21:47:00", or "2016-03")."""
    t = f"{{{TEI_NS}}}"
    xml_id = f"{{{XML_NS}}}id"
    xml_lang = f"{{{XML_NS}}}lang"
    tei = etree.Element(f"{t}TEI", nsmap={None: TEI_NS})
    if rendering.languages:
        tei.set(xml_lang, rendering.languages[0])
    header = _sub(tei, f"{t}teiHeader")
    file_desc = _sub(header, f"{t}fileDesc")
    title_stmt = _sub(file_desc, f"{t}titleStmt")
    _sub(title_stmt, f"{t}title", rendering.title)
    publication = _sub(file_desc, f"{t}publicationStmt")
    _sub(publication, f"{t}publisher", "Rawi")
    _sub(publication, f"{t}idno", rendering.interview_id, type="rawi")
    availability = _sub(publication, f"{t}availability")
    _sub(
        availability,
        f"{t}p",
        f"Rendering for the {rendering.tier} audience (policy {rendering.policy_version}; "
        f"consent {consent_basis(rendering) or 'none recorded'}). Redacted passages are marked as gaps.",
    )
    source = _sub(file_desc, f"{t}sourceDesc")
    recording_stmt = _sub(source, f"{t}recordingStmt")
    duration = _duration(rendering)
    recording = _sub(recording_stmt, f"{t}recording", type="audio", dur=f"PT{duration:.3f}S")
    _sub(recording, f"{t}p", f"{rendering.mode}, {rendering.recorded_on}".strip(", "))
    profile = _sub(header, f"{t}profileDesc")
    if rendering.languages:
        usage = _sub(profile, f"{t}langUsage")
        for language in rendering.languages:
            _sub(usage, f"{t}language", language, ident=language)
    speaker_ids: dict[str, str] = {}
    for segment in rendering.segments:
        if segment.speaker and segment.speaker not in speaker_ids:
            speaker_ids[segment.speaker] = f"spk{len(speaker_ids) + 1}"
    if speaker_ids:
        # tei_all refuses an empty listPerson: with no labelled speakers (Whisper transcripts, an
        # interview not transcribed yet) there is no participant list at all.
        people = _sub(_sub(profile, f"{t}particDesc"), f"{t}listPerson")
        for speaker, identifier in speaker_ids.items():
            person = _sub(people, f"{t}person", **{xml_id: identifier})
            _sub(person, f"{t}persName", speaker)
    if rendering.redaction_categories:
        encoding = _sub(header, f"{t}encodingDesc")
        _sub(
            encoding,
            f"{t}p",
            "Redaction categories applied: " + ", ".join(rendering.redaction_categories) + ".",
        )

    text = _sub(tei, f"{t}text")
    body = _sub(text, f"{t}body")
    timeline = _sub(body, f"{t}timeline", unit="s", origin="#T0")
    _sub(timeline, f"{t}when", **{xml_id: "T0", "absolute": "00:00:00"})
    when_ids: dict[float, str] = {0.0: "T0"}

    def when(seconds: float) -> str:
        key = round(float(seconds), 3)
        if key not in when_ids:
            when_ids[key] = f"T{len(when_ids)}"
            _sub(timeline, f"{t}when", **{xml_id: when_ids[key], "interval": f"{key:.3f}", "since": "#T0"})
        return when_ids[key]

    for segment in rendering.segments:
        attributes = {"start": "#" + when(segment.start), "end": "#" + when(segment.end)}
        if segment.speaker:
            attributes["who"] = "#" + speaker_ids[segment.speaker]
        if segment.language:
            attributes[xml_lang] = segment.language
        utterance = _sub(body, f"{t}u", **attributes)
        last = _sub(utterance, f"{t}date", type="sent", when=segment.sent_at) if segment.sent_at else None
        for plain, label in split_gaps(_xml_text(" ".join(segment.text.split()))):
            if label is None:
                if last is None:
                    utterance.text = (utterance.text or "") + plain
                else:
                    last.tail = (last.tail or "") + plain
                continue
            last = _sub(utterance, f"{t}gap", reason="redacted")
            _sub(last, f"{t}desc", _label_description(label))
    if not rendering.segments:
        # No transcript (not transcribed yet): TEI wants some content in the body, so say so.
        _sub(_sub(body, f"{t}p"), f"{t}gap", reason="untranscribed")
    etree.ElementTree(tei).write(out, xml_declaration=True, encoding="UTF-8", pretty_print=True)


__all__ = ["GAP_LABELS", "OHMS_NS", "TEI_NS", "ohms_record_id", "write_ohms", "write_tei"]
