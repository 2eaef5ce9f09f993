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

from archive.models import RenderedSegment
from tests.lifecycle import StandInWhisper, Violation, machine_for, make_context, stand_ins

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
