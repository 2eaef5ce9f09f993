"""Presentation filters: human labels for stored codes, timecodes, dates at the precision they carry,
and text direction. Labels only: nothing here decides what a user may see."""

from __future__ import annotations

import datetime as dt

from django import template
from django.conf import settings
from django.utils import formats
from django.utils.translation import get_language, get_language_info, gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from ..placeholders import text_direction

register = template.Library()

# Codes without a model choice of their own. A code missing here is shown humanised ("access denied"),
# never as the raw identifier.
_EXTRA_LABELS: dict[str, dict[str, str]] = {
    "alert": {
        "repeated_denials": _("Repeated denied access"),
        "fixity_mismatch": _("Checksum mismatch"),
    },
    "audit": {
        "view": _("Viewed an interview"),
        "access_denied": _("Access denied"),
        "export": _("Export"),
        "export_failed": _("Export failed"),
        "download": _("Download"),
        "search": _("Search"),
        "search_cli": _("Search (command line)"),
        "login": _("Signed in"),
        "login_failed": _("Sign-in failed"),
        "login_locked": _("Sign-in locked"),
        "identity_reveal": _("Identity revealed"),
        "consent_view": _("Consent viewed"),
        "consent_withdraw": _("Consent withdrawn"),
        "redaction_add": _("Redaction added"),
        "redaction_decide": _("Redaction decided"),
        "redaction_bulk_decide": _("Redactions decided"),
        "redaction_held": _("Redaction held"),
        "redaction_resolve": _("Held redaction set aside"),
        "redaction_reanchor": _("Redaction re-anchored"),
        "segment_edit": _("Transcript corrected"),
        "speaker_assign": _("Speaker assigned"),
        "interview_create": _("Interview created"),
        "interview_update": _("Interview updated"),
        "interview_withdrawn": _("Interview withdrawn"),
        "interview_retranscribe": _("Transcribed again"),
        "recording_store": _("Recording stored"),
        "import": _("Import"),
        "audit_view": _("Audit trail viewed"),
        "alert_resolve": _("Alert resolved"),
        "workbench_view": _("Workbench opened"),
        "fixity_check": _("Checksums verified"),
        "fixity_failed": _("Checksum mismatch"),
    },
    "format": {
        "txt": _("Plain text with timestamps"),
        "vtt": _("WebVTT captions"),
        "srt": _("SRT subtitles"),
        "docx": _("Word document"),
        "pdf": _("PDF document"),
        "csv": _("CSV (timecode, speaker, text)"),
        "json": _("JSON (segments and words)"),
        "ohms": _("OHMS XML"),
        "tei": _("TEI P5 transcription"),
        "audio": _("Redacted audio (MP3)"),
        "bagit": _("BagIt package (zip)"),
    },
    "suggestion_source": {
        "manual": _("by hand"),
        "gazetteer": _("known name or place"),
        "phone": _("phone number"),
        "email": _("e-mail address"),
        "date": _("date"),
        "identifier": _("long number"),
        "kin": _("kin term with a name"),
    },
    "facet": {
        "collection": _("Collection"),
        "language": _("Language"),
        "year": _("Year"),
        "mode": _("Mode"),
        "topic": _("Topic"),
        "place": _("Place"),
        "narrator": _("Narrator"),
    },
}

