"""Text normalisation and name matching shared by redaction, suggestions, search and transcripts.

The normaliser (`normalise`, `normalise_with_map`) folds what writers vary without meaning to:
NFKC and case; Arabic diacritics (tashkeel), tatweel, alef forms, taa marbuta → haa, alef maqsura →
yaa; Persian-keyboard letters (ی ک ە) → Arabic ones; Eastern digits → ASCII; invisible format
characters (zero-width space and joiners, soft hyphen, bidi marks) dropped; Latin letters with
diacritics as used in academic transliteration folded (ṭ → t, ā → a, š → sh, ḫ → kh, ʿ/ʾ → ').
ASCII text is unchanged but for lower case, so the search index's ASCII fast path stays exact.
`normalise_with_map` keeps an offset map back to the original text so that matches found in
normalised text redact the right characters (invisible characters inside a match are redacted too).

The matcher (`alias_pattern`, `Gazetteer`) finds a name as people write and say it:
- Arabic script: proclitics (و ف ب ك ل and the vocative يا), the article and the لل contraction,
  the accusative ending (ـاً), the case forms of a kunya (أبو/أبي/أبا), ابن/بن, joined compounds
  (عبدالرحمن);
- Latin script: the article in every spelling (al-, el-, il-, ul-, and the sun-letter assimilated
  as-, ash-, ad-, ar-, at-, az-, an-, with a hyphen, a space or nothing), the "Abd al-" compounds
  (Abdulrahman, Abdel Rahman, Abdurrahman), and transliteration variants: vowel spellings
  (a/e/i, o/u, ou/oo/ū, ee/ī), q/k, th/t/s, dh/d/z, sh/ch, j/dj/g, kh/k, w/ou, doubled letters,
  ' for ʿ and ʾ, a final h after a vowel and the French final e. A variant that differs from the
  approved spelling is accepted only where it cannot be an everyday word: written with a capital,
  part of a name of two or more words, or six letters or longer;
- across segments: `Gazetteer.across` finds names that a segment boundary splits ("Tareq" |
  "Mansour"), so a renderer that redacts segment by segment can hide both halves.

Speed without a different answer: each name's alternative in the gazetteer's one regex is preceded
by a lookahead for the characters a match of it can start with (`first_chars`, read off the parsed
pattern), so most word starts are given up after one character test instead of a trial of every
name; `Gazetteer.crossing_candidates` tells, from texts normalised once, which segment boundaries
can hold a split name at all, so `across` need only look at those.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from re import _constants as _sre  # the opcodes of parsed patterns (first_chars)
from re import _parser
from typing import Any, Generic, TypeVar

_sre_parse = _parser.parse

ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
TATWEEL = "\u0640"
FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ؤ": "و",
        "ئ": "ي",
        # Persian and Urdu keyboards
        "ی": "ي",
        "ې": "ي",
        "ۍ": "ي",
        "ے": "ي",
        "ک": "ك",
        "ڪ": "ك",
        "ە": "ه",
        "ہ": "ه",
        "ھ": "ه",
        "ۀ": "ه",
        "ۃ": "ه",
    }
)
ARABIC_LETTERS = re.compile("[\u0600-\u06ff]")
ARABIC_INDIC_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Letters of academic transliteration (DIN 31635, ALA-LC, EI) that stand for two Latin letters in
# popular spelling, and the signs for ʿayn and hamza; other Latin diacritics are simply dropped.
LATIN_SPECIAL = str.maketrans(
    {
        "š": "sh",
        "č": "ch",
        "ǧ": "j",
        "ḫ": "kh",
        "ẖ": "kh",
        "ḵ": "kh",
        "ḏ": "dh",
        "ṯ": "th",
        "ġ": "gh",
        "ž": "zh",
        "ı": "i",
        "ʿ": "'",
        "ʾ": "'",
        "ʻ": "'",
        "ʼ": "'",
        "ʽ": "'",
        "‘": "'",
        "’": "'",
        "`": "'",
        "´": "'",
    }
)
LATIN_WITH_MARKS = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
# Removed outright: Arabic diacritics and tatweel, combining marks, and invisible format characters
# (zero-width space/joiners, soft hyphen, word joiner, BOM, bidi marks and isolates).
INVISIBLE = re.compile(
    "[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640"
    "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f"
    "\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)


def _strip_latin_marks(match: re.Match[str]) -> str:
    decomposed = unicodedata.normalize("NFKD", match.group(0))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _fold(text: str) -> str:
    """The folds after NFKC, for a string already in NFKC."""
    text = text.casefold().translate(LATIN_SPECIAL)
    text = LATIN_WITH_MARKS.sub(_strip_latin_marks, text)
    return INVISIBLE.sub("", text).translate(FOLD).translate(ARABIC_INDIC_DIGITS)


@functools.lru_cache(maxsize=16384)
def _fold_char(char: str) -> str:
    return _fold(unicodedata.normalize("NFKC", char))


# The folds that change an ASCII character beyond lower() (the backtick written for an apostrophe or
# an ayn: "Sa`id"), each one character for one, so the ASCII fast path keeps its offsets.
ASCII_FOLD = str.maketrans({c: _fold_char(c) for c in map(chr, range(128)) if _fold_char(c) != c.lower()})
assert all(len(folded) == 1 for folded in ASCII_FOLD.values())


def _ascii_fold(text: str) -> str:
    return text.lower().translate(ASCII_FOLD)


# ASCII characters that normalise_with_map folds differently on its ASCII fast path and on its
# per-character path (none since the fast path applies ASCII_FOLD): where one occurs, normalising two
# texts apart and joining the results may differ from normalising them joined.
ASCII_PATH_DIFFERS = frozenset(c for c in map(chr, range(128)) if _fold_char(c) != _ascii_fold(c))


def normalise(text: str) -> str:
    """Normalised form for comparison and indexing."""
    if text.isascii():
        return _ascii_fold(text)
    return _fold(unicodedata.normalize("NFKC", text))


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text and, for each of its characters, the index of the original character."""
    if text.isascii():
        # Fast path, same result: NFKC, the Arabic folds and the digit mapping leave ASCII unchanged,
        # casefold() of ASCII is lower(), and ASCII_FOLD maps one character to one.
        return _ascii_fold(text), list(range(len(text)))
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


