"""PII suggestions: text in, suggested spans out (character offsets into the text given).

Pure: no database, no network. The service layer (archive/services/suggestions.py) feeds it segment
text and the archive's own gazetteer and stores what it finds as *suggested* redactions, which change
nothing until an editor approves them (INFRA-NOTES §1.3).

Detectors, each named in `Suggestion.source`:
- ``gazetteer``: names and aliases the archive already knows (entities, earlier confirmed redactions),
  matched on normalised text, Arabic clitic-aware (بحمص matches حمص) via textnorm.Gazetteer;
- ``phone``: phone numbers validated with `phonenumbers` (Syria, Lebanon, Turkey and any +CC number),
  Arabic-Indic digits included;
- ``email``; ``date`` (English and Arabic, Levantine and MSA month names); ``identifier`` (long numbers
  that are neither phones nor dates);
- ``kin``: kunyas and kin terms with a name (أبو فادي, أم عمر, ابن/بنت …, "Abu Fadi", "Umm Omar",
  "my brother Tareq", أخي طارق).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import phonenumbers

from .importers.sensitive import find_phones, phone_view
from .lexicons import LexiconDetector
from .textnorm import ARABIC_INDIC_DIGITS, Gazetteer

PHONE_REGIONS: tuple[str, ...] = ("SY", "LB", "TR")


@dataclass(frozen=True)
class Suggestion:
    start: int
    end: int
    category: str  # a Redaction.Category value
    source: str  # the detector
    score: float = 0.5
    key: object = None  # for gazetteer hits: the key given with the name
    # The words' times the span covers (seconds), when the text came with word times: the audio that
    # is silenced with the text.
    start_time: float | None = None
    end_time: float | None = None


@dataclass(frozen=True)
class GazetteerName:
    """A name the archive knows, with the category a hit should be suggested as."""

    name: str
    category: str = "name"
    key: object = None


# Digits: ASCII, Arabic-Indic and Extended Arabic-Indic (Persian/Urdu) map one character to one.
DIGIT = r"[0-9\u0660-\u0669\u06f0-\u06f9]"

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,24}(?![\w-])", re.UNICODE)

# A run that may be a phone number: optional +, then digits with spaces, dots, dashes or brackets.
PHONE_CANDIDATE = re.compile(rf"(?<![\w+])(?:\+|00)?\(?{DIGIT}(?:[\s.\-()]{{0,2}}{DIGIT}){{6,15}}(?!\w)")

ID_NUMBER = re.compile(
    rf"(?<!\w)(?:[A-Za-z]{{1,3}}-?)?{DIGIT}{{6,}}(?!\w)"  # N1234567, 01234567890
    rf"|(?<!\w){DIGIT}{{3,}}(?:[-/]{DIGIT}{{2,}}){{2,}}(?!\w)"  # 0123-456-789
)

EN_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
AR_MONTHS = (
    # Levantine (Syriac) names, then MSA/Egyptian (transliterated) names, longest first where they share a start.
    "كانون الثاني|كانون الأول|كانون الاول|كانون ثاني|كانون أول|"
    "شباط|آذار|اذار|نيسان|أيار|ايار|حزيران|تموز|آب|اب|أيلول|ايلول|"
    "تشرين الأول|تشرين الاول|تشرين الثاني|تشرين أول|تشرين ثاني|"
    "يناير|فبراير|مارس|أبريل|ابريل|إبريل|مايو|يونيو|يونيه|يوليو|يوليه|أغسطس|اغسطس|سبتمبر|أكتوبر|اكتوبر|نوفمبر|ديسمبر"
)
D12 = rf"{DIGIT}{{1,2}}"
YEAR = rf"(?:1[89]|20|\u0661[\u0668\u0669]|\u0662\u0660)?{DIGIT}{{2}}"  # 2 or 4 digits (19xx / 20xx)
FULL_YEAR = rf"(?:1[89]|20|\u0661[\u0668\u0669]|\u0662\u0660){DIGIT}{{2}}"
DATE_PATTERNS = [
    # 2013-03-12, 12/03/2013, 12.3.13, ١٢/٣/٢٠١٣
    re.compile(rf"(?<![\w/.\-]){FULL_YEAR}[-/.]{D12}[-/.]{D12}(?![\w/.\-])"),
    re.compile(rf"(?<![\w/.\-]){D12}[-/.]{D12}[-/.]{YEAR}(?![\w/.\-])"),
    # 12 March 2013, 12th of March, March 12, 2013, March 2013
    re.compile(
        rf"(?<!\w){D12}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{EN_MONTHS})\.?(?:,?\s+{FULL_YEAR})?(?!\w)", re.IGNORECASE
    ),
    re.compile(rf"(?<!\w)(?:{EN_MONTHS})\.?\s+{D12}(?:st|nd|rd|th)?(?:,?\s+{FULL_YEAR})?(?!\w)", re.IGNORECASE),
    re.compile(rf"(?<!\w)(?:{EN_MONTHS})\.?,?\s+{FULL_YEAR}(?!\w)", re.IGNORECASE),
    # ١٢ آذار ٢٠١٣, 12 مارس 2013, في آذار ٢٠١٣ (optional في/ب prefix is not part of the span)
    re.compile(rf"(?<!\w){D12}\s+(?:من\s+)?(?:شهر\s+)?(?:{AR_MONTHS})(?:\s*[،,]?\s*(?:عام|سنة)?\s*{FULL_YEAR})?(?!\w)"),
    re.compile(rf"(?<![^\W\d_])(?:{AR_MONTHS})\s*[،,]?\s*(?:عام|سنة)?\s*{FULL_YEAR}(?!\w)"),
]

# Kin terms and kunyas with a name. Latin names are capitalised words; Arabic names are any word not in a
# short list of common words that follow these terms in speech.
LATIN_NAME = r"[A-Z][a-z'\u2019]+(?:[-\s](?:al|el)[-\s][A-Z][a-z'\u2019]+)?"
KUNYA_EN = re.compile(rf"(?<!\w)(?:Abu|Abou|Abo|Umm|Um|Om|Ibn|Bint)[\s-]{LATIN_NAME}(?!\w)")
KIN_EN = re.compile(
    r"(?<!\w)(?:[Mm]y|[Hh]is|[Hh]er|[Oo]ur|[Tt]heir)\s+(?:(?:older|younger|elder|little|big|late)\s+)?"
    r"(?:brother|sister|cousin|uncle|aunt|son|daughter|father|mother|husband|wife|nephew|niece|grandson|"
    r"granddaughter|grandfather|grandmother|brother-in-law|sister-in-law|fianc[ée]e?)(?:,)?\s+"
    rf"(?P<name>{LATIN_NAME})(?!\w)"
)
AR_WORD = r"[\u0621-\u064a\u0671-\u06d3][\u0621-\u065f\u0670-\u06d3]*"
AR_NOT_NAME = {
    "عمي",
    "خالي",
    "عمه",
    "خاله",
    "عم",
    "خال",
    "عمتي",
    "خالتي",
    "الحرب",
    "البلد",
    "الحي",
    "المدينه",
    "المدينة",
    "هذا",
    "هذه",
    "ذلك",
    "تلك",
    "هو",
    "هي",
    "انا",
    "أنا",
    "كان",
    "كانت",
    "لا",
    "ما",
    "في",
    "من",
    "على",
    "الى",
    "إلى",
    "عن",
    "مع",
    "لم",
    "لن",
    "قد",
    "ان",
    "أن",
    "إن",
    "او",
    "أو",
    "ثم",
    "كل",
    "بعد",
    "قبل",
    "عندما",
    "الذي",
    "التي",
    "الناس",
    "الشهيد",
    "الشهداء",
    "احد",
    "أحد",
    "واحد",
    "بعض",
    "غير",
    "شو",
    "ليش",
    "هيك",
    "يعني",
    "كمان",
    "بس",
    "قال",
    "قالت",
    "جاء",
    "جات",
    "راح",
    "ذهب",
    "رجع",
    "مات",
    "استشهد",
    "اعتقل",
    "انقتل",
    "صار",
    "بيقول",
    "زوجي",
    "زوجها",
    "ولدي",
    "اولادي",
    "أولادي",
    "اخي",
    "أخي",
    "اختي",
    "أختي",
    "الله",
}
KUNYA_AR = re.compile(
    rf"(?<![\w\u0621-\u065f\u0670-\u06d3])(?:[وف])?(?P<term>أبو|ابو|أبا|ابا|أبي|ابي|أم|ام|ابن|إبن|بنت)\s+(?P<name>{AR_WORD})"
    rf"(?:\s+(?P<family>ال{AR_WORD}))?(?![\w\u0621-\u065f\u0670-\u06d3])"
)
KIN_AR = re.compile(
    r"(?<![\w\u0621-\u065f\u0670-\u06d3])(?:[وف])?(?:أخي|اخي|أختي|اختي|ابني|إبني|بنتي|ابنتي|زوجي|زوجتي|عمي|خالي|عمتي|خالتي|"
    r"جدي|جدتي|أبي|ابي|أمي|امي|ابن عمي|ابن خالي|بنت عمي|بنت خالي)\s+"
    rf"(?P<name>{AR_WORD})(?![\w\u0621-\u065f\u0670-\u06d3])"
)


def ascii_digits(text: str) -> str:
    """The text with Arabic-Indic digits as ASCII; one character for one, so offsets still hold."""
    return text.translate(ARABIC_INDIC_DIGITS)


_DATE_SHAPE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def _phones(text: str) -> list[Suggestion]:
    found: list[Suggestion] = []
    digits, offsets = phone_view(text)
    for match in PHONE_CANDIDATE.finditer(digits):
        candidate = match.group(0).rstrip(" .-(")
        start = offsets[match.start()]
        end = offsets[match.start() + len(candidate) - 1] + 1
        if candidate.startswith("00"):
            candidate = "+" + candidate[2:]
        regions = (None,) if candidate.startswith("+") else PHONE_REGIONS
        for region in regions:
            try:
                number = phonenumbers.parse(candidate, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                found.append(Suggestion(start, end, "contact", "phone", 0.9))
                break
    # Whatever the importers hide as a phone number (possible numbers too, in context) is found here as
    # well: a number hidden in a chat must not be published when it is spoken.
    for span in find_phones(text):
        piece = text[span.start : span.end]
        glued = (span.start > 0 and text[span.start - 1].isalpha()) or (
            span.end < len(text) and text[span.end].isalpha()
        )
        if glued or _DATE_SHAPE.fullmatch(piece.translate(ARABIC_INDIC_DIGITS)):
            continue  # part of an identifier, or a date (the date detector has it)
        if not any(s.start < span.end and span.start < s.end for s in found):
            found.append(Suggestion(span.start, span.end, "contact", "phone", 0.8))
    return sorted(found, key=lambda s: s.start)


def _emails(text: str) -> list[Suggestion]:
    return [Suggestion(m.start(), m.end(), "contact", "email", 0.95) for m in EMAIL.finditer(text)]


def _dates(text: str) -> list[Suggestion]:
    found = []
    for pattern in DATE_PATTERNS:
        found.extend(Suggestion(m.start(), m.end(), "date", "date", 0.6) for m in pattern.finditer(text))
    return found


def _identifiers(text: str) -> list[Suggestion]:
    return [Suggestion(m.start(), m.end(), "identifier", "identifier", 0.5) for m in ID_NUMBER.finditer(text)]


def _kin(text: str) -> list[Suggestion]:
    found = [Suggestion(m.start(), m.end(), "name", "kin", 0.6) for m in KUNYA_EN.finditer(text)]
    found.extend(Suggestion(m.start("name"), m.end("name"), "relative", "kin", 0.5) for m in KIN_EN.finditer(text))
    for match in KUNYA_AR.finditer(text):
        name = match.group("name")
        if name in AR_NOT_NAME or len(name) < 2:
            continue
        # أم is also "or": only a kunya when a family name follows or the next word is not a common word.
        if match.group("term") in ("أم", "ام") and not match.group("family") and name.startswith("ال"):
            continue
        end = match.end("family") if match.group("family") else match.end("name")
        found.append(Suggestion(match.start("term"), end, "name", "kin", 0.6))
    for match in KIN_AR.finditer(text):
        name = match.group("name")
        if name in AR_NOT_NAME or name.startswith("ال"):
            continue
        found.append(Suggestion(match.start("name"), match.end("name"), "relative", "kin", 0.4))
    return found


# When two suggestions overlap, the more specific detector wins.
PRIORITY = {
    "gazetteer": 0,
    "email": 1,
    "spoken-email": 1,
    "phone": 2,
    "spoken-phone": 2,
    "date": 3,
    "spoken-date": 3,
    "kin": 4,
    "places": 5,
    "identifier": 6,
    "names": 7,
}


def _resolve(found: list[Suggestion]) -> list[Suggestion]:
    """Drop suggestions that overlap a higher-priority (then longer) one; return them in text order."""
    ranked = sorted(found, key=lambda s: (PRIORITY.get(s.source, 9), -(s.end - s.start), s.start))
    kept: list[Suggestion] = []
    for suggestion in ranked:
        if suggestion.end <= suggestion.start:
            continue
        if any(suggestion.start < other.end and other.start < suggestion.end for other in kept):
            continue
        kept.append(suggestion)
    return sorted(kept, key=lambda s: (s.start, s.end))


class Suggester:
    """Builds the gazetteer once, then suggests over many texts."""

    def __init__(
        self, names: Iterable[GazetteerName | tuple[str, str] | str] = (), lexicons: LexiconDetector | None = None
    ):
        """`names`: what the archive knows; `lexicons`: the offline name, place and spoken-number
        lexicons (lexicons.default_detector()), left out where only the archive's names count."""
        self.lexicons = lexicons
        entries: list[tuple[str, GazetteerName]] = []
        for item in names:
            if isinstance(item, str):
                item = GazetteerName(item)
            elif isinstance(item, tuple):
                item = GazetteerName(*item)
            if len(item.name.strip()) >= 2:
                entries.append((item.name, item))
        self.gazetteer = Gazetteer(entries)

    def suggest(self, text: str, language: str = "", words: Sequence[Any] | None = None) -> list[Suggestion]:
        """Suggestions for `text`; with its `words` (objects with text, start and end, in order), each
        suggestion carries the times of the words it covers."""
        if not text or not text.strip():
            return []
        found: list[Suggestion] = []
        for match in self.gazetteer.find(text):
            entry = match.key
            found.append(Suggestion(match.start, match.end, entry.category, "gazetteer", 0.9, entry.key))
        found.extend(_emails(text))
        if any(ch.isdigit() for ch in text):
            found.extend(_phones(text))
            found.extend(_dates(text))
            found.extend(_identifiers(text))
        found.extend(_kin(text))
        if self.lexicons is not None:
            found.extend(Suggestion(f.start, f.end, f.category, f.source, f.score) for f in self.lexicons.find(text))
        kept = _resolve(found)
        if words:
            kept = [with_word_times(suggestion, text, words) for suggestion in kept]
        return kept