# Every stored code the interface shows, in the words of the models' choices (so a form's options,
# rendered through the same catalogue, match). Kept here, not on the models, so the interface language
# never reaches what is stored.
_CODE_LABELS: dict[str, dict[str, str]] = {
    "tier": {"public": _("Public"), "researcher": _("Researcher"), "staff": _("Staff"), "custodian": _("Custodian")},
    "mode": {
        "in_person": _("In person"),
        "phone": _("Phone call"),
        "video_call": _("Video call (Skype etc.)"),
        "whatsapp_voice": _("WhatsApp voice"),
        "messaging": _("Messaging (text)"),
        "email": _("Email"),
        "social_media": _("Social media message"),
        "vox_pop": _("Street vox-pop"),
    },
    "status": {
        "draft": _("Draft"),
        "transcribing": _("Transcribing"),
        "review": _("In review"),
        "published": _("Published"),
        "sealed": _("Sealed"),
        "planned": _("Planned"),
        "archived": _("Archived"),
        "deleted": _("Deleted"),
    },
    "anonymity": {
        "named": _("Named"),
        "pseudonymous": _("Pseudonymous"),
        "anonymous": _("Anonymous"),
        "sealed": _("Sealed"),
    },
    "role": {
        "researcher": _("Researcher (approved reader)"),
        "field_researcher": _("Field researcher"),
        "editor": _("Editor"),
        "archivist": _("Archivist"),
        "custodian": _("Custodian"),
    },
    "method": {
        "signed_form": _("Signed form"),
        "verbal_recorded": _("Recorded verbal consent"),
        "message": _("Written message"),
        "other": _("Other"),
    },
    "category": {
        "name": _("Name"),
        "relative": _("Relative"),
        "place": _("Place"),
        "contact": _("Contact detail"),
        "date": _("Date"),
        "identifier": _("Identifying number"),
        "organisation": _("Organisation"),
        "event": _("Event"),
        "other": _("Other identifying detail"),
    },
    "redaction_status": {"suggested": _("Suggested"), "approved": _("Approved"), "rejected": _("Rejected")},
    "redaction_kind": {"span": _("Passage"), "entity": _("Name everywhere")},
    "source": {
        "whisper": _("Whisper"),
        "import": _("Imported transcript"),
        "chat": _("Chat export"),
        "email": _("Email export"),
        "manual": _("Typed by hand"),
    },
    "job": {"queued": _("Queued"), "running": _("Running"), "done": _("Done"), "failed": _("Failed")},
    "speaker_role": {"narrator": _("Narrator"), "interviewer": _("Interviewer"), "other": _("Other")},
    **_EXTRA_LABELS,
}


def code_label(code: object, kind: str) -> str:
    value = "" if code is None else str(code)
    if not value:
        return ""
    if kind == "language":
        return language_label(value)
    known = _CODE_LABELS.get(kind, {})
    if value in known:
        return str(known[value])
    return gettext(value.replace("_", " ").capitalize())


@register.filter
def label(code: object, kind: str) -> str:
    """`{{ interview.mode|label:"mode" }}` → "WhatsApp voice" (in the interface language)."""
    return code_label(code, kind)


@register.filter
def language_label(code: str) -> str:
    """An ISO language code as its name in the interface language ("ar" → "Arabic" / "العربية")."""
    base = (code or "").split("-")[0].lower()
    if not base:
        return ""
    try:
        return str(get_language_info(base)["name_translated"])
    except KeyError:
        return code


