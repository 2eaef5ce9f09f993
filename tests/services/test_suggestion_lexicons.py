"""Suggestions from the offline lexicons: names, places and spoken contact details, each mapped to
the words' times, with no network at run time."""

from __future__ import annotations

import socket

import pytest

from archive.lexicons import cross_script_aliases, default_detector
from archive.suggestions import Suggester
from benchmarks import suggestions as benchmark
from tests.clean_corpus import sentences


@pytest.fixture(scope="module")
def suggester():
    return Suggester([], default_detector())


def found(suggester, text):
    return [(text[s.start : s.end], s.category, s.source) for s in suggester.suggest(text)]


def test_it_loads_and_transliterates_without_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    default_detector.cache_clear()
    cross_script_aliases.cache_clear()
    detector = default_detector()
    assert detector.names.given_ar["طارق"] > 100
    assert ("داريا",) in detector.places.forms
    assert cross_script_aliases("طارق منصور")[0] == "Tarek Mansour"
    assert cross_script_aliases("Tareq Mansour") == ("طارق منصور",)


def test_it_finds_names_places_and_spoken_numbers(suggester):
    assert found(suggester, "My friend Khaled al-Hamwi drove us from Homs to Talkalakh.") == [
        ("Khaled al-Hamwi", "name", "names"),
        ("Talkalakh", "place", "places"),
    ]
    assert found(suggester, "اتصلوا على صفر تسعة أربعة أربعة واحد اتنين تلاتة أربعة خمسة ستة") == [
        ("صفر تسعة أربعة أربعة واحد اتنين تلاتة أربعة خمسة ستة", "contact", "spoken-phone")
    ]
    assert found(suggester, "Call oh nine three three, seven six five, four three two tonight") == [
        ("oh nine three three, seven six five, four three two", "contact", "spoken-phone")
    ]
    # Everyday words that are names too need a cue.
    assert found(suggester, "كان الأمل كل ما بقي لنا ونور الشمس لا يدخل") == []
    assert found(suggester, "Hope was all we had left, and May was hard.") == []


def test_it_maps_every_suggestion_to_word_times(suggester):
    text = "ثم جاء طارق منصور من داريا، رقمه ٠٩٣٣ ٧٦٥ ٤٣٢"
    words = benchmark.words_of(text, start=10.0)
    result = suggester.suggest(text, "ar", words)
    assert [text[s.start : s.end] for s in result] == ["طارق منصور", "داريا", "٠٩٣٣ ٧٦٥ ٤٣٢"]
    assert [(s.start_time, s.end_time) for s in result] == [
        (pytest.approx(10.8), pytest.approx(11.55)),
        (pytest.approx(12.0), pytest.approx(12.35)),
        (pytest.approx(12.8), pytest.approx(13.95)),
    ]


def test_it_meets_the_benchmark_goals():
    figures = benchmark.run()
    for category in ("name", "place", "contact"):
        assert figures[category]["recall"] >= 0.90, (category, figures["missed"])
        assert figures[category]["precision"] >= 0.60, (category, figures["false_positives"])
    assert figures["words_mapped"] == 1.0


def test_it_rarely_suggests_on_clean_text(suggester):
    lines = sentences("en") + sentences("ar")
    words = sum(len(line.split()) for line in lines)
    hits = [
        (line[s.start : s.end], s.source)
        for line in lines
        for s in suggester.suggest(line)
        if s.source in ("names", "places", "spoken-phone", "spoken-email", "spoken-date")
    ]
    assert len(hits) <= words / 1000, hits
