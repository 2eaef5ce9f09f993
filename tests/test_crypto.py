"""Crypto-shredding, KEK rotation without downtime, and a blind index that survives rotation."""

from __future__ import annotations

import shutil

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from archive import crypto, services
from archive.gate import rendering_for
from archive.models import AuditEvent, Narrator, NarratorKey, Redaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_keys(settings, tmp_path):
    """A copy of the session's key directory, so rotating or retiring keys here leaves other tests alone."""
    keys = tmp_path / "keys"
    shutil.copytree(settings.KEYS_DIR, keys)
    settings.KEYS_DIR = keys
    crypto.keyring.cache_clear()
    yield keys
    crypto.keyring.cache_clear()


def test_it_leaves_identity_unreadable_but_the_interview_rendering_after_forgetting(demo, client_as):
    narrator = Narrator.objects.get(pseudonym=demo_pseudonym(demo, "photographer"))
    interview = demo.interview("skype-photographer")
    before = rendering_for(interview, "public")
    assert "Abu Kamal" not in before.text

    call_command("forget_narrator", str(narrator.public_id), "--yes")

    narrator.refresh_from_db()
    key = NarratorKey.objects.get(narrator=narrator)
    assert key.wrapped_key == ""
    assert key.destroyed_at is not None
    assert narrator.legal_name_blind_index == ""
    with pytest.raises(crypto.KeyDestroyed):
        crypto.unwrap_data_key(key.kek_id, key.wrapped_key, str(narrator.public_id))
    identity = services.narrator_identity(narrator=narrator, actor=demo.user("custodian"))
    assert identity == {"legal_name": None, "contacts": None, "location": None, "aliases": None, "destroyed": True}
    # The ciphertext is still there, and useless.
    assert narrator.legal_name_ciphertext.startswith("v1.")

    for tier in ("public", "researcher", "staff", "custodian"):
        rendering = rendering_for(interview, tier)
        assert len(rendering.segments) == len(before.segments)
        assert "Yusuf Kamal Darwish" not in rendering.text
        expected = "Narrator A" if tier == "custodian" else "an amateur photographer from the district"
        assert rendering.narrators[0].display_name == expected
    public = rendering_for(interview, "public")
    # The alias in the transcript was pinned as a span redaction before the key went.
    assert "Abu Kamal" not in public.text
    assert "People here know an amateur photographer from the district" in public.text
    assert Redaction.objects.filter(interview=interview, source="forget", visible_from="custodian").count() >= 1
    page = client_as(None).get(f"/interviews/{interview.public_id}/")
    assert page.status_code == 200
    assert "Abu Kamal" not in page.content.decode()
    assert AuditEvent.objects.filter(action="narrator_key_destroyed", target_id=str(narrator.public_id)).count() == 1


def demo_pseudonym(demo, key: str) -> str:
    spec = next(n for n in demo.data["narrators"] if n["key"] == key)
    interview = next(i for i in demo.data["interviews"] if key in i.get("consent", {}))
    narrator = demo.interview(interview["key"]).narrators.get()
    assert narrator.descriptor == spec.get("descriptor", narrator.descriptor)
    return narrator.pseudonym


def test_it_refuses_to_forget_without_confirmation(demo):
    narrator = demo.interview("whatsapp-teacher").narrators.get()
    with pytest.raises(CommandError, match="--yes"):
        call_command("forget_narrator", str(narrator.public_id))
    assert NarratorKey.objects.get(narrator=narrator).wrapped_key != ""
    with pytest.raises(CommandError, match="No such narrator"):
        call_command("forget_narrator", "not-a-uuid", "--yes")


