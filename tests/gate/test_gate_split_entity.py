import pytest

from archive import services
from archive.gate import rendering_for
from archive.models import Segment


@pytest.mark.django_db
def test_an_entity_split_across_two_segments_is_hidden_when_redacted_later(demo):
    interview = demo.interview("facebook-journalist")
    rows = list(Segment.objects.filter(transcript__interview=interview, transcript__is_current=True).order_by("index"))
    services.segment_edit(segment=rows[0], text="We walked with Zqxsplit", actor=None)
    services.segment_edit(segment=rows[1], text="Qolmarrsplit to the river.", actor=None)
    interview.refresh_from_db()
    assert "Zqxsplit" in rendering_for(interview, "public").text
    services.redact_phrase(phrase="Zqxsplit Qolmarrsplit", category="name", visible_from="custodian")
    interview.refresh_from_db()
    text = rendering_for(interview, "public").text
    assert "Zqxsplit" not in text and "Qolmarrsplit" not in text