@register.filter
def timecode(seconds: float | None) -> str:
    if seconds is None or seconds == "":
        return ""
    total = int(float(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@register.filter
def whole_seconds(seconds: float | None) -> int:
    """Seconds for ?t= links and <time datetime="PT…S">: rounded down, so the link lands in its segment."""
    return int(float(seconds or 0))


@register.filter
def partial_date(value: object) -> str:
    """A date at the precision it was given: "2016-02-11" → 11 February 2016, "2016-02" → February 2016,
    "2016" → 2016, "2016-02-11T14:05:09" (a message's time as it was sent) → 11 February 2016, 14:05;
    localised to the interface language. The clock is shown as stored, never moved to another zone."""
    if not value:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return formats.date_format(value, "DATE_FORMAT")
    text = str(value)
    try:
        if len(text) == 4:
            return text
        if len(text) > 10 and text[10] == "T":
            moment = dt.datetime.fromisoformat(text[:19])
            return gettext("%(date)s, %(time)s") % {
                "date": formats.date_format(moment.date(), "DATE_FORMAT"),
                "time": moment.strftime("%H:%M"),
            }
        if len(text) == 7:
            return formats.date_format(dt.date.fromisoformat(text + "-01"), "YEAR_MONTH_FORMAT")
        return formats.date_format(dt.date.fromisoformat(text[:10]), "DATE_FORMAT")
    except ValueError:
        return text


@register.filter
def textdir(language: str) -> str:
    return "rtl" if (language or "").split("-")[0] in {"ar", "fa", "he", "ur"} else "auto"


@register.filter
def segment_dir(text: str, language: str = "") -> str:
    """A segment's direction by its own letters (an English line in an Arabic interview runs left to right)."""
    return text_direction(text or "", language or "")


@register.simple_tag
def interface_languages() -> list[dict[str, str]]:
    """The interface languages for the switch, each named in its own language."""
    current = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return [
        {"code": code, "name": str(get_language_info(code)["name_local"]), "current": code == current}
        for code, _name in settings.LANGUAGES
    ]


# Text that views and forms hand to templates as plain strings (field labels and help, errors,
# messages). Templates translate them when they render ({% translate var %}, archive/forms/fields.html,
# the option widgets under templates/django/forms/); listing them here puts them in the catalogue.
CATALOGUE = (
    # Field names Django turns into labels.
    gettext_noop("Title"),
    gettext_noop("Narrator"),
    gettext_noop("Anonymity"),
    gettext_noop("Access"),
    gettext_noop("Mode"),
    gettext_noop("Language"),
    gettext_noop("File"),
    gettext_noop("Interviewer"),
    gettext_noop("Detect"),
    gettext_noop("Yes"),
    gettext_noop("No"),
    # Upload and import forms.
    gettext_noop("Narrator's real name"),
    gettext_noop("Stored encrypted; shown only as the anonymity allows."),
    gettext_noop("Access level"),
    gettext_noop("The lowest tier that may know it exists."),
    gettext_noop("Spoken language as an ISO code (ar, en); leave empty to detect it."),
    gettext_noop("Speakers switch between languages"),
    gettext_noop("Call recording with one party per stereo channel"),
    gettext_noop("I conducted this interview (you will see it as its custodian)"),
    gettext_noop("Recording (audio or video)"),
    gettext_noop(
        "WhatsApp export (.zip/.txt), Messenger/Instagram (.zip, message_1.json/.html), Skype "
        "(.tar/.zip/messages.json), Telegram (result.json or its .zip), .eml/.mbox, .vtt/.srt/.txt/.docx/"
        "OHMS .xml, or a bulk .zip"
    ),
    gettext_noop("Real name; stored encrypted."),
    gettext_noop("The interviewer's name as it appears in the chat."),
    gettext_noop("Narrator in the chat"),
    gettext_noop("The narrator's name (or number) as it appears in the chat or the email thread."),
    gettext_noop("Which sender is the narrator?"),
    gettext_noop("The export does not say who the narrator is: choose them, then select the file again."),
    gettext_noop("Which sender is the interviewer?"),
    gettext_noop("— not among them"),
    gettext_noop("The narrator and the interviewer cannot be the same sender."),
    # Questions the importers ask when they cannot tell who the narrator is (shown on the import page).
    gettext_noop("No sender of the conversation has the narrator's name as given."),
    gettext_noop("The interviewer is named, but more than one other person wrote; which of them is the narrator?"),
    gettext_noop("The export does not say which sender is the narrator."),
    gettext_noop("The export does not say which sender is the narrator; choose one."),
    # Consent form.
    gettext_noop("Keep in the archive"),
    gettext_noop("Access by approved researchers"),
    gettext_noop("Quotation and publication"),
    gettext_noop("Public web"),
    gettext_noop("Release of the voice (audio)"),
    gettext_noop("Machine processing (transcription on our own workers)"),
    gettext_noop("Signed form (PDF, PNG, JPEG or TIFF)"),
    gettext_noop("Recording holding the verbal consent"),
    gettext_noop("Consent starts at (seconds)"),
    gettext_noop("Consent ends at (seconds)"),
    gettext_noop("Embargo until an event"),
    gettext_noop("Review the embargo on"),
    gettext_noop("Upload a PDF, PNG, JPEG or TIFF scan of the signed form."),
    # Errors and messages.
    gettext_noop("Choose one of the formats and tiers listed."),
    gettext_noop("That format is not available at this tier."),
    gettext_noop("The export could not be produced. Nothing was downloaded."),
    gettext_noop("Your username and password did not match."),
    gettext_noop("That code is not valid."),
    gettext_noop("That code is not valid. Check the clock of the device and try again."),
    gettext_noop("Choose accept or reject."),
    gettext_noop("Tick the confirmation to withdraw consent."),
    gettext_noop("Consent recorded."),
    gettext_noop("Consent recorded. The interview is no longer visible at your tier."),
    gettext_noop("Consent withdrawn: the interview is sealed and its derivatives purged."),
    gettext_noop("Second factor enrolled: sign-in now asks for a code."),
    gettext_noop(
        "Part of this segment is redacted at your tier. Only a custodian can correct it here, so that "
        "the hidden words are never sent to your browser."
    ),
    # Audit targets.
    gettext_noop("interview"),
    gettext_noop("narrator"),
    gettext_noop("collection"),
)
