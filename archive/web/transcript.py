"""Transcript page for editors: the player, a correction form per segment and speaker assignment.

Forms are pre-filled from the editor's tier rendering, never from raw text; below custodian a segment
with anything hidden at that tier is shown as rendered, without a form (gate.editors.transcript).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..gate import policy as access
from ..gate import rendering_for
from ..gate.editors import corrections_not_carried, segments_for_editing
from ..models import Interview, Segment
from ..services.recordings import RecordingRefused, interview_retranscribe
from ..services.transcript_edit import SegmentEditRefused, segment_correct, segment_speaker_set


def _editor_lookup(request: HttpRequest, public_id: str) -> tuple[Interview, str]:
    """404 alike for missing, not visible, and visible but not editable by this user."""
    interview, tier = access.interview_for(request.user, public_id)
    if not access.can_edit(request.user, interview) or not access.tier_at_least(tier, "staff"):
        raise Http404
    return interview, tier


@login_required
def transcript_edit(request: HttpRequest, public_id: str) -> HttpResponse:
    interview, tier = _editor_lookup(request, public_id)
    rendering = rendering_for(interview, tier, with_segments=False)
    return render(
        request,
        "archive/transcript_edit.html",
        {
            "rendering": rendering,
            "tier": tier,
            "public_id": str(interview.public_id),
            "segments": segments_for_editing(interview=interview, tier=tier),
            "uncarried": corrections_not_carried(interview),
            "roles": Segment.SpeakerRole.choices,
        },
    )


def _start(request: HttpRequest) -> float | None:
    try:
        return float(request.POST["start"])
    except (KeyError, ValueError):
        return None


def _back(interview: Interview, index: int) -> HttpResponse:
    return redirect(reverse("archive:transcript_edit", args=[interview.public_id]) + f"#seg-{index}")


@login_required
@require_POST
def segment_correct_view(request: HttpRequest, public_id: str, index: int) -> HttpResponse:
    interview, tier = _editor_lookup(request, public_id)
    try:
        segment_correct(
            interview=interview,
            index=index,
            text=request.POST.get("text", ""),
            tier=tier,
            actor=request.user,
            expected_start=_start(request),
        )
    except SegmentEditRefused as exc:
        messages.error(request, f"Segment {index + 1}: {exc.reason}")
    else:
        messages.success(request, f"Segment {index + 1} saved.")
    return _back(interview, index)


@login_required
@require_POST
def segment_speaker_view(request: HttpRequest, public_id: str, index: int) -> HttpResponse:
    interview, _tier = _editor_lookup(request, public_id)
    try:
        count = segment_speaker_set(
            interview=interview,
            index=index,
            role=request.POST.get("role", ""),
            narrator_id=request.POST.get("narrator", ""),
            all_with_same_label=request.POST.get("all_same") == "on",
            actor=request.user,
            expected_start=_start(request),
        )
    except SegmentEditRefused as exc:
        messages.error(request, f"Segment {index + 1}: {exc.reason}")
    else:
        messages.success(request, f"Speaker assigned to {count} segment{'s' if count != 1 else ''}.")
    return _back(interview, index)


@login_required
@require_POST
def retranscribe_view(request: HttpRequest, public_id: str) -> HttpResponse:
    """Editors' "Transcribe again": a new transcript version of every recorded part."""
    interview, _tier = _editor_lookup(request, public_id)
    try:
        jobs = interview_retranscribe(interview=interview, actor=request.user)
    except RecordingRefused as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Transcription queued for {len(jobs)} recording(s); a new version follows.")
    return redirect(reverse("archive:interview_detail", args=[interview.public_id]))
