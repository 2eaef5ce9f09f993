"""Migrations are frozen as data, and a database made at every earlier migration upgrades to today's."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from archive import search

MIGRATIONS = Path(__file__).resolve().parents[1] / "archive" / "migrations"


def _migrations() -> list[str]:
    return sorted(p.stem for p in MIGRATIONS.glob("0*.py"))


def test_migrations_import_no_application_code():
    for path in MIGRATIONS.glob("0*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                assert not name.startswith(("archive", ".")) or name.startswith("archive.migrations"), (path.name, name)


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_the_frozen_search_schema_is_todays(vendor):
    """The search code's schema is the frozen one; a change of layout needs a migration of its own."""
    frozen = importlib.import_module("archive.migrations.0002_search")
    made = [" ".join(statement.split()) for statement in search.schema_statements(vendor)]
    assert made == getattr(frozen, f"{vendor.upper()}_CREATE")


def _state_at(target: str) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate([("archive", target)])
    executor.loader.build_graph()
    return executor


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", _migrations()[:-1])
def test_a_database_made_at_an_earlier_migration_upgrades(start):
    latest = _migrations()[-1]
    try:
        executor = _state_at(start)
        apps = executor.loader.project_state([("archive", start)]).apps
        Collection = apps.get_model("archive", "Collection")
        Interview = apps.get_model("archive", "Interview")
        Recording = apps.get_model("archive", "Recording")
        Transcript = apps.get_model("archive", "Transcript")
        Segment = apps.get_model("archive", "Segment")
        collection = Collection.objects.create(slug=f"upgrade-{start[:4]}", title="Upgrade")
        interview = Interview.objects.create(collection=collection, title="Kept across upgrades")
        recording = Recording.objects.create(interview=interview, original="originals/x.wav", sha256="0" * 64)
        transcript = Transcript.objects.create(interview=interview, recording=recording, version=1, source="whisper")
        Segment.objects.create(transcript=transcript, index=0, start=0.0, end=1.0, raw_text="Kept words.")
        executor = MigrationExecutor(connection)
        executor.migrate([("archive", latest)])
        apps = executor.loader.project_state([("archive", latest)]).apps
        segment = apps.get_model("archive", "Segment").objects.get(raw_text="Kept words.")
        assert segment.transcript.interview.title == "Kept across upgrades"
        if start < "0006":
            # Media provenance (0006): a transcript made from one recording refers its segments to it.
            assert segment.recording_id == recording.pk and segment.media_offset == 0.0
    finally:
        MigrationExecutor(connection).migrate([("archive", latest)])
