"""Django's `flush`, which empties every table (test tear-down, a deliberate wipe): the audit table's
delete guards are lifted for its duration and put back after. Nothing else may remove audit events, and
the signed checkpoints outside the database show that a flushed trail is gone."""

from __future__ import annotations

from django.core.management.commands.flush import Command as FlushCommand
from django.db import connections

from archive.audit_guard import guard_install, guard_remove


class Command(FlushCommand):
    def handle(self, **options) -> None:
        connection = connections[options["database"]]
        guarded = guard_remove(connection)
        try:
            super().handle(**options)
        finally:
            if guarded:
                guard_install(connection)
