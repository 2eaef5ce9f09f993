"""python manage.py export INTERVIEW --format FMT --tier TIER --out PATH

INTERVIEW is an interview's public id, or a collection slug (which exports a BagIt package of every
interview visible at TIER). The operator running the command may choose any tier; the output is that
tier's rendering only. For bagit, PATH ending in .zip writes a zip, otherwise a bag directory.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from archive.exports import FORMATS
from archive.exports.bag import BagExportError
from archive.models import TIERS, Collection, Interview
from archive.services.exports import (
    DEFAULT_BAG_FORMATS,
    ExportError,
    export_collection,
    export_interview,
    export_interview_bag,
)

from ...gate import NotVisible


class Command(BaseCommand):
    help = "Export one interview (or a collection as a bag) at a tier, in a format."

    def add_arguments(self, parser) -> None:
        parser.add_argument("interview", help="interview public id, or a collection slug for a bag")
        parser.add_argument("--format", dest="fmt", required=True, choices=sorted(FORMATS))
        parser.add_argument("--tier", required=True, choices=TIERS)
        parser.add_argument("--out", required=True, help="output file (or bag directory / .zip)")
        parser.add_argument(
            "--bag-formats",
            default=",".join([*DEFAULT_BAG_FORMATS, "audio"]),
            help="formats inside a bag (comma list); audio only where the tier may hear the voice",
        )

    def handle(self, *args, interview: str, fmt: str, tier: str, out: str, bag_formats: str, **options) -> None:
        destination = Path(out)
        if destination.exists():
            raise CommandError("the output path exists; choose a new one")
        target = self._interview(interview)
        try:
            if target is None:
                collection = Collection.objects.filter(slug=interview).first()
                if collection is None:
                    raise CommandError("no such interview or collection")
                if fmt != "bagit":
                    raise CommandError("a collection exports only as --format bagit")
                export_collection(
                    collection=collection,
                    tier=tier,
                    requester_tier="custodian",
                    formats=self._bag_formats(bag_formats),
                    as_operator=True,
                    destination=destination,
                )
            elif fmt == "bagit":
                export_interview_bag(
                    interview=target,
                    tier=tier,
                    requester_tier="custodian",
                    destination=destination,
                    formats=self._bag_formats(bag_formats),
                )
            else:
                result = export_interview(interview=target, fmt=fmt, tier=tier, requester_tier="custodian")
                destination.parent.mkdir(parents=True, exist_ok=True)
                with result.open() as source, destination.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
        except NotVisible:
            raise CommandError("that interview has no rendering at this tier (or no audio for it)") from None
        except (ExportError, BagExportError) as error:
            raise CommandError(f"export failed: {error}") from None
        self.stdout.write(str(destination))

    @staticmethod
    def _bag_formats(value: str) -> list[str]:
        formats = [f.strip() for f in value.split(",") if f.strip()]
        if not formats or any(f not in FORMATS or f == "bagit" for f in formats):
            raise CommandError("unknown bag format")
        return formats

    @staticmethod
    def _interview(value: str) -> Interview | None:
        try:
            public_id = uuid.UUID(value)
        except ValueError:
            return None
        interview = Interview.objects.filter(public_id=public_id).first()
        if interview is None:
            raise CommandError("no such interview or collection")
        return interview
