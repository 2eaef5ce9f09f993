"""python manage.py fixity_check — verify every stored original against its SHA-256; exit 1 naming
each recording (by public id) whose original is changed or missing."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from archive.services.fixity import fixity_check_all


class Command(BaseCommand):
    help = "Verify every stored original against its recorded SHA-256; non-zero exit on any mismatch."

    def handle(self, *args, **options) -> None:
        report = fixity_check_all()
        for public_id in report.mismatched:
            self.stderr.write(f"MISMATCH recording {public_id}")
        for public_id in report.missing:
            self.stderr.write(f"MISSING recording {public_id}")
        self.stdout.write(f"checked {report.checked}, ok {report.ok}, failed {len(report.failed)}")
        if report.failed:
            # CommandError: exit status 1 from manage.py, an ordinary exception under call_command (Celery).
            raise CommandError(f"{len(report.failed)} recording(s) failed the fixity check", returncode=1)
