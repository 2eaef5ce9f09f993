"""Envelope encryption for identity fields and quarantined metadata (INFRA-NOTES §6).

* Key-encryption keys (KEKs) live outside the database: in RAWI_FIELD_KEYS ("kid:base64,kid:base64",
  the first encrypts) or, for the embedded single-machine setup, in files under RAWI_DATA_DIR/keys/.
  They are separate from SECRET_KEY.
* Each narrator has a random data key (DEK) stored only wrapped by a KEK. Identity fields are AES-GCM
  under the DEK with associated data binding the ciphertext to its narrator and field.
* Rotating the KEK re-wraps data keys only. Destroying a narrator's data key (crypto-shredding) makes
  their identity fields unreadable for good.
* Quarantined metadata is AES-GCM directly under the active KEK, tagged with its key id.
* The blind-index key is its own key (RAWI_BLIND_INDEX_KEY or RAWI_DATA_DIR/keys/blind-index.key), so
  rotating KEKs never changes the index values stored in the database.
* Rotation without downtime: a new KEK file becomes active while the old ones stay readable; every
  process notices the new ACTIVE marker on its next call (the key ring is keyed by the marker's mtime),
  data keys are re-wrapped row by row, and an old KEK is retired only when nothing refers to it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyDestroyed(Exception):
    """The narrator's data key was destroyed: their identity can no longer be read."""


@dataclass(frozen=True)
class KeyRing:
    active_id: str
    keys: dict[str, bytes]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text.encode("ascii"))


def _keys_dir() -> Path:
    return Path(settings.KEYS_DIR)


def _load_file_keys() -> KeyRing:
    directory = _keys_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = sorted(directory.glob("kek-*.key"))
    if not files:
        create_local_kek()
        files = sorted(directory.glob("kek-*.key"))
    keys = {}
    for path in files:
        keys[path.stem.removeprefix("kek-")] = _unb64(path.read_text().strip())
    active_marker = directory / "ACTIVE"
    active = active_marker.read_text().strip() if active_marker.exists() else files[-1].stem.removeprefix("kek-")
    if active not in keys:
        raise ImproperlyConfigured("The active key-encryption key file is missing.")
    return KeyRing(active_id=active, keys=keys)


def create_local_kek() -> str:
    """Create a new local KEK file and make it the active one. Returns its id."""
    directory = _keys_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    numbers = [int(p.stem[4:8]) for p in directory.glob("kek-*.key") if p.stem[4:8].isdigit()]
    kid = f"{max(numbers, default=0) + 1:04d}{secrets.token_hex(3)}"
    path = directory / f"kek-{kid}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_b64(AESGCM.generate_key(bit_length=256)))
        handle.flush()
        os.fsync(handle.fileno())
    # Switch the marker atomically: a reader sees the old id or the new one, never an empty file.
    marker_tmp = directory / f".ACTIVE.{secrets.token_hex(4)}"
    marker_tmp.write_text(kid)
    os.replace(marker_tmp, directory / "ACTIVE")
    keyring.cache_clear()
    return kid


def _file_signature() -> tuple:
    """Changes whenever a KEK file is added, retired or made active, so every process picks it up."""
    directory = _keys_dir()
    try:
        marker = (directory / "ACTIVE").stat().st_mtime_ns
        listing = directory.stat().st_mtime_ns
    except FileNotFoundError:
        return (str(directory), 0, 0)
    return (str(directory), marker, listing)


def keyring() -> KeyRing:
    configured = settings.RAWI_FIELD_KEYS
    signature = (configured,) if configured and configured != "-" else (configured, *_file_signature())
    return _keyring_cached(signature)


@lru_cache(maxsize=4)
def _keyring_cached(signature: tuple) -> KeyRing:
    configured = settings.RAWI_FIELD_KEYS
    if configured and configured != "-":
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in configured.split(","):
            kid, _, material = item.strip().partition(":")
            if not kid or not material:
                raise ImproperlyConfigured("RAWI_FIELD_KEYS entries must look like 'kid:base64key'.")
            key = _unb64(material)
            if len(key) != 32:
                raise ImproperlyConfigured("RAWI_FIELD_KEYS keys must be 32 bytes.")
            keys[kid] = key
            order.append(kid)
        return KeyRing(active_id=order[0], keys=keys)
    return _load_file_keys()


keyring.cache_clear = _keyring_cached.cache_clear  # type: ignore[attr-defined]


def uses_key_files() -> bool:
    configured = settings.RAWI_FIELD_KEYS
    return not (configured and configured != "-")


def _kek(kid: str) -> bytes:
    ring = keyring()
    if kid not in ring.keys:
        # Another process may have just added it: reload once before giving up.
        keyring.cache_clear()
        ring = keyring()
    try:
        return ring.keys[kid]
    except KeyError:
        raise ImproperlyConfigured("A key-encryption key needed to read identity data is missing.") from None


