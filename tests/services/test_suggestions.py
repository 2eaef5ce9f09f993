"""PII suggestions: the pure detectors, and the service that stores them as suggested redactions."""

from __future__ import annotations

import time

import pytest

from archive import services
from archive.gate import rendering_for
from archive.models import Redaction
from archive.services import redaction_add_phrase_span, redaction_decide
from archive.services.suggestions import suggestions_generate
from archive.suggestions import GazetteerName, Suggester, suggest


def found(text: str, names=(), language: str = "") -> list[tuple[str, str, str]]:
    return [(text[s.start : s.end], s.category, s.source) for s in suggest(text, language, names)]


def test_it_finds_gazetteer_names_through_arabic_clitics_and_diacritics():
    names = [GazetteerName("حمص", "place"), GazetteerName("الوعر", "place"), GazetteerName("al-Waer", "place")]
    assert found("ذهبت بحمص ثم رجعت لحمص", names) == [("حمص", "place", "gazetteer"), ("حمص", "place", "gazetteer")]
    assert found("كل عائلة في الْوَعْر تنتظر، وبالوعر أيضاً", names) == [
        ("الْوَعْر", "place", "gazetteer"),
        ("الوعر", "place", "gazetteer"),
    ]
    assert found("the detainees from Waer and from al-Waer", names) == [
        ("Waer", "place", "gazetteer"),
        ("al-Waer", "place", "gazetteer"),
    ]
    assert found("Homsi bread", [GazetteerName("Homs", "place")]) == []  # whole words only


def test_it_finds_phone_numbers_in_arabic_indic_digits_and_several_countries():
    assert found("رقمي ٠٩٤٤ ١٢٣ ٤٥٦ على واتساب") == [("٠٩٤٤ ١٢٣ ٤٥٦", "contact", "phone")]
    assert found("call +963 944 123 456, or 03 123 456 in Beirut, or 0532 123 45 67 in Gaziantep") == [
        ("+963 944 123 456", "contact", "phone"),
        ("03 123 456", "contact", "phone"),
        ("0532 123 45 67", "contact", "phone"),
    ]
    assert found("٠٠٩٦٣٩٣٣٧٦٥٤٣٢") == [("٠٠٩٦٣٩٣٣٧٦٥٤٣٢", "contact", "phone")]


def test_it_finds_emails_dates_and_id_numbers():
    assert found("write to rima.h@example.org today") == [("rima.h@example.org", "contact", "email")]
    assert found("arrested on 12 March 2013 and again on March 5, 2014; born 1985-02-03") == [
        ("12 March 2013", "date", "date"),
        ("March 5, 2014", "date", "date"),
        ("1985-02-03", "date", "date"),
    ]
    assert found("في ١٢ آذار ٢٠١٣ وفي 3/4/2013 وفي كانون الثاني 2014") == [
        ("١٢ آذار ٢٠١٣", "date", "date"),
        ("3/4/2013", "date", "date"),
        ("كانون الثاني 2014", "date", "date"),
    ]
    assert found("ID 01234567890, passport N1234567") == [
        ("01234567890", "identifier", "identifier"),
        ("N1234567", "identifier", "identifier"),
    ]
    assert found("in 2013 there were 40 people") == []  # a bare year or a count is not suggested


def test_it_finds_kin_terms_with_names():
    assert found("People here know Abu Kamal and Umm Omar, and Abu Fadi al-Sukkari.") == [
        ("Abu Kamal", "name", "kin"),
        ("Umm Omar", "name", "kin"),
        ("Abu Fadi al-Sukkari", "name", "kin"),
    ]
    assert found("My brother Tareq drives a pickup.") == [("Tareq", "relative", "kin")]
    assert found("جاء أبو فادي السكري وأم عمر، وأخي محمد") == [
        ("أبو فادي السكري", "name", "kin"),
        ("أم عمر", "name", "kin"),
        ("محمد", "relative", "kin"),
    ]
    assert found("هل تريد شاي أم القهوة؟ عمي جاء") == []  # "or", and a kin term without a name


def test_it_prefers_the_gazetteer_when_detectors_overlap():
    names = [GazetteerName("Abu Fadi al-Sukkari", "name")]
    assert found("Abu Fadi al-Sukkari was there", names) == [("Abu Fadi al-Sukkari", "name", "gazetteer")]


def test_it_suggests_over_twenty_thousand_words_quickly():
    text = "My brother Tareq lives in Waer, call 0944 123 456 or write to a.b@example.org on 12 March 2013. " * 20
    texts = [text] * 100  # ~36,000 words
    suggester = Suggester([GazetteerName("al-Waer", "place"), GazetteerName("الوعر", "place")])
    began = time.perf_counter()
    total = sum(len(suggester.suggest(t)) for t in texts)
    assert total == 100 * 20 * 5
    assert time.perf_counter() - began < 4.0


