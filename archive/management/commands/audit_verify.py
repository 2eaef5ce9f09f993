"""Recompute the audit hash chain and check it against the newest signed checkpoint; exit non-zero
naming the first broken event, or how many events are missing after the checkpoint."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from archive.services.audit import audit_verify_anchored


class Command(BaseCommand):
    help = "Verify the append-only audit trail's hash chain against its newest signed checkpoint."

    def handle(self, *args, **options) -> None:
        result = audit_verify_anchored()
        if not result.ok:
            raise CommandError(result.message)
        self.stdout.write(result.message)
