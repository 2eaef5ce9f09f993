"""Who is the narrator of a chat or an email row of a bulk zip: the row names them among its senders
(narrator_label, else narrator), as every other import path does. A row whose narrator is missing or
not a sender refuses the whole zip, as any bad row does, with the row's number and its senders, and
nothing is created. Through the service, `ingest`, the import page and the API."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.html import escape

from archive.gate.identity import decode_identity
from archive.importers import RowNarratorUnknown, parse_bulk
from archive.models import Interview, Narrator, Recording, Segment
from archive.services.imports import import_file

pytestmark = [pytest.mark.django_db]

CHAT = (
    b"12/03/2021, 09:15 - Sara Rawi: Thank you for agreeing to talk. How is the district?\n"
    b"12/03/2021, 09:17 - Abu Khaled: The bakery closed in the winter.\n"
    b"12/03/2021, 09:20 - Umm Ali: He means the one near the school.\n"
    b"12/03/2021, 09:22 - Abu Khaled: Yes, near the school. We queued there every morning.\n"
)
OTHER_CHAT = (
    b"14/03/2021, 10:00 - Sara Rawi: Where did you sleep that night?\n"
    b"14/03/2021, 10:05 - Hala: In the basement of the mosque.\n"
    b"14/03/2021, 10:06 - Omar: We all did.\n"
)
THREAD = (
    b"From sara@example.org Fri Mar 12 09:15:00 2021\n"
    b"From: Sara Rawi <sara@example.org>\nTo: Abu Khaled <abu@example.net>\n"
    b"Subject: Our talk\nDate: Fri, 12 Mar 2021 09:15:00 +0000\n\nHow is the district?\n\n"
    b"From abu@example.net Fri Mar 12 10:15:00 2021\n"
    b"From: Abu Khaled <abu@example.net>\nTo: Sara Rawi <sara@example.org>\n"
    b"Subject: Re: Our talk\nDate: Fri, 12 Mar 2021 10:15:00 +0000\n\nThe bakery closed in the winter.\n"
)
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16) + b"data\x00\x00\x00\x00"
HEADER = "file,title,narrator,narrator_label,interviewer\n"
SENDERS = ["Sara Rawi", "Abu Khaled", "Umm Ali"]
ADVICE = (
    "Name the narrator's sender in the row's narrator_label column (and the interviewer's in its interviewer column)."
)
NOT_A_SENDER = (
    "Row 3: No sender of the conversation has the narrator's name as given. "
    f"The senders are: Sara Rawi, Abu Khaled, Umm Ali. {ADVICE}"
)
NOT_NAMED = (
    f"Row 2: The export does not say which sender is the narrator. The senders are: Sara Rawi, Hala, Omar. {ADVICE}"
)


def _bulk(rows: str, *, audio: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.csv", (HEADER + rows).encode())
        archive.writestr("chats/khaled.txt", CHAT)
        archive.writestr("chats/hala.txt", OTHER_CHAT)
        archive.writestr("mail/thread.mbox", THREAD)
        if audio:
            archive.writestr("voice.wav", WAV)
    return buffer.getvalue()


# A row for each way of naming the narrator: by label with a real name, by the name itself (any case),
# by an email address (the interviewer too).
GOOD_ROWS = (
    "chats/khaled.txt,Bakery,Khaled Canary,Abu Khaled,Sara Rawi\n"
    "chats/hala.txt,Basement,hala,,\n"
    "mail/thread.mbox,Letters,,abu@example.net,sara@example.org\n"
)
# Row 2 is fine (and stores an audio file if anything is written); row 3 names someone who did not write.
BAD_ROWS = "voice.wav,Voice,Nadia Canary,,\nchats/khaled.txt,Bakery,Nadia Canary,,Sara Rawi\n"


def _roles(interview: Interview) -> dict[str, str]:
    rows = Segment.objects.filter(transcript__interview=interview, transcript__is_current=True)
    return {row.raw_speaker: row.speaker_role for row in rows}


def _originals() -> set[str]:
    try:
        return set(default_storage.listdir("originals")[1])
    except FileNotFoundError:
        return set()


def _state() -> tuple[int, int, int, set[str]]:
    return Interview.objects.count(), Narrator.objects.count(), Recording.objects.count(), _originals()


def _by_title(ids: list[str]) -> dict[str, Interview]:
    return {i.title: i for i in Interview.objects.filter(public_id__in=ids)}


def _check_good_rows(interviews: dict[str, Interview]) -> None:
    assert sorted(interviews) == ["Bakery", "Basement", "Letters"]
    assert _roles(interviews["Bakery"]) == {"Sara Rawi": "interviewer", "Abu Khaled": "narrator", "Umm Ali": "other"}
    assert _roles(interviews["Basement"])["Hala"] == "narrator"
    assert {s for s, r in _roles(interviews["Basement"]).items() if r == "narrator"} == {"Hala"}
    assert _roles(interviews["Letters"]) == {"Sara Rawi": "interviewer", "Abu Khaled": "narrator"}
    names = {title: decode_identity(i.narrators.get()).legal_name for title, i in interviews.items()}
    # The real name when the row gives one, else the narrator's sender name in the chat or thread.
    assert names == {"Bakery": "Khaled Canary", "Basement": "hala", "Letters": "Abu Khaled"}


def test_it_imports_each_row_with_the_narrator_it_names(demo):
    outcomes = import_file(
        data=_bulk(GOOD_ROWS), filename="b.zip", collection_slug="bulk", title="x", narrator_name="Zip Wide"
    )
    _check_good_rows(_by_title([str(o.interview.public_id) for o in outcomes]))


def test_it_refuses_a_row_whose_narrator_is_not_a_sender_and_creates_nothing(demo):
    before = _state()
    with pytest.raises(RowNarratorUnknown) as caught:
        import_file(
            data=_bulk(BAD_ROWS, audio=True), filename="b.zip", collection_slug="bulk", title="x", narrator_name="N"
        )
    assert (caught.value.reason, caught.value.code) == (NOT_A_SENDER, "narrator_unknown")
    assert (caught.value.row, caught.value.senders) == (3, SENDERS)
    assert _state() == before


def test_it_refuses_a_row_that_does_not_name_its_narrator(demo):
    before = _state()
    with pytest.raises(RowNarratorUnknown) as caught:
        # The name given for the whole zip is no sender's: it does not stand in for the row's.
        import_file(
            data=_bulk("chats/hala.txt,Basement,,,\n"), filename="b.zip", collection_slug="bulk", title="x",
            narrator_name="Hala",
        )  # fmt: skip
    assert (caught.value.reason, caught.value.row, caught.value.senders) == (
        NOT_NAMED,
        2,
        ["Sara Rawi", "Hala", "Omar"],
    )
    assert _state() == before


def test_the_parser_alone_still_reads_a_row_without_its_narrator():
    """Only the import service asks for strictness; the pure parser's default is unchanged."""
    assert [item.kind for item in parse_bulk(_bulk("chats/hala.txt,Basement,,,\n")).items] == ["whatsapp"]
    with pytest.raises(RowNarratorUnknown):
        parse_bulk(_bulk("chats/hala.txt,Basement,,,\n"), strict=True)


