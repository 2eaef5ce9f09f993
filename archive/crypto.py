"""Envelope encryption for identity fields and quarantined metadata (INFRA-NOTES §6).

* Key-encryption keys (KEKs) live outside the database: in RAWI_FIELD_KEYS ("kid:base64,kid:base64",
  the first encrypts) or, for the embedded single-machine setup, in files under RAWI_DATA_DIR/keys/.
  They are separate from SECRET_KEY.
* Each narrator has a random data key (DEK) stored only wrapped by a KEK. Identity fields are AES-GCM
  under the DEK with associated data binding the ciphertext to its narrator and field.
* Rotating the KEK re-wraps data keys only. Destroying a narrator's data key (crypto-shredding) makes
  their identity fields unreadable for good.
* Quarantined metadata is AES-GCM directly under the active KEK, tagged with its key id.
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
    kid = f"{len(list(directory.glob('kek-*.key'))) + 1:04d}{secrets.token_hex(3)}"
    path = directory / f"kek-{kid}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(_b64(AESGCM.generate_key(bit_length=256)))
    (directory / "ACTIVE").write_text(kid)
    keyring.cache_clear()
    return kid


@lru_cache(maxsize=1)
def keyring() -> KeyRing:
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


def _kek(kid: str) -> bytes:
    ring = keyring()
    try:
        return ring.keys[kid]
    except KeyError:
        raise ImproperlyConfigured("A key-encryption key needed to read identity data is missing.") from None


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


def blind_index(value: str) -> str:
    configured = settings.RAWI_BLIND_INDEX_KEY
    if configured and configured != "-":
        key = configured.encode()
    else:
        # Derived from the active local KEK so it stays outside the database.
        ring = keyring()
        key = hmac.new(ring.keys[ring.active_id], b"blind-index", hashlib.sha256).digest()
    if not value:
        return ""
    return hmac.new(key, normalise_for_index(value).encode("utf-8"), hashlib.sha256).hexdigest()