# Arabic script ------------------------------------------------------------------------------------

# Optional proclitics: و/ف, then ب/ك/ل or the vocative يا (often written joined in dialect).
ARABIC_PREFIX = "(?:[وف]?(?:[بكل]|يا)?)"
# The article, or the ل left of it after the preposition ل (لل: ل + ال).
ARABIC_ARTICLE = "(?:ال|(?<=ل)ل)?"
KUNYA_FORMS = {"ابو": "اب[وايى]", "ابي": "اب[وايى]", "ابا": "اب[وايى]", "ابن": "ا?بن", "بن": "ا?بن"}
ARABIC_JOINED_AFTER = {"عبد", "ابو", "ابي", "ابا"}


def _arabic_body(norm: str) -> str:
    parts = norm.split()
    pieces: list[str] = []
    for position, part in enumerate(parts):
        if position == 0:
            core = part[2:] if part.startswith("ال") and len(part) > 3 else part
            pattern = KUNYA_FORMS.get(core, re.escape(core)) if len(parts) > 1 else re.escape(core)
        else:
            has_article = part.startswith("ال") and len(part) > 3
            core = part[2:] if has_article else part
            pattern = "(?:ال)?" + re.escape(core) if has_article else KUNYA_FORMS.get(core, re.escape(core))
            joined = parts[position - 1] in ARABIC_JOINED_AFTER or has_article
            pieces.append(r"\s*" if joined else r"\s+")
        pieces.append(pattern)
        # The accusative ending on any word of the name (طارقاً → طارقا once the tanween is folded away).
        if not core.endswith(("ا", "و")) and pattern != KUNYA_FORMS.get(core):
            pieces.append("ا?")
    return "".join(pieces)


# Latin script -------------------------------------------------------------------------------------

