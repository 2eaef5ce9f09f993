"""`python manage.py redact INTERVIEW --text PHRASE --category CAT --visible-from TIER [--replacement R]`

An approved entity redaction of every occurrence of PHRASE (and of the entity's aliases), in every
interview of the archive, hidden below TIER. INTERVIEW is the public id of an interview where the phrase
was found; the redaction is recorded against it. Renderings are rebuilt before the command returns.
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from archive.models import Interview, Redaction, Tier
from archive.services import redact_phrase

VISIBLE_FROM = [str(Tier.RESEARCHER), str(Tier.STAFF), str(Tier.CUSTODIAN)]


class Command(BaseCommand):
    help = "Redact a phrase wherever it occurs (approved entity redaction), hidden below a tier."

    def add_arguments(self, parser):
        parser.add_argument("interview", help="public id of the interview")
        parser.add_argument("--text", required=True, help="the phrase to redact")
        parser.add_argument("--category", required=True, choices=Redaction.Category.values)
        parser.add_argument("--visible-from", required=True, choices=VISIBLE_FROM, dest="visible_from")
        parser.add_argument("--replacement", default="", help="shown below the tier instead of the category label")

    def handle(self, *args, **options):
        try:
            public_id = uuid.UUID(options["interview"])
        except ValueError:
            raise CommandError("No interview with that id.") from None
        interview = Interview.objects.filter(public_id=public_id).first()
        if interview is None:
            raise CommandError("No interview with that id.")
        phrase = options["text"].strip()
        if not phrase:
            raise CommandError("--text is empty.")
        redaction = redact_phrase(
            phrase=phrase,
            category=options["category"],
            visible_from=options["visible_from"],
            replacement=options["replacement"],
            interview=interview,
        )
        # Only ids go to the output: the phrase itself may be what must not be logged.
        self.stdout.write(f"Approved entity redaction {redaction.public_id} (visible from {redaction.visible_from}).")
