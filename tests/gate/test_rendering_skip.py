"""A tier whose inputs did not change keeps its stored rendering (it only takes the new stamp); every
input of render() moves the tier's input digest, so no change is ever mistaken for none."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable

import pytest

from archive import services
from archive.gate import digests, rendering_for
from archive.gate.inputs import Inputs, load_inputs
from archive.gate.rules import Rule
from archive.gate.stamps import policy_stamp
from archive.models import TIERS, Interview, RenderedInterview, Segment
from tests.builders import assert_stored_equals_fresh, rebuilds_interview

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

store_module = sys.modules["archive.gate.store"]


@pytest.fixture
def rendered(monkeypatch) -> list[str]:
    """The tiers render() is called for by materialise, in order."""
    calls: list[str] = []
    real = store_module.render

    def counting(interview, tier, *args, **kwargs):
        calls.append(tier)
        return real(interview, tier, *args, **kwargs)

    monkeypatch.setattr(store_module, "render", counting)
    return calls


def test_only_the_tiers_whose_inputs_changed_are_rendered_again(rendered):
    interview = rebuilds_interview()
    assert set(RenderedInterview.objects.filter(interview=interview).values_list("tier", flat=True)) == set(TIERS)
    segments = {s.index: s for s in Segment.objects.filter(transcript__interview=interview)}
    built = dict(RenderedInterview.objects.filter(interview=interview).values_list("tier", "built_at"))

    rendered.clear()
    services.redaction_add_span(segment=segments[0], start_char=3, end_char=8, visible_from="researcher")
    assert rendered == ["public"]  # hidden from the public only: the other tiers see the same as before
    assert_stored_equals_fresh(interview)
    rows = {row.tier: row for row in RenderedInterview.objects.filter(interview=interview)}
    assert {row.policy_version for row in rows.values()} == {policy_stamp(interview)}
    assert all(rows[tier].built_at > built[tier] for tier in TIERS)  # each one stamped now, as before
    assert "[detail withheld]" not in rendering_for(interview, "researcher").segments[0].text

    rendered.clear()
    services.redaction_add_span(segment=segments[1], start_char=0, end_char=2, visible_from="custodian")
    assert rendered == ["public", "researcher", "staff"]
    assert_stored_equals_fresh(interview)

    rendered.clear()
    services.interview_update(interview=interview, title="Rebuilds again")
    assert rendered == list(TIERS)  # the title is every tier's
    assert_stored_equals_fresh(interview)


def test_a_rendering_stored_before_digests_is_rendered_again(rendered):
    interview = rebuilds_interview()
    for row in RenderedInterview.objects.filter(interview=interview):
        row.metadata.pop(store_module.INPUTS_KEY)
        row.save(update_fields=["metadata"])
    rendered.clear()
    services.interview_touch(interview)
    assert rendered == list(TIERS)
    assert_stored_equals_fresh(interview)


def _loaded() -> tuple[Interview, Inputs]:
    interview = rebuilds_interview()
    interview.refresh_from_db()
    return interview, load_inputs(interview)


def _segment(inputs: Inputs, index: int = 1) -> Segment:
    return inputs.segments[index]


CHANGES: dict[str, Callable[[Inputs], None]] = {
    "segment text": lambda i: setattr(_segment(i), "raw_text", _segment(i).raw_text + "!"),
    "segment words": lambda i: setattr(_segment(i), "words_source", _segment(i).words_source.replace("0.9", "0.8")),
    "segment speaker": lambda i: setattr(_segment(i), "raw_speaker", "Someone"),
    "segment role": lambda i: setattr(_segment(i), "speaker_role", "interviewer"),
    "segment times": lambda i: setattr(_segment(i), "end", _segment(i).end + 0.1),
    "segment language": lambda i: setattr(_segment(i), "language", "ar"),
    "segment media offset": lambda i: setattr(_segment(i), "media_offset", 1.5),
    "segment order": lambda i: i.segments.reverse(),
    "interview title": lambda i: setattr(i.interview, "title", "Another"),
    "interview summary": lambda i: setattr(i.interview, "summary", "Another"),
    "interview topics": lambda i: setattr(i.interview, "topics", ["bread"]),
    "interview place": lambda i: setattr(i.interview, "place", "Homs"),
    "interview status": lambda i: setattr(i.interview, "status", "sealed"),
    "interview voice floor": lambda i: setattr(
        i.interview, "voice_floor_tier", "public" if i.interview.voice_floor_tier != "public" else "staff"
    ),
    "interview consent stamp": lambda i: setattr(i.interview, "consent_stamp", "x:v9"),
    "interviewer label": lambda i: setattr(i.interview, "interviewer_label", "Nadia"),
    "collection title": lambda i: setattr(i.interview.collection, "title", "Other"),
    "narrator anonymity": lambda i: setattr(next(iter(i.identities.values())).narrator, "anonymity", "named"),
    "narrator pseudonym": lambda i: setattr(next(iter(i.identities.values())).narrator, "pseudonym", "P"),
    "narrator legal name": lambda i: setattr(next(iter(i.identities.values())), "legal_name", "Someone Else"),
    "narrator aliases": lambda i: next(iter(i.identities.values())).aliases.append("Abu Samir"),
    "duration": lambda i: setattr(i, "duration", 99.0),
    "entity name hidden here": lambda i: i.entity_names.append(("Qannout", Rule("custodian", "[x]", "name"))),
    "entity rule replacement": lambda i: i.entity_names.append(("Waer", Rule("staff", "a district", "place"))),
    "span hidden here": lambda i: i.span_rules.setdefault(_segment(i).pk, []).append(
        (0, 3, Rule("researcher", "[detail withheld]", "other"))
    ),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_input_moves_the_public_digest(change):
    _interview_row, inputs = _loaded()
    before = digests.inputs_digest(inputs, "public")
    changed = copy.deepcopy(inputs)
    changed.common_digest = None
    CHANGES[change](changed)
    assert before is not None and digests.inputs_digest(changed, "public") != before
    assert digests.inputs_digest(inputs, "public") == before  # and the same inputs give the same digest


def test_rules_that_do_not_hide_anything_at_a_tier_leave_its_digest():
    _interview_row, inputs = _loaded()
    before = {tier: digests.inputs_digest(inputs, tier) for tier in TIERS}
    inputs.entity_names.append(("Waer", Rule("researcher", "a district", "place")))
    inputs.span_rules.setdefault(_segment(inputs).pk, []).append((0, 3, Rule("staff", "[x]", "other")))
    after = {tier: digests.inputs_digest(inputs, tier) for tier in TIERS}
    assert after["public"] != before["public"] and after["researcher"] != before["researcher"]
    assert after["staff"] == before["staff"] and after["custodian"] == before["custodian"]


def test_the_policy_version_alone_does_not_move_the_digest_and_the_rendering_code_does(monkeypatch):
    interview, inputs = _loaded()
    before = digests.inputs_digest(inputs, "staff")
    interview.policy_version += 5
    inputs.common_digest = None
    assert digests.inputs_digest(inputs, "staff") == before
    monkeypatch.setattr(digests, "code_fingerprint", lambda: "other code")
    inputs.common_digest = None
    assert digests.inputs_digest(inputs, "staff") != before


def test_an_input_loaded_without_some_fields_gives_no_digest():
    interview = rebuilds_interview()
    partial = Interview.objects.only("pk", "title", "collection").get(pk=interview.pk)
    assert digests.inputs_digest(load_inputs(partial), "public") is None
    inputs = load_inputs(Interview.objects.get(pk=interview.pk))
    inputs.segments = list(Segment.objects.filter(transcript__interview=interview).defer("raw_words"))
    assert digests.inputs_digest(inputs, "public") is None  # the words are neither loaded nor stood for


def test_the_digest_is_keyed(settings):
    _interview_row, inputs = _loaded()
    before = digests.inputs_digest(inputs, "public")
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    assert digests.inputs_digest(inputs, "public") != before