def _ingest(path) -> list[str]:
    out = io.StringIO()
    call_command(
        "ingest", str(path), "--collection", "bulk", "--title", "ignored", "--narrator", "Zip Wide",
        "--anonymity", "anonymous", "--access", "staff", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    return out.getvalue().split()


def test_ingest_imports_named_rows_and_refuses_a_non_sender(demo, tmp_path):
    path = tmp_path / "bulk.zip"
    path.write_bytes(_bulk(BAD_ROWS, audio=True))
    before = _state()
    with pytest.raises(CommandError) as refused:
        _ingest(path)
    assert str(refused.value) == f"Import refused: {NOT_A_SENDER}"
    assert _state() == before
    path.write_bytes(_bulk(GOOD_ROWS))
    _check_good_rows(_by_title(_ingest(path)))


def _form(data: bytes) -> dict:
    return {"file": SimpleUploadedFile("b.zip", data), "title": "Bulk", "anonymity": "anonymous", "access": "staff"}


def test_the_import_page_shows_the_rows_senders_and_imports_named_rows(demo, client_as):
    client = client_as("fieldresearcher")
    url = f"/collections/{demo.collection.slug}/import/"
    before = _state()
    refused = client.post(url, _form(_bulk(BAD_ROWS, audio=True)))
    assert refused.status_code == 200
    page = refused.content.decode()
    assert escape(NOT_A_SENDER) in page
    assert "Which sender is the narrator?" not in page  # a row is fixed in the metadata CSV, not here
    assert _state() == before
    mine = set(Interview.objects.filter(interviewers=demo.user("fieldresearcher")).values_list("pk", flat=True))
    done = client.post(url, _form(_bulk(GOOD_ROWS)))
    assert (done.status_code, done.headers["Location"]) == (302, f"/collections/{demo.collection.slug}/")
    made = Interview.objects.filter(interviewers=demo.user("fieldresearcher")).exclude(pk__in=mine)
    interviews = {i.title: i for i in made}
    _check_good_rows(interviews)
    # The person importing is their interviewer: they keep seeing the drafts they imported.
    for interview in interviews.values():
        assert interview.status == Interview.Status.DRAFT
        assert client.get(f"/interviews/{interview.public_id}/").status_code == 200


def test_the_api_answers_400_narrator_unknown_with_the_row_and_its_senders(demo, client_as):
    client = client_as("fieldresearcher")
    url = f"/api/v1/collections/{demo.collection.slug}/imports/"
    before = _state()
    refused = client.post(url, {"file": SimpleUploadedFile("b.zip", _bulk(BAD_ROWS, audio=True)), "title": "Bulk"})
    assert (refused.status_code, refused.json()) == (
        400,
        {"error": NOT_A_SENDER, "code": "narrator_unknown", "row": 3, "senders": SENDERS},
    )
    assert _state() == before
    created = client.post(url, {"file": SimpleUploadedFile("b.zip", _bulk(GOOD_ROWS)), "title": "Bulk"})
    assert created.status_code == 201
    ids = created.json()["interviews"]
    interviews = _by_title(ids)
    _check_good_rows(interviews)
    for public_id in ids:
        assert Interview.objects.get(public_id=public_id).interviewers.get() == demo.user("fieldresearcher")
        assert client.get(f"/api/v1/interviews/{public_id}/").json()["tier"] == "custodian"
