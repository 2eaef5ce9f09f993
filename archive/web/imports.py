"""Upload form for imports (WhatsApp, Messenger/Instagram, Skype and Telegram exports, email,
transcripts, bulk zips) into one collection. When an export does not say which sender is the
narrator, the form asks, listing the senders, instead of guessing."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from ..gate import policy as access
from ..importers import ImportRefused, NarratorUnknown
from ..models import Narrator, Tier
from ..services.imports import import_uploaded


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="WhatsApp export (.zip/.txt), Messenger/Instagram (.zip, message_1.json/.html), Skype "
        "(.tar/.zip/messages.json), Telegram (result.json or its .zip), .eml/.mbox, .vtt/.srt/.txt/.docx/"
        "OHMS .xml, or a bulk .zip"
    )
    title = forms.CharField(max_length=300)
    narrator = forms.CharField(max_length=200, required=False, help_text="Real name; stored encrypted.")
    anonymity = forms.ChoiceField(choices=Narrator.Anonymity.choices, initial=Narrator.Anonymity.ANONYMOUS)
    access = forms.ChoiceField(choices=Tier.choices, initial=Tier.STAFF)
    language = forms.RegexField(regex=r"^[a-z]{2,3}$", required=False)
    interviewer = forms.CharField(
        max_length=200, required=False, help_text="The interviewer's name as it appears in the chat."
    )
    narrator_label = forms.CharField(
        max_length=200,
        required=False,
        label="Narrator in the chat",
        help_text="The narrator's name as it appears in a Messenger, Skype or Telegram export.",
    )

    def __init__(self, *args, senders: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if senders:
            self.fields["narrator_label"] = forms.ChoiceField(
                choices=[("", "—"), *((sender, sender) for sender in senders)],
                label="Which sender is the narrator?",
                help_text="Choose the narrator, then select the file again.",
            )


@login_required
def import_upload(request, slug: str):
    collection = access.collection_for(request.user, slug)
    error = ""
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                ids = import_uploaded(user=request.user, slug=slug, data=form.cleaned_data)
            except NarratorUnknown as exc:
                error = exc.reason
                kept = {key: value for key, value in form.cleaned_data.items() if key != "file"}
                form = ImportForm(initial=kept, senders=exc.senders)
            except ImportRefused as exc:
                error = exc.reason
            else:
                if len(ids) == 1:
                    return redirect("archive:interview_detail", public_id=ids[0])
                return redirect("archive:collection_detail", slug=slug)
    else:
        if not access.can_upload(request.user, collection):
            raise Http404
        form = ImportForm()
    return render(request, "archive/import_upload.html", {"form": form, "collection": collection, "error": error})
