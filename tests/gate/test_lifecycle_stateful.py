"""The gate under change: random lifecycles of interviews (tests/lifecycle.py), every surface checked at
every tier after every step, binary exports and audio once per example.

A bounded run here (about a minute when nothing is found; a failure is shrunk to a minimal lifecycle,
which Hypothesis bounds at five minutes). `python -m benchmarks.lifecycle --examples 500 --json` runs
the same machine for longer.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from archive.gate import render
from archive.models import Interview, QuarantinedMetadata, Recording, RenderedSegment
from tests.lifecycle import CHANNELS, StandInWhisper, Violation, machine_for, make_context, stand_ins

pytestmark = [pytest.mark.django_db]

LIFECYCLE_SETTINGS = settings(
    max_examples=12,
    stateful_step_count=20,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
EVERYTHING = {"research_access": True, "publication": True, "public_web": True, "voice_release": True}


def test_it_keeps_every_canary_below_its_tier_through_random_lifecycles():
    whisper = StandInWhisper()
    with stand_ins(whisper):
        context = make_context(whisper)
        run_state_machine_as_test(machine_for(context), settings=LIFECYCLE_SETTINGS)
    assert context.counters["examples"] >= 10
    assert context.counters["steps"] >= 20


def test_it_catches_a_planted_leak():
    """The checks can fail: a sealed narrator's name written into the stored public rendering is found
    on the interview page, in the API and as a difference from a fresh render()."""
    whisper = StandInWhisper()
    with stand_ins(whisper):
        machine = machine_for(make_context(whisper))()
        try:
            machine.ingest_vtt(
                access="public", status="published", anonymity="sealed", consent=EVERYTHING, writes_phone=False
            )
            machine.every_surface_holds()
            model = machine.interviews[0]
            row = RenderedSegment.objects.filter(rendering__interview_id=model.pk, rendering__tier="public").first()
            row.text = f"My name is {' '.join(model.name)}"
            row.save()
            machine._dirty.add(model.pk)
            with pytest.raises(Violation) as caught:
                machine.every_surface_holds()
        finally:
            machine.teardown()
    found = str(caught.value)
    public_id, name = model.public_id, model.name[0]
    assert f"/interviews/{public_id}/ at public shows {name}" in found
    assert f"/api/v1/interviews/{public_id}/ at public shows {name}" in found
    assert f"{model.marker} at public: served rendering differs from render() in ['segments" in found


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_chat_rule_imports_a_real_export_of_each_channel(channel):
    """The chat rule writes the channel's own export file and imports it as the import page does; its
    senders, times, phone number and voice notes (transcribed in place) come out as the model keeps
    them, with every surface holding at every tier."""
    whisper = StandInWhisper()
    with stand_ins(whisper):
        machine = machine_for(make_context(whisper))()
        try:
            for named_by, anonymity in (("narrator", "sealed"), ("export", "named")):
                machine.ingest_chat(
                    access="public",
                    status="published",
                    anonymity=anonymity,
                    consent=EVERYTHING,
                    notes=2,
                    writes_phone=True,
                    note_says_name=True,
                    channel=channel,
                    named_by=named_by,
                )
                machine.every_surface_holds()
            for model in machine.interviews:
                custodian = render(machine._interview(model), "custodian")
                texts = [segment.text for segment in custodian.segments]
                assert texts[0].startswith(f"Thank you for talking about {model.marker}")
                assert texts[1:3] == [
                    f"We stayed near {model.written[0]} for the winter",
                    f"If the line drops call {model.phones[0]}",
                ]
                spoken = " ".join(texts[3:])
                assert all(part.tokens[0] in spoken for part in model.parts), texts
                assert [s.start for s in custodian.segments][:3] == [0.0, 60.0, 120.0]
                assert Recording.objects.filter(interview_id=model.pk, is_voice_note=True).count() == 2
                assert QuarantinedMetadata.objects.filter(interview_id=model.pk, source=f"import-{channel}").exists()
            if channel == "messenger":  # the mojibake is undone
                assert texts[0].endswith("— شكراً 🌙")
        finally:
            machine.teardown()


@pytest.mark.parametrize("how", ["purge", "access"])
def test_a_hidden_word_that_names_a_visible_entity_finds_only_what_its_visible_names_find(how):
    """Search expands a word to the other names of an entity the tier sees. A's written word, hidden at
    the tier (A purged, or A's access raised), joins as an alias the entity that B's word names: searching
    it finds B through B's word and never A's own occurrence (found by the 500-example run)."""
    whisper = StandInWhisper()
    with stand_ins(whisper):
        machine = machine_for(make_context(whisper))()
        try:
            check = machine.every_surface_holds
            for _ in range(2):
                machine.ingest_vtt(
                    access="public", status="published", anonymity="named", consent=EVERYTHING, writes_phone=False
                )
                check()
            if how == "purge":
                machine.purge(pick=0)
            else:
                machine.change_access(pick=0, access="staff")
            check()
            # secrets: A's written word 0, summary 1, place 2; B's written word 3, summary 4, place 5
            machine.redact_entity(category="place", generalise=False, token=4, visible_from="researcher")
            check()
            machine.redact_alias(entity=0, token=3)
            check()
            machine.redact_alias(entity=0, token=0)
            check()
            a_word = machine.interviews[0].written[0]
            assert machine.alias_groups("researcher")[a_word]  # the case the check is about
        finally:
            machine.teardown()


def test_a_correction_is_not_carried_onto_a_new_segment_that_holds_more_speech():
    """Found by the stateful test: a voice note transcribed again as one longer segment took the text of an
    earlier, shorter corrected segment; the rest of the note (saying the narrator's name) vanished from the
    transcript, so nothing marked it for silencing and staff audio played the name."""
    whisper = StandInWhisper()
    nothing = {"research_access": False, "publication": False, "public_web": False, "voice_release": False}
    with stand_ins(whisper):
        machine = machine_for(make_context(whisper))()
        try:
            machine.ingest_chat(
                access="public", anonymity="pseudonymous", channel="whatsapp", consent=nothing, named_by="narrator",
                note_says_name=True, notes=1, status="published", writes_phone=True,
            )  # fmt: skip
            machine.retranscribe(language="en", pick=0)
            machine.correct_segment(how="prefix", pick=0, segment=3)
            machine.retranscribe(language=None, pick=0)
            machine.every_surface_holds()
            model = machine.interviews[0]
            spoken = " ".join(
                s.text for s in render(Interview.objects.get(pk=model.pk), "custodian").segments if s.start >= 300
            )
            assert " ".join(model.name) in spoken  # the name is still in the transcript, where it was said
        finally:
            machine.teardown()  # checks every tier's audio: the name is silent at staff
