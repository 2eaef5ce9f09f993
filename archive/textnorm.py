"""Text normalisation shared by redaction matching, suggestions and search.

Arabic: strip diacritics (tashkeel) and tatweel, unify alef forms, taa marbuta → haa, alef maqsura →
yaa. All scripts: NFKC and case folding. `normalise_with_map` keeps an offset map back to the
original text so that matches found in normalised text redact the right characters.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
TATWEEL = "\u0640"
FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"})
ARABIC_LETTERS = re.compile("[\u0600-\u06ff]")
ARABIC_INDIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@functools.lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    if char == TATWEEL or ARABIC_DIACRITICS.match(char):
        return ""
    folded = unicodedata.normalize("NFKC", char).casefold().translate(FOLD).translate(ARABIC_INDIC_DIGITS)
    return folded


def normalise(text: str) -> str:
    """Normalised form for comparison and indexing."""
    text = unicodedata.normalize("NFKC", text)
    text = ARABIC_DIACRITICS.sub("", text.replace(TATWEEL, ""))
    return text.casefold().translate(FOLD).translate(ARABIC_INDIC_DIGITS)


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text and, for each of its characters, the index of the original character."""
    if text.isascii():
        # Fast path, same result: NFKC, the Arabic folds and digit mapping leave ASCII unchanged, and
        # casefold() of ASCII is lower(), one character for one.
        return text.lower(), list(range(len(text)))
    out: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        for piece in folded:
            out.append(piece)
            offsets.append(index)
    return "".join(out), offsets


def is_arabic(text: str) -> bool:
    return bool(ARABIC_LETTERS.search(text))


# Optional Arabic proclitics (wa-, fa-, bi-, li-, ka-) and the article; Latin "al-"/"el-" prefixes.
ARABIC_PREFIX = "(?:[وف]?[بلك]?)"
ARABIC_ARTICLE = "(?:ال)?"
LATIN_ARTICLE = r"(?:(?:al|el|ad|ar|as|ash|at|az)[-\s‑’']\s?)?"


WORD_START = r"(?<!\w)"


def alias_pattern(alias: str) -> str:
    """A regex (over normalised text) matching the alias as a whole word, clitic-aware for Arabic.
    Group "name" covers the part to replace (article included, proclitic letters excluded)."""
    norm = normalise(alias).strip()
    if not norm:
        return ""
    if is_arabic(norm):
        core = norm[2:] if norm.startswith("ال") and len(norm) > 3 else norm
        body = r"\s+".join(re.escape(part) for part in core.split())
        return rf"{WORD_START}{ARABIC_PREFIX}(?P<name>{ARABIC_ARTICLE}{body})(?!\w)"
    core = re.sub(r"^(?:al|el)[-\s]", "", norm)
    body = r"[\s\-‑]+".join(re.escape(part) for part in re.split(r"[\s\-]+", core) if part)
    return rf"{WORD_START}(?P<name>{LATIN_ARTICLE}{body})(?!\w)"


@dataclass(frozen=True)
class Match:
    start: int  # offsets in the original text
    end: int
    key: object  # what matched (a rule key chosen by the caller)


class Gazetteer:
    """Finds every occurrence of many names at once, in original-text offsets."""

    def __init__(self, names: Iterable[tuple[str, object]]):
        self._keys: list[object] = []
        parts: list[str] = []
        for name, key in sorted(names, key=lambda pair: -len(pair[0])):
            pattern = alias_pattern(name)
            if not pattern:
                continue
            group = f"g{len(self._keys)}"
            parts.append(pattern.removeprefix(WORD_START).replace("(?P<name>", f"(?P<{group}>"))
            self._keys.append(key)
        # Every alternative starts at a word boundary: checked once per position, not once per name.
        self._regex = re.compile(WORD_START + "(?:" + "|".join(parts) + ")") if parts else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def occurs_in(self, normalised: str) -> bool:
        """Whether any name may occur in already-normalised text. A name any subset of these names
        finds is found here too (same alternatives, tried at every position), so False is definitive."""
        return self._regex is not None and self._regex.search(normalised) is not None

    def find(self, text: str, normalised: tuple[str, list[int]] | None = None) -> Iterator[Match]:
        """Matches in `text`; pass `normalised` (from normalise_with_map) to reuse its normalisation."""
        if self._regex is None or not text:
            return
        norm, offsets = normalised or normalise_with_map(text)
        for found in self._regex.finditer(norm):
            # Each alternative has exactly one capturing group (gN, see alias_pattern), so the last
            # group that matched is the name that matched.
            group = found.lastgroup
            if group is None:
                continue
            start, end = found.span(group)
            if end > start:
                yield Match(offsets[start], offsets[end - 1] + 1, self._keys[int(group[1:])])
