"""The incremental rebuild (digest-compared rows, shared pass-through words, one name pre-check for all
tiers) must store exactly what a from-scratch render computes, after every kind of change."""

from __future__ import annotations

import random

import pytest

from archive import services
from archive.gate import RenderedWord
from archive.gate.store import _words_key, rendering_from_stored
from archive.gate.types import SourceWords
from archive.models import RenderedInterview, Segment
from archive.textnorm import Gazetteer, normalise_with_map
from tests.builders import REBUILDS_NARRATOR, assert_stored_equals_fresh, rebuilds_interview

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_stores_what_a_fresh_render_computes_after_every_kind_of_change():
    interview = rebuilds_interview()
    assert_stored_equals_fresh(interview)

    segments = {s.index: s for s in Segment.objects.filter(transcript__interview=interview)}
    services.redaction_add_span(
        segment=segments[0], start_char=3, end_char=8, category="other", visible_from="researcher"
    )
    assert_stored_equals_fresh(interview)

    services.redact_phrase(phrase="Waer", category="place", visible_from="staff", replacement="a district")
    assert_stored_equals_fresh(interview)
    public = rendering_from_stored(RenderedInterview.objects.get(interview=interview, tier="public"))
    assert "Waer" not in public.text and "a district" in public.text
    assert REBUILDS_NARRATOR not in public.text and "Um Samir" not in public.text

    services.redact_phrase(phrase="حمص", category="place", visible_from="researcher")
    assert_stored_equals_fresh(interview)

    services.segment_edit(segment=segments[4], text="Nothing at all happened that week.", actor=None)
    assert_stored_equals_fresh(interview)
    # Without word times: a second redaction changes only the text of an already redacted row.
    segments[4].refresh_from_db()
    for start, end in ((0, 7), (11, 19)):
        services.redaction_add_span(segment=segments[4], start_char=start, end_char=end, visible_from="staff")
        assert_stored_equals_fresh(interview)

    redaction = services.redaction_add_span(
        segment=segments[3], start_char=4, end_char=10, category="other", visible_from="staff"
    )
    assert_stored_equals_fresh(interview)
    services.redaction_decide(redaction=redaction, approve=False)
    assert_stored_equals_fresh(interview)
    staff = rendering_from_stored(RenderedInterview.objects.get(interview=interview, tier="researcher"))
    assert "convoy" in staff.segments[3].text

    services.segment_assign_speaker(segment=segments[2], role="interviewer", all_with_same_label=False)
    assert_stored_equals_fresh(interview)


def test_source_words_decode_lazily_and_compare_as_their_words():
    words = SourceWords('[{"w": "bread", "s": 0.0, "e": 0.4, "p": 0.9, "speaker": "Nadia"}]')
    assert words._words is None
    expected = (RenderedWord("bread", 0.0, 0.4, 0.9),)
    assert words == expected and expected == words and hash(words) == hash(expected)
    assert list(words) == list(expected) and len(words) == 1 and words[0].text == "bread"
    assert SourceWords("") == () and SourceWords("null") == ()


def test_words_digests_never_confuse_sequences_that_share_an_address():
    # The cache keeps each sequence alive, so a freed tuple's id cannot be reused by another one.
    cache: dict = {}
    seen = {}
    for n in range(200):
        words = (RenderedWord(f"w{n}", float(n), n + 0.5),)
        key = _words_key(words, cache)
        assert seen.setdefault(key, n) == n
        del words
    assert len(seen) == 200


def test_one_search_over_every_tiers_names_finds_whatever_any_subset_finds():
    """The renderer skips a segment for every tier when the union of all tiers' names does not occur
    in it; that is sound only if a subset's match implies the union's."""
    rng = random.Random(7)
    names = ["Waer", "al-Waer", "حمص", "الوعر", "أم سمير", "Qasr al-Ward Street", "Ward", "Tareq", "Abu Fadi", "فادي"]
    filler = ["the", "street", "و", "في", "road", "بال", "-", "al", "qasr", "ward", "سمير", "أبو"]
    union = Gazetteer((name, None) for name in names)
    for _round in range(3000):
        subset = rng.sample(names, rng.randint(1, len(names)))
        parts = [rng.choice(filler + names + [f"ب{names[2]}", f"و{names[3]}"]) for _ in range(rng.randint(1, 8))]
        text = " ".join(parts) if rng.random() < 0.7 else "".join(parts)
        if any(Gazetteer((name, None) for name in subset).find(text)):
            assert union.occurs_in(normalise_with_map(text)[0]), (subset, text)