ARTICLES = {"al", "el", "il", "ul", "l", "ad", "adh", "an", "ar", "as", "ash", "at", "ath", "az", "ed", "en", "er"}
ARTICLES |= {"es", "esh", "et", "ez", "ud", "un", "ur", "us", "ut", "uz"}
SUN_STARTS = ("sh", "th", "dh", "t", "d", "r", "z", "s", "n", "l")
LATIN_SEPARATOR = r"[\s\-‑_]*"
APOSTROPHE = "'?"
VOWELS = "aeiouy"
# Vowel runs, an apostrophe (ʿayn, hamza) allowed inside: Saeed ~ Saʿīd ~ Said.
FRONT = "(?:[aeiy]'?){1,4}"
FRONT_OPTIONAL = "(?:[aeiy]'?){0,4}"
BACK = "(?:[ou]'?){1,3}"
ANY_VOWEL = "(?:[aeiouy]'?){1,4}"
# Popular spellings of one Arabic sound, each consonant possibly doubled.
CONSONANTS = {
    "sh": "(?:sh|ch|sch|s)",
    "ch": "(?:ch|sh)",
    "th": "(?:th|t|s)",
    "dh": "(?:dh|d|z|th)",
    "kh": "(?:kh|k|h|x)",
    "gh": "(?:gh|g)",
    "ph": "(?:ph|f)",
    "dj": "(?:d?j|g)",
    "q": "(?:q|k|qu|g)",
    "k": "(?:k|q|c|ck|kh)",
    "c": "(?:c|k|q|ck)",
    "j": "(?:d?j|g)",
    "g": "(?:gh?|d?j)",
    "s": "(?:s|th)",
    "z": "(?:z|dh|th)",
    "d": "(?:d|dh)",
    "t": "(?:t|th)",
    "f": "(?:f|ph)",
    "v": "(?:v|f)",
    "w": "(?:w|ou|u)",
    "x": "(?:x|kh|ks)",
}
DIGRAPHS = ("sh", "ch", "th", "dh", "kh", "gh", "ph", "dj")
LETTERS_ONLY = re.compile(r"[^\w]|_|\d", re.UNICODE)


def _consonant_units(token: str) -> list[str]:
    """The token as units: consonants (digraphs kept together, doubles collapsed) and vowel runs."""
    units: list[str] = []
    index = 0
    while index < len(token):
        char = token[index]
        if char == "'":
            index += 1
            continue
        if char in VOWELS and not (char == "y" and (index == 0 or token[index - 1] not in VOWELS)):
            end = index
            while end < len(token) and token[end] in VOWELS:
                end += 1
            units.append(token[index:end])
            index = end
            continue
        unit = token[index : index + 2] if token[index : index + 2] in DIGRAPHS else char
        if not units or units[-1] != unit:
            units.append(unit)
        index += len(unit)
    return units


def _vowel_pattern(run: str, *, medial: bool) -> str:
    if set(run) <= set("ou"):
        return BACK
    if set(run) <= set("aeiy"):
        return FRONT_OPTIONAL if medial and run in ("e", "i") else FRONT
    return ANY_VOWEL


def _latin_token(token: str) -> str:
    """A fuzzy pattern for one token of letters."""
    units = _consonant_units(token)
    pieces: list[str] = []
    for position, unit in enumerate(units):
        if unit[0] in VOWELS and unit != "y":
            medial = 0 < position < len(units) - 1
            pieces.append(_vowel_pattern(unit, medial=medial))
        else:
            pieces.append(f"{CONSONANTS.get(unit, re.escape(unit))}{{1,2}}")
        pieces.append(APOSTROPHE)
    if units and units[-1][0] in VOWELS:
        pieces.append("h?")  # Fatima / Fatimah
    elif len(token) >= 5:
        pieces.append("e?")  # Marwan / Marouane
    return "".join(pieces)


def _article_before(token: str) -> str:
    """The article as it may be written before `token`: al-/el-, or assimilated to a sun letter."""
    options = ["[aeiu]l", "l"]
    start = next((sun for sun in SUN_STARTS if token.startswith(sun)), None)
    if start:
        # as-Sayyid, and Abdurahman where the doubled sun letter is written once.
        options += [f"[aeiu]{CONSONANTS.get(start, re.escape(start))}", "[aeiu]"]
    # Any spelling of the article written with a hyphen (ash-Sayyid, ad-Hamwi) is an article.
    options.append("[aeiu](?:sh|th|dh|[tdrzsnl])(?=[\\-‑'])")
    return f"(?:(?:{'|'.join(options)})[\\-\\s‑'_]?)"