def test_it_rotates_the_kek_rewrapping_every_data_key_and_retires_the_old_one(demo, private_keys, capsys):
    old_active = crypto.active_kek_id()
    teacher = Narrator.objects.get(pseudonym="Resident B")
    index_before = teacher.legal_name_blind_index
    with connection.cursor() as cursor:
        cursor.execute("SELECT legal_name_ciphertext FROM archive_narrator WHERE id = %s", [teacher.pk])
        (cipher_before,) = cursor.fetchone()
    live_keys = NarratorKey.objects.exclude(wrapped_key="").count()

    call_command("rotate_keys", "--retire")

    out = capsys.readouterr().out
    new_active = crypto.active_kek_id()
    assert new_active != old_active
    assert f"Re-wrapped {live_keys} data keys under key {new_active}." in out
    assert f"Retired 1 old keys: {old_active}." in out
    assert set(NarratorKey.objects.exclude(wrapped_key="").values_list("kek_id", flat=True)) == {new_active}
    assert not (private_keys / f"kek-{old_active}.key").exists()
    assert crypto.kek_ids() == [new_active]
    teacher.refresh_from_db()
    # Data rows untouched; identity still readable; blind index unchanged and still matching.
    assert teacher.legal_name_ciphertext == cipher_before
    assert services.narrator_identity(narrator=teacher, actor=None)["legal_name"] == "Rima Saleh Hamdan"
    assert teacher.legal_name_blind_index == index_before == crypto.blind_index("  rima saleh HAMDAN ")
    assert Narrator.objects.filter(legal_name_blind_index=crypto.blind_index("Rima Saleh Hamdan")).get() == teacher
    event = AuditEvent.objects.filter(action="kek_rotate").last()
    assert event.detail["keys"] == live_keys and event.detail["kek"] == new_active


def test_it_keeps_serving_while_keys_rotate(demo, private_keys, client_as):
    """Another process holds the old key ring in cache: it reads re-wrapped keys without a restart."""
    interview = demo.interview("whatsapp-teacher")
    old_ring = crypto.keyring()
    services.kek_rotate(new_key=True)  # rotation happens while the old KEK is still on disk
    new_active = crypto.active_kek_id()
    assert new_active not in old_ring.keys
    teacher = Narrator.objects.get(pseudonym="Resident B")
    assert NarratorKey.objects.get(narrator=teacher).kek_id == new_active
    assert services.narrator_identity(narrator=teacher, actor=None)["legal_name"] == "Rima Saleh Hamdan"
    services.interview_touch(interview)  # a rebuild decrypts every narrator through the new key
    assert client_as("custodian").get(f"/interviews/{interview.public_id}/").status_code == 200
    # Without --retire the old KEK stays on disk and still unwraps old backups' keys.
    assert sorted(crypto.kek_ids()) == sorted([*old_ring.keys, new_active])


def test_it_reloads_the_key_ring_when_another_process_adds_a_kek(demo, private_keys, monkeypatch):
    # A coarse clock: the ring's cache signature does not change, as on a filesystem with 1 s mtimes.
    monkeypatch.setattr(crypto, "_file_signature", lambda: ("frozen",))
    stale = crypto.keyring()
    # Another process writes a new KEK and wraps a data key under it.
    material = AESGCM.generate_key(bit_length=256)
    (private_keys / "kek-9999abcdef.key").write_text(crypto._b64(material))
    (private_keys / "ACTIVE").write_text("9999abcdef")
    nonce = b"n" * 12
    wrapped = crypto._b64(nonce + AESGCM(material).encrypt(nonce, b"d" * 32, b"dek:n-1"))
    assert "9999abcdef" not in stale.keys
    assert crypto.unwrap_data_key("9999abcdef", wrapped, "n-1") == b"d" * 32
    assert crypto.active_kek_id() == "9999abcdef"


def test_it_refuses_to_retire_the_active_kek_or_one_in_use(demo, private_keys):
    active = crypto.active_kek_id()
    with pytest.raises(ValueError, match="active"):
        crypto.retire_local_kek(active)
    crypto.create_local_kek()
    # The previous KEK still wraps every data key: nothing is retired.
    assert services.people.kek_retire_unused() == []
    assert active in crypto.kek_ids()


def test_it_keeps_the_blind_index_key_apart_from_the_kek(demo, private_keys, settings):
    value = crypto.blind_index("Samir Haddad")
    crypto.create_local_kek()
    assert crypto.blind_index("samir  haddad") == value
    assert (private_keys / "blind-index.key").exists()
    settings.RAWI_BLIND_INDEX_KEY = "a-dedicated-production-index-key"
    assert crypto.blind_index("Samir Haddad") != value
    assert crypto.blind_index("") == ""
