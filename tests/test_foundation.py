"""The gate: tiers, 404 for invisible interviews, ciphertext at rest, renderings per tier."""

from __future__ import annotations

import pytest
from django.db import connection

from archive import services
from archive.gate import NotVisible, policy_stamp, rendering_for
from archive.gate import policy as access
from archive.gate import store as rendering
from archive.gate.stamps import POLICY_CODE_VERSION
from archive.models import Narrator, RenderedInterview
from archive.services.base import renderings_rebuild_stale

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_shows_signed_out_visitors_only_public_interviews(demo, client_as):
    response = client_as(None).get("/interviews/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "A photographer on the siege economy" in body
    assert "A media activist on escalation" not in body  # researcher level
    assert "Negotiating committee member" not in body  # sealed
    assert "Voice notes on leaving for Idlib" not in body  # embargoed


def test_it_answers_404_alike_for_sealed_and_missing(demo, client_as):
    sealed = demo.interview("sealed-committee")
    client = client_as(None)
    hidden = client.get(f"/interviews/{sealed.public_id}/")
    missing = client.get("/interviews/00000000-0000-4000-8000-000000000000/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    api_hidden = client.get(f"/api/v1/interviews/{sealed.public_id}/")
    api_missing = client.get("/api/v1/interviews/00000000-0000-4000-8000-000000000000/")
    assert api_hidden.status_code == api_missing.status_code == 404
    assert api_hidden.content == api_missing.content


def test_it_gives_each_role_its_tier(demo):
    interview = demo.interview("skype-photographer")
    assert access.user_tier(demo.user("researcher"), interview) == "researcher"
    assert access.user_tier(demo.user("editor"), interview) == "staff"
    assert access.user_tier(demo.user("archivist"), interview) == "staff"
    assert access.user_tier(demo.user("custodian"), interview) == "custodian"
    # The field researcher gathered it, so sees it as its custodian.
    assert access.user_tier(demo.user("fieldresearcher"), interview) == "custodian"


def test_it_stores_identity_fields_as_ciphertext(demo):
    narrator = Narrator.objects.get(pseudonym="Resident B")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT legal_name_ciphertext, contacts_ciphertext FROM archive_narrator WHERE id = %s", [narrator.pk]
        )
        legal, contacts = cursor.fetchone()
    assert legal.startswith("v1.")
    assert "Rima" not in legal and "Hamdan" not in legal
    assert "example.org" not in contacts
    identity = services.narrator_identity(narrator=narrator, actor=demo.user("custodian"))
    assert identity["legal_name"] == "Rima Saleh Hamdan"


def test_it_renders_each_tier_from_the_same_source(demo):
    interview = demo.interview("skype-photographer")
    public = rendering_for(interview, "public")
    custodian = rendering_for(interview, "custodian")
    assert "Tareq Mansour" not in public.text
    assert "My brother Person A drives a pickup" in public.text
    assert "My brother Tareq Mansour drives a pickup" in custodian.text
    assert public.narrators[0].display_name == "an amateur photographer from the district"
    assert custodian.narrators[0].display_name == "Yusuf Kamal Darwish"
    assert public.place == "Homs, Syria"


def test_it_never_serves_a_stale_rendering_and_reads_never_write(demo, client_as, monkeypatch):
    requested: list[int] = []
    monkeypatch.setattr(rendering, "request_rebuild", lambda interview: requested.append(interview.pk))
    interview = demo.interview("facebook-journalist")
    before = RenderedInterview.objects.get(interview=interview, tier="public").policy_version
    rows = list(RenderedInterview.objects.filter(interview=interview).values_list("pk", "policy_version", "built_at"))
    # Bump the policy behind the renderer's back: the next read must not serve the old rendering, and
    # must not rebuild it either (a read writes nothing): it answers 404 and asks for a rebuild.
    type(interview).objects.filter(pk=interview.pk).update(policy_version=interview.policy_version + 5)
    interview.refresh_from_db()
    with pytest.raises(NotVisible):
        rendering_for(interview, "public")
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 404
    assert requested and set(requested) == {interview.pk}
    assert (
        list(RenderedInterview.objects.filter(interview=interview).values_list("pk", "policy_version", "built_at"))
        == rows
    )
    assert interview.pk in rendering.stale_interviews()
    # The worker's rebuild (the task a stale read asks for, and the beat job) serves it again.
    assert renderings_rebuild_stale() >= 1
    fresh = rendering_for(interview, "public")
    assert fresh.policy_version != before
    assert fresh.policy_version == policy_stamp(interview)
    assert fresh.policy_version.startswith(f"{POLICY_CODE_VERSION}.{interview.policy_version}.")


def test_it_hides_an_interview_from_public_when_access_is_withdrawn(demo, client_as):
    interview = demo.interview("facebook-journalist")
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 200
    services.interview_update(interview=interview, access_level="researcher")
    assert client_as(None).get(f"/interviews/{interview.public_id}/").status_code == 404
    assert client_as("researcher").get(f"/interviews/{interview.public_id}/").status_code == 200
    assert not RenderedInterview.objects.filter(interview=interview, tier="public").exists()
