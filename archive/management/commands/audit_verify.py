"""Recompute the audit hash chain; exit non-zero naming the first broken event."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from archive.models import AuditEvent
from archive.services import audit_verify


class Command(BaseCommand):
    help = "Verify the append-only audit trail's hash chain."

    def handle(self, *args, **options) -> None:
        ok, broken = audit_verify()
        if not ok:
            raise CommandError(f"Audit chain broken at event {broken.pk} ({broken.action}).")
        self.stdout.write(f"Audit chain intact: {AuditEvent.objects.count()} events.")
