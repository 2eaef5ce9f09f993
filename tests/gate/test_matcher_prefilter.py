"""The matcher's prefilters never change what it finds.

- Each name's alternative in a gazetteer's regex is preceded by a lookahead for the characters a match
  of it can start with (textnorm.first_chars): a gazetteer built with it finds exactly what one built
  without it finds, in any text.
- Gazetteer.crossing_candidates names every boundary between two texts at which across() finds a
  split name, with the same names or any subset of them (each tier's redactor searches a subset), so
  the renderer looks for split names only there.
Texts are drawn from the pieces that make matching hard: Arabic and Latin spellings of the names
with their variants (articles, proclitics, kunyas, transliterations, capitals), diacritics and
tatweel, invisible marks, digits in Arabic-Indic and Persian forms, names split by punctuation,
line breaks and segment boundaries, the backtick that folds differently on the ASCII path.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.textnorm import WORD_START, Gazetteer, alias_pattern, first_chars, normalise_with_map

NAMES = [
    "Tareq Mansour",
    "Saeed",
    "al-Waer",
    "Umm Yasser",
    "Abdulrahman al-Hamwi",
    "Ḫālid",
    "Fatima",
    "Bench Narrator Name",
    "a.b@example.org",
    "0944 123 456",
    "old road",
    "the crossing",
    "أبو فادي",
    "عبد الرحمن",
    "الوعر",
    "حمص",
    "طارق منصور",
    "السوق القديم",
    "سعيد",
    "Qasr al-Ward Street",
]

# Spellings of the names and their parts as people write them, and the words around them.
VARIANTS = [
    "Tareq",
    "Tariq",
    "TAREK",
    "tareq",
    "Mansour",
    "al-Mansour",
    "el Mansur",
    "Mansoor",
    "Said",
    "said",
    "Saʿīd",
    "Sa`id",
    "Saeed",
    "Waer",
    "al Wa'er",
    "el-Waer",
    "Umm",
    "Yasser",
    "Yaser",
    "Abdel Rahman",
    "Abdurrahman",
    "Abd al-Rahman",
    "Hamwi",
    "al-Hamawi",
    "Khalid",
    "Khaled",
    "Halid",
    "Fatimah",
    "Fatma",
    "Bench",
    "Narrator",
    "Name",
    "a.b@example.org",
    "0944",
    "123",
    "456",
    "٠٩٤٤",
    "۱۲۳",
    "٤٥٦",
    "old",
    "road",
    "the",
    "crossing",
    "Qasr",
    "Ward",
    "Street",
    "أبو",
    "ابو",
    "أبي",
    "أبا",
    "فادي",
    "فادى",
    "عبد",
    "الرحمن",
    "عبدالرحمن",
    "لعبد",
    "الوعر",
    "والوعر",
    "بالوعر",
    "للوعر",
    "حمص",
    "بحمص",
    "طارق",
    "طارقاً",
    "طـارق",
    "طَارِق",
    "منصور",
    "المنصور",
    "السوق",
    "القديم",
    "سعيد",
    "وسعيد",
    "يا سعيد",
    "my",
    "brother",
    "and",
    "in",
    "we",
    "came",
    "from",
    "نحن",
    "في",
    "مع",
    "الى",
]
SEPARATORS = [" ", " ", " ", ", ", "-", " - ", "\n", ". ", "\u200b", "\u200f", "_", "،", "‑", "  ", "'", "`"]


def _texts(max_pieces: int = 10) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(VARIANTS), st.sampled_from(NAMES), st.text(max_size=3))
    return st.lists(st.tuples(piece, st.sampled_from(SEPARATORS)), max_size=max_pieces).map(
        lambda pairs: "".join(word + separator for word, separator in pairs)
    )


def _spelled(name: str) -> st.SearchStrategy[str]:
    """The name as written, or a variant of one of its words, or the name with a variant for a word."""
    words = name.split()
    return st.one_of(
        st.just(name),
        st.sampled_from(VARIANTS),
        st.tuples(st.integers(0, len(words) - 1), st.sampled_from(VARIANTS)).map(
            lambda change: " ".join(change[1] if i == change[0] else w for i, w in enumerate(words))
        ),
    )


def _found(gazetteer: Gazetteer, text: str) -> list[tuple[int, int, object]]:
    return [(m.start, m.end, m.key) for m in gazetteer.find(text)]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True), text=_texts())
@example(names=["Tareq Mansour"], text="my brother Tareq al-Mansour came")
@example(names=["أبو فادي"], text="ذهبت مع ابي فادى إلى السوق")
@example(names=["Saeed"], text="Saʿīd said Sa`id")
def test_the_first_character_prefilter_finds_exactly_what_the_matcher_finds(names, text):
    keyed = [(name, index) for index, name in enumerate(names)]
    assert _found(Gazetteer(keyed), text) == _found(Gazetteer(keyed, prefilter=False), text)
    normalised = normalise_with_map(text)[0]
    assert Gazetteer(keyed).occurs_in(normalised) == Gazetteer(keyed, prefilter=False).occurs_in(normalised)


@st.composite
def _name_in_text(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(NAMES))
    before, after = draw(_texts(4)), draw(_texts(4))
    return name, before + draw(st.sampled_from(SEPARATORS)) + draw(_spelled(name)) + " " + after


@settings(max_examples=400, deadline=None)
@given(case=_name_in_text())
def test_every_match_starts_with_one_of_the_first_characters(case):
    name, text = case
    body = alias_pattern(name).removeprefix(WORD_START)
    first = first_chars(body)
    assert first is not None  # every name's pattern has a prefilter
    normalised = normalise_with_map(text)[0]
    pattern = re.compile(body)
    for position in range(len(normalised)):
        if pattern.match(normalised, position):
            assert normalised[position] in first


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=6, unique=True), case=_name_in_text())
def test_the_prefilter_finds_exactly_what_the_matcher_finds_around_a_name(names, case):
    name, text = case
    keyed = [(each, index) for index, each in enumerate(dict.fromkeys([name, *names]))]
    assert _found(Gazetteer(keyed), text) == _found(Gazetteer(keyed, prefilter=False), text)


def test_first_chars_gives_up_where_it_cannot_tell():
    assert first_chars(r"\w+") is None
    assert first_chars("[^a]b") is None
    assert first_chars("a?") is None  # may match the empty string
    assert first_chars("(?i)ab") is None
    assert first_chars("(?:ab|c)d") == frozenset("ac")
    assert first_chars(r"(?<!\w)x?(?=y)[yz]") == frozenset("xyz")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=8, unique=True),
    subset=st.lists(st.integers(min_value=0, max_value=7), max_size=8),
    texts=st.lists(_texts(6), min_size=2, max_size=6),
)
@example(names=["Tareq Mansour", "Saeed"], subset=[0], texts=["my friend Tareq", "Mansour came"])
@example(names=["طارق منصور"], subset=[0], texts=["صديقي طارق", "منصور جاء"])
@example(names=["Tareq Mansour"], subset=[0], texts=["é Tareq", "Man`sour"])
def test_every_split_name_lies_at_a_crossing_candidate(names, subset, texts):
    keyed = [(name, index) for index, name in enumerate(names)]
    candidates = set(Gazetteer(keyed).crossing_candidates(texts))
    assert candidates == set(Gazetteer(keyed).crossing_candidates(texts, [normalise_with_map(t) for t in texts]))
    chosen = [pair for index, pair in enumerate(keyed) if index in subset] or keyed
    for gazetteer in (Gazetteer(keyed, prefilter=False), Gazetteer(chosen, prefilter=False), Gazetteer(chosen)):
        for text_id, _start, _end, _key in gazetteer.across(list(enumerate(texts))):
            # Each split name is reported on both sides; the left side's position is the boundary.
            assert text_id in candidates or text_id - 1 in candidates
        for position in range(len(texts) - 1):
            pair = [(position, texts[position]), (position + 1, texts[position + 1])]
            if any(True for _ in gazetteer.across(pair)):
                assert position in candidates


def test_a_name_split_by_a_boundary_is_a_candidate_and_other_boundaries_are_not():
    gazetteer = Gazetteer([("Tareq Mansour", "rule")])
    texts = ["We met at noon.", "My friend Tareq", "Mansour came later.", "Nothing here."]
    assert gazetteer.crossing_candidates(texts) == [1]
    assert list(gazetteer.across(list(enumerate(texts)))) == [(1, 10, 15, "rule"), (2, 0, 7, "rule")]
