"""Work in progress, as one user may see it: failed jobs, suggestions waiting, redactions held, interviews
in review or planned, consent reviews and embargoes ending soon, open alerts, access requests waiting.

Only interviews the user works on appear (those they see at staff or above: editors, archivists,
custodians, and whoever gathered them); rows carry ids and counts, titles come from the caller's
rendering (never raw fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils import timezone

from ..gate import policy
from ..models import (
    TIER_ORDER,
    AccessRequest,
    Alert,
    ConsentRecord,
    Interview,
    Membership,
    Redaction,
    Tier,
    TranscriptionJob,
)

HORIZON_DAYS = 30


@dataclass
class Row:
    interview: Interview
    tier: str
    count: int = 0
    when: object = None


@dataclass
class Dashboard:
    failed_jobs: list[Row] = field(default_factory=list)
    suggestions: list[Row] = field(default_factory=list)
    held: list[Row] = field(default_factory=list)
    in_review: list[Row] = field(default_factory=list)
    planned: list[Row] = field(default_factory=list)
    reviews_due: list[Row] = field(default_factory=list)
    embargoes_ending: list[Row] = field(default_factory=list)
    alerts: int = 0
    access_requests: int = 0

    @property
    def total(self) -> int:
        return (
            len(self.failed_jobs)
            + len(self.suggestions)
            + len(self.held)
            + len(self.in_review)
            + len(self.reviews_due)
            + self.alerts
            + self.access_requests
        )


def work_in_progress(user: User) -> Dashboard:
    board = Dashboard()
    if not (user.is_authenticated and user.is_active):
        return board
    mine = {i.pk: (i, t) for i, t in policy.visible_interviews(user) if TIER_ORDER[t] >= TIER_ORDER[Tier.STAFF]}
    if mine:
        ids = list(mine)
        failed = (
            TranscriptionJob.objects.filter(recording__interview_id__in=ids, state=TranscriptionJob.State.FAILED)
            .values("recording__interview_id")
            .annotate(n=Count("pk"))
        )
        board.failed_jobs = [Row(*mine[r["recording__interview_id"]], count=r["n"]) for r in failed]
        spans = Redaction.objects.filter(kind=Redaction.Kind.SPAN, segment__transcript__interview_id__in=ids)
        waiting = (
            spans.filter(status=Redaction.Status.SUGGESTED, segment__transcript__is_current=True)
            .values("segment__transcript__interview_id")
            .annotate(n=Count("pk"))
        )
        board.suggestions = [Row(*mine[r["segment__transcript__interview_id"]], count=r["n"]) for r in waiting]
        held = (
            spans.filter(status=Redaction.Status.APPROVED, held=True)
            .values("segment__transcript__interview_id")
            .annotate(n=Count("pk"))
        )
        board.held = [Row(*mine[r["segment__transcript__interview_id"]], count=r["n"]) for r in held]
        board.in_review = [Row(i, t) for i, t in mine.values() if i.status == Interview.Status.REVIEW]
        board.planned = [Row(i, t) for i, t in mine.values() if i.status == Interview.Status.PLANNED]
        horizon = timezone.localdate() + timedelta(days=HORIZON_DAYS)
        latest: dict[tuple[int, int], ConsentRecord] = {}
        for record in ConsentRecord.objects.filter(interview_id__in=ids).order_by(
            "interview_id", "narrator_id", "-version"
        ):
            latest.setdefault((record.interview_id, record.narrator_id), record)
        for record in latest.values():
            if record.withdrawn:
                continue
            if record.review_on and record.review_on <= horizon:
                board.reviews_due.append(Row(*mine[record.interview_id], when=record.review_on))
        today = timezone.localdate()
        for interview, tier in mine.values():
            ends = interview.embargo_effective
            if ends and today <= ends <= horizon:
                board.embargoes_ending.append(Row(interview, tier, when=ends))
    custodian_of = Membership.objects.filter(user=user, role=Membership.Role.CUSTODIAN).values("collection_id")
    if user.is_superuser or custodian_of.exists():
        board.alerts = Alert.objects.filter(resolved_at__isnull=True).count()
        pending = AccessRequest.objects.filter(status=AccessRequest.Status.PENDING)
        if not user.is_superuser:
            pending = pending.filter(Q(interview__collection_id__in=custodian_of) | Q(collection_id__in=custodian_of))
        board.access_requests = pending.count()
    return board
