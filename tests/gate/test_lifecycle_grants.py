"""The lifecycle machine's access-grant rules, scripted: the grantee (a signed-in reader with no membership)
sees each interview at the tier their grants give there while consent, voice release, withdrawal, an
editor's embargo, revocation and end dates change it, and the grantee checks can fail."""

from __future__ import annotations

import pytest

from archive.models import AccessRequest, Membership
from tests.lifecycle import StandInWhisper, Violation, machine_for, make_context, stand_ins

pytestmark = [pytest.mark.django_db]

PUBLISHED = {"research_access": True, "publication": True, "public_web": True, "voice_release": False}
EVERYTHING = {"research_access": True, "publication": True, "public_web": True, "voice_release": True}


def _machine():
    whisper = StandInWhisper()
    return whisper, machine_for(make_context(whisper))()


def test_grants_follow_consent_voice_release_withdrawal_embargo_and_revocation():
    whisper, machine = _machine()
    with stand_ins(whisper):
        try:
            machine.ingest_audio(
                access="public", status="published", anonymity="pseudonymous", consent=PUBLISHED,
                says_name=True, says_phone=False,
            )  # fmt: skip
            machine.every_surface_holds()
            model = machine.interviews[0]
            assert machine.grantee_tier(model) == "public"

            # On the interview: staff granted, with the staff text and without the voice (not released).
            machine.grant_access(pick=0, tier="staff", whole_collection=False)
            machine.every_surface_holds()
            assert [g.tier for g in machine.grants] == ["staff"]
            assert machine.grantee_tier(model) == "staff" and not machine.grantee_hears(model)
            machine.grant_access(pick=0, tier="researcher", whole_collection=False)  # no more than they see
            assert len(machine.grants) == 1

            # A researcher grant on the collection adds nothing here; the narrator releases the voice.
            machine.grant_access(pick=0, tier="researcher", whole_collection=True)
            machine.every_surface_holds()
            assert machine.grantee_tier(model) == "staff"
            machine.change_consent(pick=0, consent=EVERYTHING)
            machine.every_surface_holds()
            assert machine.grantee_hears(model)

            # Withdrawal revokes the interview's grant; the collection's counts for nothing there.
            machine.withdraw(pick=0, through_consent=False)
            machine.every_surface_holds()
            assert [g.interview_pk for g in machine.grants] == [None]
            assert AccessRequest.objects.get(pk=machine.grants[0].pk).status == AccessRequest.Status.GRANTED
            assert machine.grantee_tier(model) == "public"
            machine.change_consent(pick=0, consent=EVERYTHING)  # consent again: in review, staff only
            machine.every_surface_holds()
            assert machine.grantee_tier(model) == "researcher" and machine.floor(model) == "staff"
            machine.grant_access(pick=0, tier="staff", whole_collection=True)
            machine.every_surface_holds()
            assert machine.grantee_tier(model) == "staff" and machine.grantee_hears(model)

            # An editor's embargo holds it at staff and the grant counts for nothing; lifted, it counts again.
            machine.set_embargo(pick=0, embargoed=True)
            machine.every_surface_holds()
            assert machine.floor(model) == "staff" and machine.grantee_tier(model) == "public"
            machine.set_embargo(pick=0, embargoed=False)
            machine.every_surface_holds()
            assert machine.grantee_tier(model) == "staff"

            # Revoked by a custodian, or ended on its date.
            machine.revoke_grant(pick=1, ends=False)
            machine.every_surface_holds()
            assert machine.grantee_tier(model) == "researcher"
            machine.revoke_grant(pick=0, ends=True)
            machine.every_surface_holds()
            assert machine.grants == [] and machine.grantee_tier(model) == "public"
        finally:
            machine.teardown()


def test_the_grantee_checks_catch_a_reader_let_in_too_far():
    """A membership written straight into the table (no grant, no service) lets the grantee in at staff:
    the grantee checks find the staff-only place on the interview page, and the tier in the API."""
    whisper, machine = _machine()
    with stand_ins(whisper):
        try:
            machine.ingest_audio(
                access="public", status="published", anonymity="sealed", consent=EVERYTHING,
                says_name=True, says_phone=False,
            )  # fmt: skip
            machine.grant_access(pick=0, tier="researcher", whole_collection=True)
            machine.every_surface_holds()
            model = machine.interviews[0]
            grantee = machine.context.users["grantee"]
            Membership.objects.create(user=grantee, collection=machine.context.collection, role=Membership.Role.EDITOR)
            machine._grants_changed = True
            with pytest.raises(Violation) as caught:
                machine.every_surface_holds()
        finally:
            machine.teardown()
    found = str(caught.value)
    assert f"/interviews/{model.public_id}/ at the grantee shows {model.place_token}" in found
    assert f"{model.marker}: the grantee sees it at staff, the grants give researcher" in found