def active_kek_id() -> str:
    return keyring().active_id


def kek_ids() -> list[str]:
    return sorted(keyring().keys)


def retire_local_kek(kid: str) -> None:
    """Delete a local KEK file for good (after every data key was re-wrapped away from it). Data keys
    wrapped by it in old database backups become unreadable too, which is what shredding needs."""
    if not uses_key_files():
        raise ImproperlyConfigured("Keys come from RAWI_FIELD_KEYS: remove the old entry there instead.")
    if kid == active_kek_id():
        raise ValueError("The active key-encryption key cannot be retired.")
    path = _keys_dir() / f"kek-{kid}.key"
    if not path.exists():
        raise ValueError("No such key-encryption key.")
    size = path.stat().st_size
    with open(path, "r+b") as handle:  # overwrite before unlinking (best effort on journalling disks)
        handle.write(secrets.token_bytes(size))
        handle.flush()
        os.fsync(handle.fileno())
    path.unlink()
    keyring.cache_clear()


# Data keys -----------------------------------------------------------------------------------------


def new_wrapped_data_key(narrator_public_id: str) -> tuple[str, str]:
    """A fresh DEK wrapped by the active KEK: (kek_id, wrapped)."""
    dek = AESGCM.generate_key(bit_length=256)
    return wrap_data_key(dek, narrator_public_id)


def wrap_data_key(dek: bytes, narrator_public_id: str) -> tuple[str, str]:
    ring = keyring()
    nonce = secrets.token_bytes(12)
    wrapped = AESGCM(ring.keys[ring.active_id]).encrypt(nonce, dek, f"dek:{narrator_public_id}".encode())
    return ring.active_id, _b64(nonce + wrapped)


def unwrap_data_key(kek_id: str, wrapped: str, narrator_public_id: str) -> bytes:
    if not wrapped:
        raise KeyDestroyed
    raw = _unb64(wrapped)
    return AESGCM(_kek(kek_id)).decrypt(raw[:12], raw[12:], f"dek:{narrator_public_id}".encode())


def encrypt_field(dek: bytes, narrator_public_id: str, field: str, value: str) -> str:
    if value == "":
        return ""
    nonce = secrets.token_bytes(12)
    aad = f"narrator:{narrator_public_id}:{field}".encode()
    return "v1." + _b64(nonce + AESGCM(dek).encrypt(nonce, value.encode("utf-8"), aad))


def decrypt_field(dek: bytes, narrator_public_id: str, field: str, token: str) -> str:
    if token == "":
        return ""
    raw = _unb64(token.removeprefix("v1."))
    aad = f"narrator:{narrator_public_id}:{field}".encode()
    return AESGCM(dek).decrypt(raw[:12], raw[12:], aad).decode("utf-8")


# Blobs under the KEK (quarantine) ----------------------------------------------------------------


def seal_json(payload: dict, context: str) -> str:
    ring = keyring()
    nonce = secrets.token_bytes(12)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    sealed = AESGCM(ring.keys[ring.active_id]).encrypt(nonce, data, context.encode())
    return f"{ring.active_id}.{_b64(nonce + sealed)}"


def open_json(token: str, context: str) -> dict:
    kid, _, body = token.partition(".")
    raw = _unb64(body)
    return json.loads(AESGCM(_kek(kid)).decrypt(raw[:12], raw[12:], context.encode()))


# Blind index -------------------------------------------------------------------------------------


def normalise_for_index(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def _blind_index_path() -> Path:
    return _keys_dir() / "blind-index.key"


@lru_cache(maxsize=8)
def _local_secret_key(configured: str, path: str) -> bytes:
    """A configured key, or a random one kept in a file under RAWI_DATA_DIR/keys (created once)."""
    if configured and configured != "-":
        return configured.encode()
    key_file = Path(path)
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # created by a concurrent process: read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(_b64(secrets.token_bytes(32)))
    return _unb64(key_file.read_text().strip())


def blind_index(value: str) -> str:
    """HMAC-SHA256 of the normalised value under the blind-index key (equality lookups only)."""
    if not value:
        return ""
    # A dedicated key, never derived from a KEK: KEK rotation must not change stored index values.
    key = _local_secret_key(settings.RAWI_BLIND_INDEX_KEY, str(_blind_index_path()))
    return hmac.new(key, normalise_for_index(value).encode("utf-8"), hashlib.sha256).hexdigest()


def audit_checkpoint_mac(payload: bytes) -> str:
    """HMAC-SHA256 of an audit checkpoint under its own key, kept outside the database
    (RAWI_AUDIT_KEY, or RAWI_DATA_DIR/keys/audit-checkpoint.key)."""
    key = _local_secret_key(settings.RAWI_AUDIT_KEY, str(_keys_dir() / "audit-checkpoint.key"))
    return hmac.new(key, payload, hashlib.sha256).hexdigest()
