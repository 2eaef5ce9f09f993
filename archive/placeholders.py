"""Placeholders in the language of the text they stand in, and the direction of a segment's text.

A leaf module: the renderer asks it which words replace a hidden span in one segment, and templates
ask it which way a segment's text runs. Both are decided by the segment's own visible text, not by
the interview's language: an English line inside an Arabic interview is written left to right and
gets an English label, an Arabic line inside an English one the reverse. Hidden characters never
take part in the decision (a hidden Arabic name in an English line must not turn its label Arabic,
which would tell a reader the name's script).
"""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Sequence
from typing import Any, TypeVar

# The renderer's labels (English) and their Arabic forms. Keys are the English labels themselves, so
# a replacement that is not a label (a pseudonym, a generalisation) is never touched.
ARABIC_LABELS: dict[str, str] = {
    "[name withheld]": "[اسم محجوب]",
    "[relative withheld]": "[اسم قريب محجوب]",
    "[place withheld]": "[مكان محجوب]",
    "[contact withheld]": "[وسيلة اتصال محجوبة]",
    "[date withheld]": "[تاريخ محجوب]",
    "[number withheld]": "[رقم محجوب]",
    "[organisation withheld]": "[جهة محجوبة]",
    "[event withheld]": "[حدث محجوب]",
    "[detail withheld]": "[تفصيل محجوب]",
    "[narrator withheld]": "[الراوي محجوب]",
    "[title withheld]": "[العنوان محجوب]",
    "Anonymous narrator": "راوٍ مجهول الهوية",
    "Narrator": "الراوي",
}
LABELS: dict[str, dict[str, str]] = {"ar": ARABIC_LABELS}
# Every bracketed label in every language, for exporters that mark gaps by finding labels in text.
ALL_LABELS: tuple[str, ...] = tuple(
    label for labels in LABELS.values() for label in labels.values() if label.startswith("[")
)

RTL_LANGUAGES = {"ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "syr"}
_RTL_CLASSES = {"R", "AL"}


def _strong(text: str) -> tuple[int, int]:
    """(right-to-left, left-to-right) strong letters in `text`."""
    rtl = ltr = 0
    for char in text:
        direction = unicodedata.bidirectional(char)
        if direction in _RTL_CLASSES:
            rtl += 1
        elif direction == "L":
            ltr += 1
    return rtl, ltr


def _base(language: str) -> str:
    return (language or "").split("-")[0].split("_")[0].lower()


def text_language(text: str, tagged: str = "") -> str:
    """The language family a text is written in, judged by its letters: "ar" for mostly
    right-to-left letters, "en" for mostly left-to-right ones, else the tagged language."""
    rtl, ltr = _strong(text)
    if rtl > ltr:
        return _base(tagged) if _base(tagged) in RTL_LANGUAGES else "ar"
    if ltr > rtl:
        return _base(tagged) if tagged and _base(tagged) not in RTL_LANGUAGES else "en"
    return _base(tagged)


def text_direction(text: str, language: str = "") -> str:
    """ "rtl" or "ltr" for a segment's text by the letters it holds; "auto" when it has none and its
    language does not say."""
    rtl, ltr = _strong(text or "")
    if rtl != ltr:
        return "rtl" if rtl > ltr else "ltr"
    return "rtl" if _base(language) in RTL_LANGUAGES else "auto"


def label_in(replacement: str, language: str) -> str:
    """The replacement written in `language` when it is one of the renderer's labels."""
    return LABELS.get(_base(language), {}).get(replacement, replacement)


Interval = TypeVar("Interval", bound=tuple[int, int, Any])


def visible_text(text: str, hidden: Sequence[tuple[int, int, Any]]) -> str:
    pieces: list[str] = []
    cursor = 0
    for start, end, _rule in sorted(hidden, key=lambda item: item[0]):
        pieces.append(text[cursor:start])
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    return " ".join(pieces)


def localised(text: str, intervals: list[Interval], language: str = "") -> list[Interval]:
    """The intervals with each rule's label written in the language of the segment's visible text.
    A rule is a dataclass with a `replacement` field (the renderer's Rule)."""
    target = text_language(visible_text(text, intervals), language)
    if target not in LABELS:
        return intervals
    out = []
    for start, end, rule in intervals:
        replacement = label_in(rule.replacement, target)
        if replacement != rule.replacement:
            rule = dataclasses.replace(rule, replacement=replacement)
        out.append((start, end, rule))
    return out  # type: ignore[return-value]
