"""A new transcript version takes over an editor's correction only onto a segment of the same stretch of
speech; the corrections it could not take over are listed for the editors on the transcript page (times,
who and when, never the old text), so that nothing corrected is lost without anyone knowing."""

from __future__ import annotations

import pytest

from archive import services
from archive.gate.editors import corrections_not_carried
from archive.services.recordings import recorded_interview_create

pytestmark = [pytest.mark.django_db]

NAME = "Zqxwidad Zqxhaddad"


def _interview(demo):
    return recorded_interview_create(
        collection=demo.collection,
        title="A call about the bakery",
        narrator_name=NAME,
        anonymity="anonymous",
        access_level="public",
        status="published",
        consent_scopes={"research_access": True, "publication": True, "public_web": True, "voice_release": True},
    )


def _version(interview, *segments: tuple[float, float, str]):
    return services.transcript_store(
        interview=interview,
        segments=[services.SegmentInput(start=s, end=e, text=t) for s, e, t in segments],
        source="upload",
    )


def test_the_editor_sees_which_corrections_a_new_version_did_not_take_over(demo, client_as):
    interview = _interview(demo)
    editor = demo.user("editor")
    first = _version(interview, (0.0, 4.0, "We baked bred at dawn."), (4.0, 9.0, "The ovens wer cold."))
    kept, lost = first.segments.order_by("index")
    services.segment_edit(segment=kept, text="We baked bread at dawn.", actor=editor)
    services.segment_edit(segment=lost, text="The ovens were cold.", actor=editor)
    assert corrections_not_carried(interview) == []  # one version: nothing to carry yet

    # Made again: the first segment is the same speech; the second ran on into more speech.
    _version(interview, (0.1, 4.2, "We baked bred at dawn."), (4.1, 15.0, "The ovens wer cold and then it rained."))
    current = {s.index: s for s in interview.transcripts.get(is_current=True).segments.all()}
    assert (current[0].raw_text, current[0].edited) == ("We baked bread at dawn.", True)
    assert (current[1].raw_text, current[1].edited) == ("The ovens wer cold and then it rained.", False)
    [missing] = corrections_not_carried(interview)
    assert (missing.version, missing.start, missing.end, missing.corrected_by) == (1, 4.0, 9.0, "editor")
    assert missing.at_segment == 1

    page = client_as("editor").get(f"/interviews/{interview.public_id}/transcript/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="uncarried"' in body
    assert 'href="#seg-1" data-seek="4.0"' in body and "00:00:04" in body and "00:00:09" in body
    assert "version 1, corrected by editor" in body
    assert "The ovens were cold." not in body  # the old text is not shown (only the current version is rendered)

    # Corrected again in the current version: still listed until a newer version, which carries it.
    services.segment_edit(segment=current[1], text="The ovens were cold and then it rained.", actor=editor)
    _version(interview, (0.1, 4.2, "We baked bred at dawn."), (4.1, 15.0, "The ovens wer cold and then it rained."))
    assert corrections_not_carried(interview) == []
    assert (
        'data-testid="uncarried"'
        not in client_as("editor").get(f"/interviews/{interview.public_id}/transcript/").content.decode()
    )


def test_a_short_correction_is_not_carried_onto_a_longer_segment_whose_ends_are_near(demo):
    """Found by the 500-example lifecycle run: a 0.3 s corrected segment ("road") and a new 1.95 s segment
    holding the whole line ("morning <name> garden road") have both ends within a second of each other.
    Carried, the corrected text would replace the line, the name would vanish from the transcript, and
    nothing would mark it for silencing in the audio. Now the lengths must agree as well."""
    interview = _interview(demo)
    editor = demo.user("editor")
    first = _version(interview, (0.4, 1.8, "morning Zqxwgwda garden"), (2.05, 2.35, "road"))
    services.segment_edit(segment=first.segments.get(index=1), text="Well, road", actor=editor)
    _version(interview, (1.3, 3.25, "morning Zqxwgwda garden road"))
    [segment] = interview.transcripts.get(is_current=True).segments.all()
    assert (segment.raw_text, segment.edited) == ("morning Zqxwgwda garden road", False)
    [missing] = corrections_not_carried(interview)
    assert (missing.start, missing.end) == (2.05, 2.35)
    # The same stretch moved by most of a second (a replacement recording) still takes the correction.
    _version(interview, (0.4, 1.8, "morning Zqxwgwda garden"), (2.05, 2.35, "road"))
    services.segment_edit(
        segment=interview.transcripts.get(is_current=True).segments.get(index=1), text="Well, road", actor=editor
    )
    _version(interview, (1.3, 2.7, "morning Zqxwgwda garden"), (2.95, 3.25, "road"))
    assert [s.raw_text for s in interview.transcripts.get(is_current=True).segments.order_by("index")] == [
        "morning Zqxwgwda garden",
        "Well, road",
    ]
