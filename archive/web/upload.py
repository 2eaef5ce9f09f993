"""Recording upload page: the form checks the file, then creates the interview as a draft (narrator's
real name sealed, anonymity, access level, date, places, summary, topics, interviewer's label, mode,
language, transcription options) through services.recordings.recording_upload; a file that is not a
recording creates nothing. With JavaScript, upload.js sends the file's first 4 MiB to be checked, then
the whole file with the resumable upload API (archive/api/upload.py), and follows the job live.

Without JavaScript the same form posts the file in one multipart request (Django spools it to a
temporary file, so memory stays constant) and the browser lands on the interview page, where staff
see the job's state.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from ..gate import policy as access
from ..models import Interview, Narrator, Tier
from ..services import recordings
from ..services.recordings import UploaderCannotSee, UploadRefused

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
        help_text="The lowest tier that may know it exists once an editor publishes it; until then it is a "
        "draft for the collection's staff and whoever conducted it.",
    )
    mode = forms.ChoiceField(choices=Interview.Mode.choices, initial=Interview.Mode.IN_PERSON)
    recorded_on = forms.DateField(
        required=False, label="Date of the interview", widget=forms.DateInput(attrs={"type": "date"})
    )
    place = forms.CharField(max_length=200, required=False, help_text="Exact place, shown from staff.")
    place_general = forms.CharField(
        max_length=200, required=False, label="General place", help_text="Shown below staff (a region, not a street)."
    )
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    topics = forms.CharField(max_length=1000, required=False, help_text="Separated by commas.")
    interviewer = forms.CharField(
        max_length=100,
        required=False,
        label="Interviewer's label",
        help_text="How the interviewer is named in the transcript (default: Interviewer).",
    )
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

    def clean_topics(self) -> list[str]:
        topics = [t.strip() for t in self.cleaned_data["topics"].split(",") if t.strip()]
        if len(topics) > 50 or any(len(t) > 100 for t in topics):
            raise forms.ValidationError("At most 50 topics of at most 100 characters.")
        return list(dict.fromkeys(topics))

    def details(self) -> dict:
        data = self.cleaned_data
        return {
            "recorded_on": data["recorded_on"],
            "place": data["place"],
            "place_general": data["place_general"],
            "summary": data["summary"],
            "topics": data["topics"],
            "interviewer_label": data["interviewer"],
        }

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
        data = form.cleaned_data
        try:
            # With JavaScript the page sends the file's first bytes to be checked here, then the
            # whole file by resumable upload once the interview exists.
            interview, job = recordings.recording_upload(
                collection=collection,
                actor=request.user,
                title=data["title"],
                narrator_name=data["narrator"],
                anonymity=data["anonymity"],
                access_level=data["access"],
                fileobj=upload,
                filename=upload.name if upload else "",
                head_only=_wants_json(request) and request.POST.get("file_head") == "1",
                gathered=data["gathered"],
                language=data["language"] or None,
                mode=data["mode"],
                details=form.details(),
                options=form.job_options(),
            )
        except UploadRefused as refusal:
            form.add_error("file", refusal.reason)
        except UploaderCannotSee:
            form.add_error(
                "access",
                "You could not see this interview yourself: it starts as a draft, seen by the collection's "
                "staff and whoever conducted it. Tick that you conducted it, or ask an editor to upload it.",
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
