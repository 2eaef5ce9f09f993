"""Oracles and robustness: nothing a caller can measure or provoke tells them what they may not know,
and hostile or broken input ends in a clear refusal, never a 500 or a file left behind.

Cast: the demo's researcher (signed in, below the sealed interview), editor (staff), custodian.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile

import docx
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from archive import search
from archive.gate import render
from archive.importers import ImportRefused, parse_file, parse_ohms
from archive.models import Alert, AuditEvent, Entity, Interview, Recording, Redaction
from archive.services import imports
from archive.services.imports import import_file

MISSING = "00000000-0000-4000-8000-000000000000"


def _queries(client, url: str) -> tuple[int, list[str]]:
    """The response status and the shape of every SQL statement it ran (literals and ids masked)."""
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    masked = r"'[^']*'|\"s\d+_x\d+\"|\b\d+\b|\b[0-9a-f]{32}\b"  # literals, savepoint names, ids
    shapes = [re.sub(masked, "?", q["sql"]) for q in captured.captured_queries]
    return status, shapes


# Hidden and missing interviews -----------------------------------------------------------------


@pytest.mark.parametrize("username", ["researcher", "editor", None])
@pytest.mark.parametrize("path", ["/interviews/{}/", "/api/v1/interviews/{}/", "/interviews/{}/export/"])
def test_it_does_the_same_work_for_a_hidden_and_a_missing_interview(demo, client_as, username, path):
    sealed = demo.interview("sealed-committee")
    client = client_as(username)
    client.get(path.format(MISSING))  # warm the session and any per-process caches alike
    hidden_status, hidden = _queries(client, path.format(sealed.public_id))
    missing_status, missing = _queries(client, path.format(uuid.uuid4()))
    assert hidden_status == missing_status == 404
    assert len(hidden) == len(missing)
    assert hidden == missing


def test_it_still_audits_and_alerts_on_denials(demo, client_as):
    sealed = demo.interview("sealed-committee")
    researcher = client_as("researcher")
    researcher.get(f"/interviews/{sealed.public_id}/")
    denied = AuditEvent.objects.filter(action="access_denied", actor__username="researcher")
    assert list(denied.values_list("target_id", "tier", "detail")) == [
        (str(sealed.public_id), "researcher", {"found": True})
    ]
    for _ in range(3):
        researcher.get(f"/api/v1/interviews/{uuid.uuid4()}/")
    assert not Alert.objects.filter(kind="repeated_denials").exists()
    # Probing ids that do not exist is an attempt like any other: the fifth in ten minutes alerts.
    researcher.get(f"/interviews/{uuid.uuid4()}/")
    assert denied.count() == 5
    assert sorted(event.detail["found"] for event in denied) == [False, False, False, False, True]
    assert Alert.objects.get(kind="repeated_denials").target_id == str(demo.user("researcher").pk)


# Entity redactions ----------------------------------------------------------------------------


def test_it_does_not_tell_an_editor_which_hidden_entity_a_guessed_name_matched(demo, client_as):
    brother = Entity.objects.get(raw_name="Tareq Mansour")  # redacted from custodian up
    photographer = demo.interview("skype-photographer")  # mentions him
    api = f"/api/v1/interviews/{photographer.public_id}/redactions/"
    editor = client_as("editor")
    before = {tier: render(photographer, tier).text for tier in ("public", "researcher", "staff")}

    def guess(name: str) -> dict:
        response = editor.post(
            api,
            {"kind": "entity", "text": name, "category": "name", "visible_from": "staff"},
            content_type="application/json",
        )
        assert response.status_code == 201
        created = response.json()
        listed = next(r for r in editor.get(api).json()["redactions"] if r["id"] == created["id"])
        return {**created, **listed}

    right = guess("Tareq Mansour")
    wrong = guess("Yusuf Haddad")
    assert right["entity"] != str(brother.public_id)
    assert right["entity_pseudonym"] != brother.pseudonym
    assert Redaction.objects.get(public_id=right["id"]).entity_id != brother.pk
    # Both guesses look alike: a new entity each, with the next pseudonym in line.
    assert re.fullmatch(r"Person [A-Z]+", right["entity_pseudonym"])
    assert re.fullmatch(r"Person [A-Z]+", wrong["entity_pseudonym"])
    assert {k: v for k, v in right.items() if k not in ("id", "entity", "entity_pseudonym")} == {
        k: v for k, v in wrong.items() if k not in ("id", "entity", "entity_pseudonym")
    }
    # Nor does any tier the editor can preview change: the stricter, older redaction still decides.
    photographer.refresh_from_db()
    assert {tier: render(photographer, tier).text for tier in before} == before


def test_it_reuses_an_entity_the_caller_may_see(demo, client_as):
    street = Entity.objects.get(raw_name="Qasr al-Ward Street")  # redacted below staff only
    teacher = demo.interview("whatsapp-teacher")
    response = client_as("editor").post(
        f"/api/v1/interviews/{teacher.public_id}/redactions/",
        {"kind": "entity", "text": "Qasr al-Ward Street", "category": "place", "visible_from": "custodian"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Redaction.objects.get(public_id=response.json()["id"]).entity_id == street.pk
    custodian = client_as("custodian").post(
        f"/api/v1/interviews/{teacher.public_id}/redactions/",
        {"kind": "entity", "text": "Tareq Mansour", "category": "relative", "visible_from": "custodian"},
        content_type="application/json",
    )
    assert custodian.status_code == 201
    brother = Entity.objects.get(raw_name="Tareq Mansour")
    assert Redaction.objects.get(public_id=custodian.json()["id"]).entity_id == brother.pk


# Search queries -------------------------------------------------------------------------------

NESTED = "(" * 200 + "bread" + ")" * 200
LONG = " ".join(["bread"] * 200)  # 1,199 characters


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (NESTED, f"The query nests parentheses more than {search.MAX_QUERY_DEPTH} deep."),
        ("(" * 400 + "bread", f"The query nests parentheses more than {search.MAX_QUERY_DEPTH} deep."),
        (LONG, f"The query is longer than {search.MAX_QUERY_CHARS} characters."),
        (" ".join(f"w{i}" for i in range(80)), f"The query has more than {search.MAX_QUERY_TERMS} terms."),
        (")a" * 240, f"The query has more than {search.MAX_QUERY_TERMS} terms."),
    ],
    ids=["nested", "unclosed", "long", "many-terms", "stray-closing"],
)
def test_it_refuses_a_query_too_deep_or_too_long_with_a_400(demo, client_as, query, message):
    with pytest.raises(search.QueryError, match=re.escape(message)):
        search.parse(query)
    api = client_as("researcher").get("/api/v1/search/", {"q": query})
    assert (api.status_code, api.json()) == (400, {"detail": message})
    page = client_as(None).get("/search/", {"q": query})
    assert page.status_code == 400
    assert message in page.content.decode()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("search", query, "--tier", "researcher", "--json", stdout=io.StringIO())


def test_it_still_answers_a_query_at_the_limits(demo, client_as):
    query = "(" * search.MAX_QUERY_DEPTH + "bread" + ")" * search.MAX_QUERY_DEPTH
    assert search.parse(query) == search.parse("bread")
    # Stray closing parentheses no longer nest the tree one level per term.
    assert search.parse(")a)b)c") == search.parse("a b c")
    response = client_as(None).get("/api/v1/search/", {"q": query})
    assert response.status_code == 200
    assert response.json()["total"] == client_as(None).get("/api/v1/search/", {"q": "bread"}).json()["total"]


# XML ------------------------------------------------------------------------------------------

PADDING = "<!-- " + "x" * (70 * 1024) + " -->\n"
ENTITY_DECLARATION = '<!DOCTYPE record [<!ENTITY who "Tareq Mansour">]>\n'


def test_it_refuses_an_ohms_dtd_placed_after_the_first_64_kib():
    xml = (
        '<?xml version="1.0"?>\n' + PADDING + ENTITY_DECLARATION + "<record><title>T</title>"
        "<transcript>NARRATOR: &who; stayed.</transcript></record>"
    ).encode()
    with pytest.raises(ImportRefused) as caught:
        parse_ohms(xml)
    assert caught.value.code == "xml_entities"
    assert caught.value.reason == (
        "The XML file declares a DTD or entities, which is not allowed (entity expansion attacks)."
    )


def _docx_with(part: str, text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph("[00:00:01] Narrator: Hello")
    buffer = io.BytesIO()
    document.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == part:
                head, _, rest = data.decode().partition("?>")
                data = (head + "?>" + text + rest).encode()
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("part", ["word/document.xml", "word/styles.xml", "[Content_Types].xml", "_rels/.rels"])
def test_it_refuses_a_docx_whose_xml_declares_entities_anywhere(part):
    data = _docx_with(part, PADDING + '<!DOCTYPE w [<!ENTITY x "y">]>')
    with pytest.raises(ImportRefused) as caught:
        parse_file("t.docx", data)
    assert caught.value.code == "xml_entities"
    assert caught.value.reason == "The Word document declares a DTD or XML entities, which is not allowed."
    assert [s.text for s in parse_file("t.docx", _docx_with(part, PADDING)).segments] == ["Hello"]


# Bulk imports ---------------------------------------------------------------------------------


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


CHAT = b"31/12/2020, 21:41 - A: the bread ran out\n31/12/2020, 21:42 - B: we waited at the crossing\n"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(16) + b"data\x00\x00\x00\x00"


def _failing_bulk() -> bytes:
    """Row 2 stores an original; row 3 is parsed fine but cannot be saved (a title over 300 characters)."""
    metadata = f"file,title\nvoice.wav,Voice\nchat.txt,{'T' * 301}\n".encode()
    return _zip(("metadata.csv", metadata), ("voice.wav", WAV), ("chat.txt", CHAT))


def _originals() -> set[str]:
    try:
        return set(default_storage.listdir("originals")[1])
    except FileNotFoundError:
        return set()


BULK_REASON = "Row 3: the title is longer than 300 characters."


@pytest.mark.django_db
def test_it_refuses_a_failing_bulk_import_before_writing_anything(demo):
    before = (_originals(), Interview.objects.count(), Recording.objects.count())
    with pytest.raises(ImportRefused) as caught:
        import_file(data=_failing_bulk(), filename="b.zip", collection_slug="bulk", title="x", narrator_name="N")
    assert (caught.value.reason, caught.value.code) == (BULK_REASON, "format")
    assert (_originals(), Interview.objects.count(), Recording.objects.count()) == before


@pytest.mark.django_db
def test_it_removes_every_rows_files_when_a_later_row_fails_to_save(demo, monkeypatch):
    real = imports.interview_create
    calls = []

    def fail_on_the_second_row(**kwargs):
        calls.append(kwargs["title"])
        if len(calls) == 2:
            raise ValidationError({"title": ["Broken."]})
        return real(**kwargs)

    monkeypatch.setattr(imports, "interview_create", fail_on_the_second_row)
    data = _zip(
        ("metadata.csv", b"file,title,narrator_label\nvoice.wav,Voice,\nchat.txt,Chat,B\n"),
        ("voice.wav", WAV),
        ("chat.txt", CHAT),
    )
    before = _originals()
    with pytest.raises(ImportRefused) as caught:
        import_file(data=data, filename="b.zip", collection_slug="bulk", title="x", narrator_name="N")
    assert caught.value.reason == "Row 3: title: Broken."
    assert calls == ["Voice", "Chat"]
    assert _originals() == before
    assert not Interview.objects.filter(title__in=["Voice", "Chat"]).exists()


@pytest.mark.django_db
def test_it_answers_a_failing_bulk_import_with_a_400_through_the_api_and_the_form(demo, client_as):
    before = _originals()
    client = client_as("fieldresearcher")
    response = client.post(
        f"/api/v1/collections/{demo.collection.slug}/imports/",
        {"file": SimpleUploadedFile("b.zip", _failing_bulk()), "title": "Bulk"},
    )
    assert (response.status_code, response.json()) == (400, {"error": BULK_REASON, "code": "format"})
    form = client.post(
        f"/collections/{demo.collection.slug}/import/",
        {
            "file": SimpleUploadedFile("b.zip", _failing_bulk()),
            "title": "Bulk",
            "anonymity": "anonymous",
            "access": "staff",
        },
    )
    assert form.status_code == 200  # the form again, with the reason, like every refused upload
    assert BULK_REASON in form.content.decode()
    assert _originals() == before


@pytest.mark.django_db
def test_it_refuses_a_failing_bulk_import_in_the_ingest_command(demo, tmp_path):
    path = tmp_path / "bulk.zip"
    path.write_bytes(_failing_bulk())
    before = _originals()
    with pytest.raises(CommandError, match=re.escape(f"Import refused: {BULK_REASON}")):
        call_command(
            "ingest", str(path), "--collection", "bulk", "--title", "x", "--narrator", "N", stdout=io.StringIO()
        )
    assert _originals() == before
