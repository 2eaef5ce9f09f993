"""Recording upload page: the form creates the interview (narrator's real name sealed, anonymity,
access level, language, transcription options) through services; upload.js then sends the file with
the resumable upload API (archive/api/upload.py) and follows the transcription job live.

Without JavaScript the same form posts the file in one multipart request (Django spools it to a
temporary file, so memory stays constant) and the browser lands on the interview page, where staff
see the job's state.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from .gate import policy as access
from .models import Interview, Narrator, Tier
from .services.recordings import recorded_interview_create, recording_store, transcription_job_create

PER_CHANNEL = {"auto": None, "yes": True, "no": False}


class RecordingUploadForm(forms.Form):
    title = forms.CharField(max_length=300)
    narrator = forms.CharField(
        max_length=200, label="Narrator's real name", help_text="Stored encrypted; shown only as the anonymity allows."
    )
    anonymity = forms.ChoiceField(choices=Narrator.Anonymity.choices, initial=Narrator.Anonymity.ANONYMOUS)
    access = forms.ChoiceField(
        choices=Tier.choices,
        initial=Tier.STAFF,
        label="Access level",
        help_text="The lowest tier that may know it exists.",
    )
    mode = forms.ChoiceField(choices=Interview.Mode.choices, initial=Interview.Mode.IN_PERSON)
    language = forms.RegexField(
        regex=r"^[a-z]{2,3}$",
        required=False,
        help_text="Spoken language as an ISO code (ar, en); leave empty to detect it.",
    )
    multilingual = forms.BooleanField(required=False, label="Speakers switch between languages")
    per_channel = forms.ChoiceField(
        choices=[("auto", "Detect"), ("yes", "Yes"), ("no", "No")],
        initial="auto",
        label="Call recording with one party per stereo channel",
    )
    gathered = forms.BooleanField(
        required=False, initial=True, label="I conducted this interview (you will see it as its custodian)"
    )
    file = forms.FileField(required=False, label="Recording (audio or video)")

    def job_options(self) -> dict:
        data = self.cleaned_data
        return {
            "language": data["language"] or None,
            "multilingual": bool(data["multilingual"]),
            "per_channel": PER_CHANNEL[data["per_channel"]],
        }


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
def recording_upload(request: HttpRequest, slug: str) -> HttpResponse:
    collection = access.collection_for(request.user, slug)
    if not access.can_upload(request.user, collection):
        raise Http404
    form = RecordingUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = request.FILES.get("file")
        if upload is None and not _wants_json(request):
            form.add_error("file", "Choose the recording to upload.")
        else:
            try:
                with transaction.atomic():
                    interview = _create(request, collection, form)
                    job = None
                    if upload is not None:
                        recording = recording_store(
                            interview=interview, fileobj=upload, original_filename=upload.name, actor=request.user
                        )
                        job = transcription_job_create(
                            recording=recording, options=form.job_options(), actor=request.user
                        )
            except _CannotSee:
                form.add_error(
                    "access",
                    "At that access level you could not see the interview yourself. Choose a lower level "
                    "or tick that you conducted it.",
                )
            else:
                page = reverse("archive:interview_detail", args=[interview.public_id])
                if _wants_json(request):
                    return JsonResponse(
                        {
                            "interview": str(interview.public_id),
                            "interview_url": page,
                            "upload_url": reverse("api:upload-create", args=[interview.public_id]),
                            "job": str(job.public_id) if job else None,
                            "options": form.job_options(),
                        },
                        status=201,
                    )
                return redirect(page)
    if request.method == "POST" and _wants_json(request):
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        return JsonResponse({"errors": errors}, status=400)
    return render(
        request,
        "archive/upload.html",
        {"form": form, "collection": collection},
        status=400 if form.errors else 200,
    )


class _CannotSee(Exception):
    pass


def _create(request: HttpRequest, collection, form: RecordingUploadForm) -> Interview:
    data = form.cleaned_data
    interview = recorded_interview_create(
        collection=collection,
        title=data["title"],
        narrator_name=data["narrator"],
        anonymity=data["anonymity"],
        access_level=data["access"],
        language=data["language"] or None,
        mode=data["mode"],
        interviewer=request.user if data["gathered"] else None,
        actor=request.user,
    )
    if not access.can_see(request.user, interview):
        raise _CannotSee
    return interview
