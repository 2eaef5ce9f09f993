"""Finding contact details inside imported text: phone numbers, email addresses and shared locations.

Used twice: by the parsers, to put the values in quarantine, and by the import service, to turn each
occurrence into an approved span redaction so it never reaches a lower tier. Over-matching is the
safe direction here: a redacted date costs little, a leaked phone number can cost a life.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat, PhoneNumberMatcher

# Most narrators of the seed collection dial Syrian numbers; "+" numbers are found whatever the region.
DEFAULT_REGION = "SY"

_DIGITS = re.compile(r"\d")
_MAYBE_PHONE = re.compile(r"\d[\d\s\-().\u00a0\u202f/]{5,}\d")
_INTERNATIONAL = re.compile(r"(?<![\w+])(?:\+|00)\d[\d \-().\u00a0\u202f]{5,22}\d")
_EMAIL = re.compile(r"[\w.+\-']+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
_GEO_URL = re.compile(
    r"(?:https?://)?(?:www\.)?(?:maps\.google\.[a-z.]+|google\.[a-z.]+/maps|maps\.app\.goo\.gl|goo\.gl/maps|"
    r"maps\.apple\.com|openstreetmap\.org|osm\.org|waze\.com)\S*|geo:-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?\S*",
    re.IGNORECASE,
)
_COORDINATES = re.compile(r"(?<![\d.])-?\d{1,2}\.\d{3,}\s*,\s*-?\d{1,3}\.\d{3,}(?![\d.])")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    category: str  # contact | place
    kind: str  # phone | email | location
    value: str


# How a phone number is written varies without changing the number: any script's digits, dashes of
# every width, the Arabic comma between groups, no-break and thin spaces, and invisible marks
# (zero-width, bidi) that copying from a phone's contact card leaves between the digits.
_DASHES = dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d", "-")
_SPACES = dict.fromkeys("\u060c\u00a0\u2007\u2009\u202f\u3000", " ")


def phone_view(text: str) -> tuple[str, list[int]]:
    """The text as phone matching reads it, with the index of each character's original: digits of
    every script as ASCII, dashes as "-", group separators as spaces, invisible characters dropped."""
    out: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            out.append(char)
        elif unicodedata.category(char) == "Nd":
            out.append(str(unicodedata.digit(char)))
        elif unicodedata.category(char) == "Cf":
            continue
        else:
            out.append(_DASHES.get(char) or _SPACES.get(char) or ("+" if char == "\uff0b" else char))
        offsets.append(index)
        # "0944 - 123": a dash with spaces around it separates groups as one dash does.
        if len(out) > 1 and out[-1] in " -" and out[-2] in " -" and (out[-1] == "-" or out[-2] == "-"):
            out[-2:] = ["-"]
            offsets[-2:] = [offsets[-2]]
    return "".join(out), offsets


def _digit_count(text: str) -> int:
    return len(_DIGITS.findall(text))


def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form when the text parses as a number, else the digits with a leading +."""
    try:
        number = phonenumbers.parse(text, region)
        return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    except phonenumbers.NumberParseException:
        digits = "".join(char for char in text if char.isdigit())
        return f"+{digits}" if text.strip().startswith("+") else digits


def looks_like_phone(label: str) -> bool:
    """Whether a chat sender label is a phone number (WhatsApp shows the number for unsaved contacts)."""
    stripped = label.strip()
    if not stripped or _digit_count(stripped) < 7:
        return False
    return all(char.isdigit() or char in "+ -().\u00a0\u202f" for char in stripped)


def find_phones(text: str, region: str = DEFAULT_REGION) -> list[Span]:
    if not any(char.isdigit() for char in text):
        return []
    view, offsets = phone_view(text)
    if not _MAYBE_PHONE.search(view):
        return []
    spans: list[Span] = []
    for match in PhoneNumberMatcher(view, region, leniency=Leniency.POSSIBLE):
        value = phonenumbers.format_number(match.number, PhoneNumberFormat.E164)
        spans.append(Span(offsets[match.start], offsets[match.end - 1] + 1, "contact", "phone", value))
    for match in _INTERNATIONAL.finditer(view):
        start = offsets[match.start()]
        if 8 <= _digit_count(match.group()) <= 15 and not any(s.start <= start < s.end for s in spans):
            value = normalise_phone(match.group(), region)
            spans.append(Span(start, offsets[match.end() - 1] + 1, "contact", "phone", value))
    return spans


def find_emails(text: str) -> list[Span]:
    if "@" not in text:
        return []
    return [Span(m.start(), m.end(), "contact", "email", m.group().lower()) for m in _EMAIL.finditer(text)]


def find_locations(text: str) -> list[Span]:
    spans = [Span(m.start(), m.end(), "place", "location", m.group()) for m in _GEO_URL.finditer(text)]
    for match in _COORDINATES.finditer(text):
        if not any(s.start <= match.start() < s.end for s in spans):
            spans.append(Span(match.start(), match.end(), "place", "location", match.group()))
    return spans


def sensitive_spans(text: str, region: str = DEFAULT_REGION) -> list[Span]:
    """Non-overlapping contact-detail spans in `text`, in order; a longer span wins an overlap."""
    found = find_emails(text) + find_locations(text) + find_phones(text, region)
    found.sort(key=lambda span: (span.start, -(span.end - span.start)))
    merged: list[Span] = []
    for span in found:
        if merged and span.start < merged[-1].end:
            continue
        merged.append(span)
    return merged


def find_name_spans(text: str, names: list[str]) -> list[tuple[int, int, str]]:
    """Where any of `names` occurs in `text` as a whole word or phrase,
    matched case-insensitively on word boundaries."""
    found: list[tuple[int, int, str]] = []
    for name in names:
        name = name.strip()
        if len(name) < 2 or looks_like_phone(name):
            continue
        pattern = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)", re.IGNORECASE)
        found.extend((m.start(), m.end(), name) for m in pattern.finditer(text))
    found.sort(key=lambda item: (item[0], -(item[1] - item[0])))
    merged: list[tuple[int, int, str]] = []
    for item in found:
        if merged and item[0] < merged[-1][1]:
            continue
        merged.append(item)
    return merged