def _split_abd(token: str) -> list[str]:
    """ "abdulrahman" → ["abd", "al", "rahman"]: the compound's article made a token of its own."""
    found = re.fullmatch(r"(abd)([aeiou][lrsdtzn])?(.{3,})", token)
    if not found or token in ("abdo", "abdu", "abdou"):
        return [token]
    head, article, rest = found.groups()
    return [head, "al", rest] if article else [head, rest]


def _latin_body(norm: str) -> str:
    tokens = [token for token in re.split(r"[\s\-‑_]+", norm) if token]
    expanded: list[str] = []
    for token in tokens:
        expanded.extend(_split_abd(token) if token.isalpha() else [token])
    pieces: list[str] = []
    article_next = False
    first = True
    for position, token in enumerate(expanded):
        if token in ARTICLES and position < len(expanded) - 1:
            article_next = True
            continue
        letters = token.replace("'", "")
        fuzzy = letters.isalpha() and letters.isascii() and len(letters) >= 2
        pattern = _latin_token(token) if fuzzy else re.escape(token)
        if first:
            # A leading article is optional whatever the alias says (Mansour ~ al-Mansour).
            pieces.append(f"{_article_before(letters)}?" if fuzzy else "")
            first = False
        else:
            article = _article_before(letters) if fuzzy else "(?:al|el)[\\-\\s‑]"
            pieces.append(f"{LATIN_SEPARATOR}(?:{article}{LATIN_SEPARATOR})?" if article_next or fuzzy else r"[\s\-‑]+")
        article_next = False
        pieces.append(pattern)
    return "".join(pieces)


WORD_START = r"(?<!\w)"

# How far first_chars enumerates a character range ([a-z]); a wider one gives up the prefilter.
FIRST_RANGE_LIMIT = 1024


def _first_of(items: Sequence[tuple[object, object]]) -> tuple[set[str] | None, bool]:
    """(characters a match of the sequence can start with, whether it can match the empty string);
    None when that cannot be told (a category such as \\w, a negated set, a back reference)."""
    found: set[str] = set()
    for op, arg in items:
        first, empty = _first_item(op, arg)
        if first is None:
            return None, False
        found |= first
        if not empty:
            return found, False
    return found, True


def _first_item(op: object, arg: Any) -> tuple[set[str] | None, bool]:
    if op is _sre.LITERAL:
        return {chr(arg)}, False
    if op is _sre.IN:
        chars: set[str] = set()
        for kind, value in arg:
            if kind is _sre.LITERAL:
                chars.add(chr(value))
            elif kind is _sre.RANGE and value[1] - value[0] < FIRST_RANGE_LIMIT:
                chars.update(map(chr, range(value[0], value[1] + 1)))
            else:
                return None, False  # NEGATE, CATEGORY, a wide range
        return chars, False
    if op is _sre.SUBPATTERN:
        _group, add_flags, _del_flags, sub = arg
        if add_flags & (_sre.SRE_FLAG_IGNORECASE | _sre.SRE_FLAG_LOCALE):
            return None, False
        return _first_of(sub.data)
    if op is _sre.ATOMIC_GROUP:
        return _first_of(arg.data)
    if op is _sre.BRANCH:
        chars, empty = set(), False
        for sub in arg[1]:
            first, sub_empty = _first_of(sub.data)
            if first is None:
                return None, False
            chars |= first
            empty = empty or sub_empty
        return chars, empty
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, _high, sub = arg
        first, empty = _first_of(sub.data)
        return (None, False) if first is None else (first, empty or low == 0)
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return set(), True  # zero-width: it may refuse a match, never lets one start elsewhere
    return None, False


def first_chars(pattern: str) -> frozenset[str] | None:
    """Every character a non-empty match of `pattern` (no flags) can start with, or None when that
    cannot be told or the pattern can match the empty string. A superset is always safe: it is only
    used to give up, before trying the pattern, at positions where no match can start."""
    try:
        parsed = _sre_parse(pattern)
        if parsed.state.flags & (_sre.SRE_FLAG_IGNORECASE | _sre.SRE_FLAG_LOCALE):
            return None
        first, empty = _first_of(parsed.data)
    except Exception:  # an opcode or layout of a later Python: no prefilter, same matches
        return None
    return None if first is None or empty else frozenset(first)


def _char_class(chars: Iterable[str]) -> str:
    return "[" + "".join(re.escape(char) for char in sorted(chars)) + "]"