def word_offsets(text: str, words: Sequence[Any]) -> list[tuple[int, int]] | None:
    """Character offsets of each word in `text` (found in order), or None where they do not line up:
    the same alignment the renderer uses to silence a hidden span's words."""
    offsets: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        token = (word.text if hasattr(word, "text") else word.get("w", "")).strip()
        if not token:
            offsets.append((cursor, cursor))
            continue
        position = text.find(token, cursor)
        if position < 0:
            return None
        offsets.append((position, position + len(token)))
        cursor = position + len(token)
    return offsets


def _time(word: Any, name: str) -> float | None:
    value = getattr(word, name, None) if hasattr(word, name) else word.get(name[0])
    return None if value is None else float(value)


def with_word_times(suggestion: Suggestion, text: str, words: Sequence[Any]) -> Suggestion:
    """The suggestion with the start of its first word and the end of its last (None when the words
    do not line up with the text: the renderer then silences the whole segment)."""
    offsets = word_offsets(text, words)
    if offsets is None:
        return suggestion
    covered = [
        word
        for word, (start, end) in zip(words, offsets, strict=True)
        if end > start and start < suggestion.end and suggestion.start < end
    ]
    times = [(_time(w, "start"), _time(w, "end")) for w in covered]
    if not times or any(s is None or e is None for s, e in times):
        return suggestion
    return replace(suggestion, start_time=min(s for s, _e in times), end_time=max(e for _s, e in times))  # type: ignore[type-var]


def suggest(
    text: str, language: str = "", names: Iterable[GazetteerName | tuple[str, str] | str] = ()
) -> list[Suggestion]:
    """Suggested redactions for one text. `names` is the archive's gazetteer (names, aliases)."""
    return Suggester(names).suggest(text, language)
