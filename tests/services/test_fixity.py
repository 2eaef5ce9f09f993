"""Fixity: flipping one byte of a stored original makes fixity_check fail and name the recording."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from archive.models import Alert, Recording
from archive.services.recordings import recording_store
from archive.tasks import fixity_check

pytestmark = pytest.mark.django_db


def store(interview, tmp_path, name: str) -> Recording:
    path = tmp_path / name
    soundfile.write(path, (0.1 * np.sin(np.arange(8000) / 7)).astype(np.float32), 8000)
    with path.open("rb") as handle:
        return recording_store(interview=interview, fileobj=handle, original_filename=name)


def flip_one_byte(recording: Recording) -> None:
    path = default_storage.path(recording.original.name)
    with open(path, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0x01]))


def test_it_passes_when_every_original_matches(demo, tmp_path, capsys):
    interview = next(iter(demo.interviews.values()))
    store(interview, tmp_path, "a.wav")
    call_command("fixity_check")
    out = capsys.readouterr().out
    assert out.strip().endswith(f"checked {Recording.objects.count()}, ok {Recording.objects.count()}, failed 0")
    assert not Alert.objects.filter(kind="fixity_mismatch").exists()


def test_it_names_the_recording_whose_byte_was_flipped(demo, tmp_path, capsys):
    interview = next(iter(demo.interviews.values()))
    good = store(interview, tmp_path, "good.wav")
    bad = store(interview, tmp_path, "bad.wav")
    flip_one_byte(bad)

    with pytest.raises(CommandError) as failure:
        call_command("fixity_check")

    assert failure.value.returncode == 1
    err = capsys.readouterr().err
    assert f"MISMATCH recording {bad.public_id}" in err
    assert str(good.public_id) not in err
    assert "bad.wav" not in err
    alert = Alert.objects.get(kind="fixity_mismatch")
    assert alert.target_id == str(bad.public_id)
    assert alert.message == f"Fixity check: the original of recording {bad.public_id} does not match its checksum."
    bad.refresh_from_db()
    good.refresh_from_db()
    assert (bad.fixity_ok, good.fixity_ok) == (False, True)


def test_it_reports_a_missing_original(demo, tmp_path, capsys):
    interview = next(iter(demo.interviews.values()))
    gone = store(interview, tmp_path, "gone.wav")
    default_storage.delete(gone.original.name)
    with pytest.raises(CommandError):
        call_command("fixity_check")
    assert f"MISSING recording {gone.public_id}" in capsys.readouterr().err


def test_it_runs_as_the_periodic_task_and_raises_an_alert(demo, tmp_path):
    assert settings.CELERY_BEAT_SCHEDULE["fixity-check"]["task"] == "archive.tasks.fixity_check"
    interview = next(iter(demo.interviews.values()))
    flip_one_byte(store(interview, tmp_path, "c.wav"))
    with pytest.raises(CommandError):
        fixity_check()
    assert Alert.objects.filter(kind="fixity_mismatch").count() == 1
