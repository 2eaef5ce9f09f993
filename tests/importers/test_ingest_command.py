"""`manage.py ingest` on a machine where no worker runs: the job runs in the command's own process,
and the access level the operator chose is recorded as consent, so the rendering exists at that tier."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from archive.gate import rendering_for
from archive.models import ConsentRecord, Interview, TranscriptionJob
from config.celery import app
from tests.builders import zip_of
from tests.transcription_audio import speak

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_broker():
    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    yield
    app.conf.broker_url = previous


def test_it_transcribes_in_process_when_no_worker_answers(no_broker, settings, tmp_path):
    settings.RAWI_WHISPER_MODEL = "tiny.en"
    path = speak(tmp_path / "speech.wav", "The bakery on our street closed in the winter.")
    out = io.StringIO()
    call_command(
        "ingest", str(path), "--collection", "cli", "--title", "Bakery", "--narrator", "Hala Canary",
        "--anonymity", "anonymous", "--access", "public", "--wait", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    public_id = out.getvalue().strip().splitlines()[-1]
    interview = Interview.objects.get(public_id=public_id)
    assert TranscriptionJob.objects.get(recording__interview=interview).state == "done"
    consent = ConsentRecord.objects.get(interview=interview)
    assert (consent.research_access, consent.publication, consent.public_web, consent.voice_release) == (
        True, True, True, True,
    )  # fmt: skip
    public = rendering_for(interview, "public")
    assert "bakery" in public.text.lower()
    assert public.narrators[0].display_name == "Anonymous narrator"
    assert public.audio_allowed is True


def test_it_ingests_a_bulk_zip_as_one_interview_per_row(tmp_path):
    chat = b"31/12/2020, 21:41 - A: the bread ran out\n31/12/2020, 21:42 - B: we waited at the crossing\n"
    bulk = tmp_path / "bulk.zip"
    bulk.write_bytes(
        zip_of(
            (
                "metadata.csv",
                b"file,title,narrator,narrator_label,anonymity,access,language\n"
                b"chats/a.txt,Chat A,Nadia Canary,B,anonymous,staff,en\n"
                b"chats/b.txt,Chat B,Omar Canary,B,pseudonymous,researcher,en\n",
            ),
            ("chats/a.txt", chat),
            ("chats/b.txt", chat),
        )
    )
    out = io.StringIO()
    call_command(
        "ingest", str(bulk), "--collection", "bulk", "--title", "ignored", "--narrator", "x",
        "--anonymity", "anonymous", "--access", "staff", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    ids = out.getvalue().split()
    assert sorted(Interview.objects.get(public_id=i).title for i in ids) == ["Chat A", "Chat B"]
    assert [s.text for s in rendering_for(Interview.objects.get(public_id=ids[0]), "staff").segments] == [
        "the bread ran out",
        "we waited at the crossing",
    ]
