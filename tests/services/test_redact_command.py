"""`manage.py redact`: an approved entity redaction of every occurrence, in every interview."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.management import CommandError, call_command

from archive.gate import rendering_for
from archive.models import Entity, Redaction


def _texts(interview, tier: str) -> str:
    return rendering_for(interview, tier).text


def test_it_replaces_the_phrase_below_the_tier_everywhere_and_staff_sees_the_original(demo, capsys):
    photographer = demo.interview("skype-photographer")
    activist = demo.interview("skype-activist")  # another interview that mentions the phrase
    loyalist = demo.interview("email-loyalist")
    assert "checkpoint" in _texts(activist, "researcher")

    call_command(
        "redact", str(photographer.public_id), "--text", "checkpoint", "--category", "other", "--visible-from", "staff"
    )

    out = capsys.readouterr().out
    assert "checkpoint" not in out  # the phrase is never echoed
    assert out.startswith("Approved entity redaction ")
    for interview, tiers in (
        (photographer, ("public", "researcher")),
        (activist, ("researcher",)),
        (loyalist, ("researcher",)),
    ):
        for tier in tiers:
            text = _texts(interview, tier)
            assert re.search(r"\bcheckpoint\b", text, re.IGNORECASE) is None  # whole words only
            assert "[detail withheld]" in text
    # One occurrence of the phrase; at public the seed's "five times" span also reads [detail withheld].
    assert _texts(photographer, "researcher").count("[detail withheld]") == 1
    assert _texts(photographer, "public").count("[detail withheld]") == 2
    assert "Every checkpoint takes its share" in _texts(photographer, "staff")
    assert "held at a checkpoint for hours" in _texts(activist, "staff")
    assert "guard a checkpoint" in _texts(loyalist, "custodian")
    redaction = Redaction.objects.get(kind="entity", entity__raw_name="checkpoint")
    assert (redaction.status, redaction.visible_from, redaction.category, redaction.interview) == (
        "approved",
        "staff",
        "other",
        photographer,
    )


def test_it_uses_the_replacement_given(demo):
    journalist = demo.interview("facebook-journalist")
    call_command(
        "redact",
        str(journalist.public_id),
        "--text",
        "Damascus suburbs",
        "--category",
        "place",
        "--visible-from",
        "researcher",
        "--replacement",
        "a nearby area",
    )
    assert "The earlier deals in the a nearby area were signed" in _texts(journalist, "public")
    assert "Damascus suburbs" in _texts(journalist, "researcher")
    assert Entity.objects.get(raw_name="Damascus suburbs").kind == "place"


def test_it_redacts_an_existing_entity_through_its_aliases(demo):
    journalist = demo.interview("facebook-journalist")
    teacher = demo.interview("whatsapp-teacher")
    call_command(
        "redact", str(journalist.public_id), "--text", "Waer", "--category", "place", "--visible-from", "staff"
    )
    public = _texts(journalist, "public")
    assert "Waer" not in public
    assert "detainees from [place withheld]?" in public
    assert "wants [place withheld] to accept" in public
    assert "الْوَعْر" not in _texts(teacher, "public")  # Arabic alias, with diacritics in the text
    assert "الْوَعْر" in _texts(teacher, "staff")


def test_it_fails_clearly_for_an_unknown_interview(demo):
    with pytest.raises(CommandError, match=r"No interview with that id\.") as failure:
        call_command("redact", str(uuid.uuid4()), "--text", "x", "--category", "name", "--visible-from", "staff")
    assert failure.value.returncode == 1  # manage.py exits with status 1
    with pytest.raises(CommandError, match=r"No interview with that id\."):
        call_command("redact", "not-a-uuid", "--text", "x", "--category", "name", "--visible-from", "staff")
    assert not Redaction.objects.filter(entity__raw_name="x").exists()
