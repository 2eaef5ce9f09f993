"""Word and PDF documents, with right-to-left paragraphs for Arabic."""

from __future__ import annotations

import datetime
import html
from typing import BinaryIO

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from ..gate import Rendering
from .common import is_rtl, line_mark, narrator_names

_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def _header_lines(rendering: Rendering) -> list[tuple[str, str]]:
    lines = [
        ("Collection", rendering.collection_title),
        ("Recorded", rendering.recorded_on),
        ("Place", rendering.place),
        ("Narrators", ", ".join(narrator_names(rendering))),
        ("Interviewer", rendering.interviewer),
        ("Audience", rendering.tier),
    ]
    return [(label, value) for label, value in lines if value]


def _set_rtl(paragraph) -> None:
    """python-docx has no RTL API: w:bidi on the paragraph, w:rtl on every run."""
    properties = paragraph._p.get_or_add_pPr()
    bidi = OxmlElement("w:bidi")
    bidi.set(qn("w:val"), "1")
    properties.insert(0, bidi)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for run in paragraph.runs:
        run_properties = run._r.get_or_add_rPr()
        rtl = OxmlElement("w:rtl")
        rtl.set(qn("w:val"), "1")
        run_properties.append(rtl)


def _clear_core_properties(document) -> None:
    """The template's author, editor and dates are not ours to publish; keep only the title."""
    core = document.core_properties
    for name in (
        "author",
        "last_modified_by",
        "comments",
        "keywords",
        "subject",
        "category",
        "content_status",
        "identifier",
        "language",
        "version",
    ):
        setattr(core, name, "")
    core.created = _EPOCH
    core.modified = _EPOCH
    core.last_printed = _EPOCH
    core.revision = 1


def write_docx(rendering: Rendering, out: BinaryIO) -> None:
    document = Document()
    _clear_core_properties(document)
    document.core_properties.title = rendering.title
    heading = document.add_heading(rendering.title, level=1)
    if is_rtl(rendering.title):
        _set_rtl(heading)
    for label, value in _header_lines(rendering):
        paragraph = document.add_paragraph()
        paragraph.add_run(f"{label}: ").bold = True
        paragraph.add_run(value)
    for segment in rendering.segments:
        paragraph = document.add_paragraph()
        paragraph.add_run(f"[{line_mark(segment)}] ")
        if segment.speaker:
            paragraph.add_run(f"{segment.speaker}: ").bold = True
        paragraph.add_run(" ".join(segment.text.split()))
        if is_rtl(segment.text, segment.language):
            _set_rtl(paragraph)
    document.save(out)


_PDF_CSS = """
@page { size: A4; margin: 2cm; @bottom-center { content: counter(page); font-size: 9pt; } }
body { font-family: "Amiri", "DejaVu Sans", sans-serif; font-size: 11pt; line-height: 1.5; }
h1 { font-size: 16pt; }
dl { font-size: 10pt; }
dt { font-weight: bold; float: left; margin-right: 0.5em; }
p.segment { margin: 0 0 0.6em 0; }
p.segment[dir=rtl] { text-align: right; }
.time { color: #555; font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
.speaker { font-weight: bold; }
"""


def pdf_html(rendering: Rendering) -> str:
    escape = html.escape
    title_dir = "rtl" if is_rtl(rendering.title) else "ltr"
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{escape(rendering.title)}</title><style>{_PDF_CSS}</style></head><body>",
        f"<h1 dir='{title_dir}'>{escape(rendering.title)}</h1><dl>",
    ]
    for label, value in _header_lines(rendering):
        parts.append(f"<dt>{escape(label)}:</dt><dd dir='auto'>{escape(value)}</dd>")
    parts.append("</dl>")
    for segment in rendering.segments:
        direction = "rtl" if is_rtl(segment.text, segment.language) else "ltr"
        speaker = f"<span class='speaker'>{escape(segment.speaker)}:</span> " if segment.speaker else ""
        parts.append(
            f"<p class='segment' dir='{direction}'><span class='time'>[{line_mark(segment)}]</span> "
            f"{speaker}<span>{escape(' '.join(segment.text.split()))}</span></p>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def write_pdf(rendering: Rendering, out: BinaryIO) -> None:
    from weasyprint import HTML  # heavy import, only when a PDF is wanted

    HTML(string=pdf_html(rendering)).write_pdf(out)
