"""Raw transcript text and identity fields are read only by the gate, services, tasks and the
transcription boundary. Everything else consumes renderings."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "archive"
RAW_ATTRIBUTES = {
    "raw_text",
    "raw_words",
    "raw_speaker",
    "raw_name",
    "raw_alias",
    "legal_name_ciphertext",
    "contacts_ciphertext",
    "location_ciphertext",
    "aliases_ciphertext",
    "payload_ciphertext",
    "wrapped_key",
}
RAW_FUNCTIONS = {"decrypt_field", "unwrap_data_key", "open_json", "decode_identity", "load_inputs"}
# The gate reads everything; below it, the models and the boundaries that make raw data.
ALLOWED = {
    "archive/models.py",
    "archive/crypto.py",
    "archive/transcription.py",
}
ALLOWED_DIRS = ("archive/gate/", "archive/migrations/")
# Named writers: each writes (or must match against) the raw fields it names, and sends nothing out.
WRITERS = {
    "archive/services/interviews.py": "stores transcript versions and corrections",
    "archive/services/people.py": "encrypts identities; pins identity spans before crypto-shredding",
    "archive/services/redactions.py": "re-anchors span redactions on the text they hide",
    "archive/services/suggestions.py": "runs the detectors over raw text; stores suggestions, shows none",
    "archive/services/transcripts_ingest.py": "stores Whisper output and voice notes",
    "archive/services/imports.py": "stores imported transcripts and their redactions",
    "archive/services/quarantine.py": "seals and unseals quarantined metadata for custodians",
    "archive/services/recordings.py": "stores recordings and their quarantined metadata",
    # The edit forms and the workbench are read models in the gate (gate.editors); these two keep the writes.
    "archive/services/transcript_edit.py": "compares a correction with the stored text to re-anchor its spans",
    "archive/services/workbench.py": "redacts a selection everywhere: the selected words are matched in every interview",
    "archive/services/purge.py": "destroys originals and keys of a purged item",
    "archive/services/editorial.py": "edits interview fields and narrator descriptors",
    "archive/services/planning.py": "stores planned interviews' sealed contact notes",
}


def _allowed(relative: str) -> bool:
    return relative in ALLOWED or relative in WRITERS or relative.startswith(ALLOWED_DIRS)


def raw_reads(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and (node.attr in RAW_ATTRIBUTES or node.attr in RAW_FUNCTIONS):
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Name) and node.id in RAW_FUNCTIONS:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.ImportFrom):
            found.extend((node.lineno, alias.name) for alias in node.names if alias.name in RAW_FUNCTIONS)
        elif isinstance(node, ast.keyword) and node.arg in RAW_ATTRIBUTES:
            found.append((node.lineno, node.arg))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.split("__")[0] in RAW_ATTRIBUTES
        ):
            found.append((node.lineno, node.value))
    return found


def test_it_reads_raw_text_and_identities_only_inside_the_gate():
    offenders = []
    for path in sorted(ARCHIVE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if _allowed(relative):
            continue
        offenders.extend(f"{relative}:{line} {name}" for line, name in raw_reads(path.read_text(encoding="utf-8")))
    assert offenders == []


def test_it_notices_a_raw_read():
    """The check can fail: a view reading segment text directly is caught."""
    source = "def view(request, segment):\n    return segment.raw_text\n"
    assert raw_reads(source) == [(2, "raw_text")]
    assert raw_reads("from archive.crypto import decrypt_field\n") == [(1, "decrypt_field")]
    assert raw_reads("Segment.objects.values_list('raw_text')\n") == [(1, "raw_text")]