# The service -------------------------------------------------------------------------------------


def _interview_with(demo, *texts: str, narrator=None):
    interview = services.interview_create(
        collection=demo.collection,
        title="Suggestions test",
        access_level="public",
        status="published",
        narrators=[narrator] if narrator else [],
    )
    services.transcript_store(
        interview=interview,
        segments=[
            services.SegmentInput(
                start=i * 5.0, end=i * 5.0 + 4, text=t, role="narrator" if narrator else "other", narrator=narrator
            )
            for i, t in enumerate(texts)
        ],
        source="manual",
    )
    if narrator:
        services.consent_record(
            narrator=narrator, interview=interview, research_access=True, publication=True, public_web=True
        )
    return interview


def test_it_stores_suggestions_that_change_nothing_until_approved(demo):
    narrator = services.narrator_create(
        collection=demo.collection, legal_name="Walid Zaher", anonymity="anonymous", descriptor="a baker"
    )
    interview = _interview_with(
        demo,
        "Walid Zaher here. Call me on ٠٩٤٤ ١٢٣ ٤٥٦ or write to walid.z@example.org.",
        "ولدت في ١٢ آذار ١٩٨٥ بحمص، وأخي طارق منصور اعتقل.",
        "Nothing to see in this sentence.",
        narrator=narrator,
    )
    staff_before = rendering_for(interview, "staff").text
    rows = suggestions_generate(interview=interview)
    summary = [(r.segment.index, r.source, r.category, r.status, r.visible_from, r.kind) for r in rows]
    # The narrator's own name is already hidden by their anonymity: not suggested. طارق منصور is a
    # known, redacted entity alias: already hidden, not suggested.
    # Contact details are applied at once at custodian visibility (as imports do); the rest wait.
    assert summary == [
        (0, "phone", "contact", "approved", "custodian", "span"),
        (0, "email", "contact", "approved", "custodian", "span"),
        (1, "date", "date", "suggested", "staff", "span"),
    ]
    staff_after = rendering_for(interview, "staff").text
    assert "٠٩٤٤ ١٢٣ ٤٥٦" not in staff_after and "walid.z@example.org" not in staff_after
    assert "Call me on [contact withheld] or write to [contact withheld]." in staff_after
    assert staff_after.replace("Call me on [contact withheld] or write to [contact withheld].", "") == (
        staff_before.replace("Call me on ٠٩٤٤ ١٢٣ ٤٥٦ or write to walid.z@example.org.", "")
    )
    assert "١٢ آذار ١٩٨٥" in rendering_for(interview, "public").text  # the date waits for a decision
    redaction_decide(redaction=rows[2], approve=True)
    assert "١٢ آذار ١٩٨٥" not in rendering_for(interview, "public").text
    assert "٠٩٤٤ ١٢٣ ٤٥٦" in rendering_for(interview, "custodian").text


def test_it_suggests_names_from_earlier_confirmed_span_redactions(demo):
    first = _interview_with(demo, "We met at the Zaytoun bakery every morning.")
    second = _interview_with(demo, "The Zaytoun bakery was shelled in May.")
    redaction_add_phrase_span(interview=first, phrase="Zaytoun bakery", category="place", visible_from="staff")
    rows = suggestions_generate(interview=second)
    assert [(r.source, r.category, r.start_char, r.end_char) for r in rows] == [("gazetteer", "place", 4, 18)]


def test_it_skips_what_is_already_decided_or_hidden_and_never_repeats(demo):
    journalist = demo.interview("facebook-journalist")
    rows = suggestions_generate(interview=journalist)
    # al-Waer is an entity the archive knows (not redacted): both mentions are suggested, as places,
    # with the entity's generalisation as replacement.
    assert sorted((r.segment.index, r.source, r.category, r.replacement_kind) for r in rows) == [
        (0, "gazetteer", "place", "generalisation"),
        (2, "gazetteer", "place", "generalisation"),
    ]
    assert rendering_for(journalist, "public").text.count("Waer") == 2
    assert suggestions_generate(interview=journalist) == []  # nothing new the second time
    redaction_decide(redaction=rows[0], approve=True)
    redaction_decide(redaction=rows[1], approve=False)
    public = rendering_for(journalist, "public").text
    assert "detainees from a district of Homs?" in public
    assert "wants al-Waer to accept" in public
    assert suggestions_generate(interview=journalist) == []  # the rejected one is not suggested again


@pytest.mark.parametrize("key", ["skype-photographer", "whatsapp-teacher"])
def test_it_never_suggests_over_a_narrators_hidden_identity(demo, key):
    interview = demo.interview(key)
    rows = suggestions_generate(interview=interview)
    public = rendering_for(interview, "public")
    for row in rows:
        assert row.status == Redaction.Status.SUGGESTED
        assert row.kind == Redaction.Kind.SPAN
    assert public.text == rendering_for(interview, "public").text
