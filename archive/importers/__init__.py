"""Importers for remote-interview material: WhatsApp, Messenger/Instagram, Skype and Telegram chat
exports, email threads, existing transcripts and bulk metadata zips.

The parsers here are pure: bytes in, dataclasses out, no ORM, no storage. Every hostile or malformed
input raises ImportRefused with a reason for the person who uploaded it. Turning a ParsedImport into
an interview is archive/services/imports.py.
"""

from .base import ImportRefused, ParsedAttachment, ParsedImport, ParsedSegment, decode_text
from .bulk import BulkItem, ParsedBulk, RowNarratorUnknown, parse_bulk
from .channels import NarratorUnknown, fix_mojibake
from .detect import CHANNEL_KINDS, KINDS, detect_kind, parse_file
from .mail import parse_eml, parse_mbox, trim_quoted
from .messenger import parse_messenger
from .safetar import SafeTar
from .safezip import SafeZip, ZipBudget, ZipLimits
from .sensitive import sensitive_spans
from .skype import parse_skype
from .telegram import parse_telegram
from .transcripts import parse_docx, parse_ohms, parse_srt, parse_txt, parse_vtt
from .whatsapp import looks_like_chat, parse_chat_text, parse_whatsapp

__all__ = [
    "CHANNEL_KINDS",
    "KINDS",
    "BulkItem",
    "ImportRefused",
    "NarratorUnknown",
    "ParsedAttachment",
    "ParsedBulk",
    "ParsedImport",
    "ParsedSegment",
    "RowNarratorUnknown",
    "SafeTar",
    "SafeZip",
    "ZipBudget",
    "ZipLimits",
    "decode_text",
    "detect_kind",
    "fix_mojibake",
    "looks_like_chat",
    "parse_bulk",
    "parse_chat_text",
    "parse_docx",
    "parse_eml",
    "parse_file",
    "parse_mbox",
    "parse_messenger",
    "parse_ohms",
    "parse_skype",
    "parse_srt",
    "parse_telegram",
    "parse_txt",
    "parse_vtt",
    "parse_whatsapp",
    "sensitive_spans",
    "trim_quoted",
]
