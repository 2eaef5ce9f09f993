"""The one decoder of narrator identities, and how each tier names a narrator.

Only this module decrypts identity fields for rendering; a custodian's stored rendering holds
references (identity_ref), resolved when read (store.resolve_identities).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .. import crypto
from ..models import (
    Narrator,
    Tier,
)
from .types import WITHHELD_NARRATOR


@dataclass
class NarratorIdentity:
    narrator: Narrator
    legal_name: str
    aliases: list[str]


def decode_identity(narrator: Narrator) -> NarratorIdentity:
    try:
        key = narrator.data_key
        dek = crypto.unwrap_data_key(key.kek_id, key.wrapped_key, str(narrator.public_id))
    except (Narrator.data_key.RelatedObjectDoesNotExist, crypto.KeyDestroyed):
        return NarratorIdentity(narrator, "", [])
    legal = crypto.decrypt_field(dek, str(narrator.public_id), "legal_name", narrator.legal_name_ciphertext)
    aliases_text = crypto.decrypt_field(dek, str(narrator.public_id), "aliases", narrator.aliases_ciphertext)
    contacts = crypto.decrypt_field(dek, str(narrator.public_id), "contacts", narrator.contacts_ciphertext)
    # Contacts (phone numbers, addresses) are hidden wherever they occur in text, like the name.
    aliases = [a.strip() for a in re.split(r"[\n,;]", f"{aliases_text}\n{contacts}") if len(a.strip()) > 2]
    return NarratorIdentity(narrator, legal, aliases)


IDENTITY_REF = re.compile(r"\u27e6narrator:([0-9a-f-]{36})\u27e7")


def identity_ref(narrator: Narrator) -> str:
    """What a stored custodian rendering holds in place of a decrypted name (resolved on reading)."""
    return f"\u27e6narrator:{narrator.public_id}\u27e7"


def narrator_display(identity: NarratorIdentity, tier: str, *, references: bool = False) -> str:
    """How the narrator is named at `tier`. With `references`, a real name that only custodians may
    see is given as a reference (identity_ref): renderings and indexes at rest never hold it."""
    narrator = identity.narrator
    if references and tier == Tier.CUSTODIAN and narrator.anonymity != Narrator.Anonymity.NAMED and identity.legal_name:
        return identity_ref(narrator)
    fallback = narrator.pseudonym or narrator.descriptor or "Narrator"
    if narrator.anonymity == Narrator.Anonymity.NAMED:
        return identity.legal_name or fallback
    if tier == Tier.CUSTODIAN:
        return identity.legal_name or fallback
    if narrator.anonymity == Narrator.Anonymity.PSEUDONYMOUS:
        return narrator.pseudonym or "Narrator"
    if narrator.anonymity == Narrator.Anonymity.ANONYMOUS:
        return narrator.descriptor or "Anonymous narrator"
    return WITHHELD_NARRATOR


WITHHELD_REF = "withheld"


def narrator_refs(narrators: list[Narrator], tier: str) -> dict[object, str]:
    """How each narrator is referred to at a tier. Below custodian an anonymous narrator gets an
    identifier local to the interview, so their interviews cannot be linked by id; a sealed one none."""
    refs: dict[object, str] = {}
    for ordinal, narrator in enumerate(sorted(narrators, key=lambda n: n.pk), start=1):
        if tier == Tier.CUSTODIAN or narrator.anonymity in (Narrator.Anonymity.NAMED, Narrator.Anonymity.PSEUDONYMOUS):
            refs[narrator.public_id] = str(narrator.public_id)
        elif narrator.anonymity == Narrator.Anonymity.ANONYMOUS:
            refs[narrator.public_id] = f"narrator-{ordinal}"
        else:
            refs[narrator.public_id] = WITHHELD_REF
    return refs
