"""Load the demo collection from seeds/demo.json. Idempotent: a second run changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from archive import services
from archive.models import Collection, Interview, Redaction

SEED_FILE = Path(settings.BASE_DIR) / "seeds" / "demo.json"


class Command(BaseCommand):
    help = "Create the demo collection, users, narrators, interviews and redactions (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, **options):
        data = json.loads(SEED_FILE.read_text(encoding="utf-8"))
        with transaction.atomic():
            created = seed(data)
        self.stdout.write(f"Demo collection {'created' if created else 'already present'}.")
        if not options["quiet_logins"]:
            self.stdout.write("Demo logins (username / password / role):")
            for user in data["users"]:
                self.stdout.write(f"  {user['username']:<16} {user['password']:<22} {user['role']}")


def seed(data: dict) -> bool:
    spec = data["collection"]
    if Collection.objects.filter(slug=spec["slug"]).exists():
        return False
    collection = services.collection_get_or_create(
        slug=spec["slug"], title=spec["title"], description=spec["description"]
    )
    users = {}
    for item in data["users"]:
        user = User.objects.filter(username=item["username"]).first()
        if user is None:
            user = User.objects.create_user(username=item["username"], password=item["password"])
        users[item["username"]] = user
        services.membership_add(user=user, collection=collection, role=item["role"])
    entities = {}
    for item in data["entities"]:
        entity = services.entity_create(
            kind=item["kind"],
            name=item["name"],
            aliases=item.get("aliases", []),
            generalisation=item.get("generalisation", ""),
        )
        entities[item["key"]] = (entity, item.get("redact"))
    narrators = {}
    for item in data["narrators"]:
        narrators[item["key"]] = services.narrator_create(
            collection=collection,
            legal_name=item["legal_name"],
            anonymity=item["anonymity"],
            pseudonym=item.get("pseudonym", ""),
            descriptor=item.get("descriptor", ""),
            contacts=item.get("contacts", ""),
            location=item.get("location", ""),
            aliases=item.get("aliases", []),
        )
    interviews = {}
    for item in data["interviews"]:
        interviews[item["key"]] = _interview(item, collection, narrators, users)
    for entity, redact in entities.values():
        if redact:
            services.redaction_add_entity(
                entity=entity,
                category=redact["category"],
                visible_from=redact["visible_from"],
                replacement_kind=redact.get("replacement_kind", Redaction.ReplacementKind.LABEL),
            )
    for item in data["span_redactions"]:
        _span(item, interviews, Redaction.Status.APPROVED)
    for item in data.get("suggested", []):
        _span(item, interviews, Redaction.Status.SUGGESTED)
    for item in data.get("quarantine", []):
        services.quarantine_store(
            interview=interviews[item["interview"]], source=item["source"], payload=item["payload"]
        )
    return True


# Written exchanges in the demo carry when each message was sent (one every few minutes in a chat, every
# few hours by email), from the morning of the day the interview is dated.
MESSAGE_STEP = {
    Interview.Mode.EMAIL: timedelta(hours=5, minutes=17),
    Interview.Mode.SOCIAL_MEDIA: timedelta(minutes=4),
    Interview.Mode.MESSAGING: timedelta(minutes=3),
}


def _interview(item: dict, collection: Collection, narrators: dict, users: dict) -> Interview:
    own = [narrators[key] for key in item["narrators"]]
    interview = services.interview_create(
        collection=collection,
        title=item["title"],
        narrators=own,
        interviewers=[users[item["interviewer_user"]]],
        mode=item["mode"],
        recorded_on=date.fromisoformat(item["recorded_on"]),
        place=item["place"],
        place_general=item["place_general"],
        languages=item["languages"],
        topics=item["topics"],
        summary=item["summary"],
        access_level=item["access_level"],
        status=item["status"],
    )
    segments = []
    clock = 0.0
    step = MESSAGE_STEP.get(item["mode"])
    first = datetime.combine(date.fromisoformat(item["recorded_on"]), time(9, 12), tzinfo=UTC)
    for number, (role, text) in enumerate(item["segments"]):
        duration = max(2.0, round(len(text) / 14, 1))
        speaker, narrator = "", None
        if role == "narrator":
            narrator = own[0]
        elif role.startswith("other:"):
            role, speaker = "other", role.split(":", 1)[1]
        segments.append(
            services.SegmentInput(
                start=clock,
                end=clock + duration,
                text=text,
                speaker=speaker,
                role=role,
                narrator=narrator,
                language=item["languages"][0] if len(item["languages"]) == 1 else "",
                sent_at=first + step * number if step else None,
            )
        )
        clock += duration + 0.5
    services.transcript_store(interview=interview, segments=segments, source="manual", language=item["languages"][0])
    for key, consent in item["consent"].items():
        consent = dict(consent)
        embargo = consent.pop("embargo_until", None)
        services.consent_record(
            narrator=narrators[key],
            interview=interview,
            embargo_until=date.fromisoformat(embargo) if embargo else None,
            **consent,
        )
    return interview


def _span(item: dict, interviews: dict, status: str) -> None:
    services.redaction_add_phrase_span(
        interview=interviews[item["interview"]],
        phrase=item["phrase"],
        category=item["category"],
        visible_from=item["visible_from"],
        replacement_kind=item.get("replacement_kind", Redaction.ReplacementKind.LABEL),
        status=status,
        source="seed",
    )
