"""python manage.py search QUERY --tier TIER [--json]: search as someone with TIER in every collection."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from archive import search as engine
from archive.models import TIERS


class Command(BaseCommand):
    help = "Search the index as a tier; prints hits (interview id, segment start/end, snippet)."

    def add_arguments(self, parser):
        parser.add_argument("query")
        parser.add_argument("--tier", default="public", choices=TIERS)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--page", type=int, default=1)
        parser.add_argument("--per-page", type=int, default=20)
        for name in ("collection", "language", "date_from", "date_to", "mode", "topic", "narrator"):
            parser.add_argument("--" + name.replace("_", "-"), dest=name, default="")

    def handle(self, *args, **options):
        try:
            filters = engine.Filters.from_mapping(options)
        except engine.QueryError as error:
            raise CommandError(str(error)) from None
        results = engine.search_as_tier(
            options["tier"], options["query"], filters=filters, page=options["page"], per_page=options["per_page"]
        )
        if results.error:
            raise CommandError(results.error)
        if options["json"]:
            self.stdout.write(json.dumps(results.as_json(), ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{results.total} hits (page {results.page} of {results.pages})")
        for hit in results.hits:
            if hit.segment_index is None:  # the interview's metadata (title, summary, place, …): no time
                self.stdout.write(f"{hit.interview_id} (metadata)  {hit.snippet}")
            else:
                self.stdout.write(
                    f"{hit.interview_id} #{hit.segment_index} {hit.start:.2f}-{hit.end:.2f}  {hit.snippet}"
                )
