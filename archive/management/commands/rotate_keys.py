"""Rotate the key-encryption key without downtime: new KEK, re-wrap every data key, retire old KEKs.

    python manage.py rotate_keys            # new local KEK, re-wrap, keep the old KEK files
    python manage.py rotate_keys --retire   # ...then delete KEKs nothing refers to any more
    python manage.py rotate_keys --rewrap-only   # re-wrap under the active KEK (e.g. RAWI_FIELD_KEYS
                                                 # after prepending a new key there)

The web keeps serving throughout: old KEKs stay readable until every row is re-wrapped, each row is
re-wrapped in its own short transaction, and other processes pick up the new active key by itself.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from archive import crypto
from archive.services.people import kek_ids_in_use, kek_retire_unused, kek_rotate


class Command(BaseCommand):
    help = "Create a new key-encryption key, re-wrap every narrator data key under it, retire old keys."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--rewrap-only", action="store_true", help="Do not create a new key; re-wrap under the active one."
        )
        parser.add_argument(
            "--retire", action="store_true", help="Delete old local KEKs that nothing refers to any more."
        )

    def handle(self, *args, **options) -> None:
        new_key = not options["rewrap_only"]
        if new_key and not crypto.uses_key_files():
            raise CommandError(
                "Keys come from RAWI_FIELD_KEYS: prepend the new key there, restart, then run with --rewrap-only."
            )
        count = kek_rotate(new_key=new_key)
        active = crypto.active_kek_id()
        self.stdout.write(f"Re-wrapped {count} data keys under key {active}.")
        if options["retire"]:
            retired = kek_retire_unused()
            self.stdout.write(f"Retired {len(retired)} old keys: {', '.join(retired) or 'none'}.")
        still = sorted(kek_ids_in_use() - {active})
        if still:
            self.stdout.write(f"Still in use besides the active key: {', '.join(still)}.")
