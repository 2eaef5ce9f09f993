"""`ingest` of a WhatsApp chat or an email thread: --narrator must be one of the senders (by name or
address); otherwise the command refuses, listing the senders, and creates nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from archive.models import Interview, Narrator, Segment

CHAT = (
    "12/03/2021, 09:15 - Sara Rawi: Thank you for agreeing to talk. How is the district?\n"
    "12/03/2021, 09:17 - Abu Khaled: The bakery closed in the winter.\n"
    "12/03/2021, 09:20 - Umm Ali: He means the one near the school.\n"
    "12/03/2021, 09:22 - Abu Khaled: Yes, near the school. We queued there every morning.\n"
)
EMAIL = (
    b"From: Sara Rawi <sara@example.org>\r\nTo: Abu Khaled <abu@example.net>\r\n"
    b"Subject: Our talk\r\nDate: Fri, 12 Mar 2021 09:15:00 +0000\r\n\r\nHow is the district?\r\n"
)
EMAIL_REPLY = (
    b"From: Abu Khaled <abu@example.net>\r\nTo: Sara Rawi <sara@example.org>\r\n"
    b"Subject: Re: Our talk\r\nDate: Fri, 12 Mar 2021 10:15:00 +0000\r\n\r\nThe bakery closed in the winter.\r\n"
)


def ingest(path, narrator: str) -> str:
    out = io.StringIO()
    call_command(
        "ingest", str(path), "--collection", "cli", "--title", "Chat", "--narrator", narrator,
        "--anonymity", "anonymous", "--access", "staff", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return out.getvalue().strip().splitlines()[-1]


@pytest.mark.django_db
def test_a_narrator_who_is_not_a_sender_is_refused_with_the_senders_and_nothing_is_created(tmp_path):
    path = tmp_path / "WhatsApp Chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    before = (Interview.objects.count(), Narrator.objects.count())
    with pytest.raises(CommandError) as refused:
        ingest(path, "Hala Canary")
    message = str(refused.value)
    assert "Sara Rawi" in message and "Abu Khaled" in message and "Umm Ali" in message
    assert (Interview.objects.count(), Narrator.objects.count()) == before


@pytest.mark.django_db
def test_the_sender_named_by_narrator_is_the_narrator(tmp_path):
    path = tmp_path / "WhatsApp Chat.txt"
    path.write_text(CHAT, encoding="utf-8")
    public_id = ingest(path, "abu khaled")
    rows = Segment.objects.filter(transcript__interview__public_id=public_id, transcript__is_current=True)
    roles = {row.raw_speaker: row.speaker_role for row in rows}
    assert roles["Abu Khaled"] == "narrator"
    assert roles["Umm Ali"] != "narrator" and roles["Sara Rawi"] != "narrator"


@pytest.mark.django_db
def test_an_email_thread_matches_the_narrator_by_name_or_address(tmp_path):
    path = tmp_path / "thread.mbox"
    path.write_bytes(b"From sara@example.org Fri Mar 12 09:15:00 2021\n" + EMAIL.replace(b"\r\n", b"\n") + b"\n"
                     b"From abu@example.net Fri Mar 12 10:15:00 2021\n" + EMAIL_REPLY.replace(b"\r\n", b"\n"))  # fmt: skip
    before = Interview.objects.count()
    with pytest.raises(CommandError) as refused:
        ingest(path, "Hala Canary")
    assert "Sara Rawi" in str(refused.value) and "Abu Khaled" in str(refused.value)
    assert Interview.objects.count() == before
    public_id = ingest(path, "abu@example.net")
    rows = Segment.objects.filter(transcript__interview__public_id=public_id, transcript__is_current=True)
    assert {row.raw_speaker: row.speaker_role for row in rows}["Abu Khaled"] == "narrator"
