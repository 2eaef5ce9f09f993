"""The consent ledger for editors: record, amend (a new version) and withdraw consent per narrator.

Every page answers 404 unless the user can see the interview and edit its collection. Writes go through
`services.consent_record`, which derives the interview's caps from the new version and, on withdrawal,
seals it and purges its lower-tier derivatives in the same transaction. Signed forms are stored under
an opaque name in private storage and downloadable by custodians only (audited).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..gate import NotVisible, rendering_for
from ..gate import policy as access
from ..gate.editors import free_text
from ..models import ConsentRecord, Interview, Narrator, Recording, Tier
from ..services import audit_log, consent_record
from ..services.people import SCOPES

SCOPE_LABELS = {
    "archive": "Keep in the archive",
    "research_access": "Access by approved researchers",
    "publication": "Quotation and publication",
    "public_web": "Public web",
    "voice_release": "Release of the voice (audio)",
    "processing": "Machine processing (transcription on our own workers)",
}
FORM_TYPES = {
    # extension: magic bytes at the start of the file
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".tif": (b"II*\x00", b"MM\x00*"),
    ".tiff": (b"II*\x00", b"MM\x00*"),
}
DEFAULT_MAX_FORM_BYTES = 20 * 1024 * 1024
REVIEW_HORIZON_DAYS = 14


def max_form_bytes() -> int:
    return int(getattr(settings, "RAWI_MAX_CONSENT_FORM_BYTES", DEFAULT_MAX_FORM_BYTES))


class ConsentForm(forms.Form):
    archive = forms.BooleanField(required=False, label=SCOPE_LABELS["archive"])
    research_access = forms.BooleanField(required=False, label=SCOPE_LABELS["research_access"])
    publication = forms.BooleanField(required=False, label=SCOPE_LABELS["publication"])
    public_web = forms.BooleanField(required=False, label=SCOPE_LABELS["public_web"])
    voice_release = forms.BooleanField(required=False, label=SCOPE_LABELS["voice_release"])
    processing = forms.BooleanField(required=False, label=SCOPE_LABELS["processing"])
    method = forms.ChoiceField(choices=ConsentRecord.Method.choices)
    form_file = forms.FileField(required=False, label="Signed form (PDF, PNG, JPEG or TIFF)")
    recording = forms.ChoiceField(required=False, label="Recording holding the verbal consent")
    verbal_start = forms.FloatField(required=False, min_value=0, label="Consent starts at (seconds)")
    verbal_end = forms.FloatField(required=False, min_value=0, label="Consent ends at (seconds)")
    conditions = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    embargo_until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    embargo_event = forms.CharField(required=False, max_length=300, label="Embargo until an event")
    review_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Review the embargo on"
    )

    def __init__(self, *args, recordings: list[Recording], previous: ConsentRecord | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.recordings = {str(r.public_id): r for r in recordings}
        self.previous = previous
        self.fields["recording"].choices = [("", "—")] + [
            (pid, f"Recording {index + 1} ({r.duration_seconds or 0:.0f} s)")
            for index, (pid, r) in enumerate(self.recordings.items())
        ]

    def clean_form_file(self):
        upload = self.cleaned_data.get("form_file")
        if not upload:
            return None
        if upload.size > max_form_bytes():
            raise forms.ValidationError(f"The form is larger than {max_form_bytes() // (1024 * 1024)} MB.")
        extension = PurePath(upload.name).suffix.lower()
        head = upload.read(16)
        upload.seek(0)
        if extension not in FORM_TYPES or not head.startswith(FORM_TYPES[extension]):
            raise forms.ValidationError("Upload a PDF, PNG, JPEG or TIFF scan of the signed form.")
        # The uploaded file name may hold the narrator's name: it is never stored or shown.
        upload.name = f"{uuid.uuid4().hex}{extension}"
        return upload

    def clean(self):
        data = super().clean()
        method = data.get("method")
        has_previous_form = bool(self.previous and self.previous.form_file)
        if method == ConsentRecord.Method.SIGNED_FORM and not data.get("form_file") and not has_previous_form:
            self.add_error("form_file", "A signed form needs its scan.")
        if method == ConsentRecord.Method.VERBAL_RECORDED:
            recording = self.recordings.get(data.get("recording") or "")
            start, end = data.get("verbal_start"), data.get("verbal_end")
            if recording is None and not (self.previous and self.previous.verbal_audio_sha256):
                self.add_error("recording", "Choose the recording that holds the verbal consent.")
            if start is None or end is None or end <= start:
                self.add_error("verbal_end", "Give where the consent starts and ends, end after start.")
            elif recording is not None and recording.duration_seconds and end > recording.duration_seconds + 0.5:
                self.add_error("verbal_end", "The segment ends after the recording does.")
        if data.get("embargo_event") and not data.get("review_on"):
            self.add_error("review_on", "An embargo until an event needs a date to review it.")
        if data.get("review_on") and not (data.get("embargo_event") or data.get("embargo_until")):
            self.add_error("review_on", "A review date belongs to an embargo.")
        return data


def _editable(request: HttpRequest, public_id) -> tuple[Interview, str]:
    interview, tier = access.interview_for(request.user, public_id)
    if not access.can_edit(request.user, interview):
        raise Http404
    return interview, tier


def _narrator(interview: Interview, narrator_id) -> Narrator:
    try:
        return interview.narrators.get(public_id=narrator_id)
    except (Narrator.DoesNotExist, ValueError):
        raise Http404 from None


def _labels(interview: Interview, tier: str) -> dict[str, str]:
    try:
        rendering = rendering_for(interview, tier, with_segments=False)
    except NotVisible:
        raise Http404 from None
    return {n.public_id: n.display_name for n in rendering.narrators}


def _current(interview: Interview, narrator: Narrator) -> ConsentRecord | None:
    return ConsentRecord.objects.filter(interview=interview, narrator=narrator).order_by("-version").first()


FREE_TEXT = ("conditions", "embargo_event")


def _free_text(interview: Interview, tier: str, record: ConsentRecord | None) -> dict[str, str]:
    """The record's free text as the editor's tier may read it (names hidden there are replaced)."""
    if record is None:
        return dict.fromkeys(FREE_TEXT, "")
    return dict(zip(FREE_TEXT, free_text(interview, tier, [getattr(record, f) for f in FREE_TEXT]), strict=True))


def consent_ledger(request: HttpRequest, public_id) -> HttpResponse:
    interview, tier = _editable(request, public_id)
    labels = _labels(interview, tier)
    rows = []
    for narrator in interview.narrators.order_by("pk"):
        history = list(ConsentRecord.objects.filter(interview=interview, narrator=narrator).order_by("-version"))
        current = history[0] if history else None
        rows.append(
            {
                "narrator_id": str(narrator.public_id),
                "label": labels.get(str(narrator.public_id), narrator.pseudonym or "Narrator"),
                "current": current,
                "history": history,
                **_free_text(interview, tier, current),
            }
        )
    audit_log(
        actor=request.user,
        action="consent_view",
        target_type="interview",
        target_id=str(interview.public_id),
        tier=tier,
    )
    return render(
        request,
        "archive/consent.html",
        {
            "public_id": str(interview.public_id),
            "title": rendering_for(interview, tier, with_segments=False).title,
            "rows": rows,
            "scopes": [(s, SCOPE_LABELS[s]) for s in SCOPES],
            "tier": tier,
            "is_custodian": tier == Tier.CUSTODIAN,
            "caps": access.consent_caps(interview),
            "today": timezone.localdate(),
        },
    )


def consent_edit(request: HttpRequest, public_id, narrator_id) -> HttpResponse:
    """Record consent (first version) or amend it (a new version, pre-filled from the current one)."""
    interview, tier = _editable(request, public_id)
    narrator = _narrator(interview, narrator_id)
    previous = _current(interview, narrator)
    recordings = list(interview.recordings.order_by("created_at"))
    shown = _free_text(interview, tier, previous)
    if request.method == "POST":
        form = ConsentForm(request.POST, request.FILES, recordings=recordings, previous=previous)
        if form.is_valid():
            data = form.cleaned_data
            for name in FREE_TEXT:
                # Left as shown (with what the editor's tier may not read replaced): the text is kept.
                if previous is not None and data[name] == shown[name]:
                    data[name] = getattr(previous, name)
            recording = form.recordings.get(data.get("recording") or "")
            verbal = data["method"] == ConsentRecord.Method.VERBAL_RECORDED
            if verbal and recording is not None:
                sha256 = recording.sha256
            elif verbal and previous is not None:
                sha256 = previous.verbal_audio_sha256
            else:
                sha256 = ""
            form_file = data.get("form_file")
            if form_file is None and data["method"] == ConsentRecord.Method.SIGNED_FORM and previous is not None:
                form_file = previous.form_file.name or None
            consent_record(
                narrator=narrator,
                interview=interview,
                actor=request.user,
                method=data["method"],
                conditions=data["conditions"],
                embargo_until=data["embargo_until"],
                embargo_event=data["embargo_event"],
                review_on=data["review_on"],
                verbal_segment_start=data["verbal_start"] if verbal else None,
                verbal_segment_end=data["verbal_end"] if verbal else None,
                verbal_audio_sha256=sha256,
                form_file=form_file,
                **{scope: data[scope] for scope in SCOPES},
            )
            interview.refresh_from_db()
            if access.can_see(request.user, interview):
                messages.success(request, "Consent recorded.")
                return redirect("archive:consent_ledger", public_id=interview.public_id)
            messages.success(request, "Consent recorded. The interview is no longer visible at your tier.")
            return redirect("archive:interview_list")
        status = 400
    else:
        defaults = {"archive", "processing"}
        initial = {scope: (getattr(previous, scope) if previous else scope in defaults) for scope in SCOPES}
        if previous is not None:
            initial.update(
                method=previous.method,
                conditions=shown["conditions"],
                embargo_until=previous.embargo_until,
                embargo_event=shown["embargo_event"],
                review_on=previous.review_on,
                verbal_start=previous.verbal_segment_start,
                verbal_end=previous.verbal_segment_end,
            )
            for pid, recording in {str(r.public_id): r for r in recordings}.items():
                if previous.verbal_audio_sha256 and recording.sha256 == previous.verbal_audio_sha256:
                    initial["recording"] = pid
        form = ConsentForm(initial=initial, recordings=recordings, previous=previous)
        status = 200
    labels = _labels(interview, tier)
    return render(
        request,
        "archive/consent_form.html",
        {
            "form": form,
            "public_id": str(interview.public_id),
            "narrator_id": str(narrator.public_id),
            "label": labels.get(str(narrator.public_id), narrator.pseudonym or "Narrator"),
            "previous": previous,
            "max_mb": max_form_bytes() // (1024 * 1024),
        },
        status=status,
    )


@require_POST
def consent_withdraw(request: HttpRequest, public_id, narrator_id) -> HttpResponse:
    """Withdrawal: a new version with `withdrawn` set; the interview is sealed in the same transaction."""
    interview, _tier = _editable(request, public_id)
    narrator = _narrator(interview, narrator_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Tick the confirmation to withdraw consent.")
        return redirect("archive:consent_ledger", public_id=interview.public_id)
    previous = _current(interview, narrator)
    carried = {scope: getattr(previous, scope) for scope in SCOPES} if previous else {}
    consent_record(
        narrator=narrator,
        interview=interview,
        actor=request.user,
        method=previous.method if previous else ConsentRecord.Method.MESSAGE,
        conditions=previous.conditions if previous else "",
        withdrawn=True,
        **carried,
    )
    interview.refresh_from_db()
    messages.success(request, "Consent withdrawn: the interview is sealed and its derivatives purged.")
    if access.can_see(request.user, interview):
        return redirect("archive:consent_ledger", public_id=interview.public_id)
    return redirect("archive:interview_list")


def consent_form_download(request: HttpRequest, public_id, version_id: int) -> HttpResponse:
    """The signed form: custodians only (it carries the narrator's real name and signature)."""
    interview, tier = _editable(request, public_id)
    if tier != Tier.CUSTODIAN:
        raise Http404
    record = ConsentRecord.objects.filter(interview=interview, pk=version_id).exclude(form_file="").first()
    if record is None:
        raise Http404
    audit_log(
        actor=request.user,
        action="download",
        target_type="interview",
        target_id=str(interview.public_id),
        tier=tier,
        detail={"consent_form": record.pk},
    )
    extension = PurePath(record.form_file.name).suffix.lower()
    return FileResponse(
        record.form_file.open("rb"), as_attachment=True, filename=f"consent-form-v{record.version}{extension}"
    )


def consent_reviews(request: HttpRequest) -> HttpResponse:
    """Embargo reviews due: current consent versions with a review date, for interviews the user edits."""
    if not request.user.is_authenticated:
        raise Http404
    horizon = timezone.localdate() + timedelta(days=REVIEW_HORIZON_DAYS)
    rows = []
    for interview, tier in access.visible_interviews(request.user):
        if not access.can_edit(request.user, interview):
            continue
        for record in access.current_consents(interview):
            if record.review_on and not record.withdrawn:
                rows.append(
                    {
                        "public_id": str(interview.public_id),
                        "title": rendering_for(interview, tier, with_segments=False).title,
                        "record": record,
                        "due": record.review_on <= horizon,
                        **_free_text(interview, tier, record),
                    }
                )
    rows.sort(key=lambda row: row["record"].review_on)
    return render(
        request,
        "archive/consent_reviews.html",
        {"rows": rows, "horizon": horizon, "ledger_url": reverse("archive:interview_list")},
    )
