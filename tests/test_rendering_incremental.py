"""The incremental rebuild (digest-compared rows, shared pass-through words, one name pre-check for all
tiers) must store exactly what a from-scratch render computes, after every kind of change."""

from __future__ import annotations

import random

import pytest

from archive import services
from archive.gate import RenderedWord, render
from archive.gate.inputs import load_inputs
from archive.gate.store import _words_key, rendering_from_stored, resolve_identities
from archive.gate.types import SourceWords
from archive.models import Interview, RenderedInterview, Segment
from archive.textnorm import Gazetteer, normalise_with_map

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

NAME = "Widad Qannout"


def _words(text: str, start: float) -> list[dict]:
    return [
        {"w": w, "s": start + i * 0.5, "e": start + i * 0.5 + 0.4, "p": 0.9, "extra": "x"}
        for i, w in enumerate(text.split())
    ]


def _interview() -> Interview:
    collection = services.collection_get_or_create(slug="incremental", title="Incremental")
    narrator = services.narrator_create(
        collection=collection, legal_name=NAME, anonymity="anonymous", descriptor="a teacher", aliases=["Um Samir"]
    )
    interview = services.interview_create(
        collection=collection, title="Rebuilds", narrators=[narrator], access_level="public", status="published"
    )
    services.consent_record(
        narrator=narrator, interview=interview, research_access=True, publication=True, public_web=True
    )
    texts = [
        "We baked bread in the cellar of the old school.",
        f"My name is {NAME} and the checkpoint was closed.",
        "ذهبنا بحمص إلى السوق مع أم سمير قبل المغرب.",
        "The convoy reached Waer on the third day.",
        "Nothing else happened that week.",
    ]
    services.transcript_store(
        interview=interview,
        source="manual",
        segments=[
            services.SegmentInput(
                start=i * 5.0, end=i * 5.0 + 4.5, text=t, words=_words(t, i * 5.0), role="narrator", narrator=narrator
            )
            for i, t in enumerate(texts)
        ],
    )
    interview.refresh_from_db()
    return interview


def _assert_stored_equals_fresh(interview: Interview) -> None:
    interview.refresh_from_db()
    inputs = load_inputs(interview)
    stored = {r.tier: r for r in RenderedInterview.objects.filter(interview=interview)}
    assert stored, "no rendering stored"
    for tier, row in stored.items():
        fresh = render(interview, tier, inputs)
        kept = resolve_identities(rendering_from_stored(row))
        assert kept.segments == fresh.segments, tier
        assert [tuple(s.words) for s in kept.segments] == [tuple(s.words) for s in fresh.segments], tier
        assert (kept.title, kept.audio_spans, kept.redaction_categories) == (
            fresh.title,
            fresh.audio_spans,
            fresh.redaction_categories,
        ), tier
        assert all("extra" not in w for s in row.segments.all() for w in s.words)


def test_it_stores_what_a_fresh_render_computes_after_every_kind_of_change():
    interview = _interview()
    _assert_stored_equals_fresh(interview)

    segments = {s.index: s for s in Segment.objects.filter(transcript__interview=interview)}
    services.redaction_add_span(
        segment=segments[0], start_char=3, end_char=8, category="other", visible_from="researcher"
    )
    _assert_stored_equals_fresh(interview)

    services.redact_phrase(phrase="Waer", category="place", visible_from="staff", replacement="a district")
    _assert_stored_equals_fresh(interview)
    public = rendering_from_stored(RenderedInterview.objects.get(interview=interview, tier="public"))
    assert "Waer" not in public.text and "a district" in public.text
    assert NAME not in public.text and "Um Samir" not in public.text

    services.redact_phrase(phrase="حمص", category="place", visible_from="researcher")
    _assert_stored_equals_fresh(interview)

    services.segment_edit(segment=segments[4], text="Nothing at all happened that week.", actor=None)
    _assert_stored_equals_fresh(interview)
    # Without word times: a second redaction changes only the text of an already redacted row.
    segments[4].refresh_from_db()
    for start, end in ((0, 7), (11, 19)):
        services.redaction_add_span(segment=segments[4], start_char=start, end_char=end, visible_from="staff")
        _assert_stored_equals_fresh(interview)

    redaction = services.redaction_add_span(
        segment=segments[3], start_char=4, end_char=10, category="other", visible_from="staff"
    )
    _assert_stored_equals_fresh(interview)
    services.redaction_decide(redaction=redaction, approve=False)
    _assert_stored_equals_fresh(interview)
    staff = rendering_from_stored(RenderedInterview.objects.get(interview=interview, tier="researcher"))
    assert "convoy" in staff.segments[3].text

    services.segment_assign_speaker(segment=segments[2], role="interviewer", all_with_same_label=False)
    _assert_stored_equals_fresh(interview)


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
