"""Template hooks of the transcription work for the interview page (no change to the lead's view)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from ..gate import policy as access
from ..models import Interview
from ..services.recordings import transcription_jobs

register = template.Library()


@register.simple_tag(takes_context=True)
def transcription_status(context: Any, public_id: str) -> dict[str, Any]:
    """Jobs of the interview and what the viewer may do, for those who may upload or edit; the page
    has already passed the gate (access.interview_for) for this user."""
    request = context.get("request")
    user = getattr(request, "user", None)
    empty = {"jobs": [], "can_edit": False, "can_upload": False}
    if user is None or not user.is_authenticated:
        return empty
    interview = Interview.objects.select_related("collection").filter(public_id=public_id).first()
    if interview is None or not access.can_see(user, interview):
        return empty
    can_edit = access.can_edit(user, interview)
    can_upload = access.can_upload(user, interview.collection)
    if not (can_edit or can_upload):
        return empty
    jobs = [
        {
            "public_id": str(job.public_id),
            "url": reverse("api:job-status", args=[job.public_id]),
            "state": job.state,
            "percent": round(job.progress * 100),
            "progress": job.progress,
            "reason": job.reason,
            "in_place": bool((job.options or {}).get("in_place")),
            "created_at": job.created_at,
            "active": job.state in ("queued", "running"),
        }
        for job in transcription_jobs(interview)
    ]
    has_recordings = can_edit and interview.recordings.exists()
    return {"jobs": jobs, "can_edit": can_edit, "can_upload": can_upload, "has_recordings": has_recordings}
