"""Raw transcript text and identity fields are read only by the gate, services, tasks and the
transcription boundary. Everything else consumes renderings."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from django.db import models
from django.template import Context, Template
from django.template import base as template_base
from django.urls import reverse

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


# Free-text fields the gate renders per tier: a template must show them from a rendering (or a read model
# built by the gate), never from the model row itself.
GATE_RENDERED = {
    "Interview": {"title", "summary", "place", "place_general", "topics", "interviewer_label"},
    "Segment": {"raw_text", "raw_speaker"},
    "Narrator": {"pseudonym", "descriptor"},
    "Entity": {"raw_name"},
    "EntityAlias": {"raw_alias"},
    "ConsentRecord": {"conditions", "embargo_event"},
}
VIEWERS = (None, "researcher", "archivist", "fieldresearcher", "editor", "custodian")
# Per-interview pages whose links are also followed (narrator and consent forms).
FOLLOWED_LINKS = re.compile(
    r'href="(/interviews/[0-9a-f-]{36}/consent/[0-9a-f-]{36}/|/manage/interviews/[0-9a-f-]{36}/narrators/[^/"]+/)"'
)


class TemplateReads:
    """Records every gate-rendered field a template looks up on a model instance.

    Django's template variables resolve each dotted part through the `getattr` of django.template.base
    (Variable._resolve_lookup); a module global of that name shadows the builtin for that module only,
    so every attribute lookup a template makes passes through `lookup` while it is installed."""

    def __init__(self) -> None:
        self.found: set[tuple[str, str, str]] = set()
        self.page = ""

    def lookup(self, obj, name, *default):
        if isinstance(obj, models.Model) and name in GATE_RENDERED.get(type(obj).__name__, ()):
            self.found.add((self.page, type(obj).__name__, name))
        return getattr(obj, name, *default)

    def __enter__(self) -> TemplateReads:
        template_base.getattr = self.lookup
        return self

    def __exit__(self, *exc) -> None:
        del template_base.getattr


def _main_pages(demo) -> list[str]:
    pages = [
        reverse("archive:home"),
        reverse("archive:login"),
        reverse("archive:totp_enrol"),
        reverse("archive:collection_list"),
        reverse("archive:collection_detail", args=[demo.collection.slug]),
        reverse("archive:interview_list"),
        reverse("archive:search") + "?q=the",
        reverse("archive:consent_reviews"),
        reverse("archive:audit_events"),
        reverse("archive:audit_alerts"),
        reverse("archive:manage_dashboard"),
        reverse("archive:manage_access_requests"),
        reverse("archive:manage_users"),
        reverse("archive:manage_plan_new", args=[demo.collection.slug]),
        reverse("archive:collection_import", args=[demo.collection.slug]),
        reverse("archive:collection_upload", args=[demo.collection.slug]),
    ]
    for interview in demo.interviews.values():
        pages += [
            reverse(name, args=[interview.public_id])
            for name in (
                "archive:interview_detail",
                "archive:interview_export",
                "archive:workbench",
                "archive:transcript_edit",
                "archive:consent_ledger",
                "archive:manage_interview",
                "archive:manage_plan",
                "archive:manage_interview_delete",
                "archive:manage_access_request_new",
            )
        ]
    return pages


@pytest.mark.django_db
def test_templates_show_free_text_only_from_renderings(demo, client_as):
    """Every main page, for every role: no template reads a gate-rendered field from a model row."""
    pages = _main_pages(demo)
    rendered = 0
    with TemplateReads() as reads:
        for username in VIEWERS:
            client = client_as(username)
            queue, seen = list(pages), set()
            while queue:
                url = queue.pop(0)
                if url in seen:
                    continue
                seen.add(url)
                reads.page = f"{username or 'signed out'} {url}"
                response = client.get(url)
                if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                    rendered += 1
                    queue.extend(FOLLOWED_LINKS.findall(response.content.decode("utf-8")))
    assert rendered > 100  # the pages were rendered, not refused
    assert sorted(reads.found) == []


@pytest.mark.django_db
def test_the_template_scan_notices_a_raw_read(demo):
    """The check can fail: a template reading an interview's title from the model is caught."""
    interview = demo.interview("whatsapp-teacher")
    template = Template("{{ interview.title }} {% if interview.summary %}{{ page.title }}{% endif %}")
    with TemplateReads() as reads:
        reads.page = "test"
        template.render(Context({"interview": interview, "page": {"title": "a rendering"}}))
    assert reads.found == {("test", "Interview", "title"), ("test", "Interview", "summary")}


def migration_imports(source: str) -> list[str]:
    """Every module a migration imports: import statements (relative ones resolved inside
    archive.migrations) and importlib.import_module / __import__ with a literal name."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = "archive.migrations".rsplit(".", node.level - 1)[0]
                base = f"{package}.{base}" if base else package
            if base in ("archive", "archive.migrations"):  # from archive import models: the module itself
                found.extend(f"{base}.{alias.name}" for alias in node.names)
            else:
                found.append(base)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
            and node.args
        ):
            first = node.args[0]
            found.append(first.value if isinstance(first, ast.Constant) else "<computed>")
    return found


def _migration_may_import(module: str) -> bool:
    top = module.split(".")[0]
    return (
        top in sys.stdlib_module_names
        or top == "django"
        or module == "archive.models"
        or module.startswith("archive.migrations.")
    )


def test_migrations_import_no_app_code_but_models():
    """Migrations are frozen as data: the standard library, Django, the models and other migrations."""
    offenders = []
    for path in sorted((ARCHIVE / "migrations").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        offenders.extend(f"{path.name} {m}" for m in migration_imports(source) if not _migration_may_import(m))
    assert offenders == []


def test_the_migration_check_notices_app_code():
    source = (
        "import importlib\nfrom archive.search import schema\nfrom ..gate import render\n"
        "from archive import models, tasks\nx = importlib.import_module('archive.services')\n"
    )
    imports = migration_imports(source)
    assert imports == [
        "importlib",
        "archive.search",
        "archive.gate",
        "archive.models",
        "archive.tasks",
        "archive.services",
    ]
    assert [m for m in imports if not _migration_may_import(m)] == [
        "archive.search",
        "archive.gate",
        "archive.tasks",
        "archive.services",
    ]
