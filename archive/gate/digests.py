"""Input digests: a stored tier rendering whose inputs did not change is not rendered again.

`inputs_digest(inputs, tier)` covers everything `render(interview, tier, inputs, references=True)`
reads: every loaded field of the interview (but its policy version, a counter moved by every change
of any input, which the stamp carries), its collection, which narrators are its own, each narrator's
loaded fields and decoded identity, every loaded field of every segment (words as their JSON text),
of every recording and of the transcript, the duration, the span rules and entity names hidden at the
tier, in the order the redactor reads them, and the source of the code that renders them
(`code_fingerprint`), so that a change of the rendering rules is never mistaken for no change even
where POLICY_CODE_VERSION was not moved on. Fields are taken as loaded, not from a list, so a field
added to a model is covered without anyone remembering to add it here; anything whose text is not
stable (an object without a repr of its own) only makes the digest differ, which is safe: the tier
is then rendered.

The digest is keyed with the deployment's SECRET_KEY: it is stored with the rendering and covers
text hidden from that tier, and without the key it cannot be used to test a guess of that text.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from pathlib import Path

from django.conf import settings
from django.db.models import Model

from ..models import TIER_ORDER
from .inputs import Inputs
from .stamps import POLICY_CODE_VERSION

DIGEST_SCHEME = "rawi-inputs-1"
_ARCHIVE = Path(__file__).resolve().parent.parent
# The code render() runs: the gate, and the leaf modules it reads rules, text folds, labels, tiers and
# identities from.
CODE_FILES = (
    *sorted(Path(__file__).resolve().parent.glob("*.py")),
    _ARCHIVE / "textnorm.py",
    _ARCHIVE / "placeholders.py",
    _ARCHIVE / "models.py",
    _ARCHIVE / "crypto.py",
    _ARCHIVE / "grants.py",
)
# Instance attributes that are not inputs: Django's state and caches, and the interview's policy
# version (the stamp covers it; every touch moves it on).
SKIPPED = frozenset({"policy_version"})


@functools.cache
def code_fingerprint() -> str:
    """A digest of the source of the rendering code. When a file cannot be read, a value of this
    process alone: renderings stored by any other process are then rendered again."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        for path in CODE_FILES:
            digest.update(path.name.encode() + b"\x1e" + path.read_bytes() + b"\x1d")
    except OSError:
        return "unreadable-" + secrets.token_hex(16)
    return digest.hexdigest()


class Incomplete(Exception):
    """An instance was loaded without some of its fields: what render() would read of them later is
    not in the digest, so there is none."""


@functools.cache
def _attnames(model: type[Model]) -> frozenset[str]:
    return frozenset(field.attname for field in model._meta.concrete_fields)


def _fields(instance: Model, skip: frozenset[str] = frozenset(), stands_for: dict[str, str] | None = None) -> bytes:
    """Every loaded attribute of a model instance. Each field must be loaded, or (`stands_for`: field →
    attribute) be deferred with what stands for it loaded instead (a segment's words as JSON text)."""
    values = vars(instance)
    missing = _attnames(type(instance)) - values.keys()
    substitutes = stands_for or {}
    if missing and any(name not in substitutes or substitutes[name] not in values for name in missing):
        raise Incomplete(type(instance).__name__)
    texts: list[bytes] = []
    others: dict[str, object] = {}
    for name, value in values.items():
        if name[0] == "_" or name in skip:
            continue
        if type(value) is str:  # as UTF-8 behind its length: long text (words JSON) needs no repr
            encoded = value.encode("utf-8", "surrogatepass")
            texts.append(b"%s=%d:%s" % (name.encode(), len(encoded), encoded))
        else:
            others[name] = value
    return repr(others).encode() + b"\x1f" + b"\x1f".join(texts)


WORDS_AS_TEXT = {"raw_words": "words_source"}


def _common(inputs: Inputs) -> bytes:
    """The part of every tier's digest that does not depend on the tier (computed once per Inputs)."""
    if inputs.common_digest is not None:
        return inputs.common_digest
    interview = inputs.interview
    digest = hashlib.blake2b(digest_size=32)
    digest.update(f"{DIGEST_SCHEME}\x1f{POLICY_CODE_VERSION}\x1f{code_fingerprint()}\x1d".encode())
    digest.update(_fields(interview, SKIPPED) + b"\x1d")
    digest.update(_fields(interview.collection) + b"\x1d")
    own = sorted(interview.narrators.values_list("pk", flat=True))
    digest.update(repr(own).encode() + b"\x1d")
    for narrator_id, identity in inputs.identities.items():
        digest.update(repr((narrator_id, identity.legal_name, identity.aliases)).encode())
        digest.update(_fields(identity.narrator) + b"\x1d")
    digest.update(b"transcript" + (_fields(inputs.transcript) if inputs.transcript is not None else b"-") + b"\x1d")
    for segment in inputs.segments:
        digest.update(_fields(segment, stands_for=WORDS_AS_TEXT) + b"\x1d")
    for recording_id, recording in inputs.recordings.items():
        digest.update(repr(recording_id).encode())
        digest.update(_fields(recording) + b"\x1d")
    digest.update(repr(inputs.duration).encode())
    inputs.common_digest = digest.digest()
    return inputs.common_digest


def inputs_digest(inputs: Inputs, tier: str) -> str | None:
    """A digest of everything render() reads for `tier` (see the module's docstring); None when an
    input was loaded incompletely (the tier is then always rendered)."""
    try:
        common = _common(inputs)
    except Incomplete:
        return None
    order = TIER_ORDER[tier]
    key = hashlib.blake2b(settings.SECRET_KEY.encode(), digest_size=32).digest()
    digest = hashlib.blake2b(digest_size=16, key=key)
    digest.update(common)
    digest.update(f"\x1d{tier}\x1dreferences\x1d".encode())
    for name, rule in inputs.entity_names:
        if TIER_ORDER[rule.visible_from] > order:
            digest.update(repr((name, rule)).encode())
    digest.update(b"\x1dspans\x1d")
    for segment_id, rules in inputs.span_rules.items():
        hidden = [(start, end, rule) for start, end, rule in rules if TIER_ORDER[rule.visible_from] > order]
        if hidden:
            digest.update(repr((segment_id, hidden)).encode())
    return digest.hexdigest()
