"""python manage.py reindex: rebuild every interview's search documents from its stored renderings."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from archive import search as engine


class Command(BaseCommand):
    help = "Rebuild the per-tier search index (stale renderings are rebuilt first)."

    def add_arguments(self, parser):
        parser.add_argument("--no-rebuild", action="store_true", help="index stored renderings as they are")

    def handle(self, *args, **options):
        count = engine.reindex(rebuild_stale=not options["no_rebuild"])
        self.stdout.write(f"indexed {count} interviews")
