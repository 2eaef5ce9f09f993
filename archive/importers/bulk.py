"""Bulk imports: one zip holding a metadata CSV and the files its rows name.

CSV columns (header row required; `file` and `title` required, the rest optional):
    file, title, narrator, narrator_label, anonymity, access, language, recorded_on, mode, interviewer,
    transcript
`file` is a path inside the zip: audio/video, a WhatsApp export (zip or txt), .eml/.mbox, a Messenger,
Skype or Telegram export of one conversation, or a transcript. `transcript` optionally names a
transcript file for an audio row. One level of nested zip (a WhatsApp export inside the bulk zip) is
allowed; its bytes count against the same budget.

`narrator` is the narrator's real name (stored encrypted). In a chat or an email thread the row says
which sender is the narrator: `narrator_label` is their name (or number, address, account id) as it
appears there, else `narrator` is matched against the senders; `interviewer` is the interviewer's
label there. With `strict` (what the import service asks) the narrator is never guessed: it must be
one of the senders, or follow from the labels as for a single import (the only sender, or the one
sender besides the interviewer named); otherwise the row is refused with RowNarratorUnknown, which
lists that row's senders.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date

from .base import ImportRefused, ParsedAttachment, ParsedImport, decode_text
from .channels import NarratorUnknown
from .detect import AUDIO_SUFFIXES, CHANNEL_KINDS, detect_kind, parse_file
from .safezip import SafeZip, ZipLimits, _normalise_name

MAX_ROWS = 1_000
MAX_TITLE_CHARS = 300  # Interview.title
MAX_NAME_CHARS = 200  # what the upload form and the API accept for a narrator's name
COLUMNS = (
    "file",
    "title",
    "narrator",
    "narrator_label",
    "anonymity",
    "access",
    "language",
    "recorded_on",
    "mode",
    "interviewer",
    "transcript",
)
ANONYMITY = ("named", "pseudonymous", "anonymous", "sealed")
TIERS = ("public", "researcher", "staff", "custodian")
MODES = ("in_person", "phone", "video_call", "whatsapp_voice", "messaging", "email", "social_media", "vox_pop")
# Files whose senders carry the roles: the row names the narrator among them.
SENDER_KINDS = ("whatsapp", "eml", "mbox", *CHANNEL_KINDS)


class RowNarratorUnknown(ImportRefused):
    """A bulk row of a chat or an email thread whose narrator is missing or not one of its senders.
    The reason names the row and lists its senders (shown only to the person who uploaded the zip);
    `row` and `senders` are kept for an API answer."""

    def __init__(self, row: int, refusal: NarratorUnknown):
        super().__init__(
            f"Row {row}: {refusal.question} {refusal.senders_sentence} Name the narrator's sender in the row's "
            "narrator_label column (and the interviewer's in its interviewer column).",
            code=refusal.code,
        )
        self.row = row
        self.senders = refusal.senders


@dataclass
class BulkItem:
    row: int
    metadata: dict[str, str]
    kind: str
    parsed: ParsedImport | None = None  # text imports and audio rows' transcripts
    media: ParsedAttachment | None = None  # audio/video rows
    warnings: list[str] = field(default_factory=list)


@dataclass
class ParsedBulk:
    items: list[BulkItem]


def parse_bulk(data: bytes, *, strict: bool = False) -> ParsedBulk:
    """`strict`: a chat's or email thread's narrator must follow from its row (see the module's
    docstring); otherwise the whole zip is refused with RowNarratorUnknown, as for any bad row."""
    archive = SafeZip(data, limits=ZipLimits(allow_nested=True))
    csvs = [m for m in archive.members if m.suffix == ".csv"]
    if not csvs:
        raise ImportRefused("The bulk zip has no metadata .csv file.", code="format")
    if len(csvs) > 1:
        raise ImportRefused("The bulk zip has more than one .csv file; put all rows in one.", code="format")
    text = decode_text(archive.read(csvs[0]), what="metadata CSV")
    try:
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        rows = list(reader)
    except csv.Error as exc:
        raise ImportRefused(f"The metadata CSV is malformed ({exc}).", code="format") from exc
    if "file" not in header or "title" not in header:
        raise ImportRefused(
            "The metadata CSV needs a header row with at least “file” and “title” columns.", code="format"
        )
    unknown = [h for h in header if h and h not in COLUMNS]
    if unknown:
        raise ImportRefused(f"The metadata CSV has unknown columns: {', '.join(sorted(unknown))[:200]}.", code="format")
    if not rows:
        raise ImportRefused("The metadata CSV has no rows.", code="empty")
    if len(rows) > MAX_ROWS:
        raise ImportRefused(f"The metadata CSV has more than {MAX_ROWS} rows.", code="too_large")
    items: list[BulkItem] = []
    for number, raw_row in enumerate(rows, 2):
        if None in raw_row:
            raise ImportRefused(f"Row {number} of the metadata CSV has more fields than the header.", code="format")
        row = {k.strip().lower(): (v or "").strip() for k, v in raw_row.items() if k}
        items.append(_item(archive, number, row, strict=strict))
    return ParsedBulk(items=items)


def _check_row(number: int, row: dict[str, str]) -> None:
    if not row.get("file") or not row.get("title"):
        raise ImportRefused(f"Row {number} of the metadata CSV needs a file and a title.", code="format")
    if len(row["title"]) > MAX_TITLE_CHARS:
        raise ImportRefused(f"Row {number}: the title is longer than {MAX_TITLE_CHARS} characters.", code="format")
    names = (("narrator", "the narrator's name"), ("narrator_label", "narrator_label"), ("interviewer", "interviewer"))
    for column, what in names:
        if len(row.get(column, "")) > MAX_NAME_CHARS:
            raise ImportRefused(f"Row {number}: {what} is longer than {MAX_NAME_CHARS} characters.", code="format")
    checks = (("anonymity", ANONYMITY), ("access", TIERS), ("mode", MODES))
    for column, allowed in checks:
        if row.get(column) and row[column] not in allowed:
            raise ImportRefused(f"Row {number}: {column} must be one of {', '.join(allowed)}.", code="format")
    if row.get("recorded_on"):
        try:
            date.fromisoformat(row["recorded_on"])
        except ValueError as exc:
            raise ImportRefused(f"Row {number}: recorded_on must be a date like 2017-01-31.", code="format") from exc
    if row.get("language") and not re.fullmatch(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?", row["language"]):
        raise ImportRefused(f"Row {number}: language must be a code like ar or en.", code="format")


def _member(archive: SafeZip, number: int, path: str):
    try:
        name = _normalise_name(path, archive.limits)
    except ImportRefused as exc:
        raise ImportRefused(f"Row {number} names a file outside the zip: {exc.reason}", code="zip_path") from exc
    member = archive.get(name)
    if member is None:
        raise ImportRefused(f"Row {number} names a file that is not in the zip.", code="zip_missing")
    return member


def _item(archive: SafeZip, number: int, row: dict[str, str], *, strict: bool) -> BulkItem:
    _check_row(number, row)
    member = _member(archive, number, row["file"])
    data = archive.read(member)
    if member.suffix in AUDIO_SUFFIXES:
        item = BulkItem(
            row=number,
            metadata=row,
            kind="audio",
            media=ParsedAttachment(name=member.basename, data=data, content_type="", kind="audio"),
        )
        if row.get("transcript"):
            transcript_member = _member(archive, number, row["transcript"])
            item.parsed = _parse(
                number, transcript_member.basename, archive.read(transcript_member), archive, row, strict=strict
            )
        return item
    parsed = _parse(number, member.basename, data, archive, row, strict=strict)
    return BulkItem(row=number, metadata=row, kind=parsed.source, parsed=parsed)


def _parse(number: int, name: str, data: bytes, archive: SafeZip, row: dict[str, str], *, strict: bool) -> ParsedImport:
    try:
        kind = detect_kind(name, data)
        if kind in ("bulk", "audio"):
            raise ImportRefused(
                "a bulk zip cannot contain another bulk zip or audio where text is expected.", code="zip_nested"
            )
        options: dict = {"interviewer": row.get("interviewer") or None}
        if kind in SENDER_KINDS:
            options.update(narrator=row.get("narrator_label") or row.get("narrator") or None, strict=strict)
        if kind == "whatsapp":
            # The nested export is checked as strictly as a top-level one and shares the byte budget.
            options.update(limits=ZipLimits(allow_nested=False), budget=archive.budget)
        return parse_file(name, data, kind=kind, **options)
    except NarratorUnknown as exc:
        raise RowNarratorUnknown(number, exc) from exc
    except ImportRefused as exc:
        raise ImportRefused(f"Row {number}: {exc.reason}", code=exc.code) from exc