@functools.lru_cache(maxsize=4096)
def _alternative(name: str, prefilter: bool) -> str:
    """The name's alternative in a gazetteer's regex (WORD_START left out, group "name" kept),
    preceded by the lookahead for its first characters where they can be told."""
    pattern = alias_pattern(name)
    if not pattern:
        return ""
    body = pattern.removeprefix(WORD_START)
    first = first_chars(body) if prefilter else None
    return body if first is None else f"(?={_char_class(first)}){body}"


def alias_pattern(alias: str) -> str:
    """A regex (over normalised text) matching the alias as a whole word, with the variants above.
    Group "name" covers the part to replace (article included, proclitic letters excluded)."""
    norm = normalise(alias).strip()
    if not norm:
        return ""
    if is_arabic(norm):
        return rf"{WORD_START}{ARABIC_PREFIX}(?P<name>{ARABIC_ARTICLE}{_arabic_body(norm)})(?!\w)"
    body = _latin_body(norm)
    if not body:
        return ""
    # A leading ʿ or ʾ (folded to ') belongs to the name: ʿAbd, ʾAmal.
    return rf"{WORD_START}(?P<name>'?{body})(?!\w)"


def _letters(text: str) -> str:
    return LETTERS_ONLY.sub("", text)


def _without_articles(norm: str) -> str:
    tokens = [t for t in re.split(r"[\s\-‑_']+", norm) if t]
    return "".join(t for t in tokens if t not in ARTICLES)


Key = TypeVar("Key")  # what a name stands for, chosen by the caller (a rule, an entry, the name itself)
TextId = TypeVar("TextId")  # what names a text given to Gazetteer.across (a segment's id)


@dataclass(frozen=True)
class Match(Generic[Key]):
    start: int  # offsets in the original text
    end: int
    key: Key  # what matched (a rule key chosen by the caller)


