"""Crypto-shred a narrator: destroy their data key so their identity fields are unreadable for good.

python manage.py forget_narrator NARRATOR_PUBLIC_ID --yes
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from archive.models import Narrator
from archive.services import narrator_forget


class Command(BaseCommand):
    help = "Destroy a narrator's data key (irreversible): identity unreadable, interviews keep rendering."

    def add_arguments(self, parser) -> None:
        parser.add_argument("narrator", help="The narrator's public id (UUID).")
        parser.add_argument("--yes", action="store_true", help="Confirm: this cannot be undone.")

    def handle(self, *args, **options) -> None:
        try:
            narrator = Narrator.objects.get(public_id=options["narrator"])
        except (Narrator.DoesNotExist, ValidationError, ValueError):
            raise CommandError("No such narrator.") from None
        if not options["yes"]:
            raise CommandError("This destroys the narrator's key for good; pass --yes to confirm.")
        narrator_forget(narrator=narrator)
        self.stdout.write(f"Destroyed the data key of narrator {narrator.public_id}.")
