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

MAX_CHOICES = 500  # senders offered to choose the narrator from (a large group chat lists its first ones)


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
        help_text="The narrator's name (or number) as it appears in the chat or the email thread.",
    )

    # The senders of the export, carried while the narrator is being chosen (only to the uploader,
    # who holds the file anyway), so that the choice is checked against them.
    senders = forms.MultipleChoiceField(required=False, widget=forms.MultipleHiddenInput)

    def __init__(self, *args, senders: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        senders = list(dict.fromkeys(senders or []))[:MAX_CHOICES]
        self.fields["senders"].choices = [(sender, sender) for sender in senders]
        if senders:
            self.initial["senders"] = senders
            choices = [(sender, sender) for sender in senders]
            self.fields["narrator_label"] = forms.ChoiceField(
                choices=[("", "—"), *choices],
                label="Which sender is the narrator?",
                help_text="The export does not say who the narrator is: choose them, then select the file again.",
            )
            self.fields["interviewer"] = forms.ChoiceField(
                choices=[("", "— not among them"), *choices],
                required=False,
                label="Which sender is the interviewer?",
            )
            # The file input cannot be refilled by the page: it comes first, next to the choice.
            self.order_fields(["narrator_label", "interviewer", "file"])

    def clean(self):
        cleaned = super().clean()
        label, interviewer = cleaned.get("narrator_label"), cleaned.get("interviewer")
        if label and interviewer and label == interviewer:
            self.add_error("interviewer", "The narrator and the interviewer cannot be the same sender.")
        return cleaned


def _senders(request) -> list[str]:
    return [sender for sender in request.POST.getlist("senders") if sender][:MAX_CHOICES]


@login_required
def import_upload(request, slug: str):
    """The import page. When the importer cannot tell which sender is the narrator, the page lists
    the senders and asks who the narrator (and the interviewer) is; the import is made with that choice
    when the file is sent again, and nothing is stored in between."""
    collection = access.collection_for(request.user, slug)
    error = ""
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, senders=_senders(request))
        if form.is_valid():
            try:
                ids = import_uploaded(user=request.user, slug=slug, data=form.cleaned_data)
            except NarratorUnknown as exc:
                error = exc.question
                kept = {key: value for key, value in form.cleaned_data.items() if key not in ("file", "senders")}
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