class Gazetteer(Generic[Key]):
    """Finds every occurrence of many names at once, in original-text offsets. `prefilter=False`
    leaves out the first-character lookaheads (same matches, slower: for tests that compare)."""

    def __init__(self, names: Iterable[tuple[str, Key]], *, prefilter: bool = True):
        self._prefilter = prefilter
        self._keys: list[Key] = []
        # Per name: the spellings that need no further evidence (the approved one, with and without
        # its articles), letters only; and whether it is in Latin script.
        self._exact: list[frozenset[str]] = []
        self._latin: list[bool] = []
        self._longest = 0
        # Names of two words or more: only they can be split by a segment boundary (see across).
        self._several_words: list[tuple[str, Key]] = []
        self._split_finder: Gazetteer[Key] | None = None
        parts: list[str] = []
        for name, key in sorted(names, key=lambda pair: -len(pair[0])):
            alternative = _alternative(name, prefilter)
            if not alternative:
                continue
            group = f"g{len(self._keys)}"
            parts.append(alternative.replace("(?P<name>", f"(?P<{group}>"))
            self._keys.append(key)
            norm = normalise(name).strip()
            self._exact.append(frozenset({_letters(norm), _letters(_without_articles(norm))}))
            self._latin.append(not is_arabic(norm))
            self._longest = max(self._longest, len(norm))
            if len(re.split(r"[\s\-‑_]+", norm)) > 1:
                self._several_words.append((name, key))
        # Every alternative starts at a word boundary: checked once per position, not once per name.
        self._regex = re.compile(WORD_START + "(?:" + "|".join(parts) + ")") if parts else None

    def __bool__(self) -> bool:
        return self._regex is not None

    def occurs_in(self, normalised: str) -> bool:
        """Whether any name may occur in already-normalised text. A name any subset of these names
        finds is found here too (same alternatives, tried at every position), so False is definitive."""
        return self._regex is not None and self._regex.search(normalised) is not None

    def _accepted(self, index: int, text: str, start: int, end: int, matched: str) -> bool:
        """A Latin variant that differs from the approved spelling is kept only where it cannot be an
        everyday word ("said" is not Saeed, "Said" is)."""
        if not self._latin[index]:
            return True
        letters = _letters(matched)
        if letters in self._exact[index] or _letters(_without_articles(matched)) in self._exact[index]:
            return True
        if re.search(r"[\s\-‑_]", matched.strip(" -‑_")) or len(letters) >= 6:
            return True
        first = next((char for char in text[start:end] if char.isalpha()), "")
        return first.isupper()

    def find(self, text: str, normalised: tuple[str, list[int]] | None = None) -> Iterator[Match[Key]]:
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
            if end <= start:
                continue
            index = int(group[1:])
            # The end takes in what normalising dropped right after the last letter (tashkeel, tatweel,
            # an invisible mark): nothing of the name is left showing.
            begin, finish = offsets[start], offsets[end] if end < len(offsets) else len(text)
            if self._accepted(index, text, begin, finish, norm[start:end]):
                yield Match(begin, finish, self._keys[index])

    def across(self, texts: Sequence[tuple[TextId, str]]) -> Iterator[tuple[TextId, int, int, Key]]:
        """Names split by the boundary between consecutive texts (segments in order), as
        (text id, start, end, key) for each side: "… my friend Tareq" | "Mansour came …" gives the
        end of the first text and the start of the second. Names wholly inside one text are not
        reported here (find() reports them)."""
        if self._regex is None or len(texts) < 2 or not self._several_words:
            return
        yield from self._splits()._boundary_matches(texts)

    def _splits(self) -> Gazetteer[Key]:
        """The gazetteer of the names of two words or more, which across() looks for."""
        if self._split_finder is None:
            self._split_finder = Gazetteer(self._several_words, prefilter=self._prefilter)
        return self._split_finder

    def crossing_candidates(
        self, texts: Sequence[str], normalised: Sequence[tuple[str, list[int]]] | None = None
    ) -> list[int]:
        """The positions i at which a name may be split between texts[i] and texts[i + 1]. For any
        other pair, across() reports nothing, here or in a gazetteer of any subset of these names: its
        window onto the pair lies inside this one's (a longer longest name widens it, up to the same
        whitespace), and this one's regex has every alternative of the subset's. `normalised` (from
        normalise_with_map, one per text) spares normalising each pair's window again."""
        if self._regex is None or len(texts) < 2 or not self._several_words:
            return []
        finder = self._splits()
        if finder._regex is None:
            return []
        if normalised is None:
            normalised = [normalise_with_map(text) for text in texts]
        found: list[int] = []
        for position in range(len(texts) - 1):
            window = finder._window(texts[position], texts[position + 1])
            if window is None:
                continue
            cut, head_end = window
            tail, head = texts[position][cut:], texts[position + 1][:head_end]
            if ASCII_PATH_DIFFERS.isdisjoint(tail) and ASCII_PATH_DIFFERS.isdisjoint(head):
                # Normalising is character by character (the ASCII fast path agrees but for these).
                left_norm, left_offsets = normalised[position]
                right_norm, right_offsets = normalised[position + 1]
                joined = (
                    left_norm[bisect.bisect_left(left_offsets, cut) :]
                    + " "
                    + right_norm[: bisect.bisect_left(right_offsets, head_end)]
                )
            else:
                joined = normalise_with_map(tail + " " + head)[0]
            if finder._regex.search(joined) is not None:
                found.append(position)
        return found

    def _window(self, left: str, right: str) -> tuple[int, int] | None:
        """Where a name split between `left` and `right` can lie: (start in left, end in right), each
        at whitespace or the text's edge; None when either side is blank."""
        if not left.strip() or not right.strip():
            return None
        reach = 2 * self._longest + 24
        cut = max(0, len(left) - reach)
        while cut > 0 and not left[cut - 1].isspace():
            cut -= 1
        head_end = min(len(right), reach)
        while head_end < len(right) and not right[head_end].isspace():
            head_end += 1
        return cut, head_end

    def _boundary_matches(self, texts: Sequence[tuple[TextId, str]]) -> Iterator[tuple[TextId, int, int, Key]]:
        for (left_id, left), (right_id, right) in itertools.pairwise(texts):
            window = self._window(left, right)
            if window is None:
                continue
            cut, head_end = window
            tail, head = left[cut:], right[:head_end]
            joined = tail + " " + head
            boundary = len(tail)
            for found in self.find(joined):
                if found.start < boundary and found.end > boundary + 1:
                    yield left_id, cut + found.start, len(left), found.key
                    yield right_id, 0, found.end - boundary - 1, found.key
